"""A pre-commit run's comparison judges the model without the named files again only where it
can differ (rlslint/comparison.py), and finds exactly what running every rule over that whole
model finds: over random histories and the replay scenarios, for every choice of named files,
with every rule on and with the default selection. Each read a rule declares is needed: a
history where leaving it out gives a different answer is here too."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from rlslint import comparison, engine, history
from rlslint.engine import lint, run_rules
from rlslint.rules import ALL_RULES
from rlslint.rules.base import ACCESS, PARTITION_PARENT, POLICY_TABLES, READS, RuleContext
from rlslint.schema.model import evolve
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sources import MigrationFile, MigrationSet
from rlslint.sql.names import QName
from rlslint.sql.parse import parse_file
from tests.support.histories import ACCESS_STATEMENTS, migration_histories

REPLAY_DIR = Path(__file__).parents[1] / "fixtures" / "replay"
SCENARIOS = sorted(p for p in REPLAY_DIR.iterdir() if (p / "migrations").is_dir())
EVERY_RULE = Settings(enabled=frozenset(r.code for r in ALL_RULES))
SELECTIONS = (Settings(), EVERY_RULE, Settings(api_roles=("authenticated",)))


def models(texts: list[str], named: tuple[int, ...], start: str | None):
    """(the model, the model without the named files), as a run on those files builds them."""
    files = tuple(MigrationFile(Path(f"/m/{i:02}_m.sql"), f"{i:02}_m.sql", text) for i, text in enumerate(texts))
    migration_set = MigrationSet(Path("/m"), "plain", files, frozenset(files[i].display for i in named))
    replayed = history.replay_set(migration_set, keep=lambda text: False, start=start)
    return replayed.catalog, replayed.without_targets


def both_ways(catalog, without, settings, rules=ALL_RULES):
    """(what the comparison finds on ``without``, what every rule over all of it finds)."""
    ctx = RuleContext(catalog, settings)
    ran = [r for r in rules if settings.runs(r) and (ctx.api_roles or not r.needs_api_roles)]
    found = run_rules(catalog, settings, ran, fixes=False)
    whole = {d.identity for d in run_rules(without, settings, rules, fixes=False)}
    return comparison.findings_without(catalog, without, settings, rules, found), whole


def every_choice(count: int):
    return [c for k in range(1, count + 1) for c in itertools.combinations(range(count), k)]


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(migration_histories(cross_table=True), st.data())
def test_the_comparison_finds_what_every_rule_over_the_whole_model_finds(texts, data):
    # One choice of named files per history (hypothesis covers the choices across examples;
    # the scenarios below go through every choice): many histories find more than many choices.
    named = data.draw(st.sampled_from(every_choice(len(texts))), label="named")
    start = data.draw(st.sampled_from(("supabase", None)), label="start")
    catalog, without = models(texts, named, start)
    for settings in SELECTIONS:
        incremental, whole = both_ways(catalog, without, settings)
        assert incremental == whole, settings


@hypothesis_settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(migration_histories(cross_table=True, last=ACCESS_STATEMENTS), st.sampled_from(("supabase", None)))
def test_a_new_file_that_changes_only_who_may_do_what_is_compared_right(texts, start):
    """The usual pre-commit run names the newest file; here it changes roles, memberships,
    owners and schema privileges, which reach the verdicts on tables it never names (few
    random histories have such verdicts, hence the many examples of one selection)."""
    catalog, without = models(texts, (len(texts) - 1,), start)
    incremental, whole = both_ways(catalog, without, EVERY_RULE)
    assert incremental == whole


def _full_two_pass(catalog, without, settings, rules, found):
    return {d.identity for d in run_rules(without, settings, rules, fixes=False)}


def _report(result):
    return [(d.code, d.span, d.message, d.fix, d.subject) for d in result.diagnostics]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_choice_of_named_files_in_the_scenarios_reports_what_two_full_passes_report(scenario, monkeypatch):
    files = sorted((scenario / "migrations").glob("*.sql"))
    for named in every_choice(len(files)):
        paths = [str(files[i]) for i in named]
        for settings in SELECTIONS:
            settings = dataclasses.replace(settings, platform="supabase")
            incremental = lint(paths, Path.cwd(), lambda s: settings)
            with monkeypatch.context() as patched:
                patched.setattr(engine.comparison, "findings_without", _full_two_pass)
                whole = lint(paths, Path.cwd(), lambda s: settings)
            assert _report(incremental) == _report(whole), (named, settings)


def test_a_pre_commit_run_judges_only_what_the_named_files_reached():
    first = "create table public.a (id int primary key);\ncreate table public.b (id int primary key);\n"
    catalog, without = models([first, "alter table public.b enable row level security;\n"], (1,), "supabase")
    assert comparison.judged_again(catalog, without, set(READS)) == {QName("public", "b")}


# --- each declared read is needed ---------------------------------------------------------

def _without_read(code: str, read: str):
    return [dataclasses.replace(r, reads=tuple(x for x in r.reads if x != read)) if r.code == code else r
            for r in ALL_RULES]


def _needed(catalog, without, settings, code, read):
    """The comparison is right with the rule's declared reads, and wrong without ``read``."""
    incremental, whole = both_ways(catalog, without, settings)
    assert incremental == whole
    assert any(identity[0] == code for identity in whole ^ {d.identity for d in run_rules(catalog, settings, fixes=False)})
    wrong, whole = both_ways(catalog, without, settings, _without_read(code, read))
    assert wrong != whole


