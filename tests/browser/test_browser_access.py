"""Addresses and sign-in in a real headless Chromium: every page opens by its own address (the
default page too), and a deep link that is a fresh server's very first request still meets the
sign-in (Streamlit's legacy pages/ mode, worked around in pages/common/ui.py ``_through_router``)."""

import pytest

from data_access.trust import auth
from pages import registry
from tests.browser_support import (
    browser_page,
    demo_store,
    screenshot,
    streamlit_server,
    wait_for_app,
)
from tests.principals import ADMIN

pytestmark = pytest.mark.browser
PASSWORD = "pass-for-browser-1"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_access", scale=5_000)
    yield url, engine
    engine.dispose()


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_every_page_opens_by_its_own_address(store):
    url, _engine = store
    with streamlit_server(url) as base, browser_page() as page:
        for spec in registry.PAGES:
            page.goto(f"{base}/{spec.url_path}")
            wait_for_app(page)
            text = _main_text(page)
            assert "Page not found" not in page.content(), spec.url_path
            assert spec.title in page.locator("h1").first.inner_text(), (spec.url_path, text[:200])
        assert not page.blocked


def test_a_cold_deep_link_meets_the_sign_in(store):
    url, engine = store
    auth.add_user(engine, ADMIN, "deep_admin", PASSWORD, "admin", display_name="深链管理员")
    try:
        # A fresh server: /ledger is the very first request it serves.
        with streamlit_server(url) as base, browser_page() as page:
            page.goto(f"{base}/ledger")
            wait_for_app(page)
            text = _main_text(page)
            assert "请使用管理员分配的账号登录" in text and "督办台账" not in text
            screenshot(page, "cold_deep_link_sign_in")
            page.get_by_label("用户名").fill("deep_admin")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            wait_for_app(page)
            assert "深链管理员" in page.locator('[data-testid="stSidebar"]').inner_text()
            # Signed in (a reload would start a new session): the menu leads to the deep-linked page.
            page.locator('[data-testid="stSidebarNav"]').get_by_text("督办台账").click()
            wait_for_app(page)
            assert "督办台账" in page.locator("h1").first.inner_text()
    finally:
        auth.set_active(engine, ADMIN, "deep_admin", False)
