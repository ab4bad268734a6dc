"""The replay refuses what PostgreSQL refuses: an index, key, foreign key or policy on a column
the table lacks, whenever the model knows all the table's columns; and applies it when it
cannot know.

Each history runs under ``--verify`` on the tests' PostgreSQL: the statement must be the one
PostgreSQL rejects, and after it the model and the catalog must not differ (before the
replay refused these, ``--verify`` reported "index … exists in the model but not in
PostgreSQL" after the rejected statement).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rlslint.engine import build_catalog
from rlslint.sql.names import QName
from tests.support.verifying import as_migrations, lint, session_verifier

PRELUDE = """create table public.teams (id bigint primary key, name text);
create table public.notes (id bigint, team_id bigint, body text);
alter table public.notes enable row level security;
create policy notes_read on public.notes for select to authenticated using (team_id > 0);
"""

# (name, the statement on line 5, PostgreSQL's message)
REFUSED = [
    ("index on a missing column", "create index notes_missing_idx on public.notes (missing);",
     'column "missing" does not exist'),
    ("expression index reading a missing column", "create index on public.notes (lower(missing));",
     'column "missing" does not exist'),
    ("partial index whose WHERE reads a missing column", "create index on public.notes (id) where missing is null;",
     'column "missing" does not exist'),
    ("unique index, one of two columns missing", "create unique index on public.notes (id, missing);",
     'column "missing" does not exist'),
    ("foreign key from a missing column",
     "alter table public.notes add constraint notes_fk foreign key (missing) references public.teams (id);",
     'column "missing" referenced in foreign key constraint does not exist'),
    ("foreign key to a missing column",
     "alter table public.notes add constraint notes_fk foreign key (team_id) references public.teams (missing);",
     'column "missing" referenced in foreign key constraint does not exist'),
    ("primary key on a missing column", "alter table public.notes add primary key (missing);",
     'column "missing" of relation "notes" does not exist'),
    ("unique constraint on a missing column", "alter table public.notes add constraint notes_uq unique (missing);",
     'column "missing" named in key does not exist'),
    ("a valid subcommand with a refused one: neither is applied",
     "alter table public.notes add column extra int, add constraint notes_uq unique (missing);",
     'column "missing" named in key does not exist'),
    ("CREATE TABLE with a key on a missing column", "create table public.bad (id bigint, primary key (missing));",
     'column "missing" named in key does not exist'),
    ("CREATE TABLE referencing a missing column",
     "create table public.bad (id bigint, team bigint references public.teams (missing));",
     'column "missing" referenced in foreign key constraint does not exist'),
    ("policy reading a missing column",
     "create policy notes_write on public.notes for insert to authenticated with check (missing = 1);",
     'column "missing" does not exist'),
    ("ALTER POLICY reading a missing column", "alter policy notes_read on public.notes using (missing = 1);",
     'column "missing" does not exist'),
    ("policy on a missing table", "create policy nowhere_read on public.nowhere using (true);",
     'relation "public.nowhere" does not exist'),
    ("the type of a column a policy reads", "alter table public.notes alter column team_id type int;",
     "cannot alter type of a column used in a policy definition"),
]

# Statements PostgreSQL accepts that the same checks must not refuse.
ACCEPTED = [
    ("key before its column", "create table public.ok (primary key (id), id bigint);"),
    ("constraint on a column the same statement adds",
     "alter table public.notes add column owner bigint, add constraint notes_owner_fk foreign key (owner) "
     "references public.teams (id);"),
    ("system column in a policy", "create policy notes_sys on public.notes for delete to authenticated using (xmin <> '0');"),
    ("the table's whole row in a policy",
     "create policy notes_row on public.notes for update to authenticated using (notes is not null);"),
    ("the type of a column no policy reads", "alter table public.notes alter column body type varchar(100);"),
    ("a sub-select's own columns", "create policy notes_team on public.notes for delete to authenticated "
     "using (exists (select 1 from public.teams t where t.id = team_id and name = 'x'));"),
]


@pytest.fixture(scope="module")
def verifier(pg_server):
    with session_verifier(pg_server) as shared:
        yield shared


def _verify(tmp_path: Path, verifier, sql: str):
    (tmp_path / "m.sql").write_text(sql, encoding="utf-8")
    migrations = as_migrations(tmp_path, tmp_path / "m.sql")
    verified = lint(migrations, verifier)
    rejected = [(verified.error_position(e).line, e.message) for e in verified.errors]
    differences = [d.message for d in verified.diagnostics if d.code == "VER001"]
    return migrations, rejected, differences


@pytest.mark.parametrize("statement, message", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_the_model_refuses_what_postgresql_refuses(pg, verifier, tmp_path, statement, message):
    migrations, rejected, differences = _verify(tmp_path, verifier, PRELUDE + statement + "\n")
    assert rejected == [(5, f"PostgreSQL rejects this statement: {message}")]
    assert differences == []
    notes = [n.message for n in build_catalog(migrations).notes]
    assert any("PostgreSQL would reject this statement" in n or "not created by these migrations" in n for n in notes)


@pytest.mark.parametrize("statement", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_the_model_applies_what_postgresql_accepts(pg, verifier, tmp_path, statement):
    migrations, rejected, differences = _verify(tmp_path, verifier, PRELUDE + statement + "\n")
    assert (rejected, differences) == ([], [])
    assert not any("reject" in n.message for n in build_catalog(migrations).notes)


def test_columns_from_a_query_are_not_refused(pg, verifier, tmp_path):
    # CREATE TABLE AS takes the columns it does not name from the query, which the replay
    # does not evaluate: the model lacks label (what VER001 says), and must still not refuse its index.
    migrations, rejected, differences = _verify(tmp_path, verifier, (
        "create table public.copied (id) as select 1::bigint, 'x'::text as label;\n"
        "create index copied_label_idx on public.copied (label);\n"))
    assert rejected == []
    assert differences == ["after this statement PostgreSQL's catalog and rlslint's model differ on table "
                           "public.copied: column label exists in PostgreSQL but not in the model"]
    assert [i.name for i in build_catalog(migrations).table(QName("public", "copied")).indexes] == ["copied_label_idx"]


def test_a_table_dynamic_sql_touched_is_not_refused(pg, verifier, tmp_path):
    # The column's name is read at run time: the model cannot say the table lacks it.
    migrations, rejected, differences = _verify(tmp_path, verifier, (
        "create table public.settings (name text);\n"
        "insert into public.settings values ('extra');\n"
        "create table public.notes (id bigint primary key);\n"
        "do $$ begin execute format('alter table public.notes add column %I int', (select name from public.settings)); end $$;\n"
        "create index notes_extra_idx on public.notes (extra);\n"))
    assert (rejected, differences) == ([], [])
    notes = build_catalog(migrations).table(QName("public", "notes"))
    assert notes.unanalysed and "notes_extra_idx" in [i.name for i in notes.indexes]
