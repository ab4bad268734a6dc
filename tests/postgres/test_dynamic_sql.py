"""SQL that DO blocks build at run time: evaluated against the model, checked against PostgreSQL.

The replay scenarios in EVALUATED secure tables with loops over pg_tables,
information_schema, pg_class joined to pg_namespace and arrays, WHILE, LOOP, EXIT, CONTINUE,
integer FOR and CASE, IF NOT EXISTS guards on pg_policies, format() and concatenation, PL/pgSQL
and SQL functions called later (with arguments and defaults too), and an event trigger;
guards over pg_roles, pg_user, pg_constraint, pg_indexes, pg_proc, pg_extension,
information_schema.table_constraints and .schemata (and over pg_type and pg_trigger around
statements that change no table), and sub-selects used as values. Their findings on the model must be exactly the checklist findings computed
from the real server's catalog after the same migrations ran. do_unknowable reads its
targets from a table at run time: the tables it may change are marked, and their findings
say so, never silently.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rlslint.engine import build_catalog
from rlslint.schema.textfunctions import format_text, like
from tests.postgres.test_differential import apply_and_read, catalog_findings, model_findings

REPLAY_DIR = Path(__file__).parents[1] / "fixtures" / "replay"
EVALUATED = ("do_dynamic", "do_loops", "do_blocks", "do_functions", "event_trigger", "do_control_flow", "do_pg_class",
             "sql_functions", "function_arguments", "do_catalog_guards", "do_scalar_queries", "do_exceptions",
             "function_lifecycle", "procedures", "do_regclass", "do_views")


@pytest.mark.parametrize("scenario", EVALUATED)
def test_evaluated_do_blocks_give_the_findings_of_the_real_catalog(pg, scenario):
    migrations = REPLAY_DIR / scenario / "migrations"
    postgres, read, access = apply_and_read(pg, sorted(migrations.glob("*.sql")))
    catalog = build_catalog(migrations, start="supabase")  # the database starts from the Supabase scaffold
    assert not catalog.unanalysed, catalog.unanalysed
    assert model_findings(catalog) == catalog_findings(postgres, read, access)


def test_sql_read_at_run_time_is_marked_and_said(pg):
    migrations = REPLAY_DIR / "do_unknowable" / "migrations"
    catalog = build_catalog(migrations)
    (note,) = catalog.unanalysed
    assert "public.registry is read at run time" in note.message
    marked = {str(q) for q, t in catalog.tables.items() if t.unanalysed}
    assert marked == {"public.registry", "public.orders"}  # public.later comes after the loop
    # The real server shows why: the loop did enable RLS on orders, which the model cannot know.
    postgres, _, _ = apply_and_read(pg, sorted(migrations.glob("*.sql")))
    assert postgres["tables"]["public.orders"]["rls"] and not catalog.tables[next(
        q for q in catalog.tables if str(q) == "public.orders")].rls


def test_the_default_output_ends_with_the_unanalysed_statements(tmp_path):
    from click.testing import CliRunner

    from rlslint.cli import main

    # As a Supabase project's migrations, so the API roles reach the tables (RLS001 runs).
    migrations = tmp_path / "supabase" / "migrations"
    shutil.copytree(REPLAY_DIR / "do_unknowable" / "migrations", migrations)
    result = CliRunner().invoke(main, ["check", str(migrations), "--no-cache"])
    lines = result.output.strip().splitlines()
    head, _, tail = lines[-1].partition("20240101000000_init.sql:10)")
    assert head.startswith("1 statement could not be analysed (") and head.endswith("/supabase/migrations/")
    assert tail == ": findings on the tables it may change say so; -v says why; --verify decides them."
    findings = [line for line in lines if ": RLS001 " in line]
    assert len(findings) == 3
    assert [("depends on SQL rlslint could not analyse" in line) for line in findings] == [True, True, False]
    verbose = CliRunner().invoke(main, ["check", str(migrations), "--no-cache", "-v"]).output
    assert "20240101000000_init.sql:10: not analysed: FOR over rows known only at run time" in verbose


FORMATS = [
    ("alter table %I.%I enable row level security", ["public", "My Table"]),
    ("create policy %I on %s using (%L = owner)", ["a b", "public.t", "it's"]),
    ("%2$s then %1$s, %%, %L", ["one", "two", None]),
    ("select %L", ["back\\slash"]),
]


@pytest.mark.parametrize("template, args", FORMATS)
def test_format_builds_what_postgresql_builds(pg, template, args):
    def literal(value):
        return "null" if value is None else "'" + value.replace("'", "''") + "'"

    sql = f"select format({literal(template)}, {', '.join(literal(a) + '::text' for a in args)})"
    assert pg.psql("postgres", "-A", "-t", "-c", sql).rstrip("\n") == format_text(template, args)


@pytest.mark.parametrize("value, pattern", [("archive_2023", "archive%"), ("notes", "archive%"), ("a_b", "a\\_b"),
                                            ("axb", "a_b"), ("100%", "100\\%")])
def test_like_matches_as_postgresql_matches(pg, value, pattern):
    sql = f"select '{value}' like '{pattern}'"
    assert (pg.psql("postgres", "-A", "-t", "-c", sql).strip() == "t") == like(value, pattern)


UNFINISHED = [
    # the loop's condition reads a table at run time
    ("while exists (select 1 from public.queue) loop\n"
     "    execute 'alter table public.t enable row level security'; exit;\n  end loop;",
     "WHILE whose condition is known only at run time (public.queue is read at run time)"),
    # nothing the model holds ends it
    ("loop\n    null;\n  end loop;", "a loop that runs more than 10000 times"),
    # rows of a query built at run time, around SQL written in the block
    ("for r in execute 'select name from public.' || 'queue' loop\n    alter table public.t enable row level security;\n"
     "  end loop;", "FOR over rows known only at run time (public.queue is read at run time)"),
    # an error no handler catches: PostgreSQL stops the block and the migration
    ("begin\n    create policy p on public.t using (true);\n    create policy p on public.t using (true);\n"
     "  exception when undefined_table then null;\n  end;\n  alter table public.t enable row level security;",
     'policy "p" on public.t already exists: PostgreSQL stops here and rejects the migration'),
    # a handler whose condition the evaluation cannot match to the error
    ("begin\n    create policy p on public.t using (true);\n    create policy p on public.t using (true);\n"
     "  exception when invalid_catalog_name then null;\n  end;",
     'policy "p" on public.t already exists, in a block whose EXCEPTION handler may catch it '
     "(the condition invalid_catalog_name is not one the evaluation knows)"),
    # a regclass of a name that is no table's (three parts: another database)
    ("execute format('alter table %s enable row level security', 'db.public.t'::regclass);",
     "EXECUTE of SQL built at run time ('db.public.t'::regclass is not a table's name)"),
]


@pytest.mark.parametrize("body, why", UNFINISHED, ids=["while_reads_a_table", "endless", "for_execute", "uncaught",
                                                       "undecided_handler", "regclass_of_no_table"])
def test_a_statement_the_evaluator_cannot_finish_is_never_skipped_silently(body, why):
    from rlslint.schema.replay import replay
    from rlslint.sql.parse import parse_file

    sql = ("create table public.t (id int primary key);\ncreate table public.queue (name text);\n"
           f"do $$ declare r record; begin\n  {body}\nend $$;\n")
    catalog = replay([parse_file("w.sql", sql)])
    assert [n.message for n in catalog.unanalysed] == [why]
    assert all(t.unanalysed for t in catalog.tables.values())


EXPRESSIONS = ["7 / -2", "-7 / 2", "2 + 3 * 4 - 1", "array_length(array['a', 'b'], 1)",
               "array_length(array[]::text[], 1)", "cardinality(array[]::text[])", "(array['a', 'b'])[2]",
               "(array['a', 'b'])[3]", "coalesce(null, 'x')", "length('abc')", "2 < 3", "'b' >= 'a'", "null::int < 1",
               "(select 'x')", "'a' in (select 'a')", "(select 1 limit 0)"]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_expressions_evaluate_as_postgresql_evaluates_them(pg, expression):
    from rlslint.schema.plpgsql import _Interpreter
    from rlslint.sql.parse import parse_file

    (do,) = parse_file("e.sql", "do $$ begin null; end $$;").statements
    value = _Interpreter(do, [], None, lambda name: None, None, 0).value(expression)
    shown = "" if value is None else {True: "t", False: "f"}.get(value, value) if isinstance(value, bool) else str(value)
    assert pg.psql("postgres", "-A", "-t", "-c", f"select {expression}").rstrip("\n") == shown


def _report(*args: str) -> str:
    from click.testing import CliRunner

    from rlslint.cli import main

    migrations = REPLAY_DIR / "do_unknowable" / "migrations"
    return CliRunner().invoke(main, [*args, str(migrations)]).output


def test_every_report_carries_the_unanalysed_statement():
    import json

    from tests.support.ci_support import sarif_errors

    document = json.loads(_report("check", "--no-cache", "--format", "json"))
    (entry,) = document["unanalysed"]
    assert (Path(entry["file"]).name, entry["line"], entry["column"]) == ("20240101000000_init.sql", 10, 3)
    assert entry["message"].startswith("FOR over rows known only at run time (public.registry is read at run time")
    assert document["summary"]["unanalysed"] == 1

    sarif = _report("check", "--no-cache", "--format", "sarif")
    assert not sarif_errors(sarif)
    (notification,) = json.loads(sarif)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notification["level"] == "warning" and notification["message"]["text"].startswith("not analysed: FOR over rows")
    assert notification["locations"][0]["physicalLocation"]["region"] == {"startLine": 10, "startColumn": 3}

    markdown = _report("check", "--no-cache", "--format", "markdown")
    assert "### 1 statement rlslint could not analyse" in markdown
    assert "20240101000000_init.sql:10`: FOR over rows known only at run time" in markdown

    github = _report("check", "--no-cache", "--format", "github").splitlines()
    (warning,) = [line for line in github if "title=rlslint%3A not analysed" in line]
    assert warning.startswith("::warning ") and "%0A" in warning  # the summary, then each statement and why

    assert _report("check", "--no-cache", "--format", "concise").splitlines()[-1].startswith("1 statement could not be analysed (")


def test_the_checklist_shows_the_marked_tables_as_unknown():
    rows = {line.split("│")[1].strip(): line for line in _report("report", "--no-color").splitlines()
            if line.count("│") > 2 and "public." in line}
    assert set(rows) == {"public.registry", "public.orders", "public.later"}
    for name in ("public.registry", "public.orders"):
        assert {cell.strip() for cell in rows[name].split("│")[2:-1]} == {"?"}, rows[name]
    assert "?" not in rows["public.later"]  # created after the loop ran
    markdown = _report("check", "--no-cache", "--format", "markdown")
    assert "| `public.orders` | " + " | ".join(["❔"] * 7) + " |" in markdown


GUARDS_LEFT_UNKNOWN = [
    # CHECK constraints are not held
    ("exists (select 1 from pg_constraint where conrelid = 'public.t'::regclass and contype = 'c')",
     "the query can see constraints the model does not hold (CHECK, EXCLUDE, the platform's)"),
    ("exists (select 1 from information_schema.table_constraints where table_name = 't' and constraint_type = 'CHECK')",
     "the query can see constraints the model does not hold (CHECK, EXCLUDE, the platform's)"),
    # an extension these migrations did not create may be installed already
    ("exists (select 1 from pg_extension where extname = 'pg_trgm')",
     "pg_extension: extensions installed before the migrations ran are not known"),
    # the platform's own roles
    ("exists (select 1 from pg_roles where rolname = 'supabase_admin')",
     "pg_roles: the roles the platform has are not all known"),
    ("exists (select 1 from pg_roles where rolcanlogin and rolname like 'supabase%')",
     "pg_roles: the roles the platform has are not all known"),
    # a schema the platform may have
    ("not exists (select 1 from pg_namespace where nspname = 'realtime')",
     "pg_namespace: the schemas the platform has are not all known"),
    # an index's definition is not held
    ("exists (select 1 from pg_indexes where indexdef like '%(id)%')", "indexdef is not known"),
    # types are not held, and this branch changes a table
    ("not exists (select 1 from pg_type where typname = 'mood')", "pg_type is read at run time"),
    # a sub-select used as a value that returns more than one row makes PostgreSQL stop
    ("(select tablename from pg_tables where schemaname = 'public') = 't'",
     "a sub-select used as a value returns more than one row: PostgreSQL stops the migration"),
    # which row LIMIT keeps is PostgreSQL's choice
    ("(select tablename from pg_tables where schemaname = 'public' limit 1) = 't'",
     "LIMIT picks rows in an order the model does not know"),
    ("(select count(*) from pg_tables where tablename not like 'u%') = 1", "the query can see objects the migrations do not create"),
]


@pytest.mark.parametrize("condition, why", GUARDS_LEFT_UNKNOWN,
                         ids=["check", "not_null_as_check", "extension", "platform_role", "role_flag", "platform_schema", "indexdef", "type",
                              "two_rows",
                              "limit", "count_probes"])
def test_a_guard_the_model_cannot_answer_marks_the_tables(condition, why):
    from rlslint.schema.replay import replay
    from rlslint.sql.parse import parse_file

    sql = ("grant usage on schema public to anon;\n"  # a Supabase project: its platform roles apply
           "create table public.t (id int primary key);\ncreate table public.u (id int primary key);\n"
           f"do $$ begin\n  if {condition} then\n    alter table public.t enable row level security;\n  end if;\nend $$;\n")
    catalog = replay([parse_file("g.sql", sql)])
    assert [n.message for n in catalog.unanalysed] == [f"IF whose condition is known only at run time ({why})"]
    assert all(t.unanalysed for t in catalog.tables.values())


def test_an_unknown_guard_around_statements_that_change_no_table_marks_nothing():
    from rlslint.schema.replay import replay
    from rlslint.sql.parse import parse_file

    sql = ("create table public.t (id int primary key);\ncreate function public.f() returns trigger language plpgsql as\n"
           "  'begin return new; end';\n"
           "do $$ begin\n"
           "  if not exists (select 1 from pg_type where typname = 'mood') then\n"
           "    create type public.mood as enum ('ok');\n    raise notice 'created';\n"
           "  elsif not exists (select 1 from pg_trigger where tgname = 't_touch') then\n"
           "    create trigger t_touch before update on public.t for each row execute function public.f();\n"
           "  end if;\nend $$;\n"
           # the same guard around what does change a table, or may (a function these migrations created)
           "do $$ begin\n  if not exists (select 1 from pg_type where typname = 'mood') then\n"
           "    perform public.f();\n  end if;\nend $$;\n")
    catalog = replay([parse_file("g.sql", sql)])
    assert [n.message for n in catalog.notes if "changes no table" in n.message] == [
        "IF whose condition is known only at run time (pg_type is read at run time); what it may run changes no table"]
    assert [n.message for n in catalog.unanalysed] == ["IF whose condition is known only at run time (pg_type is read at run time)"]
GONE = [
    ("drop function public.secure(text);", "public.secure() does not exist (an earlier migration dropped or renamed it)"),
    ("alter function public.secure(text) rename to secure_table;",
     "public.secure() does not exist (an earlier migration dropped or renamed it)"),
    ("alter function public.secure(text) set schema util;",
     "public.secure() does not exist (an earlier migration dropped or renamed it)"),
]


@pytest.mark.parametrize("change, why", GONE, ids=["dropped", "renamed", "moved"])
def test_a_call_after_the_function_is_gone_is_refused_as_postgresql_refuses_it(pg, tmp_path, change, why):
    """PostgreSQL rejects the call (undefined_function), so the migration fails: the model
    does not run the old body, and says the statement ends the migration."""
    from tests.support.pgharness import MigrationError, migrated_database

    sql = ("create schema util;\ncreate table public.t (id int primary key);\n"
           "create function public.secure(target text) returns void language plpgsql as $$\n"
           "begin\n  execute format('alter table public.%I enable row level security', target);\nend\n$$;\n"
           f"{change}\nselect public.secure('t');\n")
    path = tmp_path / "20240101000000_gone.sql"
    path.write_text(sql, encoding="utf-8")
    with pytest.raises(MigrationError, match="function public.secure\\(unknown\\) does not exist"):
        with migrated_database(pg, [path]):
            pass
    catalog = build_catalog(tmp_path)
    (note,) = catalog.unanalysed
    assert note.message == f"{why}: PostgreSQL stops here and rejects the migration"
    (table,) = catalog.tables.values()
    assert not table.rls and table.unanalysed


REGCLASS_SETUP = ('create schema app;\ncreate table public.orders (id int);\ncreate table public.invoices (id int);\n'
                  'create table app.orders (id int);\ncreate table public."My Table" (id int);\n')
REGCLASSES = [
    ("public", "format('%I|%s', 'orders'::regclass, 'app.orders'::regclass)"),
    ("app, public", "format('%s|%s|%s', 'public.orders'::regclass, 'invoices'::regclass, 'orders'::regclass)"),
    ("public", "'\"My Table\"'::regclass::text || ' ' || format('%I', 'app.orders'::regclass)"),
    ("app", "'orders'::regclass::text || ' ' || quote_ident('public.invoices'::regclass::text)"),
]


@pytest.mark.parametrize("search_path, expression", REGCLASSES)
def test_a_regclass_prints_as_postgresql_prints_it(pg, search_path, expression):
    """Without its schema when the search_path finds it (regclassout), so %I of it is a bare name."""
    from rlslint.schema.plpgsql import _Interpreter
    from rlslint.schema.replay import apply
    from rlslint.schema.state import ReplayState
    from rlslint.sql.parse import parse_file

    setup = f"{REGCLASS_SETUP}set search_path = {search_path};\n"
    state = ReplayState(strict=True)
    for stmt in parse_file("r.sql", setup).statements:
        apply(stmt, state)
    (do,) = parse_file("e.sql", "do $$ begin null; end $$;").statements
    shown = _Interpreter(do, [], state, lambda name: None, None, 0).value(expression)
    pg.psql("postgres", "-c", "drop database if exists regclass_out", "-c", "create database regclass_out")
    try:
        printed = pg.psql("regclass_out", "-A", "-t", "-c", f"{setup}select {expression};")
    finally:
        pg.psql("postgres", "-c", "drop database regclass_out")
    assert printed.strip().splitlines()[-1] == shown


def test_a_loop_that_reaches_a_view_fails_as_in_postgresql(pg, tmp_path):
    """information_schema.tables lists the views too: ENABLE ROW LEVEL SECURITY on one is
    refused (wrong_object_type), so the migration fails; the model says so, never skips it."""
    from tests.support.pgharness import MigrationError, migrated_database

    path = tmp_path / "20240101000000_views.sql"
    path.write_text("create table public.orders (id int primary key);\n"
                    "create view public.order_ids as select id from public.orders;\n"
                    "do $$\ndeclare\n  r record;\nbegin\n"
                    "  for r in select table_name from information_schema.tables where table_schema = 'public' loop\n"
                    "    execute format('alter table public.%I enable row level security', r.table_name);\n"
                    "  end loop;\nend\n$$;\n", encoding="utf-8")
    with pytest.raises(MigrationError, match='ALTER action ENABLE ROW SECURITY cannot be performed on relation "order_ids"'):
        with migrated_database(pg, [path]):
            pass
    catalog = build_catalog(tmp_path)
    (note,) = catalog.unanalysed
    assert note.message == ("ALTER TABLE … ROW LEVEL SECURITY on public.order_ids, a view: "
                            "PostgreSQL stops here and rejects the migration")
    assert all(table.unanalysed for table in catalog.tables.values())


OVERLOADS = ("create table public.a (id int primary key);\ncreate table public.b (id int primary key);\n"
             "create function public.secure(t text) returns void language plpgsql as $$\n"
             "begin\n  execute format('alter table public.%I enable row level security', t);\nend\n$$;\n"
             "create function public.secure(n int) returns void language plpgsql as $$\n"
             "begin\n  execute 'alter table public.b enable row level security';\nend\n$$;\n"
             "create function public.secure(t text, note text default '') returns void language plpgsql as $$\n"
             "begin\n  execute format('alter table public.%I force row level security', t);\nend\n$$;\n")


def test_overloads_are_told_apart_by_the_arguments_or_marked(pg, tmp_path):
    """secure(1) is the integer one, as in PostgreSQL; secure('a') fits two functions, which
    PostgreSQL refuses as not unique: the model marks it and runs neither body."""
    from tests.support.pgharness import MigrationError, migrated_database

    (tmp_path / "typed").mkdir()
    (tmp_path / "typed" / "20240101000000_f.sql").write_text(OVERLOADS + "select public.secure(1);\n", encoding="utf-8")
    catalog = build_catalog(tmp_path / "typed")
    assert not catalog.unanalysed
    assert {q.name: t.rls for q, t in catalog.tables.items()} == {"a": False, "b": True}
    with migrated_database(pg, [tmp_path / "typed" / "20240101000000_f.sql"]) as db:
        assert pg.psql(db, "-A", "-t", "-c", "select relname from pg_class where relrowsecurity and "
                       "relnamespace = 'public'::regnamespace").split() == ["b"]

    (tmp_path / "ambiguous").mkdir()
    path = tmp_path / "ambiguous" / "20240101000000_f.sql"
    path.write_text(OVERLOADS + "select public.secure('a');\n", encoding="utf-8")
    with pytest.raises(MigrationError, match="is not unique"):
        with migrated_database(pg, [path]):
            pass
    catalog = build_catalog(tmp_path / "ambiguous")
    (note,) = catalog.unanalysed
    assert note.message == ("call of public.secure(): more than one function of that name these migrations "
                            "created takes these arguments")
    assert all(t.unanalysed and not t.rls and not t.force_rls for t in catalog.tables.values())
