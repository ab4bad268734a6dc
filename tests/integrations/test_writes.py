"""Nothing lost, nothing touched: migrations are never written; reports and baselines are
replaced atomically, so an interrupted run leaves the previous file whole."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint.cli import main

MIGRATION = "create table public.notes (id bigint primary key, owner uuid references auth.users);\n"


def run(cwd: Path, *args: str):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, ["--no-color", *args], catch_exceptions=False)
    finally:
        os.chdir(old)


def tree_state(directory: Path) -> dict:
    return {p.relative_to(directory).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*"))}


def project(tmp_path: Path) -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_notes.sql").write_text(MIGRATION)
    (migrations / "20240102000000_crlf.sql").write_bytes(b"alter table public.notes enable row level security;\r\n")
    return migrations


def test_migrations_are_never_written(tmp_path):
    migrations = project(tmp_path)
    before = tree_state(migrations)
    for args in ([], ["--format", "json", "--output", "report.json"], ["--write-baseline", "baseline.json"],
                 ["--baseline", "baseline.json", "--report", "sarif:out.sarif"]):
        result = run(tmp_path, *args)
        assert result.exit_code in (0, 1), result.output
    assert tree_state(migrations) == before
    assert (tmp_path / "report.json").exists() and (tmp_path / "baseline.json").exists()


class _Interrupted(BaseException):
    """Stands in for Ctrl-C or a kill in the middle of writing."""


@pytest.mark.parametrize("where", ["while writing", "before the rename"])
@pytest.mark.parametrize("option", ["--output", "--write-baseline"])
def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch, where, option):
    project(tmp_path)
    target = tmp_path / "previous.json"
    target.write_text("the previous file\n")
    if where == "while writing":
        real_fdopen = os.fdopen

        def fdopen(fd, *args, **kwargs):
            handle = real_fdopen(fd, *args, **kwargs)

            class HalfWriter(io.TextIOWrapper):
                pass

            def write(text):
                handle.__class__.write(handle, text[: len(text) // 2])
                handle.flush()
                raise _Interrupted()

            handle.write = write  # type: ignore[method-assign]
            return handle

        monkeypatch.setattr(os, "fdopen", fdopen)
    else:
        def replace(src, dst):
            raise _Interrupted()

        monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(_Interrupted):
        run(tmp_path, "--format", "json", option, str(target)) if option == "--output" else run(tmp_path, option, str(target))
    assert target.read_text() == "the previous file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["previous.json", "supabase"], "no temporary file is left behind"
