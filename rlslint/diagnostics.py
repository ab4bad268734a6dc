"""The data that leaves the pipeline: findings, errors, notes and the whole result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, NamedTuple

from rlslint.sql.names import QName
# Parsing's own findings about the text, part of the result too.
from rlslint.sql.problems import Note, SourceError  # noqa: F401
from rlslint.sql.spans import LineIndex, Position, Span


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r}; expected one of error, warning, info") from None


class Kind(enum.Enum):
    """The kind of object a finding is about."""

    TABLE = "table"
    POLICY = "policy"
    FOREIGN_KEY = "foreign key"
    COLUMN = "column"
    ROLE = "role"  # a role's policies on a table
    COMMENT = "comment"  # an ``rlslint:`` comment


@dataclass(frozen=True)
class Subject:
    """What a finding is about: an object and, within it, the key that tells findings apart.

    ``schema`` and ``name`` are the table as named after the whole history; ``created_as``
    is its name when created, which a later rename leaves alone, so the finding's
    fingerprint survives the rename.
    """

    kind: Kind
    schema: str = ""
    name: str = ""
    created_as: QName | None = None  # None: never renamed
    columns: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    policy: str = ""
    role: str = ""
    constraint: str = ""
    comment: str = ""  # for COMMENT: the comment as written, and what is wrong with it

    @classmethod
    def of(cls, kind: Kind, table: Any, **key: Any) -> "Subject":
        """About ``table`` (the schema model's Table: anything with ``qname`` and ``created_as``)."""
        return cls(kind, table.qname.schema, table.qname.name, table.created_as, **key)

    @property
    def table(self) -> QName | None:
        return QName(self.schema, self.name) if self.name else None

    def key(self) -> tuple[str, ...]:
        """The fields a fingerprint hashes: no current table name, no position."""
        origin = self.created_as or self.table
        return (self.kind.value, str(origin) if origin else "", ",".join(self.columns), ",".join(self.commands),
                self.policy, self.role, self.constraint, self.comment)


class Finding(NamedTuple):
    """What a rule reports; the engine stamps it with the rule's code and configured severity."""

    span: Span
    message: str
    subject: Subject
    # A fix costly to print (deparsing a policy) is a function, called only for findings that
    # are reported.
    fix: str | Callable[[], str]


@dataclass(frozen=True)
class Diagnostic:
    """One finding of one rule, located at the statement (or clause) that caused it."""

    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    subject: Subject
    fix: str
    build_fix: Callable[[], str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def stamped(cls, code: str, name: str, severity: Severity, finding: Finding) -> "Diagnostic":
        if callable(finding.fix):
            return cls(code, name, severity, finding.message, finding.span, finding.subject, "", finding.fix)
        return cls(code, name, severity, finding.message, finding.span, finding.subject, finding.fix)

    def with_fix(self) -> "Diagnostic":
        if self.build_fix is None:
            return self
        return replace(self, fix=self.build_fix(), build_fix=None)

    @property
    def object(self) -> str:
        """The table as PostgreSQL prints it (public.tasks, public."Profiles"); "" for a comment."""
        table = self.subject.table
        return str(table) if table is not None else ""

    @property
    def columns(self) -> tuple[str, ...]:
        return self.subject.columns

    @property
    def commands(self) -> tuple[str, ...]:
        return self.subject.commands

    @property
    def fixable(self) -> bool:
        """The fix holds SQL that resolves the finding, not only advice in comments for a person."""
        return self.holds_statement(self.fix)

    @staticmethod
    def holds_statement(sql: str) -> bool:
        """Some of the text is SQL, not only comments (pglast's scanner tells them apart)."""
        from rlslint.sql.tokens import scanned  # the scanner over the ASCII shadow, comments left out

        return bool(sql) and bool(scanned(sql))

    @property
    def identity(self) -> tuple[str, ...]:
        """What the finding is about, independent of where it sits in a file and of renames."""
        return (self.code, *self.subject.key())


def fingerprint(diagnostic: Diagnostic) -> str:
    """Stable across line moves and table renames: the rule, the file and what the finding is about.

    Shared by the baseline, the JSON report and SARIF's partialFingerprints, so a finding
    is the same finding everywhere.
    """
    import hashlib  # here: a text report has no fingerprints, and loading OpenSSL is a good part of a short run

    key = "\x1f".join((diagnostic.span.path, *diagnostic.identity))
    # surrogatepass: a file name need not be UTF-8 (os.fsdecode keeps its bytes as surrogates).
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class SourceText:
    path: str
    text: str
    lines: LineIndex = field(compare=False, repr=False)


# The per-table checklist's columns, in the order every report shows them.
COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")
CHECKLIST_COLUMNS = ("RLS on", *COMMANDS, "FKs indexed", "Owner FKs cascade")


class Cell(enum.Enum):
    """One mark of the checklist."""

    PASS = "pass"
    FAIL = "fail"  # the column's rule reported a finding here
    NOT_APPLICABLE = "n/a"  # not exposed, RLS off, no such foreign key, or the rule did not run
    UNKNOWN = "unknown"  # a statement the model could not analyse may have changed the table


@dataclass(frozen=True)
class TablePosture:
    """One table's row of the checklist, as plain data, so reporters never read the schema model."""

    name: str  # as PostgreSQL prints it: public.tasks
    schema: str  # what reports group tables by
    cells: tuple[Cell, ...]  # in CHECKLIST_COLUMNS order

    @property
    def failing(self) -> bool:
        return Cell.FAIL in self.cells

    @property
    def passes(self) -> bool:
        """Every check passes or does not apply: a table reports may count instead of show."""
        return all(c in (Cell.PASS, Cell.NOT_APPLICABLE) for c in self.cells)


class SetReport(NamedTuple):
    """How one migration set was linted: its own settings decide its findings' severities and the exit."""

    root: str  # the project directory, as shown
    files: tuple[str, ...]  # display paths of its files
    fail_on: Severity
    severities: Mapping[str, Severity]  # the rule table: code of every rule that ran -> its configured severity


@dataclass(frozen=True)
class LintResult:
    diagnostics: tuple[Diagnostic, ...]
    errors: tuple[SourceError, ...]
    notes: tuple[Note, ...]
    sources: Mapping[str, SourceText]
    files_checked: int = 0
    tables: tuple[TablePosture, ...] = ()  # the checklist per table, sorted by name
    sets: tuple[SetReport, ...] = ()  # in discovery order
    # Statements that could not be analysed (SQL built at run time), in apply order, with why
    unanalysed: tuple[Note, ...] = ()
    remarks: tuple[str, ...] = ()  # one line each about the run as a whole (rules it could not run)

    def position(self, span: Span) -> Position:
        return self.sources[span.path].lines.position(span.start, span.end)

    def error_position(self, error: SourceError) -> Position | None:
        source = self.sources.get(error.path)
        if source is None or error.offset is None:
            return None
        return source.lines.position(error.offset, error.offset)
