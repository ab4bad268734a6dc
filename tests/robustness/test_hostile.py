"""A hostile pull request: names, file names and symlinks chosen to attack the CI job.

rlslint runs on pull requests, where every migration, file name and table name comes from
whoever opened it. Each test is one attack from issue 12, run the way CI runs rlslint, and
checks the attack fails while the other files are still linted.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from rlslint.cli import main
from tests.support.robustness import time_limit

# Quoted identifiers may hold any character but NUL; each of these starts a workflow
# command, a terminal escape, or Markdown that leaves its code span.
HOSTILE_NAMES = {
    "stop-commands": "x\n::stop-commands::t0k",
    "forged error": "y\r::error file=a.sql,line=1::forged",
    "add-mask": "z\n  ::add-mask::secret",
    "legacy command": "w ##[set-env name=EVIL]1",
    "screen clear": "c\x1b[2J\x1b[H",
    "window title": "t\x1b]0;pwned\x07",
    "hyperlink": "h\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "C1 CSI": "k\x9b31m",
    "bidi override": "b\u202eevil",
    "markdown break-out": "m`\n\n# Injected heading\n\n[link](https://evil.example/) <img src=https://evil.example/p.gif>",
    "rich markup": "[link=https://evil.example/]click[/link]",
}


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def hostile_project(tmp_path: Path) -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    lines = [f"create table public.{sql_ident(name)} (id bigint primary key);"
             for name in HOSTILE_NAMES.values()]
    # The same bytes in a comment reach the terminal through the source excerpt of a syntax error.
    lines.append("create tabel oops (id int); -- \x1b]0;title\x07 \x1b[2J")
    (migrations / "20240101000000_hostile.sql").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return migrations


def run(cwd: Path, *args: str, env: dict[str, str] | None = None):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def workflow_commands(text: str) -> list[str]:
    """The commands GitHub's runner would execute: a line starting with "::" once trimmed, or holding "##["."""
    found = []
    for line in re.split(r"\r\n|\r|\n", text):  # .NET's ReadLine ends a line at CR, LF or CR LF
        stripped = line.lstrip()
        if stripped.startswith("::"):
            found.append(re.match(r"::([^ :]*)", stripped).group(1))
        if "##[" in line:
            found.append("##[")
    return found


OUTPUTS = {
    "default under GitHub Actions": (["check"], {"GITHUB_ACTIONS": "true"}),
    "text, colour": (["check", "--color"], {}),
    "json": (["check", "--format", "json"], {}),
    "sarif": (["check", "--format", "sarif"], {}),
    "markdown": (["check", "--format", "markdown"], {}),
    "github": (["check", "--format", "github"], {}),
    "report": (["report"], {}),
    "report, colour": (["report", "--color"], {}),
}


@pytest.mark.parametrize("args, env", OUTPUTS.values(), ids=list(OUTPUTS))
def test_no_printed_line_starts_a_workflow_command(tmp_path, args, env):
    hostile_project(tmp_path)
    result = run(tmp_path, *args, env=env)
    assert result.exit_code == 2, result.output  # the syntax error
    for stream in (result.stdout, result.stderr):
        assert set(workflow_commands(stream)) <= {"error", "warning", "notice"}, stream
        assert "\x1b]" not in stream and "\x07" not in stream and "\x9b" not in stream and "\u202e" not in stream
        # Colour is rich's own SGR codes only: no screen clear or cursor move reaches the terminal.
        assert not re.search(r"\x1b(?!\[[0-9;]*m)", stream), stream
    if "GITHUB_ACTIONS" in env or "github" in args:
        annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
        # one per table (RLS001) and one for the syntax error, the rest summed up in a notice
        assert sum(1 for a in annotations if a.startswith("::error file=supabase/")) == 1 + len(HOSTILE_NAMES)
    assert "public.ok" not in result.stdout  # sanity: the output speaks of the hostile tables


def test_names_are_shown_escaped_and_fixes_stay_valid_sql(tmp_path, pg):
    hostile_project(tmp_path)
    result = run(tmp_path, "check", "--no-color")
    assert 'RLS001 [error] table public.U&"x\\000a::stop-commands::t0k" is exposed' in result.stdout
    assert '     ALTER TABLE public.U&"c\\001b[2J\\001b[H" ENABLE ROW LEVEL SECURITY;' in result.stdout
    assert ' 9 | create table public."t\\e]0;pwned\\x07" (id' in result.stdout  # the excerpt shows the bytes
    assert ' 19 | create tabel oops (id int); -- \\e]0;title\\x07 \\e[2J\n    |        ^\n' in result.stdout
    # The U& fix names the very table the migration created.
    name = HOSTILE_NAMES["stop-commands"]
    pg.psql("postgres", input=f"create table public.{sql_ident(name)} (id int);\n"
                              "alter table public.U&\"x\\000a::stop-commands::t0k\" enable row level security;\n"
                              f"drop table public.{sql_ident(name)};\n", what="U& identifier")


