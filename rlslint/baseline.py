"""Baseline: today's findings, recorded so a project can adopt rlslint and fail only on new ones.

A finding matches a baseline entry by rule, file and fingerprint, never by line or by
the table's current name, so edits above a finding and renames keep it matched (each
entry also names the table, for its readers). Files are recorded relative to the baseline
file, so the baseline works from any current directory. Each entry matches once: a
second identical finding in the same file is new.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from rlslint.diagnostics import Diagnostic, LintResult
from rlslint.diagnostics import fingerprint
from rlslint.escape import json_text

VERSION = 1

Key = tuple[str, str, str]  # code, file, fingerprint


class BaselineError(Exception):
    """The baseline file cannot be read: exit 2."""


def _key(diagnostic: Diagnostic, cwd: Path, base: Path) -> Key:
    file = Path(os.path.relpath(cwd / diagnostic.span.path, base)).as_posix()
    located = replace(diagnostic, span=replace(diagnostic.span, path=file))
    return (diagnostic.code, file, fingerprint(located))


def render_baseline(result: LintResult, cwd: Path, path: Path) -> str:
    base = (cwd / path).parent
    entries = sorted((*_key(d, cwd, base), d.object) for d in result.diagnostics)
    document = {
        "version": VERSION,
        "findings": [{"code": c, "object": o, "file": f, "fingerprint": p} for c, f, p, o in entries],
    }
    return json_text(document) + "\n"


@dataclass(frozen=True)
class Baseline:
    """The recorded findings; ``base`` is the baseline file's directory, ``cwd`` the one paths are shown from."""

    entries: Counter[Key]
    cwd: Path
    base: Path

    def new(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """The findings the baseline does not record.

        Every key names its file, and a file belongs to one migration set, so matching
        each set's findings on its own uses each entry once over the whole run.
        """
        remaining = Counter(self.entries)
        kept = []
        for diagnostic in diagnostics:
            key = _key(diagnostic, self.cwd, self.base)
            if remaining[key] > 0:
                remaining[key] -= 1
            else:
                kept.append(diagnostic)
        return kept


def load_baseline(path: Path, cwd: Path, display: str) -> Baseline:
    try:
        data = (cwd / path).read_bytes()
    except OSError as exc:
        raise BaselineError(f"{display}: cannot read baseline: {exc.strerror or exc}") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{display}: not a baseline file (invalid UTF-8, byte 0x{data[exc.start]:02x} "
                            f"at offset {exc.start})") from None
    except ValueError as exc:
        raise BaselineError(f"{display}: not a baseline file (invalid JSON: {exc})") from None
    except RecursionError:
        raise BaselineError(f"{display}: not a baseline file (invalid JSON: nested too deeply)") from None
    if not isinstance(document, dict) or document.get("version") != VERSION or not isinstance(document.get("findings"), list):
        raise BaselineError(f"{display}: not a baseline file (expected {{\"version\": {VERSION}, \"findings\": [...]}})")
    try:
        entries = Counter((e["code"], e["file"], e["fingerprint"]) for e in document["findings"])
    except (KeyError, TypeError):
        raise BaselineError(f"{display}: not a baseline file (each finding needs code, object, file, fingerprint)") from None
    return Baseline(entries, cwd, (cwd / path).parent)
