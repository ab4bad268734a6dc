"""The command line: ``rlslint [check] [PATHS]…``, ``rlslint rule CODE``, ``rlslint rules``.

Exit codes: 0 nothing at or above the failing severity; 1 findings; 2 rlslint could
not do its job (bad usage, bad config, a file it cannot read or parse).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import Iterable

import click

from rlslint import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("text", "concise", "json", "github", "sarif", "markdown")  # rlslint.report.REPORTERS, without importing it
# rlslint.layouts.LAYOUTS, without importing it (a test keeps the two equal)
LAYOUT_NAMES = ("supabase", "supabase-schemas", "prisma", "drizzle", "flyway", "golang-migrate", "dbmate", "plain")


class _DefaultToCheck(click.Group):
    """``rlslint PATH…`` means ``rlslint check PATH…``, as ``ruff`` users expect of ``ruff check``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        """A failure rlslint did not foresee is one line and exit 2, never a traceback (or exit 1, "findings")."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            from rlslint.sql.problems import strict_mode

            if strict_mode():  # the tests want the traceback
                raise
            detail = str(exc).splitlines()[0] if str(exc) else ""
            cut = " (the report on stdout stops part-way)" if getattr(exc, _REPORT_CUT, False) else ""
            _fail(f"internal error: {type(exc).__name__}{': ' + detail if detail else ''}{cut}")


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rlslint")
def main() -> None:
    """Lint Supabase/PostgreSQL migrations: RLS, policies, indexes and owner foreign keys."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(FORMATS), default=None,
              help="Output format [default: text; under GitHub Actions, text plus annotations].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to this file instead of stdout.")
@click.option("--report", "reports", multiple=True, metavar="FORMAT:FILE", callback=lambda c, p, v: _parse_reports(v),
              help="Also write a report in FORMAT to FILE, e.g. sarif:results.sarif; repeatable.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that makes the exit code 1 (default: warning).")
@click.option("--select", multiple=True, help="Only these rules (codes, names or prefixes such as IDX); repeatable.")
@click.option("--ignore", multiple=True, help="Skip these rules (codes, names or prefixes); repeatable.")
@click.option("--extend-select", multiple=True, help="Add these rules to the selection; repeatable.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Read settings from this file (rlslint.toml, or pyproject.toml's [tool.rlslint]) "
                   "instead of the one found above the migrations.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False),
              help="Report only findings not recorded in this baseline file.")
@click.option("--write-baseline", "write_baseline_path", type=click.Path(dir_okay=False),
              help="Record every current finding in this baseline file and exit 0.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True,
              help="Instead of the findings, print how many each rule found and how many `rlslint fix` fixes.")
@click.option("--no-cache", is_flag=True,
              help="Replay every migration instead of loading the state of unchanged ones from the cache "
                   "($RLSLINT_CACHE_DIR, else $XDG_CACHE_HOME/rlslint, else ~/.cache/rlslint; absolute paths only).")
@click.option("-v", "--verbose", is_flag=True, help="Also show what could not be analysed (dynamic SQL, unknown tables).")
@click.option("--color/--no-color", default=None, help="Force colour on or off (default: on for a terminal without NO_COLOR).")
@click.option("--layout", type=click.Choice(LAYOUT_NAMES), default=None,
              help="Order every set as this layout's tool does, instead of detecting the layout.")
@click.option("--list-files", is_flag=True, help="Print every migration set, its layout and its files in apply order; lint nothing.")
@click.option("--verify", is_flag=True,
              help="Also apply the migrations to a throwaway PostgreSQL (the pgserver wheel: pip install "
                   "'rlslint[verify]', or initdb and pg_ctl on the PATH) and report where the model and its catalog differ.")
@click.option("--database-url", metavar="URL",
              help="With --verify: use this server (postgresql://user@host:port/db, ?host=/socket/dir for a socket), "
                   "in a database rlslint creates and drops, instead of a throwaway cluster.")
