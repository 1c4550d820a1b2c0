"""Secure by default, under AppTest on both backends: a configured store with no users opens on the
首次设置 screen (never an open admin), which takes the one-time token from the server log; the demo
store stays open; sign-in with a TOTP code; an idle session asks to sign in again; an admin ends a
session; a due password change comes before the dashboard."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from data_access.reference.setup import init_store
from data_access.store.config import ENV_URL
from data_access.store.schema import audit_log
from data_access.trust import auth, second_factor, sessions, setup
from tests.principals import ADMIN

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
STRONG = "Setup-pass-2026"


class _ServerLikePages(PagesManager):
    """As in test_access: keep the legacy pages/ mode off, as a real server does after st.navigation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture
def configured(databases, monkeypatch):
    """A configured store (not the demo data) with no users, as the app's store."""
    eng = databases.new_engine()
    init_store(eng)
    monkeypatch.setenv(ENV_URL, eng.url.render_as_string(hide_password=False))
    monkeypatch.delenv("BANGFU_DEMO", raising=False)
    monkeypatch.delenv("BANGFU_DENGBAO", raising=False)
    monkeypatch.delenv("BANGFU_TOTP_ROLES", raising=False)
    monkeypatch.setattr(app_test, "PagesManager", _ServerLikePages)
    yield eng
    eng.dispose()


def _app() -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.body for e in at.error] + [w.body for w in at.warning] + [i.body for i in at.info]
    parts += [s.body for s in at.success]
    return " ".join(parts)


def _sign_in(at, username, password):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "登录").click()
    at.run()


def _actions(engine, username=None) -> list[str]:
    q = select(audit_log.c.action).order_by(audit_log.c.id)
    if username:
        q = q.where(audit_log.c.username == username)
    with engine.connect() as conn:
        return list(conn.execute(q).scalars())


def test_a_configured_store_opens_on_setup_not_an_open_admin(configured, capsys):
    at = _app()
    assert [t.label for t in at.text_input] == [
        "一次性设置口令",
        "管理员用户名",
        "姓名（显示名）",
        "密码",
        "再次输入密码",
    ]
    assert not at.metric and not at.dataframe and not at.sidebar.info  # no 演示用户, no dashboard
    with pytest.raises(ValueError):
        at.switch_page("pages/overview.py")
    with pytest.raises(ValueError):
        at.switch_page("pages/audit.py")
    token = next(
        line.split("一次性设置口令：")[1].split()[0]
        for line in capsys.readouterr().err.splitlines()
        if "一次性设置口令：" in line
    )

    def submit(tok, password=STRONG, again=None):
        at.text_input(key="setup_token").input(tok)
        at.text_input(key="setup_username").input("chief")
        at.text_input(key="setup_display").input("系统管理员")
        at.text_input(key="setup_password").input(password)
        at.text_input(key="setup_password2").input(again or password)
        next(b for b in at.button if b.label == "创建管理员").click()
        at.run()

    submit("not-the-token")
    assert "设置口令不正确" in _texts(at) and setup.setup_needed(configured)
    submit(token, "short")
    assert "密码至少 8 位" in _texts(at) and setup.setup_needed(configured)
    submit(token)
    assert not setup.setup_needed(configured)
    assert [t.label for t in at.text_input] == ["用户名", "密码"] and "管理员 chief 已创建" in _texts(at)
    _sign_in(at, "chief", STRONG)
    assert not at.exception and at.metric
    assert "系统管理员" in " ".join(m.value for m in at.sidebar.markdown)
    assert {"setup_token", "setup_failed", "setup_admin", "login"} <= set(_actions(configured))


