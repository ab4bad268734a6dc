"""Bad input gets a clear one-line answer, exit code 2, and every other file is still linted.

Each case puts the bad input next to ``001_ok.sql`` (a table without RLS, so RLS001 proves
the good file was linted) and checks the exact error line rlslint prints.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint import sources
from rlslint.cli import main

OK_SQL = "create table public.ok (id bigint primary key);\n"


def lint(tmp_path: Path, *args: str):
    (tmp_path / "supabase").mkdir(exist_ok=True)  # Supabase projects: every table is reachable through the API
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["--no-color", *args], catch_exceptions=False)
    finally:
        os.chdir(old)
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    return result.exit_code, errors, result.output


def migrations(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "001_ok.sql").write_text(OK_SQL)
    for name, content in files.items():
        if isinstance(content, bytes):
            (directory / name).write_bytes(content)
        else:
            (directory / name).write_text(content, encoding="utf-8")
    return directory


def assert_ok_file_linted(output: str) -> None:
    assert "m/001_ok.sql:1:1: RLS001" in output


def test_missing_path(tmp_path):
    migrations(tmp_path, {})
    code, errors, output = lint(tmp_path, "m", "nope")
    assert (code, errors) == (2, ["nope: error: no such file or directory"])
    assert_ok_file_linted(output)


def test_directory_without_migrations(tmp_path):
    migrations(tmp_path, {})
    (tmp_path / "empty").mkdir()
    code, errors, output = lint(tmp_path, "m", "empty")
    assert (code, errors) == (2, ["empty: error: no migration files (.sql) in this directory"])
    assert_ok_file_linted(output)


def test_unreadable_file(tmp_path, monkeypatch):
    migrations(tmp_path, {"002_secret.sql": OK_SQL})
    # chmod 000 does not stop root (CI containers often run as root), so refuse the read here.
    real_open = os.open

    def refusing_open(path, flags, *args):
        if Path(path).name == "002_secret.sql":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (2, ["m/002_secret.sql: error: cannot read file: Permission denied"])
    assert_ok_file_linted(output)


def test_invalid_utf8_is_reported_once_and_the_file_still_linted(tmp_path):
    migrations(tmp_path, {"002_latin1.sql": b"-- caf\xe9\ncreate table public.latin (id bigint primary key);\n"})
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (2, ["m/002_latin1.sql:1:7: error: invalid UTF-8 (byte 0xe9); the file must be UTF-8"])
    assert "m/002_latin1.sql:2:1: RLS001" in output
    assert_ok_file_linted(output)


def test_nul_byte(tmp_path):
    migrations(tmp_path, {"002_nul.sql": b"create table public.nul (id bigint primary key);\x00\n"})
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (2, ["m/002_nul.sql:1:49: error: NUL byte in file; PostgreSQL rejects it"])
    assert "m/002_nul.sql:1:1: RLS001" in output


@pytest.mark.parametrize("content", ["", "\n\n", "-- only a comment\n/* and a block\n   comment */\n"],
                         ids=["empty", "blank-lines", "comments-only"])
def test_empty_and_comment_only_files_are_valid_migrations(tmp_path, content):
    """PostgreSQL runs them without complaint, so rlslint does too: no error, nothing to report."""
    migrations(tmp_path, {"002_nothing.sql": content})
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (1, [])
    assert "in 2 files" in output
    assert_ok_file_linted(output)


def test_file_over_the_size_limit(tmp_path):
    directory = migrations(tmp_path, {})
    with open(directory / "002_dump.sql", "wb") as f:
        f.truncate(50 * 2**20)  # sparse: instant to create, 50 MiB to stat
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (2, ["m/002_dump.sql: error: file is 52.4 MB, over the 10 MiB limit for one migration; not linted"])
    assert_ok_file_linted(output)


def test_file_just_under_the_size_limit_is_linted_in_linear_time(tmp_path):
    statement = "create table public.big_{} (id bigint primary key); -- é ☕ commentaire\n"
    lines = [statement.format(i) for i in range(sources.MAX_FILE_BYTES // (len(statement.encode()) + 4))]
    directory = migrations(tmp_path, {"002_big.sql": "".join(lines)})
    assert (directory / "002_big.sql").stat().st_size < sources.MAX_FILE_BYTES
    code, errors, output = lint(tmp_path, "m", "--select", "IDX001")
    assert (code, errors) == (0, [])


def test_symlink_loop_in_a_directory_and_as_a_path(tmp_path):
    directory = migrations(tmp_path, {})
    (directory / "002_loop.sql").symlink_to("002_loop.sql")
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    code, errors, output = lint(tmp_path, "m", "a")
    assert (code, sorted(errors)) == (2, ["a: error: symbolic link loop",
                                          "m/002_loop.sql: error: cannot read file: symbolic link loop"])
    assert_ok_file_linted(output)


def test_psql_meta_commands_and_copy_data(tmp_path):
    migrations(tmp_path, {"002_psql.sql": (
        "create table public.psql (id bigint primary key, name text);\n"
        "\\set owner 'me'\n"
        "\\i other.sql\n"
        "copy public.psql (id, name) from stdin;\n"
        "1\tone; not sql\n"
        "2\ttwo\n"
        "\\.\n"
        "create table public.after_copy (id bigint primary key);\n")})
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (2, [
        "m/002_psql.sql:2:1: error: psql meta-command \\set is not SQL; migrations must be plain SQL",
        "m/002_psql.sql:3:1: error: psql meta-command \\i is not SQL; migrations must be plain SQL",
        "m/002_psql.sql:5:1: error: COPY … FROM stdin data is psql input, not SQL; migrations must be plain SQL",
    ])
    assert "m/002_psql.sql:8:1: RLS001" in output
    assert_ok_file_linted(output)


def test_template_placeholders(tmp_path):
    migrations(tmp_path, {"002_template.sql": (
        "create table {{ schema }}.tpl (id bigint primary key);\n"
        "alter table :tbl enable row level security;\n"
        "create policy p on public.ok using (id = :'owner');\n"
        "create table public.after_template (id bigint primary key);\n")})
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (2, [
        "m/002_template.sql:1:14: error: template placeholder is not SQL; lint the rendered migration",
        "m/002_template.sql:2:13: error: psql variable :tbl is not SQL; migrations must be plain SQL",
        "m/002_template.sql:3:42: error: psql variable :'owner' is not SQL; migrations must be plain SQL",
    ])
    assert "m/002_template.sql:4:1: RLS001" in output


def test_directory_mixing_layouts(tmp_path):
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "V1__ok.sql").write_text(OK_SQL)
    (directory / "20240101000000_supabase_style.sql").write_text("create table public.stray (id bigint primary key);\n")
    code, errors, output = lint(tmp_path, "m")
    assert (code, errors) == (2, [
        "m/20240101000000_supabase_style.sql: error: not named like the other Flyway migrations "
        "(V<version>__<name>.sql) here; Flyway would not apply it, so it is not linted"])
    assert "m/V1__ok.sql:1:1: RLS001" in output
