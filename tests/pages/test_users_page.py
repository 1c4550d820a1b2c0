"""用户管理 under AppTest, both backends, as an admin signed in on a configured store: the list;
a reporter account made for a unit, which then signs in; a refused password named in its field
with nothing written; disable (the user can no longer sign in), enable, reset the password,
lift a lockout — each audited under the admin's name. Other roles never reach the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from data_access.reference.setup import init_store
from data_access.store.config import ENV_URL
from data_access.store.schema import app_user, audit_log, buyer_unit
from data_access.trust import auth
from tests.principals import ADMIN

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
PASSWORD = "pass-for-tests-1"


@pytest.fixture(scope="module")
def users_store(databases):
    eng = databases.new_engine()
    init_store(eng)
    with eng.begin() as conn:
        conn.execute(
            buyer_unit.insert().values(
                name="湛江市总工会", kind="union", region_code="440802", jurisdiction_code="440800"
            )
        )
    auth.add_user(eng, ADMIN, "admin1", PASSWORD, "admin", display_name="协作办管理员")
    auth.add_user(eng, ADMIN, "leader1", PASSWORD, "leader")
    yield eng
    eng.dispose()


class _ServerLikePages(PagesManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture
def app_env(users_store, monkeypatch):
    monkeypatch.setenv(ENV_URL, users_store.url.render_as_string(hide_password=False))
    monkeypatch.setattr(app_test, "PagesManager", _ServerLikePages)
    return users_store


def _signed_in(username: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click()
    at.run()
    return at


def _users_page() -> AppTest:
    at = _signed_in("admin1")
    at.switch_page("pages/users.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _audited(engine, action: str, username: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(
                audit_log.c.action == action,
                audit_log.c.subject == f"user:{username}",
                audit_log.c.username == "admin1",
            )
        ).scalar()


def _unit_id(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(buyer_unit.c.id).where(buyer_unit.c.name == name)).scalar()


def test_an_admin_makes_a_reporter_account_that_then_signs_in(app_env):
    at = _users_page()
    shown = at.dataframe[0].value
    assert {"admin1", "leader1"} <= set(shown["用户名"]) and "领导小组" in set(shown["角色"])
    assert "password_hash" not in shown.columns and not any("$argon2" in str(v) for v in shown.to_numpy().ravel())

    at.text_input(key="users_add_name").input("zj-union")
    at.text_input(key="users_add_display").input("湛江市总工会填报员")
    at.selectbox(key="users_add_role").set_value("reporter")
    at.selectbox(key="users_add_unit").set_value(_unit_id(app_env, "湛江市总工会"))
    at.text_input(key="users_add_pw").input("short")
    at.text_input(key="users_add_pw2").input("short")
    at.button(key="FormSubmitter:users_add-创建").click().run()
    assert any("密码" in e.body for e in at.error), [e.body for e in at.error]
    with app_env.connect() as conn:
        assert conn.execute(select(app_user.c.id).where(app_user.c.username == "zj-union")).first() is None

    at.text_input(key="users_add_pw").input("zhanjiang-2026")
    at.text_input(key="users_add_pw2").input("zhanjiang-2026")
    at.button(key="FormSubmitter:users_add-创建").click().run()
    assert not at.error, [e.body for e in at.error]
    assert any("已创建用户 zj-union（报送单位）" in s.body for s in at.success)
    shown = at.dataframe[0].value.set_index("用户名")
    assert shown.loc["zj-union", "所属单位"] == "湛江市总工会" and shown.loc["zj-union", "状态"] == "启用"
    assert _audited(app_env, "user_add", "zj-union") == 1
    assert at.text_input(key="users_add_pw").value == "" and at.text_input(key="users_add_name").value == ""

    reporter = _signed_in("zj-union", "zhanjiang-2026")
    assert "湛江市总工会填报员" in " ".join(m.value for m in reporter.sidebar.markdown)


def test_disable_enable_reset_and_unlock_are_audited(app_env):
    with app_env.begin() as conn:  # five wrong passwords in a row, as the sign-in page records them
        for _ in range(auth.MAX_FAILURES):
            auth.write_audit(conn, "leader1", "login_failed", None, None)
    at = _users_page()
    at.selectbox(key="users_pick").set_value("leader1").run()
    assert any("被锁定" in w.body for w in at.warning), [w.body for w in at.warning]
    at.button(key="users_unlock").click().run()
    assert any("已解除 leader1 的锁定" in s.body for s in at.success)
    assert auth.locked_until(app_env, "leader1") is None and _audited(app_env, "unlock", "leader1") == 1

    at.selectbox(key="users_pick").set_value("leader1")
    at.button(key="users_disable").click().run()
    assert any("已停用 leader1" in s.body for s in at.success)
    refused = _signed_in("leader1")
    assert refused.text_input(key="login_username") is not None and "principal" not in refused.session_state

    at.selectbox(key="users_pick").set_value("leader1")
    at.button(key="users_enable").click().run()
    at.selectbox(key="users_pick").set_value("leader1")
    at.text_input(key="users_passwd_pw").input("leader-new-pass-2")
    at.text_input(key="users_passwd_pw2").input("leader-new-pass-2")
    at.button(key="FormSubmitter:users_passwd-重设密码").click().run()
    assert any("已重设 leader1 的密码" in s.body for s in at.success), [e.body for e in at.error]
    assert _audited(app_env, "user_disable", "leader1") == 1 and _audited(app_env, "user_enable", "leader1") == 1
    assert _audited(app_env, "user_passwd", "leader1") == 1
    assert "principal" in _signed_in("leader1", "leader-new-pass-2").session_state


@pytest.mark.parametrize("role", ["leader", "desk", "analyst"])
def test_other_roles_do_not_reach_the_page(app_env, role):
    from data_access.trust.auth import AccessDenied, accounts

    with pytest.raises(AccessDenied):
        accounts(app_env, auth.Principal("x", role))
