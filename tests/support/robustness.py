"""Helpers for the robustness tests: the corpus, production (non-strict) mode, a hang guard."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.engine import run_rules
from rlslint.sql.parse import ParsedFile
from tests.support.shared import shared_path

CORPUS_SETS = ("postgres-regress", "plpgsql-regress")


def corpus_dir(name: str) -> Path:
    return shared_path("corpus", name)


@contextlib.contextmanager
def production_mode():
    """Unmodelled statements become notes, as for a user (the test suite is strict otherwise)."""
    before = os.environ.get("RLSLINT_STRICT")
    os.environ["RLSLINT_STRICT"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RLSLINT_STRICT", None)
        else:
            os.environ["RLSLINT_STRICT"] = before


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int, what: str):
    """Turn a hang into a test failure instead of a stuck CI job."""
    def expired(signum, frame):
        raise Hang(f"{what} took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Counts:
    parsed: int  # statements pglast parsed (DO-block statements included)
    failed: int  # syntax errors and psql input reported, each with a location
    replayed: int  # parsed statements the replay applied without an "unmodelled" note
    findings: int

    def __str__(self) -> str:
        return f"{self.parsed} statements parsed, {self.failed} failed, {self.replayed} replayed, {self.findings} findings"


def replay_and_count(files: list[ParsedFile]) -> Counts:
    catalog = replay(files, strict=False, start="supabase")  # the rules judge the API roles on every table
    unmodelled = sum(1 for n in catalog.notes if "is not modelled" in n.message)
    parsed = sum(len(f.statements) for f in files)
    failed = sum(1 for f in files for e in f.errors if e.kind == "syntax")
    return Counts(parsed, failed, parsed - unmodelled, len(run_rules(catalog, Settings())))
