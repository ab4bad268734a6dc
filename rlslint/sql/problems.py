"""What reading and parsing can say about a file besides its statements: that part of it
could not be read or parsed (an error: exit 2), or was not analysed (a note)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rlslint.sql.spans import Span


@dataclass(frozen=True)
class SourceError:
    """rlslint could not read or parse (part of) a file. Never a finding: exit code 2."""

    path: str
    message: str
    offset: int | None = None  # None: the error concerns the whole file
    kind: str = "error"  # "read", "syntax", "usage", "config", "internal"

    @classmethod
    def internal(cls, path: str, doing: str, exc: BaseException) -> "SourceError":
        """A failure rlslint did not foresee: one line naming the file and what failed, exit 2."""
        detail = str(exc).splitlines()[0] if str(exc) else ""
        return cls(path, f"internal error while {doing}: {type(exc).__name__}{': ' + detail if detail else ''}",
                   kind="internal")


def strict_mode() -> bool:
    """``RLSLINT_STRICT``: a failure rlslint did not foresee raises, with its traceback (the
    tests run so), instead of becoming ``SourceError.internal``."""
    return os.environ.get("RLSLINT_STRICT", "") not in ("", "0")


@dataclass(frozen=True)
class Note:
    """Something rlslint did not analyse (dynamic SQL, unmodelled statement); shown with --verbose."""

    span: Span
    message: str
    times: int = 1  # a statement not analysed each time a loop reached it is listed once, with the count
