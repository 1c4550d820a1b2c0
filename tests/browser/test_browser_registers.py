"""基础数据 in a real headless Chromium, from an empty store: the briefing says 暂无数据; an admin loads
the unit register (XLSX with a merged title row) and the budgets (GBK CSV), a bad budget file is
refused naming row and field with the closest registered name, and the registers show what was loaded."""

import pytest
from sqlalchemy import func, select

from data_access.reference.setup import init_store
from data_access.store import schema as s
from data_access.store.db import make_engine
from data_access.trust import auth
from tests.browser_support import (
    browser_page,
    open_signed_in,
    require_browser,
    screenshot,
    streamlit_server,
    wait_for_app,
)
from tests.desks.test_registers import BUDGETS, budgets_gbk, units_xlsx
from tests.principals import ADMIN

pytestmark = pytest.mark.browser
PASSWORD = "pass-for-browser-1"


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    require_browser()
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_registers') / 'bangfu.db'}"
    engine = make_engine(url)
    init_store(engine)
    auth.add_user(engine, ADMIN, "admin1", PASSWORD, "admin")  # a configured store: no open admin
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
    # A configured store (not the demo): only its users get in — here its admin.
    with streamlit_server(empty_store, {"BANGFU_DEMO": "0"}) as base, browser_page(height=1300) as page:
        open_signed_in(page, f"{base}/overview", "admin1", PASSWORD)
        main = page.locator('[data-testid="stMain"]')
        assert "暂无数据" in main.inner_text() and "各项指标正常" not in main.inner_text()

        open_signed_in(page, f"{base}/registers", "admin1", PASSWORD)
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


def _field(page, label: str):
    return page.locator('[data-testid="stMain"]').get_by_label(label, exact=True)


def test_an_admin_adds_a_unit_then_registers_an_unknown_buyer_in_place_and_commits(empty_store, tmp_path):
    """The 基础数据 form adds a unit with the file's checks; an upload naming a unit nobody registered
    fails, the admin registers it from the 数据报送 page itself, the same file is checked again and goes in."""
    from tests import ingest_corpus as corpus

    ledger = tmp_path / "采购台账.csv"
    rows = [
        corpus._ledger_row(采购单位="香洲区机关事务中心", 凭证号="B1", 产地="大通湖区", **{"金额（元）": "1200"}),
        corpus._ledger_row(采购单位="香洲区第九小学", 凭证号="B2", 产地="大通湖区", **{"金额（元）": "800"}),
    ]
    ledger.write_bytes(corpus.csv_bytes([corpus.LEDGER_HEADER, *rows], encoding="gbk"))
    with streamlit_server(empty_store, {"BANGFU_DEMO": "0"}) as base, browser_page(height=1600) as page:
        main = page.locator('[data-testid="stMain"]')
        open_signed_in(page, f"{base}/registers?register=units", "admin1", PASSWORD)
        # A bad region first: refused naming the field, nothing saved.
        _field(page, "单位名称").fill("香洲区机关事务中心")
        _field(page, "所在地区").fill("火星区")
        _field(page, "帮扶辖区").fill("珠海市")
        page.get_by_role("button", name="新增").click()
        wait_for_app(page)
        assert "本行未保存" in main.inner_text() and "所在地区" in main.inner_text()
        _field(page, "所在地区").fill("香洲区")
        page.get_by_role("button", name="新增").click()
        wait_for_app(page)
        assert "新增 1 行" in main.inner_text(), main.inner_text()[:2000]

        open_signed_in(page, f"{base}/reporting?form=purchases", "admin1", PASSWORD)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(ledger))
        wait_for_app(page)
        text = main.inner_text()
        assert "整个文件都不导入" in text or "未导入" in text
        assert "单位「香洲区第九小学」不在单位名录中" in text
        main.get_by_role("tab", name="登记为新单位").click()
        form = main.locator('[data-testid="stForm"]').filter(has_text="登记新单位")
        form.get_by_label("所在地区（区县或地市）").fill("香洲区")
        form.get_by_label("帮扶辖区（适用其政策规则的地区）").fill("珠海市")
        form.get_by_role("button", name="登记新单位").click()
        wait_for_app(page)
        text = main.inner_text()
        assert "已登记单位「香洲区第九小学」" in text and "可以导入" in text, text[:2000]
        page.get_by_role("button", name="确认导入").click()
        wait_for_app(page)
        assert "已导入" in main.inner_text()
        screenshot(page, "register_in_place")
        assert not page.blocked
    engine = make_engine(empty_store)
    try:
        with engine.connect() as conn:
            got = dict(
                conn.execute(
                    select(s.buyer_unit.c.name, func.sum(s.purchase.c.amount))
                    .join(s.purchase, s.purchase.c.buyer_unit_id == s.buyer_unit.c.id)
                    .where(s.purchase.c.voucher_no.in_(["B1", "B2"]))
                    .group_by(s.buyer_unit.c.name)
                ).all()
            )
    finally:
        engine.dispose()
    assert {k: float(v) for k, v in got.items()} == {"香洲区机关事务中心": 1200.0, "香洲区第九小学": 800.0}
