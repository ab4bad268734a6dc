"""PL/pgSQL errors as the evaluation raises and catches them, checked against PostgreSQL.

The condition names (schema/conditions.py) must be PostgreSQL's, a handler's condition must
catch what PostgreSQL's catches, and each refusal the replay models must carry the SQLSTATE
PostgreSQL raises for it: an ``EXCEPTION WHEN duplicate_object`` handler depends on all three.
"""

from __future__ import annotations

import json

import pytest

from rlslint.schema.conditions import SQLSTATES, catches, raised_by
from rlslint.schema.replay import apply
from rlslint.schema.state import ReplayState
from rlslint.sql.parse import parse_file
from rlslint.sql.spans import Span

_SPAN = Span("t.sql", 0, 0)


def _scratch(pg, sql: str) -> str:
    """Run ``sql`` in a database of its own; psql's output, unaligned."""
    pg.psql("postgres", "-c", "drop database if exists plpgsql_errors", "-c", "create database plpgsql_errors")
    try:
        return pg.psql("plpgsql_errors", "-A", "-t", "-c", sql)
    finally:
        pg.psql("postgres", "-c", "drop database plpgsql_errors")


def test_the_condition_names_are_postgresqls(pg):
    # RAISE … USING ERRCODE takes a condition name; SQLSTATE then gives its code.
    sql = ("create function pg_temp.code(name text) returns text language plpgsql as $$ begin "
           "raise exception using errcode = name; exception when others or query_canceled or assert_failure then "
           "return sqlstate; end $$;\n"
           f"select json_object_agg(n, pg_temp.code(n)) from unnest(array[{', '.join(repr(n) for n in SQLSTATES)}]) n;")
    assert json.loads(_scratch(pg, sql).strip().splitlines()[-1]) == SQLSTATES


HANDLERS = [("duplicate_object", "duplicate_object"), ("duplicate_object", "sqlstate '42710'"),
            ("duplicate_object", "syntax_error_or_access_rule_violation"), ("duplicate_object", "duplicate_table"),
            ("duplicate_table", "others"), ("assert_failure", "others"), ("raise_exception", "plpgsql_error"),
            ("undefined_table", "undefined_object"), ("42P07", "duplicate_table"), ("P0001", "others")]


@pytest.mark.parametrize("raised, handler", HANDLERS)
def test_a_handler_catches_what_postgresql_catches(pg, raised, handler):
    sql = ("create function pg_temp.caught() returns boolean language plpgsql as $$ begin "
           f"begin raise exception using errcode = '{raised}'; exception when {handler} then return true; end; "
           "exception when others or assert_failure then return false; end $$;\nselect pg_temp.caught();")
    condition = handler.removeprefix("sqlstate '").removesuffix("'")
    assert (_scratch(pg, sql).strip().splitlines()[-1] == "t") == catches(condition, raised_by(raised, "", _SPAN))


REFUSALS = [
    ("create table public.t (id int);", "create table public.t (id int)"),
    ("create table public.t (id int); create policy p on public.t using (true);",
     "create policy p on public.t using (true)"),
    ("create table public.t (id int); create index t_i on public.t (id);", "create index t_i on public.t (id)"),
    ("create table public.t (id int); create index t_i on public.t (id);",
     "alter table public.t add constraint t_i unique (id)"),
    ("create table public.p (id int primary key); create table public.t (id int references public.p);",
     "alter table public.t add constraint t_id_fkey foreign key (id) references public.p"),
    ("create table public.t (id int);", "create index t_j on public.t (missing)"),
    ("create table public.t (id int);", "create policy p on public.t using (missing = 1)"),
    ("create table public.p (id int primary key);", "create table public.t (id int, foreign key (missing) references public.p)"),
    ("create table public.t (id int); create policy p on public.t using (id = 1);", "alter table public.t alter column id type bigint"),
]


@pytest.mark.parametrize("setup, refused", REFUSALS)
def test_a_refused_statement_carries_postgresqls_sqlstate(pg, setup, refused):
    state = ReplayState(strict=True)
    for stmt in parse_file("t.sql", f"{setup}\n{refused};").statements:
        apply(stmt, state)
    assert state.failure is not None
    sql = (f"{setup}\ncreate function pg_temp.attempt() returns text language plpgsql as $$ begin {refused}; "
           "return null; exception when others then return sqlstate; end $$;\nselect pg_temp.attempt();")
    assert _scratch(pg, sql).strip().splitlines()[-1] == state.failure[0]
