"""基础数据 in a real headless Chromium, from an empty store: the briefing says 暂无数据; an admin loads
the unit register (XLSX with a merged title row) and the budgets (GBK CSV), a bad budget file is
refused naming row and field with the closest registered name, and the registers show what was loaded."""

import pytest

from data_access.reference.setup import init_store
from data_access.store.db import make_engine
from tests.browser_support import browser_page, require_browser, screenshot, streamlit_server, wait_for_app
from tests.desks.test_registers import BUDGETS, budgets_gbk, units_xlsx

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    require_browser()
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_registers') / 'bangfu.db'}"
    engine = make_engine(url)
    init_store(engine)
    engine.dispose()
    return url


def _upload(page, path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    wait_for_app(page)


def test_an_admin_loads_the_registers_of_an_empty_store(empty_store, tmp_path):
    units, budgets, bad = tmp_path / "单位名录.xlsx", tmp_path / "年度预算.csv", tmp_path / "错误预算.csv"
    units.write_bytes(units_xlsx())
    budgets.write_bytes(budgets_gbk(BUDGETS))
    bad.write_bytes(budgets_gbk([["珠海市第一小学", "2026", "100", "", "", "", ""]]))
    # A configured store (not the demo): nobody is signed up yet, so the demo user (admin) is in.
    with streamlit_server(empty_store, {"BANGFU_DEMO": "0"}) as base, browser_page(height=1300) as page:
        page.goto(f"{base}/overview")
        wait_for_app(page)
        main = page.locator('[data-testid="stMain"]')
        assert "暂无数据" in main.inner_text() and "各项指标正常" not in main.inner_text()

        page.goto(f"{base}/registers")
        wait_for_app(page)
        assert "单位名录暂无数据" in main.inner_text()
        _upload(page, units)
        assert "4 行可以导入" in main.inner_text()
        page.get_by_role("button", name="确认导入").click()
        wait_for_app(page)
        assert "已导入「单位名录」4 行" in main.inner_text()
        assert "共 4 行" in main.inner_text()

        page.locator('[data-testid="stRadio"]').get_by_text("年度预算与预留份额").click()
        wait_for_app(page)
        _upload(page, bad)
        text = main.inner_text()
        assert "整个文件未导入" in text and "是否为：珠海市第一中学" in text
        _upload(page, budgets)
        page.get_by_role("button", name="确认导入").click()
        wait_for_app(page)
        assert "已导入「年度预算与预留份额」3 行" in main.inner_text()
        screenshot(page, "registers")
        assert not page.blocked
