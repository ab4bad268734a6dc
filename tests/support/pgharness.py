"""Ground truth for the schema model: apply migrations to a real PostgreSQL and read its catalog.

Only the psql binary talks to the server (no Python DB driver), so each migration file runs
exactly as `psql -f file` runs it: its own session, no implicit transaction.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from rlslint.platform import SUPABASE_MEMBERSHIPS, SUPABASE_ROLES, SUPABASE_SCAFFOLD


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server could be started; the message says why."""


class MigrationError(RuntimeError):
    """A migration file (or the scaffold) failed; carries psql's stderr."""

    def __init__(self, file: Path | str, stderr: str):
        super().__init__(f"psql failed on {file}:\n{stderr.strip()}")
        self.file = file
        self.stderr = stderr


@dataclass
class Server:
    psql_bin: Path
    socket_dir: Path
    port: int
    user: str
    _stop: Callable[[], None] = field(repr=False)
    data_dir: Path | None = None  # holds postmaster.pid while the server runs
    log: Path | None = None

    def stop(self) -> None:
        self._stop()

    def died(self) -> str | None:
        """Why the server is gone, or None while it runs: a test that finds it dead says so once,
        instead of thirty tests failing on a refused connection."""
        if self.data_dir is None:
            return None
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
            return None
        except (OSError, ValueError, IndexError):
            pass
        tail = ""
        if self.log is not None and self.log.is_file():
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        return f"the test session's PostgreSQL server (data in {self.data_dir}) is no longer running" + (
            f"; the end of its log:\n{tail}" if tail else "")

    def psql(self, dbname: str, *args: str, input: str | None = None, what: str = "SQL") -> str:
        """Run psql against `dbname`; raise MigrationError with stderr on failure."""
        cmd = [str(self.psql_bin), "-X", "-q", "-v", "ON_ERROR_STOP=1",
               "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user, "-d", dbname, *args]
        # Inherited PG* variables (PGOPTIONS, PGHOST, ...) would change what the migrations see.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGCLIENTENCODING"] = "UTF8"
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, encoding="utf-8",
                              env=env, timeout=120)
        if proc.returncode != 0:
            raise MigrationError(what, proc.stderr)
        return proc.stdout


def start_server(base_dir: Path) -> Server:
    """Start a throwaway cluster under base_dir (pgserver wheel, else initdb/pg_ctl on PATH)."""
    base_dir = Path(base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # pgserver reads it through platformdirs at import time and warns when it is unset.
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="xdg-", dir=base_dir)
    try:
        import pgserver
    except ImportError as exc:
        return _start_with_path_binaries(base_dir, f"pgserver not importable ({exc})")
    try:
        srv = pgserver.get_server(str(base_dir / "pgdata"), cleanup_mode="stop")
        info = srv.get_postmaster_info()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no server"
        raise ServerUnavailable(f"pgserver could not start PostgreSQL: {exc!r}") from exc
    if info.socket_dir is None:
        srv.cleanup()
        raise ServerUnavailable("pgserver started PostgreSQL without a unix socket")
    server = Server(Path(pgserver.__file__).parent / "pginstall/bin/psql", info.socket_dir,
                    info.port or 5432, "postgres", srv.cleanup, base_dir / "pgdata", base_dir / "pgdata" / "log")
    return _without_durability(server)


def _without_durability(server: Server) -> Server:
    """A test server need not survive a crash; without fsync, CREATE and DROP DATABASE (one per
    history) cost a tenth."""
    server.psql("postgres", input="alter system set fsync = off;\nalter system set synchronous_commit = off;\n"
                "alter system set full_page_writes = off;\nselect pg_reload_conf();", what="server settings")
    return server


