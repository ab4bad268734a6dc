"""Replay snapshots kept between runs, so the usual pre-commit run replays only what changed.

A snapshot is the replay's state after the first k files of a migration set, keyed by
the content of exactly those k files (and by rlslint's and pglast's versions). Adding a
migration, or amending the newest one, leaves a stored prefix valid: the next run
loads it and replays only the files after it. Any other edit changes every later key,
so a stale snapshot can never be used, only missed.

Snapshots are pickles, so they live in the user's own cache directory
($RLSLINT_CACHE_DIR, else $XDG_CACHE_HOME/rlslint, else ~/.cache/rlslint), never in the
repository, where anyone who can commit could plant one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pglast

from rlslint import __version__
from rlslint.diagnostics import SourceError
from rlslint.schema.state import ReplayState

FORMAT = 5  # bumped whenever a snapshot of the replay would differ: 5 keeps the name a renamed table was created with


@dataclass(frozen=True)
class Snapshot:
    files: int  # how many files of the set it has replayed
    state: ReplayState
    errors: tuple[SourceError, ...]  # what those files' parse reported


def default_directory() -> Path | None:
    """Where snapshots live; None when there is no home to keep them in (then no cache)."""
    if os.environ.get("RLSLINT_CACHE_DIR"):
        return Path(os.environ["RLSLINT_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "rlslint"
    try:
        return Path.home() / ".cache" / "rlslint"
    except RuntimeError:  # no HOME and no passwd entry
        return None


class ReplayCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.hits = 0  # files whose replay a snapshot saved (the tests read it)

    def prefix_keys(self, root: Path, files: list[tuple[str, str]], strict: bool) -> list[str]:
        """keys[k] names the state after the first k (display path, text) files."""
        digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0{pglast.__version__}\0{strict}\0{root}".encode("utf-8", "surrogatepass"))
        keys = [digest.hexdigest()]
        for display, text in files:
            digest.update(f"\0{display}\0".encode("utf-8", "surrogatepass"))  # file names need not be UTF-8
            digest.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
            keys.append(digest.hexdigest())
        return keys

    def _folder(self, root: Path) -> Path:
        return self.directory / hashlib.sha256(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def load_longest(self, root: Path, keys: list[str]) -> Snapshot | None:
        """The stored state with the most files among ``keys``."""
        folder = self._folder(root)
        try:
            if not folder.is_dir():
                return None
        except OSError:  # an unreadable cache folder is a miss, never an error
            return None
        for k in range(len(keys) - 1, 0, -1):
            path = folder / f"{keys[k]}.pickle"
            try:
                if not path.is_file():
                    continue
                snapshot = self.thaw(path.read_bytes())
            except Exception:  # a damaged, foreign or unreadable file is just a miss
                continue
            if isinstance(snapshot, Snapshot) and snapshot.files == k:
                self.hits += k
                return snapshot
        return None

    @staticmethod
    def thaw(data: bytes) -> Snapshot:
        return pickle.loads(data)

    @staticmethod
    def freeze(snapshot: Snapshot) -> bytes:
        return pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)

    def store(self, root: Path, keys: list[str], final: Snapshot, before_last: Snapshot | None) -> None:
        """Keep the state after the last file and after the one before it, nothing older.

        Failing to write is not an error: the cache only ever saves time.
        """
        folder = self._folder(root)
        files = final.files
        wanted = {f"{keys[files]}.pickle": lambda: self.freeze(final)}
        if files >= 1:
            wanted[f"{keys[files - 1]}.pickle"] = lambda: self.freeze(before_last) if before_last is not None else None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in wanted.items():
                path = folder / name
                if not path.exists() and (payload := data()) is not None:
                    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
                    with os.fdopen(fd, "wb") as f:
                        f.write(payload)
                    os.replace(tmp, path)
            for old in folder.iterdir():
                if old.name not in wanted:
                    old.unlink(missing_ok=True)
        except OSError:
            pass
