"""The per-table checklist is read off the checklist rules' findings: a cell fails exactly
where its rule reported, passes where the rule ran and found nothing, and is blank where
there is nothing to judge or the rule did not run."""

from __future__ import annotations

from dataclasses import replace

from rlslint import checklist
from rlslint.diagnostics import CHECKLIST_COLUMNS, Cell
from rlslint.engine import run_rules
from rlslint.rules import ALL_RULES, KNOWN_RULES
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.parse import parse_file
from rlslint.sql.spans import Span

P, F, N, U = Cell.PASS, Cell.FAIL, Cell.NOT_APPLICABLE, Cell.UNKNOWN

MIGRATION = """
create table public.open (id int primary key);
create table public.notes (
  id int primary key,
  owner_id uuid not null references auth.users (id),
  project_id int references public.open (id)
);
alter table public.notes enable row level security;
create policy notes_read on public.notes for select using ((select auth.uid()) = owner_id);
create schema private;
create table private.ledger (id int primary key);
"""


def _rows(settings: Settings) -> dict[str, tuple[Cell, ...]]:
    catalog = replay([parse_file("1_init.sql", MIGRATION)])
    ran = [rule for rule in ALL_RULES if settings.runs(rule)]
    found = run_rules(catalog, settings, ran, fixes=False)
    return {row.name: row.cells for row in checklist.rows(catalog.tables.values(), settings, found, ran)}


def test_cells_fail_where_the_rules_report_and_pass_where_they_found_nothing():
    assert _rows(Settings()) == {
        # RLS on, SELECT, INSERT, UPDATE, DELETE, FKs indexed, owner FKs cascade
        "public.open": (F, N, N, N, N, N, N),
        "public.notes": (P, P, F, F, F, F, F),
        "private.ledger": (N, N, N, N, N, N, N),  # not exposed: nothing is required of it
    }


def test_a_rule_that_did_not_run_leaves_its_columns_blank():
    rows = _rows(Settings(enabled=frozenset({"RLS001"})))
    assert rows["public.notes"] == (P, N, N, N, N, N, N)
    assert rows["public.open"] == (F, N, N, N, N, N, N)


def test_a_table_changed_by_unanalysed_sql_passes_nothing_and_still_fails_what_was_reported():
    catalog = replay([parse_file("1_init.sql", MIGRATION)])
    table = replace(catalog.tables[next(q for q in catalog.tables if q.name == "notes")],
                    unanalysed=(Span("1_init.sql", 0, 1),))
    [row] = checklist.rows([table], Settings(), [], ALL_RULES)
    assert row.cells == (U,) * len(CHECKLIST_COLUMNS)
    found = run_rules(catalog, Settings(), ALL_RULES, fixes=False)
    [row] = checklist.rows([table], Settings(), found, ALL_RULES)
    assert row.cells == (U, U, F, F, F, F, F) and row.failing


def test_every_column_is_decided_by_exactly_one_checklist_rule():
    deciders = [(column, rule.code) for rule in KNOWN_RULES for column in rule.cells]
    assert sorted(c for c, _ in deciders) == sorted(CHECKLIST_COLUMNS)
    assert all(rule.checklist for rule in KNOWN_RULES if rule.cells)


def test_a_suppressed_finding_is_excused_not_mended(tmp_path):
    from rlslint import engine

    (tmp_path / "1_init.sql").write_text("-- rlslint: ignore[RLS001] staging table\ncreate table public.open (id int);\n")
    # A Supabase project: the API roles reach the table, so RLS001 judges it.
    result = engine.lint([str(tmp_path)], tmp_path, lambda _: Settings(platform="supabase"))
    assert result.diagnostics == ()
    assert [row.cells for row in result.tables] == [(F, N, N, N, N, N, N)]
