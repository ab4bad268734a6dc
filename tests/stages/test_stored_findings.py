"""Stored findings (rlslint/results.py): a set nothing changed in runs no rule and replays
nothing, the stages after the rules (suppression comments, per-file ignores, excludes, the
baseline, the named files) apply on top of what was stored exactly as on fresh findings, and
nothing planted, damaged, forged, foreign or symlinked in the cache changes a finding."""

from __future__ import annotations

import dataclasses
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from rlslint import engine, history, results
from rlslint.baseline import Baseline, load_baseline, render_baseline
from rlslint.cache import ReplayCache
from rlslint.diagnostics import Severity
from rlslint.engine import lint
from rlslint.settings import Settings
from tests.stages.test_cache import folder, supabase_project  # noqa: F401 (folder: a fixture)

FILES = {
    "20240101000000_a.sql": "create table public.a (id int primary key, owner_id uuid references auth.users);\n",
    "20240102000000_b.sql": "alter table public.a enable row level security;\n"
                            "create policy p on public.a for select using (owner_id = auth.uid());\n",
    "20240103000000_c.sql": "create table public.c (id int primary key, a_id int references public.a);\n",
}
NEWEST = "20240104000000_d.sql"
EVERY = Settings(enabled=frozenset({"RLS001", "RLS002", "IDX001", "IDX002", "FK001", "RLS003", "PERF001", "RLS004",
                                    "SEC001", "RLS005", "RLS006"}))


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    return supabase_project(tmp_path, FILES)