def test_the_demo_store_with_no_users_stays_open(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at = _app()
    assert at.metric and any("演示用户" in i.body for i in at.sidebar.info)


def test_cli_user_add_admin_also_opens_a_configured_store(configured):
    auth.add_user(configured, auth.cli_principal("ops"), "ops_admin", STRONG, "admin")
    at = _app()
    assert [t.label for t in at.text_input] == ["用户名", "密码"]  # the sign-in, no setup
    _sign_in(at, "ops_admin", STRONG)
    assert at.metric


def test_totp_sign_in_refuses_and_audits_a_wrong_code(configured):
    auth.add_user(configured, ADMIN, "desk_t", STRONG, "desk", display_name="动态口令专班")
    secret = second_factor.new_secret()
    # Enrolled with the previous 30-s step's code: a code is good once, so the sign-in needs the next.
    earlier = datetime.now() - timedelta(seconds=30)
    second_factor.enrol(
        configured,
        auth.active_principal(configured, "desk_t"),
        secret,
        second_factor.code_at(secret, earlier),
        now=earlier,
    )
    at = _app()
    _sign_in(at, "desk_t", STRONG)
    assert [t.label for t in at.text_input] == ["动态口令"] and not at.metric
    right = second_factor.code_at(secret)
    at.text_input(key="login_totp").input(f"{(int(right) + 1) % 1_000_000:06d}")
    next(b for b in at.button if b.label == "验证").click()
    at.run()
    assert "动态口令错误" in _texts(at) and not at.metric
    assert _actions(configured, "desk_t")[-1] == "totp_failed"
    time.sleep(1.2)  # the back-off after a failure
    at.text_input(key="login_totp").input(second_factor.code_at(secret))
    next(b for b in at.button if b.label == "验证").click()
    at.run()
    assert not at.exception and at.metric
    assert _actions(configured, "desk_t")[-1] == "login"


def test_a_role_that_needs_totp_enrols_at_sign_in(configured, monkeypatch):
    monkeypatch.setenv("BANGFU_TOTP_ROLES", "admin")
    auth.add_user(configured, ADMIN, "adm_e", STRONG, "admin")
    at = _app()
    _sign_in(at, "adm_e", STRONG)
    assert len(at.get("image")) == 1 and not at.metric  # the QR code
    secret = at.code[0].value.replace(" ", "")
    at.text_input(key="enrol_code_True").input(second_factor.code_at(secret))
    next(b for b in at.button if b.label == "绑定").click()
    at.run()
    assert not at.exception and at.metric
    assert second_factor.status(configured, "adm_e") == "enrolled"
    assert {"password_ok", "totp_enrol", "login"} <= set(_actions(configured, "adm_e"))


def test_idle_past_the_timeout_the_next_click_asks_to_sign_in(configured, monkeypatch):
    monkeypatch.setenv("BANGFU_SESSION_IDLE_MINUTES", "0.03")  # 1.8 s
    auth.add_user(configured, ADMIN, "idle_u", STRONG, "leader")
    at = _app()
    _sign_in(at, "idle_u", STRONG)
    assert at.metric
    time.sleep(2.2)
    at.run()
    assert not at.metric and [t.label for t in at.text_input] == ["用户名", "密码"]
    assert "超时" in _texts(at)
    assert _actions(configured, "idle_u")[-1] == "session_end"


def test_an_admin_ends_a_session_and_the_next_click_signs_out(configured):
    auth.add_user(configured, ADMIN, "ended_u", STRONG, "analyst")
    at = _app()
    _sign_in(at, "ended_u", STRONG)
    assert at.metric
    assert sessions.end_sessions(configured, ADMIN, "ended_u") == 1
    at.run()
    assert not at.metric and "管理员已结束您的会话" in _texts(at)


def test_a_due_password_change_comes_before_the_dashboard(configured, monkeypatch):
    monkeypatch.setenv("BANGFU_PASSWORD_CHANGE_INITIAL", "1")
    auth.add_user(configured, ADMIN, "new_u", STRONG, "analyst")
    at = _app()
    _sign_in(at, "new_u", STRONG)
    assert not at.metric and "初始密码" in _texts(at)
    at.text_input(key="passwd_old_login").input(STRONG)
    at.text_input(key="passwd_new_login").input("Chosen-pass-2027")
    at.text_input(key="passwd_again_login").input("Chosen-pass-2027")
    next(b for b in at.button if b.label == "修改密码").click()
    at.run()
    assert not at.exception and at.metric
    assert "password_change" in _actions(configured, "new_u")


def test_sign_out_ends_the_server_side_session(configured):
    auth.add_user(configured, ADMIN, "out_u", STRONG, "analyst")
    at = _app()
    _sign_in(at, "out_u", STRONG)
    token = at.session_state["auth_token"]
    next(b for b in at.sidebar.button if b.label == "退出登录").click()
    at.run()
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert sessions.check(configured, token).reason == "logout"


def test_an_admin_ends_a_users_sessions_on_the_audit_page(configured):
    auth.add_user(configured, ADMIN, "boss_a", STRONG, "admin")
    auth.add_user(configured, ADMIN, "seen_u", STRONG, "analyst")
    theirs = sessions.start(configured, auth.active_principal(configured, "seen_u"))
    at = _app()
    _sign_in(at, "boss_a", STRONG)
    at.switch_page("pages/audit.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[-1].value
    assert {"seen_u", "boss_a"} <= set(shown["用户"])
    at.selectbox(key="audit_end_user").select("seen_u")
    at.button(key="audit_end_sessions").click()
    at.run()
    assert "已结束 seen_u 的 1 个会话" in _texts(at)
    assert sessions.check(configured, theirs).reason == "admin"
    assert _actions(configured, "boss_a")[-1] == "session_revoke"
