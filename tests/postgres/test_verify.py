"""``rlslint check --verify`` against a real PostgreSQL: the model holds, the differences it finds are real.

The session's server (tests/support/pgharness.py) is shared through one verifier, as
``--database-url`` would name it; the tests of the command line start their own
throwaway cluster, as a user's run does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from rlslint.cli import main
from rlslint.engine import build_catalog
from rlslint.sql.names import QName
from rlslint.verify.wire import Connection, ServerError
from rlslint.rules import VERIFY_RULES
from tests.support.expectations import expected_findings
from tests.support.histories import migration_histories
from tests.support.verifying import as_migrations, lint, session_verifier

FIXTURES = Path(__file__).parents[1] / "fixtures"
RULE_FIXTURES = sorted((FIXTURES / "rules").glob("*/*.sql"))
VERIFY_FIXTURES = FIXTURES / "verify"
SCENARIOS = sorted(p for p in (FIXTURES / "replay").iterdir() if (p / "migrations").is_dir())
VERIFY_CODES = {r.code for r in VERIFY_RULES}


@pytest.fixture(scope="module")
def verifier(pg_server):
    with session_verifier(pg_server) as shared:
        yield shared


def _at(result) -> Counter:
    """(file name, line, code) of each finding."""
    return Counter((Path(d.span.path).name, result.position(d.span).line, d.code) for d in result.diagnostics)


def _differences(result) -> list[str]:
    return [f"{Path(d.span.path).name}:{result.position(d.span).line}: {d.message}"
            for d in result.diagnostics if d.code in VERIFY_CODES]


# --- the model holds: every rule fixture and replay scenario ------------------------------


@pytest.mark.parametrize("path", RULE_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rule_fixture_has_no_difference_from_the_catalog(pg, verifier, tmp_path, path):
    migrations = as_migrations(tmp_path, path)
    verified = lint(migrations, verifier)
    assert verified.errors == ()
    assert _differences(verified) == []
    # Verifying adds findings; it takes none of the static ones away.
    static = lint(migrations, None)
    assert _at(verified) == _at(static)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_replay_scenario_has_no_difference_from_the_catalog(pg, verifier, tmp_path, scenario):
    migrations = as_migrations(tmp_path, *sorted((scenario / "migrations").glob("*.sql")))
    verified = lint(migrations, verifier)
    assert verified.errors == ()
    dynamic_target = build_catalog(migrations).table(QName("public", "dynamic_target"))
    if scenario.name == "do_dynamic" and not dynamic_target.rls:
        # RLS switched on by EXECUTE format(…) where the model does not evaluate it: the catalog
        # shows it, at the DO block that did it.
        assert _differences(verified) == [
            "20240101000001_20240101000000_init.sql:11: after this statement PostgreSQL's catalog and rlslint's model "
            "differ on table public.dynamic_target: row level security is enabled in PostgreSQL, not in the model"]
    else:
        assert _differences(verified) == []


@settings(max_examples=25)
@given(texts=migration_histories())
def test_random_history_has_no_difference_from_the_catalog(pg, verifier, tmp_path_factory, texts):
    directory = tmp_path_factory.mktemp("history") / "supabase" / "migrations"
    directory.mkdir(parents=True)
    for i, text in enumerate(texts):
        (directory / f"2024010100000{i}_step.sql").write_text(text, encoding="utf-8")
    verified = lint(directory, verifier)
    assert verified.errors == ()
    assert _differences(verified) == []


# --- the verify rules, on their fixtures ------------------------------------------------------


@pytest.mark.parametrize("path", sorted(VERIFY_FIXTURES.glob("*/*.sql")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_verify_rule_fixture(pg, verifier, tmp_path, path):
    code = path.parent.name.split("-")[0]
    verified = lint(as_migrations(tmp_path, path), verifier)
    assert verified.errors == ()
    found = Counter(key for key in _at(verified).elements() if key[2] == code)
    expected = Counter({(f"20240101000001_{path.stem}.sql", line, c): n for (_, line, c), n in expected_findings(path).items()})
    assert found == expected


@pytest.mark.parametrize("rule", VERIFY_RULES, ids=lambda r: r.code)
def test_verify_rule_has_failing_and_passing_fixtures(rule):
    directory = VERIFY_FIXTURES / f"{rule.code}-{rule.name}"
    assert sum(expected_findings(directory / "fail.sql").values()) >= 2
    assert not expected_findings(directory / "pass.sql")


# Each kind of difference VER001 finds beyond tables, flags, columns and NOT NULL, in its words.
KINDS = {
    "index-name.sql": [
        "index notes_id_owner_idx is on (owner, id) in PostgreSQL, on (id, owner) in the model",
        "index on (owner) is named notes_by_owner in PostgreSQL, notes_owner_idx in the model"],
    "column-type.sql": [
        "column body is text in PostgreSQL, character varying in the model",
        "column score is bigint in PostgreSQL, integer in the model",
        "column tags is character varying[] in PostgreSQL, text[] in the model"],
    "policy-expression.sql": [
        "policy notes_edit has WITH CHECK ((owner_id = ( SELECT auth.uid() AS uid))) in PostgreSQL, no WITH CHECK in the model",
        "policy notes_read has USING ((owner_id = ( SELECT auth.uid() AS uid))) in PostgreSQL, "
        "USING (user_id = (SELECT auth.uid())) in the model",
        "policy notes_write has WITH CHECK (true) in PostgreSQL, WITH CHECK (owner_id = (SELECT auth.uid())) in the model"],
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_of_difference_says_what_differs(pg, verifier, tmp_path, name):
    verified = lint(as_migrations(tmp_path, VERIFY_FIXTURES / "VER001-model-differs-from-catalog" / name), verifier)
    prefix = "after this statement PostgreSQL's catalog and rlslint's model differ on table public.notes: "
    assert sorted(d.message.removeprefix(prefix) for d in verified.diagnostics if d.code == "VER001") == KINDS[name]


def test_a_policy_expression_postgresql_refuses_on_its_table_is_a_difference(pg, verifier, tmp_path):
    # A trigger's body drops the column the model's policy reads (and the policy with it, which
    # the model keeps): the catalog has another policy of that name, on a column that exists.
    (tmp_path / "m.sql").write_text(
        "create table public.notes (id bigint primary key, owner_id uuid, user_id uuid);\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_read on public.notes for select to authenticated using (user_id = (select auth.uid()));\n"
        "create table public.signups (id bigint primary key);\n"
        "create function public.on_signup() returns trigger language plpgsql as $$\n"
        "begin\n"
        "  alter table public.notes drop column user_id cascade;\n"
        "  create policy notes_read on public.notes for select to authenticated using (owner_id = (select auth.uid()));\n"
        "  return new;\n"
        "end $$;\n"
        "create trigger on_signup after insert on public.signups for each row execute function public.on_signup();\n"
        "insert into public.signups values (1);\n", encoding="utf-8")
    verified = lint(as_migrations(tmp_path, tmp_path / "m.sql"), verifier)
    prefix = "20240101000001_m.sql:12: after this statement PostgreSQL's catalog and rlslint's model differ on table public.notes: "
    assert sorted(d.removeprefix(prefix) for d in _differences(verified)) == [
        "column user_id exists in the model but not in PostgreSQL",
        "policy notes_read has USING ((owner_id = ( SELECT auth.uid() AS uid))) in PostgreSQL, USING (user_id = "
        "(SELECT auth.uid())) in the model: refused by PostgreSQL (column \"user_id\" does not exist)"]


def _named_at_run_time(tmp_path: Path, columns: str, executes: list[str], after: str = "") -> Path:
    """public.notes (an id, and ``columns``) with RLS, then a DO block that reads the table's name
    from a table and runs each of ``executes`` (``format('<sql>', <policy name>`` with the
    table's name added) on it; statically the tables are unknown. Lines 1 to 4, the block at 5."""
    calls = "".join(f"  execute format('{sql}, target);\n" for sql in executes)
    (tmp_path / "m.sql").write_text(
        "create table public.settings (name text primary key);\n"
        "insert into public.settings values ('notes');\n"
        f"create table public.notes (id bigint primary key{', ' + columns if columns else ''});\n"
        "alter table public.notes enable row level security;\n"
        f"do $$\ndeclare target text;\nbegin\n  select name into target from public.settings;\n{calls}end $$;\n"
        + after, encoding="utf-8")
    migrations = as_migrations(tmp_path, tmp_path / "m.sql")
    assert build_catalog(migrations).table(QName("public", "notes")).unanalysed, "marked unknown statically"
    return migrations


def test_a_policy_created_by_sql_read_at_run_time_is_judged_by_the_rules_that_read_expressions(pg, verifier, tmp_path):
    # The policies' table name is read from a table while the migration runs: statically the
    # table is unknown, and no rule can read the policies' expressions. Under --verify they
    # come from PostgreSQL's catalog, parsed into the model's trees.
    migrations = _named_at_run_time(tmp_path, "owner uuid not null", [
        "create policy %I on public.%I for select to authenticated using (owner = auth.uid() "
        "or (auth.jwt() -> ''user_metadata'' ->> ''admin'')::boolean)', target || '_read'",
        "create policy %I on public.%I for insert to authenticated with check (true)', target || '_insert'"])
    reading = {"IDX002", "PERF001", "SEC001", "RLS005"}

    def found(result):
        return sorted((result.position(d.span).line, d.code) for d in result.diagnostics
                      if d.code in reading and d.object == "public.notes")

    static, verified = lint(migrations, None), lint(migrations, verifier)
    assert found(static) == []
    # Each at the DO block, after which the catalog showed the policies.
    assert found(verified) == [(5, "IDX002"), (5, "PERF001"), (5, "RLS005"), (5, "SEC001")]
    assert _differences(verified) == []


def test_a_table_name_read_at_run_time_is_unknown_statically_and_exact_under_verify(pg, verifier, tmp_path):
    # The DO block reads the table's name from a table while the migration runs: no static
    # analysis knows which table gets the policy, so the model marks the tables unknown.
    migrations = _named_at_run_time(
        tmp_path, "", ["create policy %I on public.%I for select to authenticated using (true)', target || '_read'"],
        "create policy notes_write on public.notes for insert to authenticated with check (true);\n")

    def rls002(result):
        return [(result.position(d.span).line, d.commands, "could not analyse" in d.message)
                for d in result.diagnostics if d.code == "RLS002" and d.object == "public.notes"]

    static, verified = lint(migrations, None), lint(migrations, verifier)
    assert rls002(static) == [(4, ("SELECT", "UPDATE", "DELETE"), True)]
    # PostgreSQL ran the block: the policy for SELECT exists, and the finding says what is left.
    assert rls002(verified) == [(4, ("UPDATE", "DELETE"), False)]
    assert _differences(verified) == []


# --- what PostgreSQL rejects ------------------------------------------------------------------


def test_each_rejected_statement_is_reported_with_postgresqls_message_and_position(pg, verifier, tmp_path):
    # Where PostgreSQL gives no position (the column that exists), the statement's start is the place.
    first, second = tmp_path / "a.sql", tmp_path / "b.sql"
    first.write_text("create table public.notes (id bigint primary key);\n"
                     "select id from public.nowhere;\n"
                     "alter table public.notes enable row level security;\n", encoding="utf-8")
    second.write_text("alter table public.notes add column id int;\n"
                      "create policy notes_read on public.notes for select using (true);\n", encoding="utf-8")
    verified = lint(as_migrations(tmp_path, first, second), verifier)
    errors = [(Path(e.path).name, verified.error_position(e).line, verified.error_position(e).column, e.message)
              for e in verified.errors]
    assert errors == [
        ("20240101000001_a.sql", 2, 16, 'PostgreSQL rejects this statement: relation "public.nowhere" does not exist'),
        ("20240101000002_b.sql", 1, 1, 'PostgreSQL rejects this statement: column "id" of relation "notes" already exists'),
    ]
    # The statements around them were applied: nothing differs, and RLS002 is not on the open table.
    assert _differences(verified) == []
    assert ("20240101000001_a.sql", 3, "RLS002") in _at(verified)


def _verify_migration(tmp_path: Path, verifier, text: str):
    """``text`` as the one migration of a set, verified."""
    (tmp_path / "m.sql").write_text(text, encoding="utf-8")
    return lint(as_migrations(tmp_path, tmp_path / "m.sql"), verifier)


def test_rejected_statements_among_those_sent_together_are_each_undone_alone(pg, verifier, tmp_path):
    # The statements of a file go to the server without waiting for each other; one it
    # rejects leaves the ones after it unrun, and they are sent again after its rollback.
    verified = _verify_migration(
        tmp_path, verifier,
        "create table public.notes (id bigint primary key, owner uuid);\n"
        "select id from public.nowhere;\n"
        "alter table public.notes enable row level security;\n"
        "alter table public.notes add column id int;\n"
        "create policy notes_read on public.notes for select to authenticated using (true);\n"
        "create policy notes_read on public.notes for select using (true);\n"
        "create table public.tags (id bigint primary key);\n"
        "create table public.tags (id bigint primary key);\n")
    assert [(verified.error_position(e).line, e.message) for e in verified.errors] == [
        (2, 'PostgreSQL rejects this statement: relation "public.nowhere" does not exist'),
        (4, 'PostgreSQL rejects this statement: column "id" of relation "notes" already exists'),
        (6, 'PostgreSQL rejects this statement: policy "notes_read" for table "notes" already exists'),
        (8, 'PostgreSQL rejects this statement: relation "tags" already exists'),
    ]
    # Everything between them was applied: the catalog has RLS, the policy and the table.
    assert _differences(verified) == []
    assert {(line, code) for _, line, code in _at(verified)} >= {(3, "RLS002"), (7, "RLS001")}


def test_statements_after_set_role_are_compared_too(pg, verifier, tmp_path):
    # The catalog is read as rlslint's own function, whatever role the migration took.
    verified = _verify_migration(
        tmp_path, verifier,
        "create table public.notes (id bigint primary key);\n"
        "set role authenticated;\n"
        "select 1;\n"
        "reset role;\n"
        "alter table public.notes enable row level security;\n")
    assert verified.errors == ()
    assert _differences(verified) == []
    assert ("20240101000001_m.sql", 5, "RLS002") in _at(verified)


def test_an_error_inside_a_do_block_says_where(pg, verifier, tmp_path):
    verified = _verify_migration(tmp_path, verifier, "do $$\nbegin\n  perform 1 / 0;\nend $$;\n")
    assert [e.message for e in verified.errors] == [
        "PostgreSQL rejects this statement: division by zero (PL/pgSQL function inline_code_block line 3 at PERFORM)"]


# --- the protocol ------------------------------------------------------------------------------


def _connect(server) -> Connection:
    return Connection.open(str(server.socket_dir), server.port, server.user, "postgres")


def test_queries_sent_together_run_in_order_and_none_runs_after_a_failure(pg):
    connection = _connect(pg)
    try:
        connection.pipeline(["begin", "create temporary table before_failure (id int)", "select 1 / 0",
                             "create temporary table after_failure (id int)", "rollback"])
        outcomes = []
        for _ in range(5):
            try:
                outcomes.append(connection.result().status)
            except ServerError as exc:
                outcomes.append(exc.sqlstate)
        # 22012: division by zero; 25P02: refused unrun, the transaction had failed.
        assert outcomes == ["T", "T", "22012", "25P02", "I"]
    finally:
        connection.close()


def test_sending_many_queries_while_the_server_answers_with_more_waits_for_neither(pg):
    # 5 MB of rows to the first query while 800 KB of queries follow it: a client that only
    # wrote until all were sent would wait on a server waiting for it to read.
    queries = ["select repeat('x', 1000) from generate_series(1, 5000)", *[f"select '{'y' * 8000}'"] * 100]
    connection = _connect(pg)
    results = []

    def send_and_read():
        connection.pipeline(queries)
        results.extend(connection.result() for _ in queries)

    worker = threading.Thread(target=send_and_read, daemon=True)
    worker.start()
    worker.join(120)
    try:
        assert not worker.is_alive(), "the client and the server waited for each other"
        assert len(results[0].rows) == 5000
        assert all(r.rows == (("y" * 8000,),) for r in results[1:])
    finally:
        if not worker.is_alive():
            connection.close()


# --- the command line -------------------------------------------------------------------------


def _project(tmp_path: Path) -> Path:
    migrations = tmp_path / "project" / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    source = VERIFY_FIXTURES / "VER001-model-differs-from-catalog" / "fail.sql"
    (migrations / "20240101000000_init.sql").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return migrations.parent.parent


def _rlslint(args: list[str], cwd: Path, tmp: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "rlslint", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def scratch():
    """TMPDIR for a run: directly under the system's, which the server's own system user can
    reach when rlslint runs as root (a test's tmp_path, private to root, it could not)."""
    directory = Path(tempfile.mkdtemp(prefix="rlslint-verify-test-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_cli_starts_a_throwaway_cluster_and_removes_it(tmp_path, scratch):
    project = _project(tmp_path)
    run = _rlslint(["check", "--verify", "--format", "concise"], project, scratch)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, err
    assert out.count("VER001") == 2
    assert list(scratch.iterdir()) == [], "the cluster's directory is removed"
    assert not _postgres_running_under(scratch)


def test_cli_removes_the_cluster_on_sigterm(tmp_path, scratch):
    project = _project(tmp_path)
    migrations = project / "supabase" / "migrations"
    # Still applying when the signal comes, however fast the rest is: the server sleeps in it.
    (migrations / "20240102000000_slow.sql").write_text("select pg_sleep(600);\n")
    run = _rlslint(["check", "--verify"], project, scratch)
    deadline = time.monotonic() + 120
    while not any(scratch.glob("*/*/data/postmaster.pid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(scratch.glob("*/*/data/postmaster.pid")), "the cluster started"
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=120)
    assert run.returncode == 128 + signal.SIGTERM
    assert list(scratch.iterdir()) == []
    assert not _postgres_running_under(scratch)


def _postgres_running_under(directory: Path) -> bool:
    for proc in Path("/proc").iterdir():
        try:
            if str(directory) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                return True
        except OSError:
            continue
    return False


def test_cli_with_database_url_uses_that_server_and_leaves_nothing_behind(pg, tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.chdir(project)
    url = f"postgresql://{pg.user}@/postgres?host={pg.socket_dir}&port={pg.port}"
    before = pg.psql("postgres", "-A", "-t", "-c", "select datname from pg_database order by 1")
    result = CliRunner().invoke(main, ["check", "--verify", "--database-url", url, "--format", "concise"])
    assert result.exit_code == 1, result.output
    assert result.stdout.count("VER001") == 2
    assert pg.psql("postgres", "-A", "-t", "-c", "select datname from pg_database order by 1") == before


def test_cli_without_any_server_is_one_line_and_exit_2(tmp_path, monkeypatch):
    import importlib.util

    project = _project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pgserver" else real_find_spec(name, *a))
    result = CliRunner().invoke(main, ["check", "--verify"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "rlslint: error: --verify: no PostgreSQL for --verify (initdb and pg_ctl are not on the PATH, and the pgserver "
        "wheel is not installed): install the pgserver wheel (pip install 'rlslint[verify]'), put initdb and pg_ctl on "
        "the PATH, or name a server with --database-url"]


@pytest.mark.parametrize("url, message", [
    ("mysql://x@y/z", "--database-url must start with postgresql://"),
    ("postgresql://nobody@/postgres?host=/nonexistent&port=5", "cannot connect to PostgreSQL at /nonexistent:5"),
])
def test_cli_bad_database_url_is_one_line(tmp_path, monkeypatch, url, message):
    monkeypatch.chdir(_project(tmp_path))
    result = CliRunner().invoke(main, ["check", "--verify", "--database-url", url])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_database_url_needs_verify(tmp_path, monkeypatch):
    monkeypatch.chdir(_project(tmp_path))
    result = CliRunner().invoke(main, ["check", "--database-url", "postgresql://x@/y"])
    assert result.exit_code == 2
    assert result.stderr == "rlslint: error: --database-url names the server for --verify; add --verify\n"