def test_access_is_read_a_role_given_bypassrls_in_a_new_file_bypasses_an_old_policy():
    old = "create role r;\ncreate table public.t (id int primary key);\ncreate policy p on public.t to r using (true);\n"
    catalog, without = models([old, "alter role r bypassrls;\n"], (1,), "supabase")
    _needed(catalog, without, Settings(), "RLS006", ACCESS)


def test_a_rule_about_api_roles_reads_access_even_where_it_does_not_say_so():
    old = "revoke usage on schema public from public, anon, authenticated;\ncreate table public.t (id int primary key);\n"
    catalog, without = models([old, "grant usage on schema public to anon;\n"], (1,), "supabase")
    incremental, whole = both_ways(catalog, without, Settings(), _without_read("RLS001", ACCESS))
    assert incremental == whole
    assert "RLS001" in {i[0] for i in {d.identity for d in run_rules(catalog, Settings(), fixes=False)} - whole}


def test_policy_tables_are_read_forcing_rls_on_one_table_makes_its_policy_filter_another():
    old = ("create role app_owner;\n"
           "create table public.x (id int primary key, owner_id uuid);\n"
           "create table public.p (id int primary key);\n"
           "alter table public.p owner to app_owner;\n"
           "create policy q on public.p to app_owner using "
           "(exists (select 1 from public.x where x.owner_id = (select auth.uid())));\n")
    catalog, without = models([old, "alter table public.p force row level security;\n"], (1,), "supabase")
    assert comparison.judged_again(catalog, without, {POLICY_TABLES}) == {QName("public", "p"), QName("public", "x")}
    _needed(catalog, without, Settings(), "IDX002", POLICY_TABLES)


def test_the_partition_parent_is_read_a_parent_losing_its_foreign_key_leaves_the_partition_s_own():
    sql = ("create table public.parent (id bigint, kind int, owner_id uuid references auth.users on delete cascade,"
           " primary key (id, kind)) partition by list (kind);\n"
           "create table public.child partition of public.parent for values in (1);\n")
    without = replay([parse_file("a.sql", sql)], start="supabase")
    parent = without.tables[QName("public", "parent")]
    # The model with the parent's key gone and the partition as it was: only the parent differs.
    catalog = evolve(without, tables={**without.tables, parent.qname: evolve(parent, foreign_keys=())})
    assert comparison.judged_again(catalog, without, {PARTITION_PARENT}) == {parent.qname, QName("public", "child")}
    _needed(catalog, without, Settings(), "IDX001", PARTITION_PARENT)


def test_a_rule_that_declares_nothing_is_run_over_the_whole_model():
    old = "revoke usage on schema public from public, anon, authenticated;\ncreate table public.t (id int primary key);\n"
    catalog, without = models([old, "grant usage on schema public to anon;\n"], (1,), "supabase")
    undeclared = [dataclasses.replace(r, reads=None) for r in ALL_RULES]
    incremental, whole = both_ways(catalog, without, Settings(), undeclared)
    assert incremental == whole


def test_every_rule_declares_what_it_reads_and_rules_about_api_roles_read_access():
    for rule in ALL_RULES:
        assert rule.reads is not None and set(rule.reads) <= set(READS), rule.code
        assert ACCESS in rule.reads or not rule.needs_api_roles, rule.code