def _start_with_path_binaries(base_dir: Path, why: str) -> Server:
    initdb, pg_ctl, psql = (shutil.which(b) for b in ("initdb", "pg_ctl", "psql"))
    if not (initdb and pg_ctl and psql):
        raise ServerUnavailable(f"{why}; and initdb/pg_ctl/psql are not all on PATH")
    if os.geteuid() == 0:
        raise ServerUnavailable(f"{why}; initdb on PATH refuses to run as root")
    data, sock, log = base_dir / "pgdata", base_dir / "sock", base_dir / "postgres.log"
    sock.mkdir(exist_ok=True)
    try:
        subprocess.run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, text=True)
        # pg_ctl hands -o to a shell, hence the quoting; listen_addresses='' means socket only.
        opts = f"-k {shlex.quote(str(sock))} -c listen_addresses=''"
        subprocess.run([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-o", opts, "start"],
                       check=True, capture_output=True, text=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or ""
        raise ServerUnavailable(f"{why}; initdb/pg_ctl failed: {exc} {detail}".strip()) from exc

    def stop() -> None:
        subprocess.run([pg_ctl, "-D", str(data), "-w", "-m", "fast", "stop"], capture_output=True)

    return _without_durability(Server(Path(psql), sock, 5432, "postgres", stop, data, log))


# Roles belong to the cluster, not to a database: what a history creates or grants among
# roles would leak into the next history's database, so it is undone after each one.
_KEPT_ROLES = ", ".join(f"'{r.name}'" for r in SUPABASE_ROLES)
_KEPT_MEMBERSHIPS = ", ".join(f"('{m.role}', '{m.member}')" for m in SUPABASE_MEMBERSHIPS)
RESET_ROLES_SQL = f"""
do $$
declare r record;
begin
  for r in select rolname from pg_roles
           where rolname !~ '^pg_' and rolname <> all (array[{_KEPT_ROLES}])
  loop
    execute format('drop role %I', r.rolname);
  end loop;
  for r in select g.rolname as role, m.rolname as member from pg_auth_members a
           join pg_roles g on g.oid = a.roleid join pg_roles m on m.oid = a.member
           where g.rolname !~ '^pg_' and (g.rolname, m.rolname) not in ({_KEPT_MEMBERSHIPS})
  loop
    execute format('revoke %I from %I cascade', r.role, r.member);
  end loop;
end
$$;
"""


def scaffold_database(server: Server, dbname: str) -> None:
    """The Supabase platform's starting state (rlslint.platform) in a fresh database."""
    server.psql(dbname, input=SUPABASE_SCAFFOLD + f"""
        alter database "{dbname}" set search_path = "$user", public, extensions;""", what="Supabase scaffold")


def drop_database(server: Server, dbname: str) -> None:
    server.psql("postgres", "-c", f'drop database if exists "{dbname}" with (force)', what=f"drop database {dbname}")
    server.psql("postgres", input=RESET_ROLES_SQL, what="reset roles")


_db_counter = itertools.count()


def apply_migrations(server: Server, files: list[Path], with_access: bool = False) -> dict:
    """Apply `files` in order to a fresh database with the Supabase scaffold; return its snapshot
    (and, ``with_access``, who holds what under "access": see access_snapshot)."""
    with migrated_database(server, files) as dbname:
        snapshot = catalog_snapshot(server, dbname)
        if with_access:
            snapshot["access"] = access_snapshot(server, dbname)
        return snapshot


@contextlib.contextmanager
def migrated_database(server: Server, files: list[Path]) -> Iterator[str]:
    """A fresh database with the Supabase scaffold and `files` applied in order, dropped afterwards."""
    dbname = f"replay_{os.getpid()}_{next(_db_counter)}_{uuid.uuid4().hex[:8]}"
    server.psql("postgres", "-c", f'create database "{dbname}"', what=f"create database {dbname}")
    try:
        scaffold_database(server, dbname)
        for f in files:
            # One psql per file, no -1: session state (SET search_path) ends with the file,
            # and CREATE INDEX CONCURRENTLY stays legal.
            server.psql(dbname, "-f", str(f), what=str(f))
        yield dbname
    finally:
        drop_database(server, dbname)


SNAPSHOT_SQL = r"""
select json_build_object('tables', coalesce(json_object_agg(format('%I.%I', n.nspname, c.relname), json_build_object(
  'kind', c.relkind,
  'rls', c.relrowsecurity,
  'force_rls', c.relforcerowsecurity,
  'columns', (
    select coalesce(json_agg(json_build_array(a.attname, a.attnotnull) order by a.attnum), '[]')
    from pg_attribute a
    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
  'policies', (
    select coalesce(json_object_agg(p.polname, json_build_object(
      'command', case p.polcmd when '*' then 'ALL' when 'r' then 'SELECT' when 'a' then 'INSERT'
                               when 'w' then 'UPDATE' when 'd' then 'DELETE' end,
      'permissive', p.polpermissive,
      'roles', (select json_agg(case when r.oid = 0 then 'public' else pg_get_userbyid(r.oid) end)
                from unnest(p.polroles) r(oid)))), '{}')
    from pg_policy p
    where p.polrelid = c.oid),
  'indexes', (
    select coalesce(json_agg(json_build_array(
      (select json_agg(att.attname order by k.ord)
       from unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
       left join pg_attribute att on att.attrelid = i.indrelid and att.attnum = k.attnum
       where k.ord <= i.indnkeyatts),
      i.indisunique, i.indpred is not null, i.indisprimary)), '[]')
    from pg_index i
    where i.indrelid = c.oid),
  'foreign_keys', (
    select coalesce(json_agg(json_build_array(
      (select json_agg(att.attname order by k.ord)
       from unnest(con.conkey) with ordinality k(attnum, ord)
       join pg_attribute att on att.attrelid = con.conrelid and att.attnum = k.attnum),
      (select format('%I.%I', rn.nspname, rc.relname)
       from pg_class rc join pg_namespace rn on rn.oid = rc.relnamespace where rc.oid = con.confrelid),
      (select json_agg(att.attname order by k.ord)
       from unnest(con.confkey) with ordinality k(attnum, ord)
       join pg_attribute att on att.attrelid = con.confrelid and att.attnum = k.attnum),
      case con.confdeltype when 'a' then 'NO ACTION' when 'r' then 'RESTRICT' when 'c' then 'CASCADE'
                           when 'n' then 'SET NULL' when 'd' then 'SET DEFAULT' end)), '[]')
    from pg_constraint con
    where con.conrelid = c.oid and con.contype = 'f'
      -- An FK that references a partitioned table gets one hidden child row per referenced
      -- partition, on the same referencing table; those are not FKs anyone declared.
      and not exists (select 1 from pg_constraint pc
                      where pc.oid = con.conparentid and pc.conrelid = con.conrelid))
)), '{}'))
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'auth', 'storage', 'extensions')
"""


def catalog_snapshot(server: Server, dbname: str) -> dict:
    """The normalised catalog of every user table in `dbname` (see normalise_snapshot)."""
    out = server.psql(dbname, "-A", "-t", "-c", SNAPSHOT_SQL, what="catalog snapshot")
    return normalise_snapshot(json.loads(out))


def _sorted(items: list) -> list:
    # json.dumps as key: items mix str and None, which plain sorting cannot compare.
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def normalise_snapshot(snapshot: dict) -> dict:
    """Sort the order-independent lists (roles, indexes, foreign keys); column order is kept.

    Tolerates missing fields, so a half-built model snapshot still diffs field by field.
    """
    tables = {}
    for name, t in snapshot["tables"].items():
        t = dict(t)
        if "columns" in t:
            t["columns"] = [list(col) for col in t["columns"]]
        if "policies" in t:
            t["policies"] = {p: {**pol, "roles": sorted(pol.get("roles", []))} for p, pol in t["policies"].items()}
        for key in ("indexes", "foreign_keys"):
            if key in t:
                t[key] = _sorted([list(item) for item in t[key]])
        tables[name] = t
    return {"tables": tables}


# Who holds what, for every role but the server's superuser (which holds everything): the
# answers of PostgreSQL's own has_*_privilege functions and pg_roles, to compare with the model.
ACCESS_SQL = r"""
with roles as (select oid, rolname from pg_roles where rolname !~ '^pg_' and rolname <> current_user),
     spaces as (select oid, nspname from pg_namespace
                where nspname !~ '^pg_' and nspname <> 'information_schema')
select json_build_object(
  'roles', (select coalesce(json_object_agg(rolname, json_build_array(rolsuper, rolbypassrls, rolinherit, rolcanlogin)), '{}')
            from pg_roles where rolname in (select rolname from roles)),
  -- pg_has_role(…, 'USAGE') is has_privs_of_role: the roles whose privileges each role uses
  'privileges_of', (select coalesce(json_object_agg(r.rolname, (
                      select json_agg(o.rolname order by 1) from pg_roles o
                      where o.rolname !~ '^pg_' and pg_has_role(r.oid, o.oid, 'USAGE'))), '{}')
                    from roles r),
  'memberships', (select coalesce(json_agg(json_build_array(g.rolname, m.rolname, a.inherit_option) order by 1), '[]')
                  from pg_auth_members a join pg_roles g on g.oid = a.roleid join pg_roles m on m.oid = a.member
                  where g.rolname in (select rolname from roles) and m.rolname in (select rolname from roles)),
  'schemas', (select coalesce(json_object_agg(s.nspname, (
                select coalesce(json_agg(json_build_array(r.rolname, p) order by 1), '[]')
                from roles r cross join unnest(array['USAGE', 'CREATE']) p
                where has_schema_privilege(r.oid, s.oid, p))), '{}')
              from spaces s),
  'functions', (select coalesce(json_object_agg(format('%s.%s(%s)', s.nspname, f.proname, (
                  select coalesce(string_agg(case when t.typname like '\_%' then substr(t.typname, 2) || '[]'
                                                  else t.typname end, ',' order by k.ord), '')
                  from unnest(f.proargtypes::oid[]) with ordinality k(oid, ord) join pg_type t on t.oid = k.oid)), (
                  select coalesce(json_agg(r.rolname order by 1), '[]')
                  from roles r where has_function_privilege(r.oid, f.oid, 'EXECUTE'))), '{}')
                from pg_proc f join spaces s on s.oid = f.pronamespace),
  'sequences', (select coalesce(json_object_agg(format('%s.%s', s.nspname, c.relname), (
                  select coalesce(json_agg(json_build_array(r.rolname, p) order by 1), '[]')
                  from roles r cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) p
                  where has_sequence_privilege(r.oid, c.oid, p))), '{}')
                from pg_class c join spaces s on s.oid = c.relnamespace
                where c.relkind = 'S'
                  -- serial and identity sequences belong to their column, which the model does not track
                  and not exists (select from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i'))),
  'tables', (select coalesce(json_object_agg(format('%I.%I', s.nspname, c.relname), json_build_object(
               'owner', pg_get_userbyid(c.relowner),
               'privileges', (select coalesce(json_agg(json_build_array(r.rolname, p) order by 1), '[]')
                              from roles r cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                                                   'REFERENCES', 'TRIGGER']) p
                              where has_table_privilege(r.oid, c.oid, p)),
               'column_privileges', (select coalesce(json_agg(json_build_array(r.rolname, a.attname, p) order by 1), '[]')
                                     from roles r cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
                                     join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                                     where has_column_privilege(r.oid, c.oid, a.attnum, p)
                                       and not has_table_privilege(r.oid, c.oid, p)))), '{}')
             from pg_class c join spaces s on s.oid = c.relnamespace
             where c.relkind in ('r', 'p') and s.nspname not in ('auth', 'storage', 'extensions'))
)
"""


def access_snapshot(server: Server, dbname: str) -> dict:
    """Roles, memberships and privileges as PostgreSQL answers for them (see ACCESS_SQL)."""
    return normalise_access(json.loads(server.psql(dbname, "-A", "-t", "-c", ACCESS_SQL, what="access snapshot")))


def normalise_access(snapshot: dict) -> dict:
    out = {"roles": snapshot["roles"], "memberships": _sorted(snapshot["memberships"]),
           "privileges_of": {role: sorted(held) for role, held in snapshot["privileges_of"].items()}}
    for key in ("schemas", "functions", "sequences"):
        out[key] = {name: _sorted(value) for name, value in snapshot[key].items()}
    out["tables"] = {name: {"owner": t["owner"], "privileges": _sorted(t["privileges"]),
                            "column_privileges": _sorted(t["column_privileges"])}
                     for name, t in snapshot["tables"].items()}
    return out
