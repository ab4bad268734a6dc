import hashlib
import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from tests.support.pgharness import ServerUnavailable, start_server

# Property-based tests: "ci" (the default) is sized for CI and reproducible run to run;
# `pytest --hypothesis-profile=thorough` runs the long local version.
# `pg` is function-scoped only to check the session's server is alive; sharing it between
# examples is what the property tests want.
_PROFILE = dict(deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
settings.register_profile("ci", max_examples=200, derandomize=True, print_blob=True, **_PROFILE)
settings.register_profile("thorough", max_examples=5000, **_PROFILE)
settings.load_profile("ci")

# Read by rlslint: in tests, an unmodelled statement raises instead of becoming a note.
os.environ["RLSLINT_STRICT"] = "1"
# The CLI keeps replay snapshots in the user's cache; the tests use (and so exercise) a fresh one.
os.environ["RLSLINT_CACHE_DIR"] = tempfile.mkdtemp(prefix="rlslint-test-cache-")
# Under GitHub Actions rlslint adds annotations to the text output; tests that want them set it.
os.environ.pop("GITHUB_ACTIONS", None)


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true",
                     help="rewrite the rendered goldens (tests/fixtures/rules/*/fail.txt) instead of comparing")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs real tools (pre-commit, pip into a fresh venv); part of the default run")
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        # pytest's default base directory is shared by every run of the same user and keeps
        # only the newest three, so concurrent runs from other checkouts delete each other's
        # files, PostgreSQL's data directory among them. One base per checkout instead,
        # emptied by pytest at the start of each run; xdist workers get subdirectories of it.
        checkout = hashlib.sha256(str(config.rootpath).encode()).hexdigest()[:12]
        config.option.basetemp = os.path.join(tempfile.gettempdir(), f"rlslint-tests-{os.getuid()}-{checkout}")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """One throwaway PostgreSQL 16 server per test process (see tests/support/pgharness.py): under
    pytest-xdist each worker has its own, since roles are global to a server."""
    try:
        server = start_server(tmp_path_factory.mktemp("pg"))
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg(pg_server, request):
    """The session's server, checked alive first: if it died, the run stops here with the
    reason and the end of its log, rather than every later test failing on its own."""
    why = pg_server.died()
    if why is not None:
        request.session.shouldstop = "PostgreSQL server died; see the first failing test"
        pytest.fail(why, pytrace=False)
    return pg_server
