"""A real PostgreSQL + PostGIS server for the PostGIS tests (see pg_server.py), one per session.

In CI (``CI`` set) the tests never skip: a missing server or one that does not start fails them
with the reason. On a developer machine without the packages they skip, naming the install command.
"""

from __future__ import annotations

import os

import pytest

from tests.postgis.pg_server import INSTALL, PgServer, find_bin

_SERVER: dict = {}


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"PostGIS tests must run in CI, but {reason}. Install: {INSTALL}", pytrace=False)
    pytest.skip(f"{reason}; install it to run these tests: {INSTALL}")


@pytest.fixture(scope="session")
def pg():
    """The running test server (:class:`tests.postgis.pg_server.PgServer`)."""
    if "error" in _SERVER:
        _unavailable(_SERVER["error"])
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the Python driver psycopg is not installed (pip install 'psycopg[binary]')")
    bindir = find_bin()
    if bindir is None:
        _SERVER["error"] = "no PostgreSQL server with PostGIS is installed"
        _unavailable(_SERVER["error"])
    server = PgServer(bindir)
    try:
        server.start()
    except Exception as exc:
        server.stop()
        _SERVER["error"] = f"the test PostgreSQL server did not start ({exc})"
        pytest.fail(_SERVER["error"], pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def no_password(monkeypatch, tmp_path):
    """No password from the environment or from a ~/.pgpass of the person running the tests."""
    from layers.postgis_connect import forget_passwords

    monkeypatch.delenv("PGPASSWORD", raising=False)
    empty = tmp_path / "pgpass"
    empty.write_text("")
    empty.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(empty))
    forget_passwords()
    yield
    forget_passwords()
