"""Reporters: serialisers of a LintResult. One module per format, one line here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Iterable

from rlslint.diagnostics import LintResult
from rlslint.rules.base import Rule


@dataclass(frozen=True)
class ReportContext:
    rules: tuple[Rule, ...]  # the rules that ran, as declared; LintResult.sets holds each set's severities
    color: bool = False
    verbose: bool = False


Render = Callable[[LintResult, ReportContext], str]
Pieces = Callable[[LintResult, ReportContext], Iterable[str]]

# format name -> module; imported only when that format is asked for (rich stays unloaded otherwise)
REPORTERS = {
    "text": "rlslint.report.text",
    "concise": "rlslint.report.concise",
    "json": "rlslint.report.json",
    "github": "rlslint.report.github",
    "sarif": "rlslint.report.sarif",
    "markdown": "rlslint.report.markdown",
}


# Not a format: `--statistics` replaces the main report with counts per rule.
STATISTICS = "rlslint.report.statistics"


def renderer(name: str) -> Render:
    return importlib.import_module(REPORTERS[name]).render


def pieces(name: str) -> Pieces:
    """The report's text in the pieces its reporter makes it in (JSON and SARIF reports of a big
    history are written as they are made), or whole."""
    module = importlib.import_module(REPORTERS[name])
    return getattr(module, "pieces", None) or (lambda result, ctx: (module.render(result, ctx),))
