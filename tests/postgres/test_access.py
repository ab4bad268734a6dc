"""The access matrix says what PostgreSQL does: each cell checked by behaviour in a real server.

The fixture's migrations are applied to a fresh database with the Supabase scaffold; rows
for two users are inserted as the owner; then, for each API role, with ``SET ROLE`` and
the ``request.jwt.claims`` of user A (as PostgREST sets them), every command is run on
every table and must do what its cell says:

- none: permission denied;
- denied: reads and changes see no row, an insert is a policy violation;
- all: every row (an insert of another user's row succeeds);
- filtered (here always the owner check): exactly A's rows; inserting B's row is refused.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint import engine
from rlslint.cli import main
from rlslint.config import Overrides, SettingsLoader
from tests.support.pgharness import MigrationError, drop_database, scaffold_database

PROJECT = Path(__file__).parents[1] / "fixtures" / "access"
MIGRATIONS = PROJECT / "supabase" / "migrations"
USER_A, USER_B = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"

EXPECTED = {  # the matrix a reader of the fixture expects, so a wrong model fails here first
    ("public.notes", "anon"): ("denied",) * 4,
    ("public.notes", "authenticated"): ("filtered",) * 4,
    ("public.posts", "anon"): ("all", "denied", "denied", "denied"),
    ("public.posts", "authenticated"): ("all", "denied", "denied", "denied"),
    ("public.countries", "anon"): ("all", "none", "none", "none"),
    ("public.countries", "authenticated"): ("all", "none", "none", "none"),
    ("public.drafts", "anon"): ("none",) * 4,
    ("public.drafts", "authenticated"): ("filtered",) * 4,
    ("public.jobs", "anon"): ("denied",) * 4,
    ("public.jobs", "authenticated"): ("denied",) * 4,
}


def _matrix():
    matrix, errors = engine.access([str(MIGRATIONS)], PROJECT, SettingsLoader(PROJECT, None, Overrides()))
    assert errors == ()
    return matrix


def test_matrix_of_the_fixture():
    matrix = _matrix()
    assert matrix.roles == ("anon", "authenticated")
    found = {(t.table, role): tuple(c.access for c in t.cells if c.role == role) for t in matrix.tables for role in matrix.roles}
    assert found == EXPECTED
    drafts = next(t for t in matrix.tables if t.table == "public.drafts")
    select = next(c for c in drafts.cells if c.role == "authenticated" and c.command == "SELECT")
    assert select.using == "((SELECT auth.uid()) = user_id)" and select.with_check is None
    assert select.policies == ("drafts_all", "drafts_own")


def _as(role: str, sql: str) -> str:
    claims = json.dumps({"sub": USER_A, "role": role})
    return (f"begin; set local role {role}; set local request.jwt.claims = '{claims}';\n"
            f"{sql};\nrollback;")


def _run(pg, dbname: str, role: str, sql: str) -> tuple[list[str] | None, str]:
    """The user ids the statement returned, or None and the error."""
    try:
        out = pg.psql(dbname, "-A", "-t", input=_as(role, sql))
    except MigrationError as exc:
        return None, exc.stderr
    return sorted(line for line in out.splitlines() if line and line not in ("BEGIN", "SET", "ROLLBACK")), ""


def _behaves(pg, dbname: str, table: str, role: str, command: str, access: str) -> str | None:
    """None when the command does what ``access`` says; else what it did instead."""
    everyone, own = sorted([USER_A, USER_B]), [USER_A]
    if command == "INSERT":
        mine = _run(pg, dbname, role, f"insert into {table} (user_id) values ('{USER_A}') returning user_id")
        theirs = _run(pg, dbname, role, f"insert into {table} (user_id) values ('{USER_B}') returning user_id")
        outcome = {"none": ("permission denied", "permission denied"), "denied": ("row-level security", "row-level security"),
                   "all": (own, [USER_B]), "filtered": (own, "row-level security")}[access]
        for (rows, error), want in zip((mine, theirs), outcome):
            if (rows != want) if isinstance(want, list) else (want not in error):
                return f"insert: {rows or error.strip()} (expected {want})"
        return None
    statement = {"SELECT": f"select user_id from {table}",
                 "UPDATE": f"update {table} set user_id = user_id returning user_id",
                 "DELETE": f"delete from {table} returning user_id"}[command]
    rows, error = _run(pg, dbname, role, statement)
    want = {"none": "permission denied", "denied": [], "all": everyone, "filtered": own}[access]
    if (rows != want) if isinstance(want, list) else (rows is not None or want not in error):
        return f"{rows if rows is not None else error.strip()} (expected {want})"
    return None


def test_every_cell_does_what_it_says(pg):
    matrix = _matrix()
    dbname = f"access_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    pg.psql("postgres", "-c", f'create database "{dbname}"')
    try:
        scaffold_database(pg, dbname)
        for path in sorted(MIGRATIONS.glob("*.sql")):
            pg.psql(dbname, "-f", str(path))
        for table in matrix.tables:  # as the owner, who bypasses RLS
            pg.psql(dbname, "-c", f"insert into {table.table} (user_id) values ('{USER_A}'), ('{USER_B}')")
        wrong = {}
        for table in matrix.tables:
            for cell in table.cells:
                problem = _behaves(pg, dbname, table.table, cell.role, cell.command, cell.access)
                if problem:
                    wrong[(table.table, cell.role, cell.command, cell.access)] = problem
        assert wrong == {}
    finally:
        drop_database(pg, dbname)


@pytest.mark.parametrize("output_format", ["json", "markdown", "text"])
def test_access_command_formats(output_format, monkeypatch):
    monkeypatch.chdir(PROJECT)
    result = CliRunner().invoke(main, ["access", "--format", output_format, "--no-color"])
    assert result.exit_code == 0, result.output
    if output_format == "json":
        document = json.loads(result.output)
        assert document["version"] == 1 and document["roles"] == ["anon", "authenticated"]
        notes = next(t for t in document["tables"] if t["table"] == "public.notes")
        assert notes["rls"] is True
        assert notes["cells"][4] == {"role": "authenticated", "command": "SELECT", "access": "filtered",
                                     "using": "(SELECT auth.uid()) = user_id", "with_check": None, "policies": ["notes_own"]}
    elif output_format == "markdown":
        assert "| `public.countries` | INSERT | `none` | `none` |" in result.output
    else:
        assert "public.jobs" in result.output and "denied" in result.output


def test_role_option_shows_other_roles(monkeypatch):
    monkeypatch.chdir(PROJECT)
    result = CliRunner().invoke(main, ["access", "--format", "json", "--role", "service_role"])
    document = json.loads(result.output)
    assert document["roles"] == ["service_role"]
    assert {c["access"] for t in document["tables"] for c in t["cells"]} == {"all"}  # BYPASSRLS, every privilege


def test_a_table_the_model_could_not_analyse_is_unknown_never_a_pass(tmp_path):
    """A loop over rows read at run time may have changed every table (Table.unanalysed)."""
    from rlslint.diagnostics import Cell

    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    text = (MIGRATIONS / "20240101000000_access.sql").read_text()
    (migrations / "20240101000000_access.sql").write_text(text)
    (migrations / "20240102000000_loop.sql").write_text(
        "create table public.registry (name text primary key);\n"
        "do $$ declare r record; begin\n  for r in select name from public.registry loop\n"
        "    execute format('alter table public.%I disable row level security', r.name);\n  end loop;\nend $$;\n")
    matrix, errors = engine.access([str(migrations)], tmp_path, SettingsLoader(tmp_path, None, Overrides()))
    assert errors == ()
    (notes,) = [t for t in matrix.tables if t.table == "public.notes"]
    assert {c.access for c in notes.cells} == {"unknown"}
    result = engine.lint([str(migrations)], tmp_path, SettingsLoader(tmp_path, None, Overrides()))
    (row,) = [t for t in result.tables if t.name == "public.notes"]
    assert set(row.cells) == {Cell.UNKNOWN}


def test_a_restrictive_policy_narrows_only_by_the_clauses_it_has(tmp_path):
    """PostgreSQL ignores a restrictive policy's missing USING: reads and deletes stay open."""
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_t.sql").write_text(
        "create table public.t (id int primary key, user_id uuid);\n"
        "alter table public.t enable row level security;\n"
        "create policy open on public.t for all to authenticated using (true);\n"
        "create policy writes on public.t as restrictive for all to authenticated\n"
        "  with check (user_id = (select auth.uid()));\n")
    matrix, errors = engine.access([str(migrations)], tmp_path, SettingsLoader(tmp_path, None, Overrides()))
    assert errors == ()
    (table,) = [t for t in matrix.tables if t.table == "public.t"]
    cells = {c.command: c for c in table.cells if c.role == "authenticated"}
    assert (cells["SELECT"].access, cells["DELETE"].access) == ("all", "all")
    assert cells["INSERT"].access == "filtered" and "auth.uid()" in cells["INSERT"].with_check
