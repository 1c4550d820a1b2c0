"""审计日志 under AppTest, both backends: filters by user, action and date; the chain check says
通过, then names the row a DBA edited by hand; a page download writes its audit row."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from data_access.reference.setup import init_store
from data_access.store.config import ENV_URL
from data_access.store.schema import audit_log
from data_access.trust import auth
from pages.common import tables
from tests.principals import ADMIN

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
PASSWORD = "pass-for-tests-1"


@pytest.fixture(scope="module")
def audit_store(databases):
    eng = databases.new_engine()
    init_store(eng)
    auth.add_user(eng, ADMIN, "admin1", PASSWORD, "admin")
    auth.add_user(eng, ADMIN, "desk1", PASSWORD, "desk")
    yield eng
    eng.dispose()


class _ServerLikePages(PagesManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture
def app_env(audit_store, monkeypatch):
    monkeypatch.setenv(ENV_URL, audit_store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    monkeypatch.setattr(app_test, "PagesManager", _ServerLikePages)
    return audit_store


def _signed_in(username: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click()
    at.run()
    return at


def _audit_page() -> AppTest:
    _signed_in("desk1")
    at = _signed_in("admin1")
    at.switch_page("pages/audit.py")
    at.run()
    assert not at.exception
    return at


def _log(at: AppTest):
    return at.dataframe[0].value


def test_filters_by_user_action_and_date(app_env):
    at = _audit_page()
    assert {"desk1", "admin1"} <= set(_log(at)["用户"])
    at.text_input(key="audit_user").input("desk1").run()
    assert set(_log(at)["用户"]) == {"desk1"}
    at.selectbox(key="audit_action").set_value("login").run()
    log = _log(at)
    assert set(log["操作"]) == {"登录"} and len(log) >= 1
    at.date_input(key="audit_start").set_value(date.today() + timedelta(days=1)).run()
    assert _log(at).empty
    at.date_input(key="audit_start").set_value(date.today() - timedelta(days=1))
    at.date_input(key="audit_end").set_value(date.today()).run()
    assert set(_log(at)["用户"]) == {"desk1"} and not _log(at).empty
    assert any(b.label == "导出筛选结果（XLSX）" for b in at.get("download_button"))


def test_chain_check_passes_then_names_a_row_edited_by_hand(app_env):
    at = _audit_page()
    at.button(key="audit_verify").click().run()
    assert any("审计链校验：通过" in s.value for s in at.success)
    with app_env.begin() as conn:
        row = conn.execute(select(audit_log.c.id).order_by(audit_log.c.id).limit(1)).scalar()
        if app_env.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text("UPDATE audit_log SET username = 'nobody' WHERE id = :id"), {"id": row})
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("UPDATE audit_log SET username = 'nobody' WHERE id = :id"), {"id": row})
    at.button(key="audit_verify").click().run()
    assert any(f"第 {row} 条被改动" in e.value for e in at.error)


def test_a_table_download_writes_its_audit_row(app_env):
    build = tables.audited(lambda stamp: f"{stamp}\na,b\n1,2\n".encode(), "网点.csv", 1, "2024年 广东省")
    stamp, body = build().decode().split("\n", 1)
    assert body == "a,b\n1,2\n" and stamp.startswith("导出：") and "2024年 广东省" in stamp
    with app_env.connect() as conn:
        row = conn.execute(
            select(audit_log).where(audit_log.c.action == "download").order_by(audit_log.c.id.desc()).limit(1)
        ).one()
    assert row.subject == "网点.csv" and json.loads(row.detail) == {"rows": 1, "filters": "2024年 广东省"}
