"""上线准备 in a real headless Chromium, on a store made as docs/golive.md says (``init``, then the first
admin from the command line): the admin signs in, 上线准备 lists what is 缺失 with the link that opens
its form; 总览 and 采购进度 say 暂无数据 and never 正常."""

import shutil
import subprocess
import sys

import pytest

from tests.browser_support import (
    ROOT,
    browser_page,
    require_browser,
    screenshot,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser
PASSWORD = "pass-for-browser-1"


def _cli(*args: str, stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "data_access", *args], cwd=ROOT, input=stdin, text=True, check=True)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    require_browser()
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_golive') / 'bangfu.db'}"
    _cli("init", "--url", url)
    _cli(
        "user",
        "--url",
        url,
        "add",
        "admin1",
        "--role",
        "admin",
        "--name",
        "协作办管理员",
        "--password-stdin",
        stdin=PASSWORD,
    )
    return url


def _main(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _open(page, title: str) -> str:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    wait_for_app(page)
    return _main(page)


def test_an_admin_sees_what_is_missing_and_no_page_says_normal(empty_store):
    with streamlit_server(empty_store, {"BANGFU_DEMO": "0"}) as base, browser_page(height=1300) as page:
        page.goto(base)
        wait_for_app(page)
        page.get_by_label("用户名").fill("admin1")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        wait_for_app(page)
        assert "协作办管理员" in page.locator('[data-testid="stSidebar"]').inner_text()

        text = _main(page)  # 总览, the first page
        assert "暂无数据" in text and "正常" not in text, text[:600]
        assert "查看上线准备清单" in text

        text = _open(page, "采购进度")
        assert "暂无数据" in text and "正常" not in text
        assert "所有适用规则的单位均达到时间进度要求" not in text

        text = _open(page, "上线准备")
        assert "缺失 · 单位名录" in text and "缺失 · 本年度采购记录" in text and "缺失 · 价格监测序列" in text
        assert "价格监测数据" in text  # price series: loaded on 数据报送, linked with its template
        page.get_by_text("下载模板（XLSX）").first.wait_for()
        page.wait_for_timeout(1500)  # let the checklist's grid draw before the picture
        shot = screenshot(page, "golive")
        shutil.copy(shot, ROOT / "docs" / "img" / "golive.png")

        page.get_by_role("link", name="去「基础数据 · 单位名录」导入").click()
        wait_for_app(page)
        assert "/registers" in page.url and "register=units" in page.url
        assert "单位名录暂无数据" in _main(page)
        assert not page.blocked