def check(paths, output_format, output, reports, fail_on, select, ignore, extend_select, config_path, baseline_path,
          write_baseline_path, exit_zero, statistics, no_cache, verbose, color, layout, list_files, verify,
          database_url) -> None:
    """Lint migrations. With no PATHS, every migration set of the repository.

    A directory is linted whole, or each set below it. Given files (as pre-commit passes
    them), rlslint replays the whole migration set each belongs to and reports only what
    those files caused.
    """
    from rlslint import engine
    from rlslint.cache import ReplayCache, default_directory
    from rlslint.config import ConfigError, Overrides, SettingsLoader, declared_sets
    from rlslint.diagnostics import Severity
    from rlslint.report import ReportContext
    from rlslint.rules import ALL_RULES, KNOWN_RULES
    from rlslint.selection import SelectionError, check_selectors
    from rlslint.settings import Settings

    try:
        check_selectors(KNOWN_RULES, (*select, *extend_select, *ignore))
        declared = declared_sets(Path.cwd(), config_path)
    except (SelectionError, ConfigError) as exc:
        _fail(str(exc))
    if list_files:
        _list_files(list(paths), layout, declared)
    if database_url and not verify:
        _fail("--database-url names the server for --verify; add --verify")
    overrides = Overrides(select or None, ignore or None, extend_select, Severity.parse(fail_on) if fail_on else None)
    # The parse trees are millions of small dicts and hold no reference cycles; the cyclic
    # collector would re-scan them over and over (a third of the run) to free nothing
    # before this short-lived process exits anyway.
    gc.disable()
    try:
        settings_for = SettingsLoader(Path.cwd(), config_path, overrides)
        directory = None if no_cache else default_directory()
        cache = ReplayCache(directory) if directory is not None else None
        # Writing a baseline records every finding, including those an older baseline holds.
        baseline = _baseline(baseline_path) if baseline_path and not write_baseline_path else None
        with _verifier(verify, database_url) as verifier:
            result = engine.lint(list(paths), Path.cwd(), settings_for, ALL_RULES, cache, baseline,
                                 layout=layout, declared=declared, verifier=verifier)
    except ConfigError as exc:
        _fail(str(exc))
    if cache is not None and cache.problem:
        click.echo(f"rlslint: cache not used: {cache.problem}", err=True)
    rules = _rule_table(result, KNOWN_RULES)
    if write_baseline_path and result.errors:
        _echo(f"rlslint: baseline not written: {len(result.errors)} file error(s) below would leave it "
              "incomplete\n", err=True)
    elif write_baseline_path:
        _write_baseline(result, Path(write_baseline_path))
    if color is None:
        color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    _emit(result, ReportContext(rules, color=color, verbose=verbose), output_format, output, reports, statistics)
    if result.errors:
        sys.exit(EXIT_ERROR)
    # With several projects in one run, the strictest threshold decides.
    fail_at = min((s.fail_on for s in result.sets), default=overrides.fail_on or Settings.fail_on)
    if not exit_zero and any(d.severity >= fail_at for d in result.diagnostics):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


@contextlib.contextmanager
def _verifier(verify: bool, database_url: str | None):
    """The PostgreSQL for --verify, started once for the whole run and removed after it; None without --verify."""
    if not verify:
        yield None
        return
    from rlslint.verify import VerifyError
    from rlslint.verify.server import ServerUnavailable, server
    from rlslint.verify.verifier import Verifier

    try:
        with server(database_url, lambda line: _echo(f"rlslint: --verify: {line}\n", err=True)) as endpoint, \
                Verifier(endpoint) as verifier:
            yield verifier
    except (ServerUnavailable, VerifyError) as exc:
        _fail(f"--verify: {exc}")


def _list_files(paths: list[str], layout: str | None, declared) -> None:
    """What rlslint believes: each set, its layout and how that layout orders, its files in apply order."""
    from rlslint.layouts import LAYOUTS
    from rlslint.sources import discover, display_path

    found = discover(paths, Path.cwd(), layout, declared)
    for migration_set in found.sets:
        described = LAYOUTS[migration_set.layout]
        click.echo(f"{display_path(migration_set.root, Path.cwd()) or '.'}: {described.name} ({described.order})")
        for file in migration_set.files:
            click.echo(f"  {file.display}")
    for error in found.errors:
        click.echo(f"{error.path + ': ' if error.path else ''}error: {error.message}", err=True)
    sys.exit(EXIT_ERROR if found.errors else EXIT_CLEAN)


