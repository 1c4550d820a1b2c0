"""价格监测数据 in a real headless Chromium: an admin registers a product, uploads a wide price bulletin
(XLSX, markets as columns, 元/斤) on 数据报送 and commits it; 滞销预警 then shows the glut series'
warning with its reason (naming the methods that fired) and lists the imported series under 监测序列,
where a market that stopped reporting two months ago shows 数据过期."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from data_access.desks.registers import register_row
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
from tests.desks.test_prices_import import _glut_prices, _wide_xlsx
from tests.principals import ADMIN

pytestmark = pytest.mark.browser
PASSWORD = "pass-for-browser-1"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    require_browser()
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_prices') / 'bangfu.db'}"
    engine = make_engine(url)
    init_store(engine)
    auth.add_user(engine, ADMIN, "admin1", PASSWORD, "admin")  # a configured store: no open admin
    out = register_row(engine, ADMIN, "products", {"产品名称": "巫山脆李", "品类": "水果", "产地县": "巫山县"})
    assert out.ok, out.errors
    yield url, engine
    engine.dispose()


def test_a_wide_price_file_uploaded_on_the_page_raises_the_glut_warning(store, tmp_path):
    url, engine = store
    days, glut = _glut_prices()
    # The bulletin runs up to last week, so the series is current (not 数据过期).
    shift = (date.today() - timedelta(days=date.today().weekday() + 7)) - days[-1]
    days = [d + shift for d in days]
    stable = [4.0 + 0.02 * ((i * 7) % 5 - 2) for i in range(len(days))]
    # A third market stopped reporting ten weeks ago: two months without data → 数据过期.
    stopped = [round(p / 2, 3) if i < len(days) - 10 else None for i, p in enumerate(stable)]
    path = tmp_path / "脆李价格周报.xlsx"
    path.write_bytes(
        _wide_xlsx(
            "巫山脆李批发价格周报（单位：元/斤）",
            ["日期", "北京新发地", "山东寿光", "重庆双福"],
            [
                [d.isoformat(), round(g / 2, 3), round(p / 2, 3), q]
                for d, g, p, q in zip(days, glut, stable, stopped, strict=True)
            ],
        )
    )
    with streamlit_server(url, {"BANGFU_DEMO": "0"}) as base, browser_page(height=2400) as page:
        open_signed_in(page, base, "admin1", PASSWORD)
        open_signed_in(page, f"{base}/reporting?form=prices", "admin1", PASSWORD)
        main = page.locator('[data-testid="stMain"]')
        assert "价格监测数据" in main.inner_text()
        main.get_by_label("默认产品", exact=True).fill("巫山脆李")
        main.get_by_label("默认产品", exact=True).press("Enter")
        wait_for_app(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        wait_for_app(page)
        text = main.inner_text()
        assert "可以导入" in text and "价格监测序列 3 个" in text, text[:2000]
        page.get_by_role("button", name="确认导入").click()
        wait_for_app(page)
        page.wait_for_selector("text=已导入「价格监测数据」", timeout=60_000)
        assert "已刷新这些序列的预警" in main.inner_text()

        with engine.connect() as conn:
            wid, market = conn.execute(
                select(s.warning.c.id, s.price_series.c.market).join(
                    s.price_series, s.price_series.c.id == s.warning.c.series_id
                )
            ).one()
        assert market == "北京新发地"
        open_signed_in(page, f"{base}/warnings", "admin1", PASSWORD)
        text = main.inner_text()
        assert "预警清单" in text and "监测序列" in text
        assert "共 3 个序列（最近导入的在前），其中 1 个数据过期" in text, text[:3000]
        open_signed_in(page, f"{base}/warnings?warning={wid}", "admin1", PASSWORD)
        header = main.inner_text()
        assert f"#{wid} 巫山脆李（巫山县）" in header and "监测点：北京新发地" in header
        assert "预警原因" in header and "价格" in header.split("预警原因", 1)[1][:200]
        reason = header.split("预警原因", 1)[1][:400]
        assert any(m in reason for m in ("持续下跌", "季节异常", "同比下降", "低于成本价")), reason
        screenshot(page, "prices_warning")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
