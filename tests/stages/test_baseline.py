"""Baseline: adopt rlslint on an existing project and fail only on new findings."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rlslint.cli import main

INIT = "supabase/migrations/20240101000000_init.sql"
LATER = "supabase/migrations/20240102000000_later.sql"


def run(*args: str):
    return CliRunner().invoke(main, ["check", "--format", "json", *args])


def found(result) -> set[tuple[str, int, str]]:
    return {(d["file"], d["line"], d["code"]) for d in json.loads(result.stdout)["diagnostics"]}


def make_project(root):
    (root / "supabase/migrations").mkdir(parents=True)
    (root / INIT).write_text(
        "create table public.tasks (id bigint primary key, user_id uuid references auth.users);\n"
        "create table public.notes (id bigint primary key, task_id bigint references public.tasks on delete cascade);\n"
    )
    (root / LATER).write_text(
        "alter table public.notes enable row level security;\n"
        "-- rlslint: ignore[IDX002] stale on purpose\n"
        "create policy notes_read on public.notes for select to authenticated using (true);\n"
    )


def test_baseline_survives_lines_inserted_above_every_finding_and_a_new_finding_still_fails(tmp_path, monkeypatch):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = found(run())
    assert before == {(INIT, 1, "RLS001"), (INIT, 1, "IDX001"), (INIT, 1, "FK001"), (INIT, 2, "IDX001"),
                      (LATER, 1, "RLS002"), (LATER, 2, "SUP001")}

    written = CliRunner().invoke(main, ["check", "--write-baseline", ".rlslint-baseline.json"])
    assert (written.exit_code, written.stdout) == (0, "")
    assert written.stderr == "rlslint: recorded 6 findings in .rlslint-baseline.json\n"
    entries = json.loads((tmp_path / ".rlslint-baseline.json").read_text())
    assert entries["version"] == 1
    assert sorted((e["code"], e["object"], e["file"]) for e in entries["findings"]) == [
        ("FK001", "public.tasks", INIT), ("IDX001", "public.notes", INIT), ("IDX001", "public.tasks", INIT),
        ("RLS001", "public.tasks", INIT), ("RLS002", "public.notes", LATER), ("SUP001", "", LATER),
    ]

    for path in (INIT, LATER):  # push every finding down, and add a statement above them
        text = (tmp_path / path).read_text()
        (tmp_path / path).write_text("-- header added later\n\ncreate schema if not exists private;\n\n" + text)
    moved = run("--baseline", ".rlslint-baseline.json")
    assert (moved.exit_code, found(moved)) == (0, set())

    with open(tmp_path / LATER, "a") as f:
        f.write("create table public.fresh (id bigint primary key);\n")
    new = run("--baseline", ".rlslint-baseline.json")
    assert (new.exit_code, found(new)) == (1, {(LATER, 8, "RLS001")})


def test_baseline_works_from_another_directory(tmp_path, monkeypatch):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(main, ["check", "--write-baseline", "ci/baseline.json"])
    monkeypatch.chdir(tmp_path / "supabase")
    result = run("migrations", "--baseline", "../ci/baseline.json")
    assert (result.exit_code, found(result)) == (0, set())


def test_a_second_identical_finding_is_new(tmp_path, monkeypatch):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(main, ["check", "--write-baseline", "b.json"])
    with open(tmp_path / LATER, "a") as f:  # the same suppression again: same identity, one more finding
        f.write("-- rlslint: ignore[IDX002] stale on purpose\ncreate schema private;\n")
    result = run("--baseline", "b.json")
    assert (result.exit_code, found(result)) == (1, {(LATER, 4, "SUP001")})


def test_unreadable_baseline_is_exit_2(tmp_path, monkeypatch):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.json").write_text('{"version": 7}')
    result = run("--baseline", "b.json")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", 'rlslint: error: b.json: not a baseline file (expected {"version": 1, "findings": [...]})\n')
    result = run("--baseline", "missing.json")
    assert (result.exit_code, result.stderr) == (2, "rlslint: error: missing.json: cannot read baseline: No such file or directory\n")
