"""The PostgreSQL that ``--verify`` applies migrations to: a throwaway cluster, or a server the user names.

A throwaway cluster lives in a temporary directory, listens on a Unix socket only (no TCP
port anyone else could reach), and is stopped and removed when the run ends, also on an
error, Ctrl-C or SIGTERM. Its binaries are ``initdb``/``pg_ctl`` on the PATH when they
work, else the ones the ``pgserver`` wheel (``pip install 'rlslint[verify]'``) ships.
``initdb`` refuses to run as root; there the wheel's binaries run as the system user
pgserver itself uses in that case.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from rlslint.verify.wire import Connection


class ServerUnavailable(RuntimeError):
    """No PostgreSQL to verify against; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: ``host`` is a socket directory or a host name."""

    host: str
    port: int
    user: str
    password: str | None
    database: str  # the database to connect to for CREATE DATABASE
    throwaway: bool  # a cluster of this run's own: roles it creates need no undoing
    described: str  # for messages: which server this is

    def connect(self, database: str | None = None, options: str = "") -> Connection:
        return Connection.open(self.host, self.port, self.user, database or self.database, self.password, options)


INSTALL_HINT = ("install the pgserver wheel (pip install 'rlslint[verify]'), put initdb and pg_ctl on the PATH, "
                "or name a server with --database-url")

# A throwaway cluster need not survive a crash: skip what makes writes durable.
_FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@contextlib.contextmanager
def server(database_url: str | None, say: Callable[[str], None]) -> Iterator[Endpoint]:
    """The server for this run; ``say`` prints how it was chosen when that is worth knowing."""
    if database_url:
        yield parse_url(database_url)
        return
    with _stopped_on_sigterm(), tempfile.TemporaryDirectory(prefix="rlslint-verify-") as base:
        stop: Callable[[], None] | None = None
        try:
            endpoint, stop = _start(Path(base), say)
            yield endpoint
        finally:
            if stop is not None:
                stop()


def parse_url(url: str) -> Endpoint:
    """``postgresql://user:password@host:port/database``; ``?host=/socket/dir`` for a Unix socket."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ServerUnavailable("--database-url must start with postgresql:// (e.g. postgresql://postgres@localhost:5432/postgres)")
    query = parse_qs(parts.query)
    try:
        port = int(query.get("port", [parts.port or 5432])[0])
    except ValueError:
        raise ServerUnavailable("--database-url has a port that is not a number") from None
    host = query.get("host", [unquote(parts.hostname or "")])[0] or "/tmp"
    password = unquote(parts.password) if parts.password is not None else os.environ.get("PGPASSWORD")
    user = unquote(parts.username or "") or os.environ.get("PGUSER") or "postgres"
    database = unquote(parts.path.lstrip("/")) or "postgres"
    shown = f"{user}@{host}:{port}/{database}"
    return Endpoint(host, port, user, password, database, False, f"the server at {shown}")


def _start(base: Path, say: Callable[[str], None]) -> tuple[Endpoint, Callable[[], None]]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    why_not_path = "initdb and pg_ctl are not on the PATH"
    if initdb and pg_ctl:
        if os.geteuid() == 0:
            why_not_path = "initdb on the PATH refuses to run as root"
        else:
            try:
                return _start_cluster(Path(initdb), Path(pg_ctl), base / "path")
            except ServerUnavailable as exc:
                why_not_path = str(exc)
    wheel = importlib.util.find_spec("pgserver")
    if wheel is None or wheel.origin is None:
        raise ServerUnavailable(f"no PostgreSQL for --verify ({why_not_path}, and the pgserver wheel is not "
                                f"installed): {INSTALL_HINT}")
    binaries = Path(wheel.origin).parent / "pginstall" / "bin"
    if os.geteuid() != 0:
        return _start_cluster(binaries / "initdb", binaries / "pg_ctl", base / "wheel")
    if initdb and pg_ctl:
        say(f"{why_not_path}: using the pgserver wheel's PostgreSQL, run as pgserver's system user {_PGSERVER_USER}")
    return _start_cluster(binaries / "initdb", binaries / "pg_ctl", base / "wheel", _system_user())


# The user pgserver itself runs PostgreSQL as when started by root.
_PGSERVER_USER = "pgserver"


def _system_user():
    """pgserver's system user, made as pgserver makes it the first time (root runs rlslint here)."""
    import pwd

    try:
        return pwd.getpwnam(_PGSERVER_USER)
    except KeyError:
        pass
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _PGSERVER_USER],
                       check=True, capture_output=True, text=True, timeout=60)
        return pwd.getpwnam(_PGSERVER_USER)
    except (OSError, subprocess.SubprocessError, KeyError) as exc:
        raise ServerUnavailable(f"initdb refuses to run as root, and the system user {_PGSERVER_USER!r} to run "
                                f"PostgreSQL as could not be made: {exc}") from None


def _start_cluster(initdb: Path, pg_ctl: Path, base: Path, user=None) -> tuple[Endpoint, Callable[[], None]]:
    """``user``: the system user (a pwd entry) the server runs as, when not this process's."""
    data, sock = base / "data", base / "socket"
    sock.mkdir(parents=True)
    as_user: dict = {}
    if user is not None:
        base.parent.chmod(0o711)  # the server's user must reach its directories (the temporary one is root's)
        for directory in (base, sock):
            os.chown(directory, user.pw_uid, user.pw_gid)
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "cwd": str(base)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    log = base / "server.log"
    try:
        subprocess.run([str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, text=True, env=env, timeout=120, **as_user)
        options = " ".join(["-k", shlex.quote(str(sock)), "-c", "listen_addresses=''",
                            *(f"-c {setting}" for setting in _FAST)])
        # Not a pipe for the output: the server pg_ctl starts would hold it open, and the run would wait on it.
        subprocess.run([str(pg_ctl), "-D", str(data), "-l", str(log), "-w", "-o", options, "start"],
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, timeout=120, **as_user)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = (getattr(exc, "stderr", "") or "").strip().splitlines()
        if not detail and log.is_file():
            detail = log.read_text(errors="replace").strip().splitlines()
        reach = (f" (as root, PostgreSQL runs as the system user {_PGSERVER_USER}, who must be able to reach "
                 f"{initdb.parent} and the temporary directory)") if user is not None else ""
        raise ServerUnavailable(f"{initdb.parent} could not start PostgreSQL: {detail[-1] if detail else exc}{reach}") from None

    def stop() -> None:
        subprocess.run([str(pg_ctl), "-D", str(data), "-w", "-m", "immediate", "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, **as_user)

    shown = "the pgserver wheel" if user is not None or "pgserver" in initdb.parts else str(initdb.parent)
    return Endpoint(str(sock), 5432, "postgres", None, "postgres", True, f"a throwaway cluster ({shown})"), stop


@contextlib.contextmanager
def _stopped_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the run the way Ctrl-C does, so the cluster is stopped and removed too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
