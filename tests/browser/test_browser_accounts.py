"""Secure by default and the account controls in a real headless Chromium (issue 19): on a configured
empty store the first page is 首次设置, not the dashboard; with the token read from the server's log
and the first admin, sign-in works; idle past the timeout the next click asks to sign in again; with
TOTP on, a wrong code is refused and audited."""

import re
import shutil
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from data_access.reference.setup import init_store
from data_access.store.db import make_engine
from data_access.store.schema import audit_log
from data_access.trust import auth, second_factor
from tests.browser_support import (
    ROOT,
    browser_page,
    require_browser,
    screenshot,
    sign_in,
    streamlit_server,
    wait_for_app,
)
from tests.principals import ADMIN

pytestmark = pytest.mark.browser
STRONG = "Browser-pass-2026"
IDLE_SECONDS = 15


@pytest.fixture
def configured(tmp_path):
    """A configured SQLite store: schema and reference data, not the demo data, no users."""
    require_browser()
    url = f"sqlite:///{tmp_path / 'bangfu.db'}"
    engine = make_engine(url)
    init_store(engine)
    yield url, engine
    engine.dispose()


def _main(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _actions(engine, username: str) -> list[str]:
    with engine.connect() as conn:
        q = select(audit_log.c.action).where(audit_log.c.username == username).order_by(audit_log.c.id)
        return list(conn.execute(q).scalars())


def _token_from_log(log) -> str:
    deadline = time.time() + 30
    while time.time() < deadline:
        found = re.search(r"一次性设置口令：(\S+)", log.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found.group(1)
        time.sleep(0.3)
    raise AssertionError("the setup token never reached the server log")


def test_setup_then_sign_in_then_idle_timeout(configured, tmp_path):
    url, engine = configured
    log = tmp_path / "server.log"
    env = {"BANGFU_DEMO": "0", "BANGFU_SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60)}
    with streamlit_server(url, env, log_path=log, port=8641) as base, browser_page(height=1100) as page:
        page.goto(base)
        wait_for_app(page)
        text = _main(page)
        assert "首次设置" in text and "一次性设置口令" in text
        assert "演示用户" not in page.content() and not page.locator('[data-testid="stMetric"]').count()
        assert not page.locator('[data-testid="stSidebarNav"]').count()  # no page menu: no dashboard
        shot = screenshot(page, "setup")
        shutil.copy(shot, ROOT / "docs" / "img" / "setup.png")
        token = _token_from_log(log)

        main = page.locator('[data-testid="stMain"]')
        main.get_by_label("一次性设置口令").fill("000000-000000-000000-000000")
        main.get_by_label("管理员用户名").fill("chief")
        main.get_by_label("姓名（显示名）").fill("系统管理员")
        main.get_by_label("密码", exact=True).fill(STRONG)
        main.get_by_label("再次输入密码").fill(STRONG)
        page.get_by_role("button", name="创建管理员").click()
        wait_for_app(page)
        assert "设置口令不正确" in _main(page)
        main.get_by_label("一次性设置口令").fill(token)
        page.get_by_role("button", name="创建管理员").click()
        wait_for_app(page)
        assert "管理员 chief 已创建" in _main(page)

        sign_in(page, "chief", STRONG)
        assert "系统管理员" in page.locator('[data-testid="stSidebar"]').inner_text()
        # 总览's cards: the sign-in reruns into the dashboard, which on a busy machine draws after a pause
        cards = page.locator('[data-testid="stMetric"]')
        try:
            cards.first.wait_for(timeout=60_000)
        except Exception as exc:  # say what the page showed instead of the cards
            raise AssertionError(f"总览 drew no cards; the page showed: {_main(page)[:600]}") from exc
        assert {"setup_failed", "setup_admin"} <= set(_actions(engine, "setup"))
        assert _actions(engine, "chief")[-1] == "login"

        time.sleep(IDLE_SECONDS + 3)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("采购进度").click()
        wait_for_app(page)
        text = _main(page)
        assert "长时间未操作，会话已超时" in text and "请使用管理员分配的账号登录" in text
        screenshot(page, "idle_timeout")
        assert _actions(engine, "chief")[-1] == "session_end"
        assert not page.blocked


def test_a_wrong_totp_code_is_refused_and_audited(configured):
    url, engine = configured
    auth.add_user(engine, ADMIN, "desk_t", STRONG, "desk", display_name="动态口令专班")
    secret = second_factor.new_secret()
    earlier = datetime.now() - timedelta(seconds=30)  # enrolled a step ago: the sign-in needs a fresh code
    second_factor.enrol(
        engine, auth.active_principal(engine, "desk_t"), secret, second_factor.code_at(secret, earlier), now=earlier
    )
    with streamlit_server(url, {"BANGFU_DEMO": "0"}, port=8642) as base, browser_page() as page:
        page.goto(f"{base}/ledger")
        wait_for_app(page)
        assert "Page not found" not in page.content()
        sign_in(page, "desk_t", STRONG)
        main = page.locator('[data-testid="stMain"]')
        assert "动态口令" in _main(page) and not page.locator('[data-testid="stSidebarNav"]').count()
        right = second_factor.code_at(secret)
        main.get_by_label("动态口令").fill(f"{(int(right) + 1) % 1_000_000:06d}")
        page.get_by_role("button", name="验证").click()
        wait_for_app(page)
        assert "动态口令错误" in _main(page) and not page.locator('[data-testid="stSidebarNav"]').count()
        assert _actions(engine, "desk_t")[-2:] == ["password_ok", "totp_failed"]
        screenshot(page, "totp_wrong_code")
        time.sleep(1.5)  # the back-off after a failure
        main.get_by_label("动态口令").fill(second_factor.code_at(secret))
        page.get_by_role("button", name="验证").click()
        wait_for_app(page)
        assert "动态口令专班" in page.locator('[data-testid="stSidebar"]').inner_text()
        assert _actions(engine, "desk_t")[-1] == "login"
        # The sign-in lands on the address the user came by (/ledger: 督办台账).
        assert "/ledger" in page.url and "督办台账" in page.locator("h1").first.inner_text()
        assert not page.blocked
