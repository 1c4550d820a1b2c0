"""Sign-in and the pages of each role, under AppTest on a store with users — both backends."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from data_access.figures.overview import data_as_of, overview_kpis
from data_access.query.filters import Filters
from data_access.query.text import money_text as fmt_money
from data_access.reference.setup import init_store
from data_access.store.config import ENV_URL
from data_access.store.schema import audit_log, benefit
from data_access.tools.demo import generate_demo
from data_access.trust import auth
from pages import registry
from tests.principals import ADMIN

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
PASSWORD = "pass-for-tests-1"
ROLE_PAGES = {
    "reporter": ["pages/overview.py", "pages/beneficiaries.py"],
    "analyst": ["pages/overview.py"],
    "leader": ["pages/overview.py"],
    "desk": ["pages/overview.py", "pages/beneficiaries.py"],
    "admin": ["pages/overview.py", "pages/beneficiaries.py", "pages/audit.py", "pages/golive.py", "pages/users.py"],
}
# Every page of the router with its url_path; a role must not reach any page the registry denies it.
ALL_PAGES = {p.file: p.url_path for p in registry.PAGES}


@pytest.fixture(scope="module")
def users_store(databases):
    """A demo store with one user per role; the reporter belongs to the unit with most benefits."""
    eng = databases.new_engine()
    init_store(eng)
    generate_demo(eng, scale=20_000)
    with eng.connect() as conn:
        unit = conn.execute(
            select(benefit.c.unit_id).group_by(benefit.c.unit_id).order_by(func.count().desc()).limit(1)
        ).scalar()
    for role in auth.ROLES:
        auth.add_user(
            eng,
            ADMIN,
            f"{role}1",
            PASSWORD,
            role,
            unit=unit if role == "reporter" else None,
            display_name=f"测试{auth.ROLES[role]}",
        )
    yield eng
    eng.dispose()


class _ServerLikePages(PagesManager):
    """A real server leaves the legacy pages/ mode at its first st.navigation call for good;
    AppTest turns it back on before every run, which reruns each page through the router and
    drops a click on a router widget (sign-out). This keeps it off, as on a server."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture
def app_env(users_store, monkeypatch):
    monkeypatch.setenv(ENV_URL, users_store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    monkeypatch.setattr(app_test, "PagesManager", _ServerLikePages)
    return users_store


def signed_in(username: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click()
    at.run()
    return at


def test_sign_in_page_comes_before_anything_else(app_env):
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert not at.metric and not at.dataframe
    assert not any("筛选条件" in m.value for m in at.sidebar.markdown)
    with pytest.raises(ValueError):
        at.switch_page("pages/overview.py")


def test_wrong_password_is_refused_with_a_message(app_env):
    at = signed_in("analyst1", "not-the-password")
    assert any("用户名或密码错误" in e.body for e in at.error)
    assert not at.metric and [t.label for t in at.text_input] == ["用户名", "密码"]


def test_repeated_failures_lock_the_user_out(app_env):
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()

    def attempt(password):
        at.text_input(key="login_username").input("leader1")
        at.text_input(key="login_password").input(password)
        at.button[0].click()
        at.run()
        return " ".join(e.body for e in at.error)

    messages = []
    for i in range(12):
        messages.append(attempt(f"wrong-{i}-password"))
        wait = re.search(r"请 (\d+) 秒后再试", messages[-1])
        if wait:  # the back-off between failures: wait as a person would
            time.sleep(int(wait.group(1)) + 0.2)
    assert "用户名或密码错误" in messages[0]
    assert any("已临时锁定" in m for m in messages), messages
    assert "已临时锁定" in attempt(PASSWORD) and not at.metric
    auth.unlock_user(app_env, ADMIN, "leader1")  # let the other tests sign in as leader1 (audit rows stay)
    with app_env.connect() as conn:
        assert conn.execute(
            select(func.count()).where(audit_log.c.action == "lockout", audit_log.c.username == "leader1")
        ).scalar()


@pytest.mark.parametrize("role", list(auth.ROLES))
def test_each_role_sees_its_pages_and_nothing_else(app_env, role):
    at = signed_in(f"{role}1")
    assert not at.exception, [e.value for e in at.exception]
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert f"测试{auth.ROLES[role]}" in sidebar and auth.ROLES[role] in sidebar
    assert any(b.label == "退出登录" for b in at.sidebar.button)
    denied = [p for p, url in ALL_PAGES.items() if not registry.can_view(auth.Principal("u", role), url)]
    assert len(ALL_PAGES) == 14 and set(ROLE_PAGES[role]).isdisjoint(denied)
    for page in denied:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    for page in ROLE_PAGES[role][1:]:
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.body for e in at.error])


