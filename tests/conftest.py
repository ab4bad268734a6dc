import os

import pytest

from tests.pgharness import ServerUnavailable, start_server

# Read by rlslint: in tests, an unmodelled statement raises instead of becoming a note.
os.environ["RLSLINT_STRICT"] = "1"


@pytest.fixture(scope="session")
def pg(tmp_path_factory):
    """One throwaway PostgreSQL 16 server for the whole session (see tests/pgharness.py)."""
    try:
        server = start_server(tmp_path_factory.mktemp("pg"))
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server
    server.stop()
