"""用户管理 in a real headless Chromium: on a configured store with its unit register, the admin
makes a reporter account for one unit on the page; the reporter signs in in a new browser and finds
数据报送 for that unit only, and no 用户管理; the admin then disables the account and its next
sign-in is refused."""

import pytest
from sqlalchemy import select

from data_access.reference.setup import init_store
from data_access.store.db import make_engine
from data_access.store.schema import app_user, audit_log, buyer_unit
from data_access.trust import auth
from tests.browser_support import browser_page, require_browser, screenshot, sign_in, streamlit_server, wait_for_app
from tests.principals import ADMIN

pytestmark = pytest.mark.browser
PASSWORD = "Browser-pass-2026"
UNITS = ("湛江市总工会", "茂名市总工会")


@pytest.fixture
def store(tmp_path):
    require_browser()
    url = f"sqlite:///{tmp_path / 'bangfu.db'}"
    engine = make_engine(url)
    init_store(engine)
    with engine.begin() as conn:
        for name, county, city in zip(UNITS, ("440802", "440902"), ("440800", "440900"), strict=True):
            conn.execute(
                buyer_unit.insert().values(name=name, kind="union", region_code=county, jurisdiction_code=city)
            )
    auth.add_user(engine, ADMIN, "admin1", PASSWORD, "admin", display_name="协作办管理员")
    yield url, engine
    engine.dispose()


def _nav(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    wait_for_app(page)


def _pick(page, label: str, option: str) -> None:
    page.locator('[data-testid="stMain"]').get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_an_admin_makes_a_reporter_account_and_disables_it(store):
    url, engine = store
    with streamlit_server(url, {"BANGFU_DEMO": "0"}) as base:
        with browser_page(height=1400) as page:
            page.goto(base)
            wait_for_app(page)
            sign_in(page, "admin1", PASSWORD)
            _nav(page, "用户管理")
            main = page.locator('[data-testid="stMain"]')
            main.get_by_text("新建用户").click()
            wait_for_app(page)
            main.get_by_label("用户名").fill("zj-union")
            main.get_by_label("姓名或岗位").fill("湛江市总工会填报员")
            _pick(page, "角色", "报送单位")
            _pick(page, "所属单位（报送单位账号必填：只能报送和查看本单位）", UNITS[0])
            main.get_by_label("密码", exact=True).fill(PASSWORD)
            main.get_by_label("再次输入密码").fill(PASSWORD)
            main.get_by_role("button", name="创建").click()
            wait_for_app(page)
            assert "已创建用户 zj-union（报送单位）" in main.inner_text()
            screenshot(page, "users")
            assert not page.blocked

        with browser_page() as page:  # the new account, in a browser of its own
            page.goto(base)
            wait_for_app(page)
            sign_in(page, "zj-union", PASSWORD)
            sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
            assert "湛江市总工会填报员" in sidebar and "用户管理" not in sidebar
            _nav(page, "数据报送")
            unit = page.locator('[data-testid="stMain"]').get_by_label("报送单位")
            assert unit.input_value() == UNITS[0] and unit.is_disabled()  # its own unit, fixed

        with browser_page() as page:
            page.goto(base)
            wait_for_app(page)
            sign_in(page, "admin1", PASSWORD)
            _nav(page, "用户管理")
            _pick(page, "用户", "zj-union（湛江市总工会填报员，报送单位）")
            wait_for_app(page)
            page.locator('[data-testid="stMain"]').get_by_role("button", name="停用").click()
            wait_for_app(page)
            assert "已停用 zj-union" in page.locator('[data-testid="stMain"]').inner_text()

        with browser_page() as page:
            page.goto(base)
            wait_for_app(page)
            sign_in(page, "zj-union", PASSWORD)
            assert page.get_by_role("button", name="登录").is_visible()  # still the sign-in form …
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # … and no page to open

    with engine.connect() as conn:
        assert conn.execute(select(app_user.c.active).where(app_user.c.username == "zj-union")).scalar() is False
        done = {r.action for r in conn.execute(select(audit_log.c.action).where(audit_log.c.username == "admin1"))}
    assert {"user_add", "user_disable"} <= done