@pytest.fixture
def rules_run(monkeypatch) -> list[int]:
    """How often the rules ran over a model (each call of run_rules is one pass)."""
    calls: list[int] = []
    real = engine.run_rules
    monkeypatch.setattr(engine, "run_rules", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def report(migrations: Path, cache: ReplayCache | None, *targets: str, settings: Settings = Settings(),
           baseline: Baseline | None = None):
    """Everything a reporter reads of the result."""
    paths = [str(migrations / t) for t in targets] or [str(migrations)]
    result = lint(paths, migrations, lambda s: settings, cache=cache, baseline=baseline)
    return ([(d.code, d.name, d.severity, d.message, d.span, d.subject, d.fix) for d in result.diagnostics],
            result.errors, result.notes, result.tables, result.sets, result.unanalysed, result.remarks, result.files_checked)


def findings(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.findings"))


def test_an_unchanged_set_runs_no_rule_and_replays_nothing(migrations, folder, rules_run, monkeypatch):
    truth = report(migrations, None)
    assert report(migrations, ReplayCache(folder)) == truth
    replays = []
    monkeypatch.setattr(history, "replay_set", lambda *a, **k: replays.append(1))
    rules_run.clear()
    warm = ReplayCache(folder)
    assert report(migrations, warm) == truth
    assert (rules_run, replays, warm.result_hits, warm.hits) == ([], [], 1, 0)


def test_a_new_newest_file_is_judged_once_and_its_history_answers_the_comparison(migrations, folder, rules_run):
    report(migrations, ReplayCache(folder))  # the state before the new file, judged and stored
    (migrations / NEWEST).write_text("drop policy p on public.a;\n")  # leaves RLS002 on the old ENABLE
    truth = report(migrations, None, NEWEST)
    assert "RLS002" in {d[0] for d in truth[0]}
    rules_run.clear()
    first = ReplayCache(folder)
    assert report(migrations, first, NEWEST) == truth
    assert len(rules_run) == 1 and first.result_hits == 1  # the history without the new file was stored
    rules_run.clear()
    again = ReplayCache(folder)
    assert report(migrations, again, NEWEST) == truth
    assert (rules_run, again.result_hits) == ([], 2)


def test_named_files_that_are_not_the_newest_are_compared(migrations, folder):
    report(migrations, ReplayCache(folder))
    for named in (("20240101000000_a.sql",), ("20240102000000_b.sql",), ("20240101000000_a.sql", "20240103000000_c.sql")):
        truth = report(migrations, None, *named)
        assert report(migrations, ReplayCache(folder), *named) == truth
        assert report(migrations, ReplayCache(folder), *named) == truth


# --- what applies on top of stored findings ----------------------------------------------

@pytest.mark.parametrize("settings", [
    Settings(),
    EVERY,
    Settings(enabled=frozenset({"IDX001"})),
    Settings(severities={"IDX001": Severity.ERROR}),
    Settings(per_file_ignores=(("*_c.sql", frozenset({"IDX001"})),)),
    Settings(exclude=("*_a.sql",)),
    Settings(owner_tables=()),
    Settings(api_roles=("authenticated",)),
    Settings(exposed_schemas=frozenset()),
    Settings(rule_options={"FK001": {"on-delete": ["CASCADE", "SET NULL", "SET DEFAULT", "NO ACTION"]}}),
], ids=["defaults", "every rule", "select", "severity", "per-file ignore", "exclude", "owner tables", "api roles",
        "exposed", "rule option"])
def test_each_setting_gives_what_an_uncached_run_gives_after_any_other(migrations, folder, settings):
    # The cache holds the default selection's findings first: a run under other settings
    # must not take them, and one under settings that only apply on top must apply them.
    report(migrations, ReplayCache(folder))
    report(migrations, ReplayCache(folder), settings=EVERY)
    for _ in range(2):
        assert report(migrations, ReplayCache(folder), settings=settings) == report(migrations, None, settings=settings)


def test_a_baseline_applies_on_top_of_stored_findings(migrations, folder, tmp_path):
    result = lint([str(migrations)], migrations, lambda s: Settings())
    only_idx001 = dataclasses.replace(result, diagnostics=tuple(d for d in result.diagnostics if d.code == "IDX001"))
    (tmp_path / "baseline.json").write_text(render_baseline(only_idx001, migrations, tmp_path / "baseline.json"))
    baseline = load_baseline(tmp_path / "baseline.json", migrations, "baseline.json")
    report(migrations, ReplayCache(folder))
    warm = report(migrations, ReplayCache(folder), baseline=baseline)
    assert warm == report(migrations, None, baseline=baseline)
    assert "IDX001" not in {d[0] for d in warm[0]} and warm[0]


def test_suppression_comments_apply_on_top_of_stored_findings(migrations, folder):
    (migrations / "20240103000000_c.sql").write_text(
        "-- rlslint: ignore[IDX001] a small table\n"
        "create table public.c (id int primary key, a_id int references public.a);\n"
        "-- rlslint: ignore[RLS006] nothing here to excuse (SUP001)\n"
        "select 1;\n")
    truth = report(migrations, None)
    in_c = {d[0] for d in truth[0] if d[4].path.endswith("_c.sql")}
    assert "SUP001" in in_c and "IDX001" not in in_c
    report(migrations, ReplayCache(folder))
    warm = ReplayCache(folder)
    assert report(migrations, warm) == truth and warm.result_hits == 1


def test_a_change_to_rlslint_itself_is_never_answered_from_before(monkeypatch):
    before = results.key("state", Settings(), ["RLS001"])
    monkeypatch.setattr(results, "_code", lambda: [["rules/missing_policy.py", 1, 2]])
    assert results.key("state", Settings(), ["RLS001"]) != before


def test_rules_not_from_the_registry_are_never_stored(migrations, folder):
    from rlslint.rules import ALL_RULES

    changed = tuple(dataclasses.replace(r, reads=None) for r in ALL_RULES)
    lint([str(migrations)], migrations, lambda s: Settings(), rules=changed, cache=ReplayCache(folder))
    assert findings(folder) == []


# --- what cannot change a finding ----------------------------------------------------------

def _stored(folder: Path) -> tuple[Path, bytes, dict]:
    (entry,) = findings(folder)
    data = entry.read_bytes()
    body = data.split(b"\n", 2)[2]
    return entry, data, json.loads(body)


def _signed(folder: Path, stored: dict, secret: bytes) -> bytes:
    cache = ReplayCache(folder)
    cache._open_directory(create=False, root=Path("/nonexistent"))  # noqa: SLF001
    cache._key = secret  # noqa: SLF001
    body = json.dumps(stored, separators=(",", ":")).encode()
    return cache._signed(body, b"rlslint-findings\n")  # noqa: SLF001


def _emptied(stored: dict) -> dict:
    """What someone planting an entry would write: no findings at all."""
    return {**stored, "result": {**stored["result"], "found": []}}


def test_a_forged_entry_is_not_believed(migrations, folder):
    truth = report(migrations, None)
    report(migrations, ReplayCache(folder))
    entry, _, stored = _stored(folder)
    entry.write_bytes(_signed(folder, _emptied(stored), b"0" * 64))  # not this user's key
    cache = ReplayCache(folder)
    assert report(migrations, cache) == truth and cache.result_hits == 0


def test_the_key_decides_what_is_believed(migrations, folder):
    """The control for the test above: under the right key the same forgery hides every finding."""
    report(migrations, ReplayCache(folder))
    entry, _, stored = _stored(folder)
    entry.write_bytes(_signed(folder, _emptied(stored), (folder / "key").read_bytes()))
    assert report(migrations, ReplayCache(folder))[0] == []


@pytest.mark.parametrize("damage", ["torn", "flipped", "not json", "wrong shape", "wrong key", "snapshot"])
def test_a_damaged_or_misplaced_entry_is_a_miss_and_is_replaced(migrations, folder, damage):
    truth = report(migrations, None)
    report(migrations, ReplayCache(folder))
    entry, data, stored = _stored(folder)
    secret = (folder / "key").read_bytes()
    if damage == "torn":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        entry.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    elif damage == "not json":
        entry.write_bytes(_signed(folder, {}, secret)[:-2] + b"{")
    elif damage == "wrong shape":  # signed right, but not findings: a list where a finding's fields go
        stored["result"]["found"] = [[1, 2, 3]]
        entry.write_bytes(_signed(folder, stored, secret))
    elif damage == "wrong key":  # a whole, signed entry of another state
        entry.write_bytes(_signed(folder, {**stored, "key": "0" * 64}, secret))
    else:  # a snapshot under a findings entry's name
        entry.write_bytes(sorted(folder.glob("*.snapshot"))[0].read_bytes())
    cache = ReplayCache(folder)
    assert report(migrations, cache) == truth and cache.result_hits == 0
    again = ReplayCache(folder)
    assert report(migrations, again) == truth and again.result_hits == 1  # written anew


# Where in the stored result (its part, then indexes), and what of the wrong kind goes there.
# A finding is [code, name, severity, message, path, start, end, subject, fix]; its subject
# [kind, schema, table, created_as, columns, commands, policy, role, constraint, comment].
WRONG_KINDS = {
    "code not a string": ("found", (0, 0), 1),
    "severity a bool": ("found", (0, 2), True),
    "severity unknown": ("found", (0, 2), 9),
    "severity a string": ("found", (0, 2), "2"),
    "message missing": ("found", (0, 3), None),
    "start a string": ("found", (0, 5), "0"),
    "start a bool": ("found", (0, 5), True),
    "end a float": ("found", (0, 6), 1.5),
    "kind unknown": ("found", (0, 7, 0), "view"),
    "kind a list": ("found", (0, 7, 0), ["table"]),
    "schema a number": ("found", (0, 7, 1), 1),
    "created_as one part": ("found", (0, 7, 3), ["a"]),
    "created_as a number in it": ("found", (0, 7, 3), ["public", 1]),
    "columns a string": ("found", (0, 7, 4), "id"),
    "columns holding a number": ("found", (0, 7, 4), [1]),
    "fix missing": ("found", (0, 8), None),
    "a field too many": ("found", (0, 9), "extra"),
    "cell unknown": ("rows", (0, 2, 0), "maybe"),
    "row name a number": ("rows", (0, 0), 1),
    "target start a string": ("targets", (0, 1), "1"),
    "ran holding a number": ("ran", (0,), 1),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_KINDS))
def test_a_stored_value_of_the_wrong_kind_is_not_decoded(migrations, folder, wrong):
    """Each field is checked for its kind as it is read back, so an entry (even one signed
    right) that holds anything else is a miss, never a finding of another shape."""
    report(migrations, ReplayCache(folder))
    _, _, stored = _stored(folder)
    data = stored["result"]
    assert results.decode(data) == results.decode(json.loads(json.dumps(data)))  # as stored, it decodes
    part, (*outer, last), value = WRONG_KINDS[wrong]
    item = data[part]
    for index in outer:
        item = item[index]
    if last == len(item):
        item.append(value)
    else:
        item[last] = value
    with pytest.raises(results.NotDecodable):
        results.decode(data)


def test_a_symlinked_entry_is_not_followed_and_its_target_is_left_alone(migrations, folder, tmp_path):
    truth = report(migrations, None)
    report(migrations, ReplayCache(folder))
    entry, data, _ = _stored(folder)
    elsewhere = tmp_path / "elsewhere.findings"
    elsewhere.write_bytes(data)  # a whole, valid entry, reached only through the link
    entry.unlink()
    entry.symlink_to(elsewhere)
    cache = ReplayCache(folder)
    assert report(migrations, cache) == truth and cache.result_hits == 0
    assert elsewhere.read_bytes() == data
    assert not entry.is_symlink()  # replaced by a file of its own


def test_an_entry_owned_by_someone_else_is_not_read(migrations, folder):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the entry away")
    report(migrations, ReplayCache(folder))
    entry, _, stored = _stored(folder)
    entry.write_bytes(_signed(folder, _emptied(stored), (folder / "key").read_bytes()))  # would hide every finding
    os.chown(entry, 65534, 65534)
    cache = ReplayCache(folder)
    assert report(migrations, cache) == report(migrations, None) and cache.result_hits == 0


def test_only_a_few_results_are_kept_per_set_the_last_used_among_them(migrations, folder, rules_run):
    report(migrations, ReplayCache(folder))  # the history before the newest file, used by every run below
    for n in range(6):
        (migrations / NEWEST).write_text(f"create table public.t{n} (id int primary key);\n")
        rules_run.clear()
        report(migrations, ReplayCache(folder), NEWEST)
        assert len(rules_run) == 1  # over the new state only: the history's findings were kept
    assert len(findings(folder)) == 4
    (migrations / NEWEST).unlink()
    cache = ReplayCache(folder)
    report(migrations, cache)
    assert cache.result_hits == 1


def _lint_many(args: tuple[str, str, int]) -> set:
    migrations, folder, rounds = args
    seen = set()
    for n in range(rounds):
        seen.add(repr(report(Path(migrations), ReplayCache(Path(folder)))))
        seen.add(repr(report(Path(migrations), ReplayCache(Path(folder)), settings=EVERY)))
    return seen


def test_concurrent_runs_see_whole_entries_only(migrations, folder):
    for i in range(30):
        (migrations / f"2024020100{i:04d}_t.sql").write_text(
            f"create table public.t{i} (id int primary key, a_id int references public.a);\n" * 3)
    truth = {repr(report(migrations, None)), repr(report(migrations, None, settings=EVERY))}
    with ProcessPoolExecutor(4) as pool:
        seen = set().union(*pool.map(_lint_many, [(str(migrations), str(folder), 4)] * 4))
    assert seen == truth
    assert not list(folder.glob(".*.tmp"))


REPLAY_DIR = Path(__file__).parents[1] / "fixtures" / "replay"


@pytest.mark.parametrize("scenario", sorted(p for p in REPLAY_DIR.iterdir() if (p / "migrations").is_dir()),
                         ids=lambda p: p.name)
def test_every_replay_scenario_reads_back_what_it_stored(scenario, tmp_path):
    """Every kind of finding, note, statement not analysed (with how often it was reached),
    checklist row and parse error the scenarios have, stored and read back as it was."""
    migrations = scenario / "migrations"
    truth = report(migrations, None, settings=EVERY)
    first = ReplayCache(tmp_path / "cache")
    assert report(migrations, first, settings=EVERY) == truth and first.result_hits == 0
    warm = ReplayCache(tmp_path / "cache")
    assert report(migrations, warm, settings=EVERY) == truth and warm.result_hits == 1


def test_a_statement_a_loop_reached_again_is_read_back_with_its_count(migrations, folder):
    (migrations / NEWEST).write_text(
        "do $$ declare s text; begin\n"
        "  foreach s in array array['a', 'b', 'c'] loop\n"
        "    execute current_setting('app.ddl_' || s);\n"
        "  end loop;\n"
        "end $$;\n")
    truth = report(migrations, None)
    assert [n.times for n in truth[5]] == [3]
    report(migrations, ReplayCache(folder))
    warm = ReplayCache(folder)
    assert report(migrations, warm) == truth and warm.result_hits == 1
