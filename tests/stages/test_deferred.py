"""Deferred modules (rlslint.deferred): not executed until used, then exactly what the import gives.

Each case runs in a fresh interpreter (the test process imported pglast long ago) and
compares what pglast answers under the deferral with what it answers imported as usual.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from rlslint.cli import main

ROOT = Path(__file__).resolve().parents[2]

# What rlslint asks of pglast anywhere: JSON parsing and scanning (a lint), the Python AST,
# its enums and the printer (fixes that print a predicate, rlslint.sql.deparse).
_USE = """
import json, sys
SQL = "create policy p on t using (a = any (select b from u where c in (1, 2))); select x::int from y"
import importlib.util
importlib.util.find_spec("pglast")  # looked up before it is imported, as the cache keys do
import pglast.parser
tree = json.loads(pglast.parser.parse_sql_json(SQL))
tokens = [tuple(t) for t in pglast.parser.scan(SQL)]
still = sorted(n for n, m in sys.modules.items() if type(m).__name__ == "_Deferred")
if sys.argv[1] == "submodule-first":
    import pglast.enums.nodes  # a submodule of a package not executed yet
    early = pglast.enums.nodes.NodeTag.T_SelectStmt.value
from pglast import ast, enums
from pglast.enums import SubLinkType
from pglast.stream import RawStream
statements = pglast.parser.parse_sql(SQL)
printed = [RawStream()(s) for s in statements]
where = statements[0].stmt.qual
print(json.dumps({
    "deferred_after_parsing": still,
    "tree": tree, "tokens": tokens, "printed": printed,
    "sublink": [SubLinkType(where.subLinkType).name, enums.SubLinkType.ANY_SUBLINK.value],
    "node": [type(statements[0].stmt).__name__, isinstance(statements[0].stmt, ast.Node)],
    "enums_names": len(dir(enums)), "ast_names": len(dir(ast)),
    "same_module": [pglast.enums is sys.modules["pglast.enums"], ast is sys.modules["pglast.ast"]],
    "types": sorted({type(m).__name__ for n, m in sys.modules.items() if n.startswith("pglast")}),
    "bound": [pglast.ast is sys.modules["pglast.ast"], pglast.enums is sys.modules["pglast.enums"]],
    "loader": type(pglast.__spec__.loader).__name__,
}))
"""


def _run(deferred: bool, mode: str = "") -> dict:
    prelude = 'from rlslint.deferred import defer\ndefer("pglast", ("ast", "enums"))\n' if deferred else ""
    proc = subprocess.run([sys.executable, "-c", prelude + _USE, mode], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_parsing_to_json_leaves_pglast_ast_and_enums_unexecuted_and_everything_else_is_as_imported():
    eager, lazy = _run(False), _run(True)
    assert eager["deferred_after_parsing"] == [] and lazy["deferred_after_parsing"] == ["pglast.ast", "pglast.enums"]
    assert lazy["types"] == ["module"]  # every one an ordinary module once used
    del eager["deferred_after_parsing"], lazy["deferred_after_parsing"]
    assert lazy == eager
    assert eager["printed"][0].endswith("USING (a = ANY (SELECT b FROM u WHERE c IN (1, 2)))")


def test_a_submodule_imported_before_its_deferred_package_runs_is_kept_by_it():
    assert _run(True, "submodule-first") == {**_run(False), "deferred_after_parsing": ["pglast.ast", "pglast.enums"]}


def _package(tmp_path: Path, body: str) -> Path:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import heavy\n", encoding="utf-8")
    (package / "heavy.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return tmp_path


def _python(tmp_path: Path, code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_deferred_module_runs_once_on_first_use_and_its_own_lookups_of_what_it_lacks_fail(tmp_path):
    _package(tmp_path, """
        import sys
        print("running")
        try:
            sys.modules[__name__].later
        except AttributeError:
            print("not yet")
        later = 2
        """)
    out = _python(tmp_path, """
        from rlslint.deferred import defer
        defer("pkg", ("heavy", "absent"))
        import pkg, pkg.heavy
        print("imported")
        print(pkg.heavy.later, pkg.heavy.later, hasattr(pkg.heavy, "missing"))
        import sys
        print("pkg.absent" in sys.modules)
        """)
    assert out.split() == ["imported", "running", "not", "yet", "2", "2", "False", "False"]


def test_a_deferred_module_that_fails_raises_at_first_use_and_is_imported_again_next_time(tmp_path):
    _package(tmp_path, """
        import os
        if not os.path.exists("ready"):
            raise RuntimeError("not ready")
        value = 1
        """)
    out = _python(tmp_path, """
        import sys
        from rlslint.deferred import defer
        defer("pkg", ("heavy",))
        import pkg
        try:
            pkg.heavy.value
        except RuntimeError as exc:
            print("failed:", exc, "pkg.heavy" in sys.modules)
        open("ready", "w").close()
        import importlib
        print(importlib.import_module("pkg.heavy").value)
        """)
    assert out.splitlines() == ["failed: not ready False", "1"]


def test_an_imported_package_is_left_as_it_is(tmp_path):
    _package(tmp_path, "value = 1\n")
    out = _python(tmp_path, """
        import sys, pkg
        from rlslint.deferred import defer
        defer("pkg", ("heavy",))
        print(type(sys.modules["pkg.heavy"]).__name__, pkg.heavy.value)
        """)
    assert out.split() == ["module", "1"]


def test_the_command_under_the_deferral_prints_what_the_command_line_prints_in_process(tmp_path, monkeypatch):
    """The example fires every rule, fixes with printed predicates among them (RLS002, RLS005)."""
    monkeypatch.chdir(ROOT / "example")
    printed = {}
    for args in (["check", "--no-cache", "--select", "ALL"], ["check", "--no-cache", "--select", "ALL", "--format", "json"],
                 ["check", "--no-cache", "--select", "ALL", "--format", "sarif"], ["report"], ["access"]):
        proc = subprocess.run([sys.executable, "-m", "rlslint", *args], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"})
        in_process = CliRunner().invoke(main, args, catch_exceptions=False, env={"NO_COLOR": "1"})
        assert (proc.stdout, proc.returncode) == (in_process.stdout, in_process.exit_code), args
        printed[args[-1]] = proc.stdout
    assert "USING ((SELECT auth.uid()) = assignee_id) WITH CHECK" in printed["ALL"]  # deparsed by pglast's printer