def _rule_table(result, known):
    """The rules that ran in any migration set (what SARIF lists, so code scanning closes
    their old alerts); with no set at all, the default selection."""
    from rlslint.settings import Settings

    if not result.sets:
        return tuple(rule for rule in known if Settings().runs(rule))
    return tuple(rule for rule in known if any(rule.code in s.severities for s in result.sets))


def _write_baseline(result, path: Path) -> None:
    from rlslint.baseline import render_baseline

    _write(path, render_baseline(result, Path.cwd(), path))
    _echo(f"rlslint: recorded {len(result.diagnostics)} findings in {path}\n", err=True)
    sys.exit(EXIT_CLEAN)


def _baseline(path: str):
    from rlslint.baseline import BaselineError, load_baseline

    try:
        return load_baseline(Path(path), Path.cwd(), path)
    except BaselineError as exc:
        _fail(str(exc))


def _parse_reports(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    parsed = []
    for value in values:
        fmt, sep, path = value.partition(":")
        if not sep or not path or fmt not in FORMATS:
            raise click.BadParameter(f"{value!r} is not FORMAT:FILE with FORMAT one of {', '.join(FORMATS)}")
        parsed.append((fmt, path))
    return tuple(parsed)


def _emit(result, ctx, output_format: str | None, output: str | None, reports: tuple[tuple[str, str], ...],
          statistics: bool = False) -> None:
    """Every report from one lint run: the main one (stdout or --output), then each --report file."""
    import importlib
    from dataclasses import replace

    from rlslint.report import STATISTICS, pieces, renderer

    if statistics:
        main_report = (importlib.import_module(STATISTICS).render(result, ctx),)
    else:
        main_report = pieces(output_format or "text")(result, ctx)
    if output:
        _write(Path(output), main_report)
    else:
        # click strips ANSI codes when stdout is not a terminal; --color asked for them anyway.
        _echo_pieces(main_report, color=ctx.color)
    # On GitHub Actions the findings also become annotations on the diff, as squawk and ruff do,
    # unless the user chose a format; annotations only work on stdout, where the runner reads them.
    if output_format is None and os.environ.get("GITHUB_ACTIONS") == "true":
        _echo(renderer("github")(result, ctx))
    for fmt, path in reports:
        _write(Path(path), pieces(fmt)(result, replace(ctx, color=False)))


def _write(path: Path, text: str | Iterable[str]) -> None:
    from rlslint.writing import WriteError, write_text

    try:
        write_text(path, text)
    except WriteError as exc:
        _fail(str(exc))


def _echo(text: str, err: bool = False, color: bool | None = None) -> None:
    _echo_pieces((text,), err, color)


_REPORT_CUT = "_rlslint_report_cut"  # set on a failure while a report was being printed


def _echo_pieces(pieces: Iterable[str], err: bool = False, color: bool | None = None) -> None:
    """Print a report as its pieces come; a full disk or a closed pipe is an error of this run,
    not a traceback. A report is made while it is printed, so a failure making it (a bug)
    can come after some of it is out: the error line then says the report is cut short."""
    iterator, started = iter(pieces), False
    while True:
        try:
            piece = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            if started:
                try:
                    setattr(exc, _REPORT_CUT, True)
                except (AttributeError, TypeError):  # an exception type without attributes of its own
                    pass
            raise
        _echo_piece(piece, err, color)
        started = True


def _echo_piece(piece: str, err: bool, color: bool | None) -> None:
    try:
        click.echo(piece, nl=False, err=err, color=color)
    except OSError as exc:
        stream = "stderr" if err else "stdout"
        # What is still buffered would fail again at exit, with a traceback of its own.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, (sys.stderr if err else sys.stdout).fileno())
        if not err:
            _fail(f"cannot write to {stream}: {exc.strerror or exc}")
        sys.exit(EXIT_ERROR)


def _fail(message: str) -> None:
    from rlslint.escape import log_line

    click.echo(f"rlslint: error: {log_line(message)}", err=True)
    sys.exit(EXIT_ERROR)


@main.command(name="fix")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--diff", "show_diff", is_flag=True, help="Print the migration as a diff instead of writing it.")
@click.option("--select", multiple=True, help="Only fix these rules (codes, names or prefixes such as IDX); repeatable.")
@click.option("--ignore", multiple=True, help="Do not fix these rules (codes, names or prefixes); repeatable.")
@click.option("--extend-select", multiple=True, help="Add these rules to the selection; repeatable.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Read settings from this file instead of the one found above the migrations.")
def fix_command(paths, show_diff, select, ignore, extend_select, config_path) -> None:
    """Write one new migration with the fixes for the findings, after the others.

    Existing migrations are never edited. The new file starts with what it fixes and what
    it leaves to a person. Exit 0 when nothing is left, 1 when findings remain for a person
    (with --diff: when there is anything to write), 2 when rlslint could not do its job.
    """
    from rlslint import engine, fixes, sources
    from rlslint.config import ConfigError, Overrides, SettingsLoader, declared_sets
    from rlslint.rules import ALL_RULES, KNOWN_RULES
    from rlslint.selection import SelectionError, check_selectors

    cwd = Path.cwd()
    try:
        check_selectors(KNOWN_RULES, (*select, *extend_select, *ignore))
        declared = declared_sets(cwd, config_path)
    except (SelectionError, ConfigError) as exc:
        _fail(str(exc))
    gc.disable()  # as in check: parse trees hold no cycles
    try:
        settings_for = SettingsLoader(cwd, config_path, Overrides(select or None, ignore or None, extend_select, None))
        result = engine.lint(list(paths), cwd, settings_for, ALL_RULES, declared=declared)
        if result.errors:
            for error in result.errors:
                click.echo(f"{error.path or 'rlslint'}: error: {error.message}", err=True)
            _fail("no fixes written: a migration rlslint cannot read or parse would make them wrong")
        planned = []
        for migration_set in sources.discover(list(paths), cwd, declared=declared).sets:
            if migration_set.naming is None:
                click.echo(f"rlslint: {sources.display_path(migration_set.root, cwd)}: no fixes written there: its "
                           f"tool ({migration_set.layout}) does not apply numbered migrations", err=True)
                continue
            migration = fixes.plan(migration_set, result, settings_for(migration_set), ALL_RULES, cwd)
            if migration is not None:
                planned.append(migration)
        for migration in planned:
            if show_diff:
                click.echo(fixes.diff(migration), nl=False)
            else:
                fixes.write(migration)
                click.echo(f"rlslint: wrote {migration.display}: {len(migration.fixed)} fixed, "
                           f"{len(migration.left)} left to a person", err=True)
    except (ConfigError, fixes.FixError) as exc:
        _fail(str(exc))
    if not planned:
        click.echo("rlslint: nothing to fix", err=True)
    if show_diff:
        sys.exit(EXIT_FINDINGS if planned else EXIT_CLEAN)
    sys.exit(EXIT_FINDINGS if any(m.left for m in planned) else EXIT_CLEAN)


@main.command()
@click.argument("code_or_name")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rule(code_or_name: str, output_format: str) -> None:
    """Explain one rule, given by code (RLS001) or name (table-without-rls)."""
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

    from rlslint.rules import KNOWN_RULES

    if output_format == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "summary": r.summary,
                                "severity": r.default_severity.label, "default_enabled": r.default_enabled}
                               for r in KNOWN_RULES], indent=2))
        return
    for r in KNOWN_RULES:
        state = "" if r.default_enabled else "(opt-in) "
        click.echo(f"{r.code:<8}{r.name:<30}{r.default_severity.label:<8} {state}{r.summary}")


