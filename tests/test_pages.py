"""Every page runs under AppTest on the demo store, on both backends."""

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_access.config import ENV_URL

DASHBOARD = str(Path(__file__).resolve().parents[1] / "dashboard.py")
PAGES = ["pages/overview.py"]


@pytest.fixture
def app_env(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    return demo_engine


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page)
        at.run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(app_env, page):
    at = run_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.body for e in at.error]


def test_overview_shows_figures_and_demo_marker(app_env):
    at = run_page("pages/overview.py")
    labels = {m.label: m.value for m in at.metric}
    assert "年度累计采购额" in labels and labels["年度累计采购额"].endswith(("万元", "亿元"))
    assert any("演示数据" in w.body for w in at.sidebar.warning)


def test_unreachable_store_shows_a_clear_message(monkeypatch):
    monkeypatch.setenv(ENV_URL, "postgresql+psycopg://bangfu:topsecret@127.0.0.1:1/bangfu")
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.run()
    assert not at.exception
    shown = " ".join(e.body for e in at.error)
    assert "无法连接数据库" in shown and "127.0.0.1:1" in shown and "topsecret" not in shown
    os.environ.pop("BANGFU_DEMO", None)


def test_store_that_comes_back_recovers_without_restart(databases, monkeypatch):
    """The banner shows while the database is missing; once it exists the same session recovers."""
    if databases.backend != "postgresql":
        pytest.skip("a missing database is a PostgreSQL situation")
    url = databases.new_url()  # created now; drop it to simulate the outage
    from sqlalchemy import create_engine, text

    from tests.conftest import PG_ADMIN_URL

    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}"'))
    monkeypatch.setenv(ENV_URL, url)
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at = AppTest.from_file(DASHBOARD, default_timeout=180)
    at.run()
    assert not at.exception and any("无法连接数据库" in e.body for e in at.error)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert any(m.label == "年度累计采购额" for m in at.metric)
