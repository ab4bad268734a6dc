"""``--database-url`` with a password: rlslint's own protocol client (rlslint/verify/wire.py)
against the tests' real PostgreSQL, one role per authentication method.

``pg_hba.conf`` gets a line per role ahead of the server's own (which trust everyone else
on the Unix socket), so only these roles must authenticate, each the one way; the file is
restored and the roles dropped afterwards. Each test also records the authentication
requests the server sent, so a pass means that method really ran.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from rlslint.cli import main
from rlslint.verify.wire import Connection, ProtocolError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "verify" / "VER001-model-differs-from-catalog" / "fail.sql"

# role: (pg_hba method, password_encryption the password is stored with, password,
#        the authentication requests the server sends: 10-12 SASL (SCRAM), 5 MD5, 3 cleartext)
ROLES = {
    "rlslint_auth_scram": ("scram-sha-256", "scram-sha-256", "scram: s3cret/@%", [10, 11, 12, 0]),
    "rlslint_auth_md5": ("md5", "md5", "md5: s3cret/@%", [5, 0]),
    "rlslint_auth_password": ("password", "scram-sha-256", "plain: s3cret/@%", [3, 0]),
}


@pytest.fixture(scope="module")
def password_roles(pg_server):
    hba = Path(pg_server.psql("postgres", "-A", "-t", "-c", "show hba_file").strip())
    before = hba.read_text(encoding="utf-8")
    sql = []
    for role, (_, encryption, password, _) in ROLES.items():
        secret = password.replace("'", "''")
        sql.append(f"set password_encryption = '{encryption}';\n"
                   f"create role {role} login superuser password '{secret}';\n")
    pg_server.psql("postgres", input="".join(sql), what="password roles")
    lines = "".join(f"local all {role} {method}\n" for role, (method, *_) in ROLES.items())
    try:
        hba.write_text(lines + before, encoding="utf-8")
        _reload(pg_server, asks=True)
        yield pg_server
    finally:
        hba.write_text(before, encoding="utf-8")
        _reload(pg_server, asks=False)
        pg_server.psql("postgres", input="".join(f"drop role if exists {role};\n" for role in ROLES), what="drop roles")


def _reload(server, asks: bool) -> None:
    """Reload the configuration and wait until new connections see it (the postmaster rereads
    pg_hba.conf when the signal arrives): ``asks``: whether the MD5 role must give a password."""
    server.psql("postgres", "-c", "select pg_reload_conf()")
    deadline = time.monotonic() + 10
    while _asks_for_password(server) != asks and time.monotonic() < deadline:
        time.sleep(0.05)


def _asks_for_password(server) -> bool:
    try:
        Connection.open(str(server.socket_dir), server.port, "rlslint_auth_md5", "postgres").close()
        return False
    except ProtocolError as exc:
        return "asks for a password" in str(exc)


def _requests(monkeypatch) -> list[int]:
    """The code of each authentication request ("R" message) the server sends from now on."""
    seen: list[int] = []
    receive = Connection._receive

    def recording(self):
        kind, payload = receive(self)
        if kind == b"R":
            seen.append(struct.unpack("!i", payload[:4])[0])
        return kind, payload

    monkeypatch.setattr(Connection, "_receive", recording)
    return seen


@pytest.mark.parametrize("role", ROLES)
def test_each_password_method_authenticates(password_roles, monkeypatch, role):
    method, _, password, requests = ROLES[role]
    seen = _requests(monkeypatch)
    connection = Connection.open(str(password_roles.socket_dir), password_roles.port, role, "postgres", password)
    try:
        assert connection.value("select current_user") == role
    finally:
        connection.close()
    assert seen == requests, f"{method}: the server asked for {seen}"


@pytest.mark.parametrize("role", ROLES)
def test_a_wrong_password_is_refused_with_postgresqls_message(password_roles, role):
    with pytest.raises(ProtocolError) as refused:
        Connection.open(str(password_roles.socket_dir), password_roles.port, role, "postgres", "not the password")
    assert str(refused.value) == f'PostgreSQL refused the connection: password authentication failed for user "{role}"'


def test_no_password_says_where_to_give_it(password_roles):
    with pytest.raises(ProtocolError) as refused:
        Connection.open(str(password_roles.socket_dir), password_roles.port, "rlslint_auth_scram", "postgres")
    assert str(refused.value) == "the server asks for a password; give it in --database-url or PGPASSWORD"


def _url(server, role: str, password: str) -> str:
    return f"postgresql://{role}:{quote(password, safe='')}@/postgres?host={server.socket_dir}&port={server.port}"


def _project(tmp_path: Path, monkeypatch) -> None:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_init.sql").write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("role", ["rlslint_auth_scram", "rlslint_auth_md5"])
def test_cli_verifies_through_a_password_role(password_roles, tmp_path, monkeypatch, role):
    _project(tmp_path, monkeypatch)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = _url(password_roles, role, ROLES[role][2])
    result = CliRunner().invoke(main, ["check", "--verify", "--database-url", url, "--format", "concise"])
    assert result.exit_code == 1, result.output
    assert result.stdout.count("VER001") == 2


@pytest.mark.parametrize("role", ["rlslint_auth_scram", "rlslint_auth_md5"])
def test_cli_wrong_password_is_one_line_and_exit_2(password_roles, tmp_path, monkeypatch, role):
    _project(tmp_path, monkeypatch)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = _url(password_roles, role, "not the password")
    result = CliRunner().invoke(main, ["check", "--verify", "--database-url", url])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"rlslint: error: --verify: the server at {role}@{password_roles.socket_dir}:{password_roles.port}/postgres: "
        f'PostgreSQL refused the connection: password authentication failed for user "{role}"']
    assert result.stdout == ""


def test_cli_takes_the_password_from_pgpassword(password_roles, tmp_path, monkeypatch):
    _project(tmp_path, monkeypatch)
    monkeypatch.setenv("PGPASSWORD", ROLES["rlslint_auth_scram"][2])
    url = f"postgresql://rlslint_auth_scram@/postgres?host={password_roles.socket_dir}&port={password_roles.port}"
    result = CliRunner().invoke(main, ["check", "--verify", "--database-url", url, "--format", "concise"])
    assert result.exit_code == 1, result.output
    assert result.stdout.count("VER001") == 2
