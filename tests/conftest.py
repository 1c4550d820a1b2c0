"""Engines for both backends: SQLite (a file in tmp) and PostgreSQL (a throwaway database).

PostgreSQL is taken from ``BANGFU_TEST_PG_URL`` (default: postgres@127.0.0.1:5432). Without it
the PostgreSQL half is skipped with a plain reason — unless ``BANGFU_REQUIRE_PG=1`` (CI), where
an unreachable server fails the run.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from data_access.reference.setup import init_store
from data_access.store.db import make_engine
from data_access.tools.demo import generate_demo

PG_ADMIN_URL = os.environ.get("BANGFU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("BANGFU_REQUIRE_PG") == "1"
TEST_SCALE = 20_000
BACKENDS = ["sqlite", "postgresql"]
_pg_error: str | None = None
_pg_tests_run = 0


def _pg_admin():
    global _pg_error
    if _pg_error:
        return None
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        return eng
    except Exception as exc:  # any failure to reach the server means "no PostgreSQL here"
        _pg_error = f"PostgreSQL 不可用（{PG_ADMIN_URL.split('@')[-1]}）：{type(exc).__name__}"
        return None


class Databases:
    """Creates throwaway databases on one backend and drops them at the end."""

    def __init__(self, backend: str, tmp_path_factory):
        self.backend = backend
        self.tmp = tmp_path_factory
        self.created: list[str] = []
        self.engines = []

    def new_url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp.mktemp('db') / 'bangfu.db'}"
        admin = _pg_admin()
        if admin is None:
            if REQUIRE_PG:
                pytest.fail(_pg_error)
            pytest.skip(_pg_error)
        name = f"bangfu_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def new_engine(self):
        global _pg_tests_run
        eng = make_engine(self.new_url())
        self.engines.append(eng)
        if self.backend == "postgresql":
            _pg_tests_run += 1  # a store of a module's own counts too (BANGFU_REQUIRE_PG)
        return eng

    def drop_all(self):
        for eng in self.engines:
            eng.dispose()
        admin = _pg_admin() if self.created else None
        if admin is not None:
            with admin.connect() as conn:
                for name in self.created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def databases(backend, tmp_path_factory):
    dbs = Databases(backend, tmp_path_factory)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def fresh_engine(databases):
    """An empty store (no schema) on the current backend."""
    eng = databases.new_engine()
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def demo_engine(databases):
    """A demo store at test scale on the current backend. Shared: treat as read-only."""
    eng = databases.new_engine()
    init_store(eng)
    generate_demo(eng, scale=TEST_SCALE)
    return eng


@pytest.fixture
def writable_demo_engine(databases):
    """A private demo store for tests that write (imports, warning actions)."""
    eng = databases.new_engine()
    init_store(eng)
    generate_demo(eng, scale=TEST_SCALE)
    yield eng
    eng.dispose()


def pytest_sessionfinish(session, exitstatus):
    if REQUIRE_PG and _pg_tests_run == 0 and session.testscollected:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"FAILED: BANGFU_REQUIRE_PG=1 but no PostgreSQL test ran ({_pg_error or 'none selected'})", red=True
        )
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _pg_error and not REQUIRE_PG:
        terminalreporter.write_line(f"注意：PostgreSQL 测试已跳过 — {_pg_error}", yellow=True)