@main.command(name="init")
@click.option("--file", "file_name", type=click.Choice(["pyproject.toml", "rlslint.toml"]), default=None,
              help="Where to write (default: [tool.rlslint] in pyproject.toml if the project has one, else rlslint.toml).")
def init_command(file_name: str | None) -> None:
    """Write a commented starter configuration: the sets rlslint finds here, and every setting commented out
    where rlslint already does the same without it."""
    from rlslint.config import ConfigError
    from rlslint.sources import display_path
    from rlslint.starter import write_starter

    try:
        path, project = write_starter(Path.cwd(), file_name)
    except ConfigError as exc:
        _fail(str(exc))
    from rlslint.escape import log_line

    for migration_set in project.sets:
        click.echo(log_line(f"rlslint: found {display_path(migration_set.root, Path.cwd()) or '.'} "
                            f"({migration_set.layout}, {len(migration_set.files)} files)"))
    if not project.sets:
        click.echo(log_line(f"rlslint: found no migrations below or above {Path.cwd()}; list them under "
                            f"[[migrations]] in {path}"), err=True)
    click.echo(log_line(f"rlslint: wrote a starter configuration to {path}"))


@main.command(name="access")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--role", "roles", multiple=True, help="Show this role instead of the API roles; repeatable.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Read settings from this file instead of the one found above the migrations.")
@click.option("--color/--no-color", default=None, help="Force colour on or off (default: on for a terminal without NO_COLOR).")
@click.option("--layout", type=click.Choice(LAYOUT_NAMES), default=None,
              help="Order every set as this layout's tool does, instead of detecting the layout.")