def test_reporter_sees_its_own_units_figures(app_env):
    at = signed_in("reporter1")
    principal = auth.active_principal(app_env, "reporter1")
    as_of = data_as_of(app_env)
    mine = overview_kpis(app_env, auth.apply_principal(Filters(start=date(as_of.year, 1, 1), end=as_of), principal))
    everyone = overview_kpis(app_env, Filters(start=date(as_of.year, 1, 1), end=as_of))
    shown = {m.label: m.value for m in at.metric}
    assert shown["年度累计采购额"] == fmt_money(mine["amount"]) != fmt_money(everyone["amount"])
    assert shown["落后单位"] in ("0 个", "1 个")  # its own unit at most, never the others
    assert any("（共 1 个，本年有采购 1 个）" in c.value for c in at.caption)
    assert any(f"仅本单位：{principal.unit_name}" in c.value for c in at.caption)
    assert principal.unit_name in " ".join(m.value for m in at.sidebar.markdown)


def test_sign_out_returns_to_the_sign_in_page(app_env):
    at = signed_in("leader1")
    assert at.metric
    next(b for b in at.sidebar.button if b.label == "退出登录").click()
    at.run()
    assert not at.metric and [t.label for t in at.text_input] == ["用户名", "密码"]
    with app_env.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.username == "leader1", audit_log.c.action == "logout")
            ).scalar()
            >= 1
        )


def test_disabled_user_is_signed_out_on_the_next_click(app_env):
    auth.add_user(app_env, ADMIN, "temp_analyst", PASSWORD, "analyst")
    at = signed_in("temp_analyst")
    assert at.metric
    auth.set_active(app_env, ADMIN, "temp_analyst", False)
    at.run()
    assert not at.metric and [t.label for t in at.text_input] == ["用户名", "密码"]


def test_desk_reveals_a_full_number_and_the_view_is_audited(app_env):
    at = signed_in("desk1")
    at.switch_page("pages/beneficiaries.py")
    at.run()
    table = at.dataframe[0].value
    assert table["身份证号（脱敏）"].str.contains(r"\*{10}").all()
    at.text_input(key="reveal_reason").input("核对受益资金发放对象")
    next(b for b in at.button if b.label == "查看完整号码").click()
    at.run()
    assert not at.exception
    shown = " ".join(s.body for s in at.success)
    number = re.search(r"\d{17}[\dX]", shown).group(0)
    with app_env.connect() as conn:
        row = conn.execute(
            select(audit_log).where(audit_log.c.username == "desk1", audit_log.c.action == "pii_reveal")
        ).one()
    assert row.subject.startswith("beneficiary:") and number not in row.detail
    at.run()  # the number is shown for that click only
    assert not re.search(r"\d{17}[\dX]", " ".join(s.body for s in at.success))


def test_reporter_has_no_reveal_and_admin_reads_the_audit_log(app_env):
    at = signed_in("reporter1")
    at.switch_page("pages/beneficiaries.py")
    at.run()
    assert not any(b.label == "查看完整号码" for b in at.button)
    at = signed_in("admin1")
    at.switch_page("pages/audit.py")
    at.run()
    assert not at.exception
    log = at.dataframe[0].value
    assert {"登录"} <= set(log["操作"]) and "admin1" in set(log["用户"])
