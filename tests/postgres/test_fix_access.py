"""No fix widens access: measured as the API's roles, before and after the fix migration.

The project holds the three dangerous patterns (a read predicate that must not become a
write policy, an edit policy narrower than ownership, actor columns that must not
cascade) and tables without RLS. Each identity (anon, and users A and B through the JWT
claims PostgREST sets) counts the rows it can SELECT, UPDATE and DELETE in every table,
in a transaction that is rolled back, before and after the migration ``rlslint fix``
writes. After the fix no identity reaches more rows than some policy already let it
reach (with RLS off: than it reached before), and the counts that decide each pattern
are the safe ones.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from rlslint import engine, fixes, sources
from rlslint.rules import ALL_RULES
from rlslint.settings import Settings
from tests.support.pgharness import migrated_database

FIXTURES = Path(__file__).parents[1] / "fixtures"
PROJECT = FIXTURES / "projects" / "fix_access"  # the seed; the migrations are the rule fixtures of the patterns
MIGRATIONS = {
    "20240101000000_messages.sql": FIXTURES / "rules" / "RLS002-missing-policy" / "read_predicate.sql",
    "20240102000000_suspensions.sql": FIXTURES / "rules" / "FK001-owner-fk-without-cascade" / "actor_columns.sql",
    "20240103000000_preferences.sql": FIXTURES / "rules" / "RLS001-table-without-rls" / "policies_from_owner.sql",
}
SETTINGS = Settings()
USERS = {"A": "00000000-0000-0000-0000-00000000000a", "B": "00000000-0000-0000-0000-00000000000b"}
TABLES = ("org_members", "messages", "drafts", "suspensions", "preferences", "rates", "meetups")
COMMANDS = ("SELECT", "UPDATE", "DELETE")

PROBE = """
create schema probe;
grant usage on schema probe to anon, authenticated;
-- Rows the current role reaches with one command; the change is undone by the exception.
create function probe.reach(command text, tbl regclass) returns bigint language plpgsql as $$
declare
  n bigint;
  first_column name := (select attname from pg_attribute where attrelid = tbl and attnum = 1);
begin
  if command = 'SELECT' then
    execute format('select count(*) from %s', tbl) into n;
    return n;
  end if;
  begin
    if command = 'UPDATE' then
      execute format('update %s set %I = %I', tbl, first_column, first_column);
    else
      execute format('delete from %s', tbl);
    end if;
    get diagnostics n = row_count;
    raise exception using errcode = 'P0001', message = n::text;
  exception when raise_exception then
    return sqlerrm::bigint;
  end;
end
$$;
"""


def _measure(pg, dbname: str) -> dict[tuple[str, str, str], int]:
    script = []
    for who in ("anon", *USERS):
        role = "anon" if who == "anon" else "authenticated"
        sub = USERS.get(who, "")
        for table in TABLES:
            for command in COMMANDS:
                script.append(
                    f"begin; set local role {role}; select set_config('request.jwt.claim.sub', '{sub}', true);\n"
                    f"select '{who}|{table}|{command}|' || probe.reach('{command}', 'public.{table}'); rollback;")
    out = pg.psql(dbname, "-A", "-t", input="\n".join(script), what="access probe")
    counts = {}
    for line in out.splitlines():
        if line.count("|") == 3:
            who, table, command, n = line.split("|")
            counts[(who, table, command)] = int(n)
    assert len(counts) == 3 * len(TABLES) * len(COMMANDS)
    return counts


def _access(pg, files: list[Path]) -> dict[tuple[str, str, str], int]:
    with migrated_database(pg, [*files, PROJECT / "seed.sql"]) as dbname:
        pg.psql(dbname, input=PROBE, what="probe")
        return _measure(pg, dbname)


@pytest.fixture(scope="module")
def measured(pg_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("fix_access")
    migrations = root / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    for name, source in MIGRATIONS.items():
        shutil.copy(source, migrations / name)
    result = engine.lint([str(migrations)], root, lambda _: SETTINGS)
    (migration_set,) = sources.discover([str(migrations)], root).sets
    migration = fixes.plan(migration_set, result, SETTINGS, ALL_RULES, root, datetime(2030, 1, 1, tzinfo=timezone.utc))
    fixes.write(migration)
    history = [f.path for f in migration_set.files]
    return _access(pg_server, history), _access(pg_server, [*history, migration.path]), migration, history


def test_no_identity_reaches_more_rows_than_a_policy_already_granted(measured):
    before, after, *_ = measured
    for (who, table, command), n in after.items():
        granted = max(before[(who, table, c)] for c in COMMANDS if c == command or c != "SELECT")
        assert n <= granted, f"{who} reaches {n} rows of {table} with {command} after the fix, {granted} before"


def test_a_read_predicate_never_becomes_a_write_policy(measured):
    before, after, migration, _ = measured
    # B is a member of A's organisation and reads both messages, but changes none.
    assert after[("B", "messages", "SELECT")] == 2
    assert (after[("B", "messages", "UPDATE")], after[("B", "messages", "DELETE")]) == (0, 0)
    assert any(d.code == "RLS002" and d.object == "public.messages" for d in migration.left)
    # The suspended user reads the suspension and cannot lift it.
    assert after[("A", "suspensions", "SELECT")] == 1
    assert (after[("A", "suspensions", "UPDATE")], after[("A", "suspensions", "DELETE")]) == (0, 0)


def test_a_missing_delete_copies_the_narrower_edit_policy(measured):
    before, after, *_ = measured
    # A owns two drafts, one locked: the edit policy reaches the unlocked one only, and so does delete.
    assert before[("A", "drafts", "UPDATE")] == 1 and before[("A", "drafts", "DELETE")] == 0
    assert after[("A", "drafts", "DELETE")] == 1
    assert after[("B", "drafts", "DELETE")] == 1 and after[("anon", "drafts", "DELETE")] == 0


def test_enabling_rls_comes_with_owner_policies_or_is_deny_all_as_said(measured):
    before, after, migration, _ = measured
    assert before[("anon", "preferences", "SELECT")] == 2  # RLS off: anyone reads every row
    for command in COMMANDS:
        assert after[("anon", "preferences", command)] == 0
        assert after[("A", "preferences", command)] == after[("B", "preferences", command)] == 1
        assert after[("A", "rates", command)] == after[("anon", "rates", command)] == 0
    assert "public.rates is deny-all for SELECT, INSERT, UPDATE, DELETE" in migration.text
    assert after[("anon", "meetups", "SELECT")] == 1  # the read policy written while RLS was off now holds


def test_deleting_an_admin_keeps_the_suspension_and_deleting_the_user_removes_it(pg, measured, tmp_path):
    *_, migration, history = measured
    with migrated_database(pg, [*history, migration.path, PROJECT / "seed.sql"]) as dbname:
        run = lambda sql: pg.psql(dbname, "-A", "-t", "-c", sql).strip()  # noqa: E731
        run(f"delete from auth.users where id = '{USERS['B']}'")  # the admin who suspended A
        assert run("select count(*), count(suspended_by) from public.suspensions") == "1|0"
        run(f"delete from auth.users where id = '{USERS['A']}'")
        assert run("select count(*) from public.suspensions") == "0"
