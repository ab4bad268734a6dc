"""The command line: ``rlslint [check] [PATHS]…``, ``rlslint rule CODE``, ``rlslint rules``.

Exit codes: 0 nothing at or above the failing severity; 1 findings; 2 rlslint could
not do its job (bad usage, bad config, a file it cannot read or parse).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from rlslint import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _DefaultToCheck(click.Group):
    """``rlslint PATH…`` means ``rlslint check PATH…``, as ``ruff`` users expect of ``ruff check``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rlslint")
def main() -> None:
    """Lint Supabase/PostgreSQL migrations: RLS, policies, indexes and owner foreign keys."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to this file instead of stdout.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that makes the exit code 1 (default: warning).")
@click.option("--select", multiple=True, help="Only these rules (codes, names or prefixes such as IDX); repeatable.")
@click.option("--ignore", multiple=True, help="Skip these rules (codes, names or prefixes); repeatable.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("-v", "--verbose", is_flag=True, help="Also show what could not be analysed (dynamic SQL, unknown tables).")
@click.option("--color/--no-color", default=None, help="Force colour on or off (default: on for a terminal without NO_COLOR).")
def check(paths, output_format, output, fail_on, select, ignore, exit_zero, verbose, color) -> None:
    """Lint migrations. With no PATHS, find supabase/migrations from here upwards.

    A directory is linted whole. Given files (as pre-commit passes them), rlslint replays
    the whole migration set each belongs to and reports only what those files caused.
    """
    from rlslint import engine
    from rlslint.config import ConfigError, settings_for_root
    from rlslint.diagnostics import Severity
    from rlslint.report import ReportContext, renderer
    from rlslint.rules import ALL_RULES
    from rlslint.selection import SelectionError, select_rules
    from rlslint.settings import Settings

    try:
        rules = select_rules(ALL_RULES, select, ignore)
    except SelectionError as exc:
        _fail(str(exc))
    base = Settings(fail_on=Severity.parse(fail_on) if fail_on else Severity.WARNING)
    try:
        result = engine.lint(list(paths), Path.cwd(), lambda s: settings_for_root(s.root, base), rules)
    except ConfigError as exc:
        _fail(str(exc))
    if color is None:
        color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    report = renderer(output_format)(result, ReportContext(rules, color=color, verbose=verbose))
    if output:
        _write_atomic(Path(output), report)
    else:
        click.echo(report, nl=False)
    if result.errors:
        sys.exit(EXIT_ERROR)
    if not exit_zero and any(d.severity >= base.fail_on for d in result.diagnostics):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so an interrupted run leaves the old file whole."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fail(message: str) -> None:
    click.echo(f"rlslint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@main.command()
@click.argument("code_or_name")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rule(code_or_name: str, output_format: str) -> None:
    """Explain one rule (by code, e.g. RLS001, or name, e.g. table-without-rls)."""
    from rlslint.docs import rule_json, rule_markdown
    from rlslint.rules import find_rule

    found = find_rule(code_or_name)
    if found is None:
        _fail(f"unknown rule {code_or_name!r}; `rlslint rules` lists them")
    click.echo(rule_json(found) if output_format == "json" else rule_markdown(found))


@main.command(name="rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_command(output_format: str) -> None:
    """List every rule."""
    import json

    from rlslint.rules import ALL_RULES

    if output_format == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "summary": r.summary,
                                "severity": r.default_severity.label} for r in ALL_RULES], indent=2))
        return
    for r in ALL_RULES:
        click.echo(f"{r.code}  {r.name:<26} {r.default_severity.label:<8} {r.summary}")
