"""Fixtures of the conformance suite.

Environment:
  VODSTACK_BIN                 binary under test (default: <repo>/target/debug/vodstack)
  VODSTACK_CONFORMANCE_DB      sqlite (default) | postgres
  VODSTACK_TEST_DATABASE_URL   Postgres base URL for postgres mode (a schema per server)
  VODSTACK_TEST_REDIS_URL      Redis for the cluster-throttle tests
  CI=true                      nothing may be skipped: missing services fail instead
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest

import vodconf
from vodconf import Server


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def db_mode() -> str:
    mode = os.environ.get("VODSTACK_CONFORMANCE_DB", "sqlite").strip().lower() or "sqlite"
    if mode not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"VODSTACK_CONFORMANCE_DB must be sqlite or postgres, not {mode!r}")
    return mode


def pytest_report_header(config):
    mode = db_mode()
    extra = ""
    if mode == "postgres":
        extra = f" on {os.environ.get('VODSTACK_TEST_DATABASE_URL', '<unset>')}"
    redis = os.environ.get("VODSTACK_TEST_REDIS_URL") or "<unset: cluster tests skip>"
    return [f"vodstack binary: {vodconf.binary_path()}", f"database: {mode}{extra}", f"redis: {redis}"]


@pytest.fixture(scope="session")
def vodstack_bin():
    path = vodconf.binary_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: run `cargo build -p vod-server` (or set VODSTACK_BIN)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def postgres_url():
    """The Postgres base URL in postgres mode, None in sqlite mode."""
    if db_mode() != "postgres":
        return None
    url = os.environ.get("VODSTACK_TEST_DATABASE_URL")
    if not url:
        pytest.fail("VODSTACK_CONFORMANCE_DB=postgres needs VODSTACK_TEST_DATABASE_URL", pytrace=False)
    if shutil.which("psql") is None:
        pytest.fail("postgres mode needs psql (Debian package postgresql-client)", pytrace=False)
    return url


@pytest.fixture
def redis_url():
    """VODSTACK_TEST_REDIS_URL; skipped loudly when unset, except under CI=true (fails)."""
    url = os.environ.get("VODSTACK_TEST_REDIS_URL")
    if not url:
        msg = "VODSTACK_TEST_REDIS_URL is unset, so the cluster-wide (Redis) throttle cannot be tested"
        if in_ci():
            pytest.fail(msg + " (CI=true: nothing may be skipped)", pytrace=False)
        pytest.skip(msg)
    return url


class Factory:
    """Makes servers for one test and tears them all down after it.

    `new()` returns an unstarted Server with its own work dir and a fresh database (a fresh
    Postgres schema in postgres mode); `peer(srv)` returns another node sharing srv's
    database. Teardown stops every running server with SIGTERM and requires exit code 0.
    """

    def __init__(self, tmp_path_factory, postgres_url):
        self._tmp = tmp_path_factory
        self._pg = postgres_url
        self.servers: list[Server] = []
        self.databases: list[vodconf.Database] = []

    def new_database(self) -> vodconf.Database:
        db = vodconf.PostgresDatabase(self._pg) if self._pg else vodconf.SqliteDatabase()
        self.databases.append(db)
        return db

    def new(self, *, root_key: bool = True, env=None, shared_db: bool = False) -> Server:
        """An unstarted server. `shared_db=True` forces an explicit database URL even for
        SQLite (so peers can share the file)."""
        workdir = self._tmp.mktemp("srv")
        db = self.new_database()
        url = db.url
        if url is None and shared_db:
            url = f"sqlite://{workdir / 'data' / 'meta.db'}"
            (workdir / "data").mkdir(parents=True, exist_ok=True)
        srv = Server(workdir, url, root_key=root_key, env=env)
        self.servers.append(srv)
        return srv

    def zero_config(self) -> Server:
        """An unstarted server with no root key, no --data-dir and no database flag: it
        keeps SQLite in ./vodstack-data of its (empty) working directory."""
        srv = Server(self._tmp.mktemp("zero"), None, root_key=False, zero_config=True)
        self.servers.append(srv)
        return srv

    def peer(self, other: Server, env=None) -> Server:
        """Another node on the same database as `other` (its own data dir and port)."""
        assert other.db_url, "create the first node with shared_db=True"
        srv = Server(self._tmp.mktemp("peer"), other.db_url, root_key=other.root_key, env=env)
        self.servers.append(srv)
        return srv

    def close(self) -> list[str]:
        problems = []
        for srv in self.servers:
            if srv.running:
                try:
                    code = srv.stop(signal.SIGTERM)
                except vodconf.ServerError as e:
                    problems.append(str(e))
                    continue
                if code != 0:
                    problems.append(f"server on {srv.endpoint} exited {code} after SIGTERM\n{srv.logs()}")
        for db in self.databases:
            try:
                db.drop()
            except Exception as e:  # noqa: BLE001 - report, keep tearing down
                problems.append(f"dropping {db}: {e}")
        return problems


@pytest.fixture
def servers(vodstack_bin, postgres_url, tmp_path_factory, request):
    """Server factory (see Factory). Server logs are printed on failure."""
    f = Factory(tmp_path_factory, postgres_url)
    yield f
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for srv in f.servers:
            if srv.starts:
                print(f"\n===== server {srv.workdir} =====\n{srv.logs()}")
    problems = f.close()
    if problems:
        pytest.fail("unclean server shutdown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def server(servers) -> Server:
    """A running server with the fixed root key and a fresh database."""
    return servers.new().start()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep
