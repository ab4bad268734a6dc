"""The test harness itself: a server that dies is reported as dead, with its log."""

import os
import signal
import time

import pytest

from tests.support.pgharness import ServerUnavailable, start_server


def test_a_killed_server_is_reported_as_dead(tmp_path):
    try:
        server = start_server(tmp_path / "pg")
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        assert server.died() is None
        assert server.psql("postgres", "-tAc", "select 1").strip() == "1"
        pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if server.died() is not None:
                break
            time.sleep(0.05)
        why = server.died()
        assert why is not None and "no longer running" in why and str(server.data_dir) in why
    finally:
        server.stop()
