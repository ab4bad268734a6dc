"""What a command loads at start, which is most of what a short run costs.

Each case runs rlslint in a fresh interpreter, as a user does, and lists the modules it
ended up with: ``--version`` loads neither click nor the parser, ``--help`` no parser and no
pipeline, and a plain check with a text report to a pipe no colour library, no other
format's reporter, and none of what only other options use (baseline, access matrix,
``--verify``, rule documentation, ``fix`` and ``init``). Timings live in bench/; this is
the import graph those timings come from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint import __version__
from rlslint.cli import main

# Run rlslint as ``python -m rlslint`` does, then print the loaded modules on stderr; a module
# still deferred (rlslint.deferred: in sys.modules, its code not run) is not loaded.
_RUN = """
import json, runpy, sys
sys.argv = ["rlslint", *json.loads(sys.argv[1])]
code = 0
try:
    runpy.run_module("rlslint", run_name="__main__")
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\nMODULES " + json.dumps(sorted(n for n, m in sys.modules.items() if type(m).__name__ != "_Deferred")))
sys.exit(code)
"""

MIGRATION = "create table public.notes (id bigint primary key, body text);\n"


def _loaded(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    proc = subprocess.run([sys.executable, "-c", _RUN, json.dumps(args)], capture_output=True, text=True, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "NO_COLOR": "1"})
    modules = json.loads(proc.stderr.rpartition("MODULES ")[2])
    return proc, set(modules)


def _any(modules: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_notes.sql").write_text(MIGRATION, encoding="utf-8")
    return tmp_path


def test_version_prints_what_click_would_and_loads_neither_click_nor_the_parser(tmp_path):
    proc, modules = _loaded(["--version"], tmp_path)
    assert proc.returncode == 0
    assert proc.stdout == CliRunner().invoke(main, ["--version"]).output == f"rlslint, version {__version__}\n"
    assert _any(modules, "click", "pglast", "rlslint.cli", "rlslint.engine", "rlslint.schema") == []


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"]])
def test_help_loads_the_command_line_only(tmp_path, args):
    proc, modules = _loaded(args, tmp_path)
    assert proc.returncode == 0 and "Usage:" in proc.stdout
    assert "click" in modules
    assert _any(modules, "pglast", "rich", "rlslint.engine", "rlslint.schema", "rlslint.rules", "rlslint.report") == []


def test_a_plain_check_loads_no_colour_no_other_reporter_and_nothing_other_options_need(project):
    proc, modules = _loaded(["check", "--no-cache"], project)
    assert proc.returncode == 1 and "RLS001" in proc.stdout  # it did lint: the table has no RLS
    assert {"pglast", "rlslint.engine", "rlslint.report.text"} <= modules
    assert _any(modules, "rich", "rlslint.report.json", "rlslint.report.sarif", "rlslint.report.markdown",
                "rlslint.report.github", "rlslint.report.concise", "rlslint.report.statistics",
                "rlslint.report.access", "rlslint.report.checklist", "rlslint.docs", "rlslint.baseline",
                "rlslint.access_matrix", "rlslint.verify.server", "rlslint.verify.verifier", "rlslint.verify.trace",
                "rlslint.fixes", "rlslint.starter", "rlslint.codec", "pglast.printers", "pgserver") == []
    # Parsing to JSON needs neither pglast's Python node classes nor its enums (rlslint.deferred);
    # a history that runs no PL/pgSQL needs no evaluator; no TOML file, no TOML parser; without
    # the cache and with a text report, no hashing (OpenSSL) and no key or temporary names.
    assert _any(modules, "pglast.ast", "pglast.enums", "decimal", "rlslint.schema.plpgsql", "tomllib", "tomli",
                "hashlib", "_hashlib", "hmac", "secrets", "random") == []


def test_the_default_cache_loads_its_codec_only_when_it_stores_or_loads(project):
    """The cache is in the start-up path (every check asks it); its codec only when used."""
    env_cache = project / "cache"
    proc = subprocess.run([sys.executable, "-c", _RUN, json.dumps(["check"])], capture_output=True, text=True,
                          cwd=project, env={"PATH": "/usr/bin:/bin", "HOME": str(project), "NO_COLOR": "1",
                                            "RLSLINT_CACHE_DIR": str(env_cache)})
    modules = set(json.loads(proc.stderr.rpartition("MODULES ")[2]))
    assert proc.returncode == 1 and "rlslint.codec" in modules and any(env_cache.iterdir())


def test_a_run_the_cache_answers_whole_loads_neither_the_parser_nor_the_replay(project):
    """Nothing changed: the stored findings are read back and reported, so pglast (its
    package loads the parser), the replay, its state and the snapshot codec stay unloaded."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(project), "NO_COLOR": "1", "RLSLINT_CACHE_DIR": str(project / "cache")}
    (project / "supabase" / "migrations" / "20240102000000_more.sql").write_text(
        "create table public.tasks (id bigint primary key, owner_id uuid references auth.users);\n", encoding="utf-8")
    newest = "supabase/migrations/20240102000000_more.sql"
    for args in (["check", "--format", "json"], ["check", "--format", "json", newest]):
        runs = [subprocess.run([sys.executable, "-c", _RUN, json.dumps(args)], capture_output=True, text=True,
                               cwd=project, env=env) for _ in range(2)]
        first, warm = runs
        assert first.returncode == warm.returncode == 1 and '"RLS001"' in warm.stdout
        assert warm.stdout == first.stdout
        modules = set(json.loads(warm.stderr.rpartition("MODULES ")[2]))
        assert "rlslint.engine" in modules and "rlslint.report.json" in modules
        assert _any(modules, "pglast", "rlslint.schema.replay", "rlslint.schema.state", "rlslint.sql.parse",
                    "rlslint.codec") == [], args
