"""Shared test data that does not live in the repository: PostgreSQL's regression SQL and
the corpus generator, in $RLSLINT_SHARED (set by .ci/run), else ``shared/`` beside the checkout.

Without it those tests are skipped with the reason; under CI they fail instead, so a CI
run can never pass without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    return Path(os.environ.get("RLSLINT_SHARED") or Path(__file__).resolve().parents[3] / "shared")


def shared_path(*parts: str) -> Path:
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        reason = f"{path} not found: set RLSLINT_SHARED to the shared test data directory"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path
