"""Replay snapshots kept between runs, so the usual pre-commit run replays only what changed.

A snapshot is the replay's state after the first k files of a migration set, keyed by
the content of exactly those k files, rlslint's version, pglast's installed files and strict mode.
Adding a migration, or amending the newest one, leaves a stored prefix valid: the next
run loads it and replays only the files after it. Any other edit changes every later
key, so a stale snapshot can never be used, only missed. Beside the snapshots, the rules'
findings on a state (rlslint/results.py), so that a set nothing changed in runs no rule.

Nothing read from the cache can run code or change a finding:
- an entry is JSON data (rlslint/codec.py builds only the model's own types, and
  rlslint/results.py only findings, notes and checklist rows), with a format version and an HMAC under a random key kept in the cache directory, so an entry
  that is damaged, half-written, from another version or not written by this user's
  rlslint is a miss, and the run replays instead;
- the directory is the user's own: $RLSLINT_CACHE_DIR, else $XDG_CACHE_HOME/rlslint, else
  ~/.cache/rlslint (relative values are ignored), created 0700; one that is a symlink, not owned by the user,
  writable by others, or inside the project being linted is not used at all (one note,
  and the run goes on without a cache);
- files are opened relative to the directory's descriptor without following symlinks,
  and written to a private temporary name then renamed, so a concurrent run sees either
  the old entry or the new one.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rlslint import __version__
from rlslint.diagnostics import SourceError
from rlslint.repository import repository_root
from rlslint.sql import installed

if TYPE_CHECKING:
    from rlslint.results import Result
    from rlslint.schema.state import ReplayState

FORMAT = 14  # bumped whenever a snapshot of the replay would differ: 6 is JSON data under an HMAC, 7 index
# expressions, 8 notes stored as rlslint.sql.problems.Note, 9 keys name where the replay started, 10 notes
# count how often they were reached, 11 functions by name and argument types, 12 views by name, 13 values as
# tagged arrays under tables of types and strings (rlslint/codec.py), 14 a function's parse tree as JSON text
_MAGIC = b"rlslint-snapshot\n"
_SUFFIX = ".snapshot"
_KEY_FILE = "key"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_MAX_ENTRY = 1 << 30  # a snapshot larger than this is not one we wrote
_RESULT_MAGIC = b"rlslint-findings\n"
_RESULT_SUFFIX = ".findings"
_RESULTS_KEPT = 4  # per set: the newest states, or selections, judged


@dataclass(frozen=True)
class Snapshot:
    files: int  # how many files of the set it has replayed
    state: ReplayState
    errors: tuple[SourceError, ...]  # what those files' parse reported


def default_directory() -> Path | None:
    """Where snapshots live; None when there is no home to keep them in (then no cache)."""
    # A relative value would put the cache wherever rlslint runs, often inside a checkout
    # that anyone who can commit controls; the XDG spec says to ignore one.
    own = os.environ.get("RLSLINT_CACHE_DIR", "")
    if os.path.isabs(own):
        return Path(own)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "rlslint"
    try:
        return Path.home() / ".cache" / "rlslint"
    except RuntimeError:  # no HOME and no passwd entry
        return None


class ReplayCache:
    def __init__(self, directory: Path, project: Path | None = None) -> None:
        """``project``: the checkout being linted; a cache inside it is never used."""
        self.directory = Path(os.path.abspath(directory))
        self.project = project
        self.hits = 0  # files whose replay a snapshot saved (the tests read it)
        self.result_hits = 0  # stored results read back (rlslint/results.py)
        self.problem: str | None = None  # why the cache is not used, once found
        self._fd: int | None = None
        self._key: bytes | None = None
        self._unreadable: set[str] = set()  # entries found damaged or foreign: stored anew

    # --- keys -------------------------------------------------------------------------

    def prefix_keys(self, root: Path, files: list[tuple[str, str]], strict: bool, start: str | None = None) -> list[str]:
        """keys[k] names the state after the first k (display path, text) files, replayed from ``start``."""
        import hashlib  # here, as hmac and secrets below: a run without the cache needs none of them

        digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0{installed.identity()}\0{strict}\0{start}\0{root}".encode("utf-8", "surrogatepass"))
        keys = [digest.hexdigest()]
        for display, text in files:
            digest.update(f"\0{display}\0".encode("utf-8", "surrogatepass"))
            digest.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
            keys.append(digest.hexdigest())
        return keys

    @staticmethod
    def _prefix(root: Path) -> str:
        import hashlib

        return hashlib.sha256(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:16]

    # --- reading ----------------------------------------------------------------------

    def load_longest(self, root: Path, keys: list[str]) -> Snapshot | None:
        """The stored state with the most files among ``keys``."""
        fd = self._open_directory(create=False, root=root)
        if fd is None:
            return None
        try:
            present = set(os.listdir(fd))
        except OSError:  # an unreadable cache folder is a miss, never an error
            return None
        for k in range(len(keys) - 1, 0, -1):
            name = f"{self._prefix(root)}-{keys[k]}{_SUFFIX}"
            if name not in present:
                continue
            data = _read(fd, name)
            snapshot = self._thaw(data, keys[k], k) if data is not None else None
            if snapshot is not None:
                self.hits += k
                return snapshot
            self._unreadable.add(name)
        return None

    def _thaw(self, data: bytes, key: str, files: int) -> Snapshot | None:
        from rlslint.codec import NotDecodable, decode_state

        body = self._verified(data, _MAGIC)
        if body is None:
            return None
        try:
            entry = json.loads(body)
            if entry.get("format") != FORMAT or entry.get("key") != key or entry.get("files") != files:
                return None
            errors = tuple(SourceError(str(e[0]), str(e[1]), e[2] if type(e[2]) is int else None, str(e[3]))
                           for e in entry["errors"])
            return Snapshot(files, decode_state(entry["state"]), errors)
        except (NotDecodable, ValueError, KeyError, TypeError, IndexError, RecursionError, AttributeError):
            return None  # an entry we cannot read is a miss; storing replaces it

    # --- writing ----------------------------------------------------------------------

    def store(self, root: Path, keys: list[str], final: Snapshot, before_last: Snapshot | None) -> None:
        """Keep the state after the last file and after the one before it, nothing older.

        Failing to write is not an error: the cache only ever saves time.
        """
        fd = self._open_directory(create=True, root=root)
        if fd is None:
            return
        prefix = self._prefix(root)
        wanted: dict[str, Snapshot | None] = {f"{prefix}-{keys[final.files]}{_SUFFIX}": final}
        if final.files >= 1:  # kept even when this run did not replay it: it was loaded
            wanted[f"{prefix}-{keys[final.files - 1]}{_SUFFIX}"] = before_last
        try:
            present = set(os.listdir(fd))
            for name, snapshot in wanted.items():
                if (name not in present or name in self._unreadable) and snapshot is not None:
                    payload = self._freeze(snapshot, keys[snapshot.files])
                    if payload is not None:
                        _write(fd, name, payload)
            for old in present:
                if old.startswith(prefix + "-") and old.endswith(_SUFFIX) and old not in wanted:
                    os.unlink(old, dir_fd=fd)  # removes a symlink itself, never what it points to
        except Exception:  # noqa: BLE001 - whatever stops a write, the run's result stands
            pass

    def _freeze(self, snapshot: Snapshot, key: str) -> bytes | None:
        from rlslint.codec import NotEncodable, encode_state

        try:
            state = encode_state(snapshot.state)
        except NotEncodable:
            return None  # state this version cannot store: the run is just not cached
        errors = [[e.path, e.message, e.offset, e.kind] for e in snapshot.errors]
        body = json.dumps({"format": FORMAT, "key": key, "files": snapshot.files, "errors": errors, "state": state},
                          separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        return self._signed(body, _MAGIC)

    def _verified(self, data: bytes, magic: bytes) -> bytes | None:
        """The body of an entry of this kind signed under this user's key; else None."""
        if not data.startswith(magic):
            return None
        import hmac

        mac, _, body = data[len(magic):].partition(b"\n")
        secret = self._secret(create=False)
        if secret is None or not hmac.compare_digest(mac, hmac.new(secret, body, "sha256").hexdigest().encode()):
            return None
        return body

    def _signed(self, body: bytes, magic: bytes) -> bytes | None:
        import hmac

        secret = self._secret(create=True)
        if secret is None:
            return None
        return magic + hmac.new(secret, body, "sha256").hexdigest().encode() + b"\n" + body

    # --- stored results (rlslint/results.py) -----------------------------------------------

    def load_result(self, root: Path, name: str) -> Result | None:
        """The rules' stored findings under ``name`` (``results.key``), or None."""
        from rlslint import results

        fd = self._open_directory(create=False, root=root)
        if fd is None:
            return None
        entry = f"{self._prefix(root)}-{name}{_RESULT_SUFFIX}"
        try:
            if entry not in os.listdir(fd):
                return None
        except OSError:  # an unreadable cache folder is a miss, never an error
            return None
        data = _read(fd, entry)
        body = self._verified(data, _RESULT_MAGIC) if data is not None else None
        try:
            stored = json.loads(body) if body is not None else None
            if stored is not None and stored.get("format") == results.FORMAT and stored.get("key") == name:
                result = results.decode(stored["result"])
                self.result_hits += 1
                _touch(fd, entry)  # kept the longest of the set's results: it was just of use
                return result
        except (results.NotDecodable, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            pass
        self._unreadable.add(entry)  # absent, or not ours to believe: written anew if stored
        return None

    def store_result(self, root: Path, name: str, result: Result) -> None:
        """Keep the result under ``name``, and the few others of the set last written or read."""
        from rlslint import results

        fd = self._open_directory(create=True, root=root)
        if fd is None:
            return
        prefix = self._prefix(root)
        entry = f"{prefix}-{name}{_RESULT_SUFFIX}"
        try:
            present = [n for n in os.listdir(fd) if n.startswith(prefix + "-") and n.endswith(_RESULT_SUFFIX)]
            if entry not in present or entry in self._unreadable:
                body = json.dumps({"format": results.FORMAT, "key": name, "result": results.encode(result)},
                                  separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
                payload = self._signed(body, _RESULT_MAGIC)
                if payload is not None:
                    _write(fd, entry, payload)
            older = sorted((n for n in present if n != entry),
                           key=lambda n: os.stat(n, dir_fd=fd, follow_symlinks=False).st_mtime_ns)
            for old in older[: max(0, len(older) - (_RESULTS_KEPT - 1))]:
                os.unlink(old, dir_fd=fd)  # removes a symlink itself, never what it points to
        except Exception:  # noqa: BLE001 - whatever stops a write, the run's result stands
            pass

    # --- the directory ----------------------------------------------------------------

    def _open_directory(self, create: bool, root: Path) -> int | None:
        path = self.directory
        checkout = repository_root(root) or root
        if _inside(path, checkout) or (self.project is not None and _inside(path, self.project)):
            # Whoever can commit to the project could plant entries there.
            self.problem = self.problem or f"{path} is inside the project being linted"
            return None
        if self._fd is not None or self.problem is not None:
            return self._fd
        if create:
            try:
                os.makedirs(path.parent, mode=0o700, exist_ok=True)
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
            except OSError:
                return None
        try:
            fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError:
            # ELOOP: the directory is a symlink; ENOTDIR: not a directory
            self.problem = f"{path} is a symlink or not a directory"
            return None
        info = os.fstat(fd)
        why = None
        if not stat.S_ISDIR(info.st_mode):
            why = f"{path} is not a directory"
        elif hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            why = f"{path} is not owned by the current user"
        elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            why = f"{path} is writable by other users"
        if why is not None:
            os.close(fd)
            self.problem = why
            return None
        self._fd = fd
        return fd

    def _secret(self, create: bool) -> bytes | None:
        if self._key is not None or self._fd is None:
            return self._key
        key = _read(self._fd, _KEY_FILE)
        if key is None and create:
            import secrets

            try:
                _write(self._fd, _KEY_FILE, secrets.token_hex(32).encode())
            except OSError:
                return None
            key = _read(self._fd, _KEY_FILE)
        self._key = key if key is not None and len(key) >= 32 else None
        return self._key

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def _inside(path: Path, project: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(project))
        return True
    except ValueError:
        return False


def _touch(fd: int, name: str) -> None:
    try:
        os.utime(name, dir_fd=fd, follow_symlinks=False)
    except (OSError, NotImplementedError):
        pass


def _read(fd: int, name: str) -> bytes | None:
    """The file's bytes if it is a regular file of ours in the directory, else None."""
    try:
        file = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=fd)
    except OSError:
        return None
    try:
        info = os.fstat(file)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_ENTRY:
            return None
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            return None
        chunks = []
        while chunk := os.read(file, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(file)


def _write(fd: int, name: str, payload: bytes) -> None:
    """Write under a private name, then rename: readers see the old file or the new, never half."""
    import secrets

    temporary = f".{name}.{secrets.token_hex(8)}.tmp"
    file = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=fd)
    try:
        with os.fdopen(file, "wb") as out:
            out.write(payload)
        os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=fd)
        except OSError:
            pass
        raise
