"""PostgreSQL's frontend/backend protocol, version 3: the simple-query part, over a Unix socket or TCP.

``--verify`` sends one statement per query and needs PostgreSQL's own error fields (the
message, the position in the statement, the PL/pgSQL context), nothing else; this keeps it
to the standard library instead of a driver. Several queries may be sent before their
results are read (``pipeline``): the server runs them in order, as if each had waited
for the one before. Authentication: trust, password, MD5 and
SCRAM-SHA-256. No TLS: the throwaway cluster listens on a Unix socket only, and a
``--database-url`` server is reached the same way or over plain TCP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import select
import socket
import struct
from dataclasses import dataclass


class ProtocolError(RuntimeError):
    """The connection failed or the server said something this client does not speak."""


@dataclass(eq=False)
class ServerError(Exception):
    """An ErrorResponse: PostgreSQL rejected the statement."""

    message: str
    sqlstate: str
    position: int | None  # 1-based, in characters of the statement sent
    detail: str = ""
    hint: str = ""
    context: str = ""  # where inside a function or DO block it happened

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Result:
    rows: tuple[tuple[str | None, ...], ...]
    status: str  # "I" idle, "T" in a transaction, "E" in a failed transaction


_PROTOCOL_3 = 196608


class Connection:
    def __init__(self, sock: socket.socket, user: str, database: str, password: str | None = None,
                 options: str = "") -> None:
        """``options``: settings for the session (``-c name=value``), its defaults: ``RESET ALL`` keeps them."""
        self._sock = sock
        self._buffer = bytearray()
        self.status = "I"
        self.parameters: dict[str, str] = {}
        params = {"user": user, "database": database, "client_encoding": "UTF8", "application_name": "rlslint verify"}
        if options:
            params["options"] = options
        body = struct.pack("!i", _PROTOCOL_3) + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items())
        self._send_raw(struct.pack("!i", len(body) + 5) + body + b"\0")
        self._authenticate(user, password)
        self._until_ready()

    @classmethod
    def open(cls, host: str, port: int, user: str, database: str, password: str | None = None,
             options: str = "", timeout: float = 30.0) -> "Connection":
        """``host``: a directory (the Unix socket's) or a host name."""
        try:
            if host.startswith("/"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(os.path.join(host, f".s.PGSQL.{port}"))
            else:
                sock = socket.create_connection((host, port), timeout=timeout)
            sock.settimeout(None)
        except OSError as exc:
            raise ProtocolError(f"cannot connect to PostgreSQL at {host}:{port}: {exc.strerror or exc}") from None
        try:
            return cls(sock, user, database, password, options)
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        try:
            self._send(b"X", b"")
        except OSError:
            pass
        self._sock.close()

    def query(self, sql: str) -> Result:
        """Run ``sql``; raise ServerError with PostgreSQL's fields if it fails. With several
        statements, the rows are those of the last one that returns rows."""
        self._send(b"Q", sql.encode("utf-8") + b"\0")
        return self.result()

    def pipeline(self, queries: list[str]) -> None:
        """Send ``queries`` without waiting: read their outcomes with ``result``, one per query,
        in order. The server runs each as ``query`` would; one that starts while the
        transaction is failed is refused unrun (``ServerError``), as ``query`` would refuse it."""
        data = b"".join(_frame(b"Q", sql.encode("utf-8") + b"\0") for sql in queries)
        # Reading while writing: a server blocked on sending its results to us would stop
        # reading our queries, and a blocking write of the rest would then wait for ever.
        view = memoryview(data)
        self._sock.setblocking(False)
        try:
            while view:
                readable, writable, _ = select.select([self._sock], [self._sock], [])
                if readable:
                    self._receive_available()
                if writable:
                    try:
                        view = view[self._sock.send(view):]
                    except BlockingIOError:
                        pass
        except OSError as exc:
            raise ProtocolError(f"lost the connection to PostgreSQL: {exc.strerror or exc}") from None
        finally:
            self._sock.setblocking(True)

    def result(self) -> Result:
        """The outcome of the next query sent: its rows, or ServerError."""
        rows: list[tuple[str | None, ...]] = []
        error: ServerError | None = None
        while True:
            kind, payload = self._receive()
            if kind == b"D":
                rows.append(_data_row(payload))
            elif kind == b"T":  # a new result set begins
                rows = []
            elif kind == b"E":
                error = _error(payload)
            elif kind == b"G":  # COPY … FROM STDIN: there is no input to send
                self._send(b"f", b"COPY FROM STDIN is not applied by rlslint --verify\0")
            elif kind == b"H":  # COPY … TO STDOUT: read on and drop the data
                continue
            elif kind == b"Z":
                self.status = chr(payload[0])
                if error is not None:
                    raise error
                return Result(tuple(rows), self.status)
            elif kind == b"S":
                self._parameter(payload)
            # T (row description), C (complete), N (notice), I (empty), d/c (copy data) carry nothing needed

    def value(self, sql: str) -> str | None:
        rows = self.query(sql).rows
        return rows[0][0] if rows and rows[0] else None

    # --- authentication ----------------------------------------------------------------

    def _authenticate(self, user: str, password: str | None) -> None:
        while True:
            kind, payload = self._receive()
            if kind == b"E":
                raise ProtocolError(f"PostgreSQL refused the connection: {_error(payload).message}")
            if kind != b"R":
                raise ProtocolError(f"unexpected message {kind!r} during authentication")
            (code,) = struct.unpack("!i", payload[:4])
            if code == 0:
                return
            if password is None:
                raise ProtocolError("the server asks for a password; give it in --database-url or PGPASSWORD")
            if code == 3:
                self._send(b"p", password.encode() + b"\0")
            elif code == 5:
                inner = hashlib.md5(password.encode() + user.encode()).hexdigest().encode()
                self._send(b"p", b"md5" + hashlib.md5(inner + payload[4:8]).hexdigest().encode() + b"\0")
            elif code == 10:
                mechanisms = payload[4:].split(b"\0")
                if b"SCRAM-SHA-256" not in mechanisms:
                    raise ProtocolError("the server offers no authentication this client speaks (SCRAM-SHA-256)")
                self._scram(password)
                return
            else:
                raise ProtocolError(f"unsupported authentication method (code {code})")

    def _scram(self, password: str) -> None:
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={nonce}"
        first = ("n,," + first_bare).encode()
        self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        server_first = self._sasl(11)
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        if not fields.get("r", "").startswith(nonce):
            raise ProtocolError("SCRAM: the server's nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        without_proof = f"c=biws,r={fields['r']}"
        message = f"{first_bare},{server_first},{without_proof}".encode()
        signature = hmac.new(hashlib.sha256(client_key).digest(), message, "sha256").digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
        self._send(b"p", f"{without_proof},p={proof}".encode())
        server_final = self._sasl(12)
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        expected = base64.b64encode(hmac.new(server_key, message, "sha256").digest()).decode()
        if not hmac.compare_digest(server_final.partition("v=")[2], expected):
            raise ProtocolError("SCRAM: the server's signature is wrong")
        kind, payload = self._receive()
        if kind != b"R" or struct.unpack("!i", payload[:4])[0] != 0:
            raise ProtocolError("SCRAM authentication failed")

    def _sasl(self, expected: int) -> str:
        kind, payload = self._receive()
        if kind == b"E":
            raise ProtocolError(f"PostgreSQL refused the connection: {_error(payload).message}")
        if kind != b"R" or struct.unpack("!i", payload[:4])[0] != expected:
            raise ProtocolError("SCRAM: unexpected message from the server")
        return payload[4:].decode()

    def _until_ready(self) -> None:
        while True:
            kind, payload = self._receive()
            if kind == b"Z":
                self.status = chr(payload[0])
                return
            if kind == b"E":
                raise ProtocolError(f"PostgreSQL refused the connection: {_error(payload).message}")
            if kind == b"S":
                self._parameter(payload)

    def _parameter(self, payload: bytes) -> None:
        name, value, _ = payload.split(b"\0", 2)
        self.parameters[name.decode()] = value.decode(errors="replace")

    # --- framing -------------------------------------------------------------------------

    def _send(self, kind: bytes, body: bytes) -> None:
        self._send_raw(_frame(kind, body))

    def _send_raw(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise ProtocolError(f"lost the connection to PostgreSQL: {exc.strerror or exc}") from None

    def _receive(self) -> tuple[bytes, bytes]:
        header = self._read(5)
        kind, (length,) = header[:1], struct.unpack("!i", header[1:])
        return kind, self._read(length - 4)

    def _receive_available(self) -> None:
        try:
            chunk = self._sock.recv(65536)
        except BlockingIOError:
            return
        if not chunk:
            raise ProtocolError("PostgreSQL closed the connection")
        self._buffer += chunk

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                chunk = self._sock.recv(max(65536, size - len(self._buffer)))
            except OSError as exc:
                raise ProtocolError(f"lost the connection to PostgreSQL: {exc.strerror or exc}") from None
            if not chunk:
                raise ProtocolError("PostgreSQL closed the connection")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _frame(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def _data_row(payload: bytes) -> tuple[str | None, ...]:
    (count,) = struct.unpack_from("!h", payload, 0)
    at, values = 2, []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", payload, at)
        at += 4
        if length < 0:
            values.append(None)
        else:
            values.append(payload[at:at + length].decode("utf-8", errors="replace"))
            at += length
    return tuple(values)


def _error(payload: bytes) -> ServerError:
    fields = {item[:1]: item[1:].decode("utf-8", errors="replace") for item in payload.split(b"\0") if item}
    position = fields.get(b"P")
    return ServerError(fields.get(b"M", "unknown error"), fields.get(b"C", ""),
                       int(position) if position and position.isdigit() else None,
                       fields.get(b"D", ""), fields.get(b"H", ""), fields.get(b"W", ""))
