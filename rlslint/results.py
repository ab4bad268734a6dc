"""A migration set's findings on one state of its history, kept so that an unchanged set
runs no rules and replays nothing.

The rules are a function of the model and of the settings they read, so their findings on
the state a snapshot key names (rlslint/cache.py: the files' content, rlslint's and pglast's
versions, strict mode, where the replay started), under one selection of rules and the
settings rules read, are the same on every run: stored once, read back as they were. What
comes after the rules (suppression comments, per-file ignores, excludes, the baseline, the
named files a run reports on) is applied on top of the stored findings each run, as it is to
fresh ones. The entry goes through the cache's own checks (an HMAC under the user's key, a
private directory, no symlinks); its body is JSON arrays decoded field by field into the
types below and nothing else.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from rlslint.diagnostics import Cell, Diagnostic, Kind, Note, Severity, SourceError, Subject, TablePosture
from rlslint.settings import Settings
from rlslint.sql.names import QName
from rlslint.sql.spans import Span

FORMAT = 1  # bumped whenever what is stored, or how, changes


@dataclass(frozen=True)
class Row:
    """A table's checklist row, with the files that created and last changed the table (a run
    on named files shows the rows of the tables they touch)."""

    posture: TablePosture
    created: str
    changed: str


@dataclass(frozen=True)
class Result:
    """What one state of a set gives the stages after the rules."""

    found: tuple[Diagnostic, ...]  # every finding of the rules that ran, fixes printed, before suppressions
    ran: tuple[str, ...]  # the codes of the rules that ran (those about API roles need some)
    rows: tuple[Row, ...]  # every table's checklist row
    notes: tuple[Note, ...]  # the model's notes
    unanalysed: tuple[Note, ...]  # statements the replay could not analyse
    targets: tuple[tuple[tuple[str, int], tuple[QName, ...]], ...]  # Catalog.targets
    errors: tuple[SourceError, ...]  # what parsing the files reported
    remarks: tuple[str, ...]  # lines about the run (rules skipped for want of API roles)

    @property
    def identities(self) -> set[tuple[str, ...]]:
        return {d.identity for d in self.found}


class NotDecodable(ValueError):
    """The data is not a stored result."""


def key(state_key: str, settings: Settings, selected: Iterable[str]) -> str:
    """The entry's name for the state, the rules selected and the settings the rules read.

    Suppression and reporting settings (excludes, per-file ignores, fail-on) are left out:
    they apply on top of the findings."""
    read_by_rules = {
        "exposed": sorted(settings.exposed_schemas),
        "api_roles": None if settings.api_roles is None else list(settings.api_roles),
        "owner_tables": [list(q) for q in settings.owner_tables],
        "owner_columns": list(settings.owner_columns),
        "severities": sorted((code, int(s)) for code, s in settings.severities.items()),
        "options": sorted((code, sorted((name, repr(value)) for name, value in options.items()))
                          for code, options in settings.rule_options.items()),
        "selected": sorted(selected),
    }
    import hashlib  # here: a run without the cache names no entry

    text = json.dumps([FORMAT, state_key, read_by_rules, _code()], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@functools.lru_cache(maxsize=1)
def _code() -> list:
    """Each module of rlslint by size and modification time: a checkout whose rules changed
    under the same version number never reads the findings of the old rules."""
    package = Path(__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        found.append([str(path.relative_to(package)), info.st_size, info.st_mtime_ns])
    return found


# --- JSON arrays, and back --------------------------------------------------------------

def encode(result: Result) -> dict:
    return {
        "found": [_diagnostic(d) for d in result.found],
        "ran": list(result.ran),
        "rows": [[r.posture.name, r.posture.schema, [c.value for c in r.posture.cells], r.created, r.changed]
                 for r in result.rows],
        "notes": [_note(n) for n in result.notes],
        "unanalysed": [_note(n) for n in result.unanalysed],
        "targets": [[path, start, [list(q) for q in tables]] for (path, start), tables in result.targets],
        "errors": [[e.path, e.message, e.offset, e.kind] for e in result.errors],
        "remarks": list(result.remarks),
    }


def _diagnostic(d: Diagnostic) -> list:
    s = d.subject
    subject = [s.kind.value, s.schema, s.name, list(s.created_as) if s.created_as else None, list(s.columns),
               list(s.commands), s.policy, s.role, s.constraint, s.comment]
    return [d.code, d.name, int(d.severity), d.message, d.span.path, d.span.start, d.span.end, subject, d.fix]


def _note(n: Note) -> list:
    return [n.span.path, n.span.start, n.span.end, n.message, n.times]


# Enum members by stored value: a dictionary lookup, where calling the enum is a function
# call per value (a 500-file entry holds ~1,500 findings and ~800 checklist rows).
_SEVERITIES = {int(s): s for s in Severity}
_KINDS = {k.value: k for k in Kind}
_CELLS = {c.value: c for c in Cell}


def decode(data: Any) -> Result:
    try:
        return Result(
            found=tuple([_decode_diagnostic(d) for d in _list(data["found"])]),
            ran=_strs(data["ran"]),
            rows=tuple([_decode_row(r) for r in _list(data["rows"])]),
            notes=tuple([_decode_note(n) for n in _list(data["notes"])]),
            unanalysed=tuple([_decode_note(n) for n in _list(data["unanalysed"])]),
            targets=tuple([_decode_target(t) for t in _list(data["targets"])]),
            errors=tuple(SourceError(_str(e[0]), _str(e[1]), None if e[2] is None else _int(e[2]), _str(e[3]))
                         for e in map(_list, _list(data["errors"]))),
            remarks=_strs(data["remarks"]),
        )
    except NotDecodable:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise NotDecodable(str(exc)) from None


def _decode_diagnostic(item: Any) -> Diagnostic:
    code, name, severity, message, path, start, end, subject, fix = _list(item)
    kind, schema, table, created_as, columns, commands, policy, role, constraint, comment = _list(subject)
    _all_str(code, name, message, path, schema, table, policy, role, constraint, comment, fix)
    if type(start) is not int or type(end) is not int or type(severity) is not int:
        raise NotDecodable("expected an integer")
    return Diagnostic(
        code, name, _SEVERITIES[severity], message, Span(path, start, end),
        Subject(_KINDS[kind], schema, table, None if created_as is None else _qname(created_as),
                _strs(columns), _strs(commands), policy, role, constraint, comment),
        fix,
    )


def _decode_row(item: Any) -> Row:
    name, schema, cells, created, changed = _list(item)
    _all_str(name, schema, created, changed)
    return Row(TablePosture(name, schema, tuple([_CELLS[c] for c in _list(cells)])), created, changed)


def _decode_target(item: Any) -> tuple[tuple[str, int], tuple[QName, ...]]:
    path, start, tables = _list(item)
    return (_str(path), _int(start)), tuple([_qname(q) for q in _list(tables)])


def _decode_note(item: Any) -> Note:
    path, start, end, message, times = _list(item)
    return Note(Span(_str(path), _int(start), _int(end)), _str(message), _int(times))


def _qname(item: Any) -> QName:
    schema, name = _list(item)
    _all_str(schema, name)
    return QName(schema, name)


def _all_str(*values: Any) -> None:
    """Each value is a string: ``str.join`` checks them all in one call and raises TypeError
    (NotDecodable, to ``decode``) at the first that is not."""
    "".join(values)


def _strs(value: Any) -> tuple[str, ...]:
    """A stored list of strings as a tuple."""
    "".join(_list(value))
    return tuple(value)


def _list(value: Any) -> list:
    if type(value) is not list:
        raise NotDecodable("expected a list")
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise NotDecodable("expected a string")
    return value


def _int(value: Any) -> int:
    if type(value) is not int:
        raise NotDecodable("expected an integer")
    return value