def test_markdown_names_cannot_inject_markup(tmp_path):
    hostile_project(tmp_path)
    result = run(tmp_path, "check", "--format", "markdown")
    html = MarkdownIt("commonmark").enable("table").render(result.stdout)
    assert "<img" not in html and "evil.example" not in re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S)
    assert {link for link in re.findall(r'<a href="([^"]*)"', html)} <= {
        f"https://github.com/rlslint/rlslint/blob/main/rules/RLS001-table-without-rls.md"}
    # Only rlslint's own headings; the checklist's per-schema heading holds its name in a code span.
    assert re.findall(r"<h[1-6]>(.*?)</h", html) == ["rlslint", "Files rlslint could not read or parse", "Checklist",
                                                     f"<code>public</code>: {len(HOSTILE_NAMES)} tables, "
                                                     f"{len(HOSTILE_NAMES)} failing", "Findings"]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>", html, re.S)
    assert len(rows) == len(HOSTILE_NAMES), "one checklist row per table: no name broke the table"
    assert all(row.startswith("<code>") and row.endswith("</code>") for row in rows), rows


def test_report_never_reads_names_as_rich_markup(tmp_path):
    hostile_project(tmp_path)
    result = run(tmp_path, "report", "--color")
    assert 'public."[link=https://evil.example/]click[/link]"' in result.stdout
    assert "\x1b]8;" not in result.stdout


# --- symlinks and special files --------------------------------------------------------


def symlinked_project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # the project is the repository
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_ok.sql").write_text("create table public.ok (id bigint primary key);\n")
    (tmp_path / "shared.sql").write_text("create table public.shared (id bigint primary key);\n")
    os.mkfifo(tmp_path / "fifo")
    links = {"20240102000000_env.sql": "/proc/self/environ", "20240103000000_zero.sql": "/dev/zero",
             "20240104000000_fifo.sql": str(tmp_path / "fifo"), "20240105000000_inside.sql": "../../shared.sql",
             "20240106000000_etc.sql": "/etc/passwd", "20240107000000_dir.sql": str(tmp_path / "supabase")}
    for name, target in links.items():
        (migrations / name).symlink_to(target)
    return migrations


def test_symlinks_out_of_the_project_and_special_files_are_not_read(tmp_path):
    symlinked_project(tmp_path)
    with time_limit(60, "linting symlinks to /dev/zero and a FIFO"):
        result = run(tmp_path, "check", "--no-color", env={"SECRET_TOKEN": "s3cr3t-value"})
    assert result.exit_code == 2
    errors = sorted(line for line in result.output.splitlines() if ": error: " in line)
    assert errors == [
        f"supabase/migrations/20240102000000_env.sql: error: symbolic link to {os.path.realpath('/proc/self/environ')}, "
        "outside the project; not read",
        "supabase/migrations/20240103000000_zero.sql: error: symbolic link to /dev/zero, outside the project; not read",
        # inside the project, but a FIFO: refused on the opened descriptor, without waiting for a writer
        "supabase/migrations/20240104000000_fifo.sql: error: not a regular file (a FIFO); not read",
        "supabase/migrations/20240106000000_etc.sql: error: symbolic link to /etc/passwd, outside the project; not read",
        "supabase/migrations/20240107000000_dir.sql: error: not a regular file (a directory); not read",
    ]
    assert "s3cr3t-value" not in result.output and "root:" not in result.output
    assert "supabase/migrations/20240101000000_ok.sql:1:1: RLS001" in result.output
    assert "supabase/migrations/20240105000000_inside.sql:1:1: RLS001" in result.output  # a link inside is fine


def test_files_in_a_symlinked_folder_that_leads_outside_the_project_are_not_read(tmp_path):
    """Each folder's real path is worked out once for all its files: a committed symlink in
    place of a directory still leads out of the project for every file below it."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "20240101000000_secret.sql").write_text("create table public.secret (id bigint primary key);\n")
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "db").mkdir()
    (project / "db" / "migrations").symlink_to(outside)
    (project / "inside").mkdir()
    (project / "inside" / "20240101000000_ok.sql").write_text("create table public.ok (id bigint primary key);\n")
    (project / "linked").symlink_to(project / "inside")  # a link within the project is fine
    result = run(project, "check", "--no-color", "--no-cache", "db/migrations", "linked")
    assert result.exit_code == 2
    real = os.path.realpath(outside / "20240101000000_secret.sql")
    assert [line for line in result.output.splitlines() if ": error: " in line] == [
        f"db/migrations/20240101000000_secret.sql: error: symbolic link to {real}, outside the project; not read"]
    assert "bigint primary key" not in result.output
    assert result.output.endswith("in 2 files; 1 file error.\n")  # the linked folder inside was read


def test_at_most_the_size_limit_plus_one_byte_is_read(tmp_path, monkeypatch):
    from rlslint import sources

    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 1000)
    reads = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "001_big.sql").write_text("select 1;\n" * 10_000)
    text, error = sources.read_source(migrations / "001_big.sql", "m/001_big.sql")
    assert text is None and error.message == "file is 0.1 MB, over the 0 MiB limit for one migration; not linted"
    assert sum(reads) == 1001
