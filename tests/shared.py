"""Where the shared test data lives: $RLSLINT_SHARED, set by .ci/run; beside the checkout otherwise."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    return Path(os.environ.get("RLSLINT_SHARED") or Path(__file__).resolve().parents[2] / "shared")
