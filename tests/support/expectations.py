"""``-- expect: CODE[, CODE]`` markers: the findings a fixture line must produce, written where they occur."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_MARKER = re.compile(r"--\s*expect:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")


def expected_findings(path: Path, display: str | None = None) -> Counter:
    """Counter of (file, line, code) from the markers in one file."""
    found: Counter = Counter()
    name = display or path.as_posix()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _MARKER.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group(1)):
                found[(name, number, code)] += 1
    return found
