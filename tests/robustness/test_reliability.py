"""Hostile environments: odd output targets, signals, deep nesting, damaged configuration.

Each test is a reproducer from issue 12. What rlslint cannot do is one line on stderr and
exit 2, never a traceback; what it writes replaces only the file asked for.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint.cli import main
from tests.support.robustness import production_mode, time_limit

MIGRATION = "create table public.notes (id bigint primary key);\n"
RLSLINT = [sys.executable, "-m", "rlslint"]


def project(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    for name, text in (files or {"20240101000000_notes.sql": MIGRATION}).items():
        (migrations / name).write_text(text)
    return migrations


def run(cwd: Path, *args: str, env: dict[str, str] | None = None):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, ["check", "--no-color", *args], env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if "error" in line]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# --- 6. writes never replace what they should not ------------------------------------


def test_a_device_is_written_in_place_not_replaced(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root (the attack, too, needs root)")
    project(tmp_path)
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    result = run(tmp_path, "--format", "json", "-o", str(null))
    assert result.exit_code == 1, result.output
    assert stat.S_ISCHR(os.stat(null).st_mode), "still the device"
    assert leftovers(tmp_path) == []


def test_a_fifo_is_written_in_place(tmp_path):
    project(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with time_limit(60, "writing to a FIFO"):
        result = run(tmp_path, "--format", "json", "-o", str(fifo))
        reader.join()
    assert result.exit_code == 1
    assert json.loads(received[0])["summary"]["diagnostics"] == 1
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_link_to_stdout_is_written_through_not_replaced(tmp_path):
    project(tmp_path)
    link = tmp_path / "out"
    link.symlink_to("/proc/self/fd/1")
    with open(tmp_path / "captured", "w") as captured:
        proc = subprocess.run([*RLSLINT, "--format", "json", "-o", str(link)], cwd=tmp_path, stdout=captured,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert json.loads((tmp_path / "captured").read_text())["summary"]["diagnostics"] == 1


def test_a_link_to_a_regular_file_keeps_the_link(tmp_path):
    project(tmp_path)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "latest.json").write_text("old\n")
    (tmp_path / "report.json").symlink_to("reports/latest.json")
    assert run(tmp_path, "--format", "json", "-o", "report.json").exit_code == 1
    assert (tmp_path / "report.json").is_symlink()
    assert json.loads((tmp_path / "reports" / "latest.json").read_text())["version"] == 1


@pytest.mark.parametrize("option", ["--output", "--write-baseline"])
def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path, monkeypatch, option):
    project(tmp_path)
    target = tmp_path / "previous.json"
    target.write_text("the previous file\n")
    monkeypatch.setattr(os, "fsync", lambda fd: os.kill(os.getpid(), signal.SIGTERM))
    result = run(tmp_path, option, str(target))
    assert result.exit_code == 128 + signal.SIGTERM
    assert target.read_text() == "the previous file\n"
    assert leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "the handler is put back"


def test_init_on_a_full_disk_leaves_pyproject_as_it_was(tmp_path, monkeypatch):
    project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "app"\n')
    pyproject.chmod(0o640)

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["init"], catch_exceptions=False)
    finally:
        os.chdir(old)
    assert (result.exit_code, result.output) == (2, "rlslint: error: "
                                                    f"{pyproject}: cannot write: No space left on device\n")
    assert pyproject.read_text() == '[project]\nname = "app"\n' and leftovers(tmp_path) == []
    monkeypatch.undo()
    os.chdir(tmp_path)
    try:
        assert CliRunner().invoke(main, ["init"], catch_exceptions=False).exit_code == 0
    finally:
        os.chdir(old)
    assert stat.S_IMODE(pyproject.stat().st_mode) == 0o640, "the file keeps its mode"
    assert pyproject.read_text().startswith('[project]\nname = "app"\n\n# rlslint configuration')


# --- 12. output targets -----------------------------------------------------------------


def test_output_targets_that_cannot_be_written(tmp_path):
    project(tmp_path)
    (tmp_path / "dir").mkdir()
    (tmp_path / "FILE").write_text("")
    cases = {("--report", "sarif:dir"): "rlslint: error: dir: is a directory",
             ("-o", "FILE/x"): "rlslint: error: FILE/x: cannot write: Not a directory",
             ("-o", "/proc/version/x.json"): "rlslint: error: /proc/version/x.json: cannot write: Not a directory",
             # a directory even root cannot write in
             ("--write-baseline", "/sys/x.json"): "rlslint: error: /sys/x.json: cannot write: Permission denied"}
    for args, message in cases.items():
        result = run(tmp_path, *args)
        assert (result.exit_code, result.stderr) == (2, message + "\n"), args


@pytest.mark.parametrize("args", [[], ["--version"], ["--format", "json"], ["--format", "sarif"]],
                         ids=["check", "version", "json", "sarif"])
def test_stdout_on_a_full_disk(tmp_path, args):
    project(tmp_path)
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*RLSLINT, *args], cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (2, "rlslint: error: cannot write to stdout: No space left on device\n")


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_stdout_closed_in_the_middle_of_a_report(tmp_path, fmt):
    """As ``rlslint check --format json | head -c 100``: the report is written in pieces, and the
    reader goes away after the first; the next piece fails the run in one line."""
    project(tmp_path, {f"2024010100{i:04d}_t.sql": f"create table public.t{i} (id bigint primary key);\n"
                       for i in range(300)})
    proc = subprocess.Popen([*RLSLINT, "check", "--no-cache", "--format", fmt], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert (proc.wait(timeout=120), stderr) == (2, "rlslint: error: cannot write to stdout: Broken pipe\n")


# --- 7. nesting PostgreSQL accepts ------------------------------------------------------

NESTED = {
    "330 nots": "not " * 330 + "true",
    "CASE 200 deep": "case when true then " * 200 + "true" + " end" * 200,
    "250 nested IN (select …)": "1 in (select " * 250 + "1" + ")" * 250,
    "400 nested coalesce": "coalesce(" * 400 + "true" + ", false)" * 400,
    "400 AND/OR": " and ".join(["(true or false)"] * 400),
    "500-step -> chain": "('{}'::jsonb" + "->'a'" * 500 + ") is null",
    "near the parser's limit: 9,000 nots": "not " * 9000 + "true",
    "16,000 additions": "1" + " + 1" * 16_000 + " > 0",
    # Each comparison an index could serve, nested: the columns compared were found in time
    # cubic in the depth (over a minute at 1,000).
    "1,500 nested ORs of comparisons": "(id = 0 or " * 1500 + "id = 1" + ")" * 1500,
}


@pytest.mark.parametrize("expression", NESTED.values(), ids=list(NESTED))
def test_nesting_postgres_accepts_is_linted(tmp_path, expression):
    project(tmp_path, {"20240101000000_t.sql": "create table public.t (id bigint primary key);\n"
                                               "alter table public.t enable row level security;\n"
                                               f"create policy p on public.t using ({expression});\n"
                                               f"select {expression};\n"})
    with time_limit(120, "linting deep nesting"):
        result = run(tmp_path)
    assert (result.exit_code, result.output) == (0, "All checks passed (1 file).\n")


def test_beyond_the_parsers_limit_is_the_error_postgres_gives(tmp_path):
    project(tmp_path, {"20240101000000_t.sql": "select " + "(" * 10_001 + "1" + ")" * 10_001 + ";\n" + MIGRATION})
    result = run(tmp_path)
    assert result.exit_code == 2
    # PostgreSQL 16 says the same at the same column (tests/stages/test_syntax_positions.py checks it on a server).
    assert error_lines(result)[0] == ('supabase/migrations/20240101000000_t.sql:1:10004: error: '
                                      'memory exhausted at or near "("')
    assert "RLS001" in result.output, "the statement after it is linted"


# --- 8. any unexpected exception --------------------------------------------------------


def test_an_unexpected_exception_costs_one_file(tmp_path, monkeypatch):
    from rlslint.schema import replay  # the history imports replay_file where it replays, so it finds this one

    project(tmp_path, {"20240101000000_a.sql": MIGRATION, "20240102000000_boom.sql": "select 1;\n",
                       "20240103000000_c.sql": "create table public.later (id bigint primary key);\n"})
    real = replay.replay_file

    def replay_file(parsed, state):
        if parsed.path.endswith("_boom.sql"):
            raise KeyError("stmts")
        return real(parsed, state)

    monkeypatch.setattr(replay, "replay_file", replay_file)
    with production_mode():
        result = run(tmp_path, "--no-cache")
    assert result.exit_code == 2
    assert error_lines(result)[0] == ("supabase/migrations/20240102000000_boom.sql: error: internal error while "
                                      "parsing and replaying this file: KeyError: 'stmts'")
    assert "public.notes" in result.output and "public.later" in result.output


def test_an_unexpected_exception_anywhere_is_one_line_and_exit_2(tmp_path, monkeypatch):
    from rlslint import engine

    project(tmp_path)
    monkeypatch.setattr(engine, "lint", lambda *a, **k: 1 / 0)
    with production_mode():
        result = run(tmp_path)
    assert (result.exit_code, result.output) == (2, "rlslint: error: internal error: ZeroDivisionError: division by zero\n")


def test_a_failure_while_a_report_is_printed_says_the_report_is_cut_short(tmp_path, monkeypatch):
    """The JSON report is made as it is printed: a bug part-way through leaves part of it on
    stdout, and the one error line says so (exit 2, as for any failure)."""
    from rlslint.report import json as json_report

    project(tmp_path, {f"2024010100{i:04d}_t.sql": f"create table public.t{i} (id bigint primary key);\n"
                       for i in range(300)})
    calls, fingerprint = [], json_report.fingerprint

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 200:
            raise ZeroDivisionError("division by zero")
        return fingerprint(*args, **kwargs)

    monkeypatch.setattr(json_report, "fingerprint", failing)
    with production_mode():
        result = run(tmp_path, "--format", "json")
    assert result.exit_code == 2
    report, error = result.output.rsplit("rlslint: error: ", 1)  # the runner shows stdout, then stderr
    assert report.startswith("{\n") and not report.endswith("}\n")
    assert error == "internal error: ZeroDivisionError: division by zero (the report on stdout stops part-way)\n"


# --- 9. output size ---------------------------------------------------------------------


def test_excerpts_are_clipped_around_the_column(tmp_path):
    line = " ".join(f"create table public.t{i} (id bigint primary key);" for i in range(4000))
    project(tmp_path, {"20240101000000_wide.sql": line + "\n"})
    result = run(tmp_path)
    assert result.exit_code == 1
    findings = result.output.count(": RLS001 [error]")
    assert findings == 4000
    assert max(len(text) for text in result.output.splitlines()) < 300
    # Each finding prints a clipped excerpt plus its fix (RLS001's says the table becomes deny-all
    # and sketches the policies): a few screen lines, where the whole line would be 190 KB each.
    assert len(result.output) < 4000 * 2000, "a few screen lines per finding, not the whole 190 KB line"
    excerpt = result.output.splitlines()[1:3]
    assert excerpt[0].startswith(" 1 | create table public.t0 (id bigint primary key); create table public.t1")
    assert excerpt[0].endswith("…") and excerpt[1].startswith("   | ^^^^")
    middle = result.output.index(": RLS001 [error] table public.t2000 ")
    shown, caret = result.output[middle:].splitlines()[1:3]
    assert shown.startswith(" 1 | …") and shown[caret.index("^"):].startswith("create table public.t")


# --- 11. configuration and baseline files ----------------------------------------------

BAD_CONFIG = {
    "invalid UTF-8 in rlslint.toml": ("rlslint.toml", b'fail-on = "warning" # caf\xe9\n',
                                      "rlslint.toml: invalid UTF-8 (byte 0xe9 at offset 25)"),
    "invalid UTF-8 in pyproject.toml": ("pyproject.toml", b'[project]\nname = "caf\xe9"\n',
                                        "pyproject.toml: invalid UTF-8 (byte 0xe9 at offset 21)"),
    "invalid UTF-8 in supabase/config.toml": ("supabase/config.toml", b'[api]\n# caf\xe9\n',
                                              "supabase/config.toml: invalid UTF-8 (byte 0xe9 at offset 11)"),
    "tool = 1": ("pyproject.toml", b"tool = 1\n", "pyproject.toml: tool: expected a table, got 1"),
    'tool = "rlslint"': ("pyproject.toml", b'tool = "rlslint"\n', "pyproject.toml: tool: expected a table, got 'rlslint'"),
    '[tool] rlslint = "x"': ("pyproject.toml", b'[tool]\nrlslint = "x"\n',
                             "pyproject.toml: tool.rlslint: expected a table, got 'x'"),
    "api = 1": ("supabase/config.toml", b"api = 1\n", "supabase/config.toml: api: expected a table, got 1"),
    "[api] schemas = 1": ("supabase/config.toml", b"[api]\nschemas = 1\n",
                          "supabase/config.toml: api.schemas: expected a list of schema names, got 1"),
    "a 5,000-deep TOML array": ("rlslint.toml", b"select = " + b"[" * 5000 + b"]" * 5000 + b"\n",
                                "rlslint.toml: select: expected a list of strings, got [[[[[...]]]]]"),
}


@pytest.mark.parametrize("name, content, message", BAD_CONFIG.values(), ids=list(BAD_CONFIG))
def test_damaged_config_is_one_line_with_file_and_key(tmp_path, name, content, message):
    project(tmp_path)
    (tmp_path / name).write_bytes(content)
    result = run(tmp_path)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"rlslint: error: {message}\n")


def test_config_option_naming_a_pyproject_without_the_table(tmp_path):
    project(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    result = run(tmp_path, "--config", "pyproject.toml")
    assert (result.exit_code, result.stderr) == (2, "rlslint: error: pyproject.toml: no [tool.rlslint] table\n")


BAD_BASELINE = {
    "100,000-deep JSON": (b"[" * 100_000 + b"]" * 100_000, "not a baseline file (invalid JSON: nested too deeply)"),
    "invalid UTF-8": (b'{"version": 1, "findings": [], "x": "\xff"}',
                      "not a baseline file (invalid UTF-8, byte 0xff at offset 37)"),
    "findings of the wrong shape": (b'{"version": 1, "findings": [1]}',
                                    "not a baseline file (each finding needs code, object, file, fingerprint)"),
}


@pytest.mark.parametrize("content, message", BAD_BASELINE.values(), ids=list(BAD_BASELINE))
def test_damaged_baseline_is_one_line(tmp_path, content, message):
    project(tmp_path)
    (tmp_path / "baseline.json").write_bytes(content)
    result = run(tmp_path, "--baseline", "baseline.json")
    assert (result.exit_code, result.stderr) == (2, f"rlslint: error: baseline.json: {message}\n")


# --- 10. names and files ----------------------------------------------------------------


# Shown as \xe9 to people; JSON keeps the byte as \udce9 (os.fsencode gives it back); a URI as %E9.
NON_UTF8_NAME = {"text": ([], "m/001_caf\\xe9.sql:1:1: RLS001"), "json": (["--format", "json"], '"m/001_caf\\udce9.sql"'),
                 "sarif": (["--format", "sarif"], '"uri": "m/001_caf%E9.sql"'),
                 "markdown": (["--format", "markdown"], "`m/001_caf\\xe9.sql:1:1`"),
                 "github": (["--format", "github"], "file=m/001_caf\\xe9.sql,"),
                 "-o": (["-o", "out.txt"], "m/001_caf\\xe9.sql:1:1: RLS001"),
                 "--write-baseline": (["--write-baseline", "baseline.json"], '"file": "m/001_caf\\udce9.sql"')}


@pytest.mark.parametrize("args, expected", NON_UTF8_NAME.values(), ids=list(NON_UTF8_NAME))
def test_file_names_that_are_not_utf8(tmp_path, args, expected):
    (tmp_path / "supabase").mkdir()  # a Supabase project: its tables are reachable through the API
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / os.fsdecode(b"001_caf\xe9.sql")).write_text(MIGRATION)
    result = run(tmp_path, "m", *args)
    assert result.exit_code == (0 if "--write-baseline" in args else 1), result.output
    written = (tmp_path / args[1]).read_text() if args and args[0] in ("-o", "--write-baseline") else result.stdout
    assert expected in written, written
    if "--write-baseline" in args:  # and the baseline it wrote matches the finding it recorded
        assert run(tmp_path, "m", "--baseline", "baseline.json").exit_code == 0


def test_an_unreadable_file_named_on_the_command_line(tmp_path, monkeypatch):
    migrations = project(tmp_path, {"20240101000000_a.sql": MIGRATION, "20240102000000_secret.sql": "select 1;\n"})
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flags, *a: (_ for _ in ()).throw(PermissionError(13, "Permission denied"))
                        if str(path).endswith("_secret.sql") else real_open(path, flags, *a))
    result = run(tmp_path, str(migrations / "20240102000000_secret.sql"), str(migrations / "20240101000000_a.sql"))
    assert result.exit_code == 2
    assert error_lines(result)[0] == "supabase/migrations/20240102000000_secret.sql: error: cannot read file: Permission denied"
    assert "20240101000000_a.sql:1:1: RLS001" in result.output


def test_unreadable_directory_and_cache_folder(tmp_path, monkeypatch):
    # Permissions do not stop root, and CI containers often run as root: the kernel's answer
    # for a directory without search permission is given here instead.
    migrations = project(tmp_path)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "001_x.sql").write_text(MIGRATION)
    cache = tmp_path / "cache"
    real_stat = os.stat

    def stat_(path, *args, **kwargs):
        if str(path).startswith((str(tmp_path / "locked") + "/", str(cache) + "/")):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat_)
    with production_mode():
        result = CliRunner().invoke(main, ["check", "--no-color", str(tmp_path / "locked" / "001_x.sql"), str(migrations)],
                                    env={"RLSLINT_CACHE_DIR": str(cache / "rlslint")}, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0] == f"{tmp_path}/locked/001_x.sql: error: permission denied"
    assert f"{migrations}/20240101000000_notes.sql:1:1: RLS001" in result.output
