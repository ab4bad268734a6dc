"""Writing reports, baselines and configuration: only ever the file asked for.

A regular file (or a new one) is replaced atomically: the text goes to a temporary file
beside it, which is renamed over the target, so an interrupted run leaves the previous
file whole and a full disk leaves it as it was. Anything else that already exists there,
a device, a FIFO, ``/dev/stdout``, is written in place: renaming over it would replace
``/dev/null`` with a regular file, or the ``/dev/stdout`` link with one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from pathlib import Path
from typing import Iterable


class WriteError(Exception):
    """The output could not be written: exit 2, with this one-line message."""


def write_text(path: Path, text: str | Iterable[str]) -> None:
    """``text`` whole, or in the pieces a reporter makes it in, each encoded as it is written."""
    data = (piece.encode("utf-8", "backslashreplace") for piece in ((text,) if isinstance(text, str) else text))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:  # e.g. "FILE/x" where FILE is not a directory
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise WriteError(f"{path}: is a directory")
        if info is not None and (not stat.S_ISREG(info.st_mode) or _is_special(path)):
            _write_in_place(path, data)
        else:
            _replace(Path(os.path.realpath(path)), data, info)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _is_special(path: Path) -> bool:
    """``/dev/stdout`` and ``/proc/self/fd/1`` name an open descriptor, even when it is a regular file."""
    absolute = os.path.abspath(path)
    return absolute.startswith(("/dev/", "/proc/")) or (os.path.islink(path) and os.readlink(path).startswith(("/dev/", "/proc/")))


def _write_in_place(path: Path, data: Iterable[bytes]) -> None:
    with open(path, "wb") as f:
        f.writelines(data)


def _replace(path: Path, data: Iterable[bytes], existing: os.stat_result | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _signals_end_the_write():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.writelines(data)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp creates the file private (0600); keep the old file's mode, or make an
            # ordinary file of the project.
            os.chmod(tmp, stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def _signals_end_the_write():
    """SIGTERM and SIGHUP end the write by an exception, so the temporary file is removed.

    Their default action kills the process on the spot and leaves ``.NAME.xxxx.tmp``
    behind; SIGINT already raises KeyboardInterrupt. SIGKILL cannot be caught.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
