"""Which directories git ignores, read from ``.gitignore`` files without running git.

Running git in a repository from a pull request would run whatever its ``.git/config``
asks for (``core.fsmonitor`` is a command), so the patterns are matched here: comments,
``!`` negation, a trailing ``/`` for directories, patterns with a ``/`` anchored to their
file's directory, ``*``, ``?``, ``[…]`` and ``**``. Only directories are asked about.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple


class _Pattern(NamedTuple):
    base: str  # the directory of the .gitignore, relative to the repository, "" for the root
    regex: re.Pattern[str]
    negated: bool


class IgnoreRules:
    """The patterns in force at one directory: its parents' plus its own ``.gitignore``."""

    def __init__(self, patterns: tuple[_Pattern, ...] = ()) -> None:
        self.patterns = patterns

    @classmethod
    def for_repository(cls, root: Path) -> "IgnoreRules":
        rules = cls()
        return rules.read(root / ".git" / "info" / "exclude", "").read(root / ".gitignore", "")

    def entering(self, directory: Path, relative: str) -> "IgnoreRules":
        """The rules inside ``directory`` (``relative`` to the repository root, posix)."""
        return self.read(directory / ".gitignore", relative) if relative else self

    def read(self, path: Path, base: str) -> "IgnoreRules":
        try:
            if not path.is_file():
                return self
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return self
        added = tuple(p for p in (_compile(line, base) for line in lines) if p is not None)
        return IgnoreRules(self.patterns + added) if added else self

    def ignores_directory(self, relative: str) -> bool:
        ignored = False
        for pattern in self.patterns:
            inside = relative[len(pattern.base) + 1:] if pattern.base else relative
            if pattern.base and not relative.startswith(pattern.base + "/"):
                continue
            if pattern.regex.fullmatch(inside):
                ignored = not pattern.negated
        return ignored


def _compile(line: str, base: str) -> _Pattern | None:
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        return None
    line = line.rstrip(" ") if not line.endswith("\\ ") else line
    negated = line.startswith("!")
    if negated or line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    line = line.rstrip("/")  # only directories are asked about, so "dir/" and "dir" match alike
    if not line:
        return None
    anchored = "/" in line
    body = _translate(line.lstrip("/"))
    regex = body if anchored else f"(?:.*/)?{body}"
    try:
        return _Pattern(base, re.compile(regex, re.DOTALL), negated)
    except re.error:
        return None  # git ignores a pattern it cannot match (a range such as [z-a]) too


def _translate(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 2:]:
            end = glob.index("]", i + 2)
            inner = glob[i + 1:end]
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner).replace("\\", "\\\\") + "]")
            i = end + 1
        elif glob[i] == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)