def access_command(paths, output_format, roles, config_path, color, layout) -> None:
    """Show who can do what: per role, table and command, none, denied, all, filtered or unknown.

    Exit 0 whatever the access (`rlslint check` gates); 2 when a file cannot be read or parsed.
    """
    from rlslint import engine
    from rlslint.config import ConfigError, Overrides, SettingsLoader, declared_sets
    from rlslint.escape import log_line
    from rlslint.report import access as render

    try:
        matrix, errors = engine.access(list(paths), Path.cwd(), SettingsLoader(Path.cwd(), config_path, Overrides()),
                                       tuple(roles), layout, declared_sets(Path.cwd(), config_path))
    except ConfigError as exc:
        _fail(str(exc))
    if output_format == "json":
        _echo(render.render_json(matrix))
    elif output_format == "markdown":
        _echo(render.render_markdown(matrix))
    else:
        if color is None:
            color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        _echo(render.render_text(matrix, color=bool(color), terminal=sys.stdout.isatty()), color=bool(color))
    if not matrix.roles and not errors:
        _echo("info: no API role found (no Supabase roles, no role named by a grant or policy); "
              "set api-roles, or name roles with --role\n", err=True)
    for error in errors:
        _echo(log_line(f"{error.path or 'rlslint'}: error: {error.message}") + "\n", err=True)
    sys.exit(EXIT_ERROR if errors else EXIT_CLEAN)


@main.command(name="report")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Read settings from this file instead of the one found above the migrations.")
@click.option("--color/--no-color", default=None, help="Force colour on or off (default: on for a terminal without NO_COLOR).")
@click.option("--layout", type=click.Choice(LAYOUT_NAMES), default=None,
              help="Order every set as this layout's tool does, instead of detecting the layout.")
def report_command(paths, config_path, color, layout) -> None:
    """Show the checklist for every table: RLS, policy per command, FK indexes, owner FKs.

    Exit 0 whatever the findings (`rlslint check` gates); 2 when a file cannot be read or parsed.
    """
    from rlslint import engine
    from rlslint.config import ConfigError, Overrides, SettingsLoader, declared_sets
    from rlslint.report.text import render_checklist

    try:
        result = engine.lint(list(paths), Path.cwd(), SettingsLoader(Path.cwd(), config_path, Overrides()),
                             layout=layout, declared=declared_sets(Path.cwd(), config_path))
    except ConfigError as exc:
        _fail(str(exc))
    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    from rlslint.escape import log_line

    _echo(render_checklist(result, color=bool(color), terminal=sys.stdout.isatty()), color=bool(color))
    for error in result.errors:
        _echo(log_line(f"{error.path}: error: {error.message}") + "\n", err=True)
    sys.exit(EXIT_ERROR if result.errors else EXIT_CLEAN)
