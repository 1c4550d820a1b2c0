"""网点动态退出 in a real headless Chromium: on the demo store an admin finds an outlet by name on the
网点地图, proposes it for exit (拟退出) with a reason; the page shows the new status with its reason
and date, its history, the map's legend and table; the 督办台账 lists it with the reason."""

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.browser_support import browser_page, demo_store, screenshot, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 10, 31)  # the demo data's last day
REASON = "价格明显高于同类网点，群众多次投诉"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_outlet_status")
    yield url, engine
    engine.dispose()


def grid_text(page, has_column: str) -> str:
    """The text of every rendered cell of the (first visible) data grid that has ``has_column``."""
    grid = page.locator('[data-testid="stDataFrame"] table[role="grid"]', has_text=has_column).first
    grid.locator('[role="gridcell"]').first.wait_for(state="attached")
    return " ".join(grid.locator('[role="gridcell"]').all_text_contents())


def test_admin_proposes_an_outlet_for_exit_and_the_ledger_lists_it(store):
    from data_access.figures.ledger import ledger_items
    from data_access.figures.outlets import exit_candidates, outlet_history, outlet_register
    from data_access.query.filters import Filters

    url, engine = store
    reg = outlet_register(engine)
    flagged = set(exit_candidates(engine, Filters(start=date(2026, 1, 1), end=AS_OF), AS_OF).id)
    target = reg[(reg.status == "operating") & ~reg.id.isin(flagged)].iloc[0]
    name = target["name"]
    today = date.today()
    with streamlit_server(url) as base, browser_page(height=1600) as page:
        page.goto(base)
        wait_for_app(page)
        page.goto(f"{base}/outlet_map")
        wait_for_app(page)
        main = page.locator('[data-testid="stMain"]')
        # Exited outlets are off the map by default, and the legend says how each status is drawn.
        assert "已退出网点未画出" in main.inner_text() and "黑色粗边＝拟退出" in main.inner_text()

        picker = page.get_by_role("combobox", name="网点（可输入名称搜索）")
        picker.click()
        picker.fill(name[:8])
        page.get_by_role("option").filter(has_text=name).first.click()
        wait_for_app(page)
        assert "当前状态：运营中" in main.inner_text()
        form = page.locator('[data-testid="stForm"]')
        assert form.get_by_text("已退出", exact=True).count() == 0  # 运营中 → 已退出 is not a step
        form.get_by_text("拟退出", exact=True).click()
        form.get_by_label("原因（必填）").fill(REASON)
        form.get_by_role("button", name="保存状态变更").click()
        wait_for_app(page)

        done = main.locator('[data-testid="stAlert"]', has_text="已改为「拟退出」")
        assert done.count() == 1 and name in done.inner_text() and "督办台账" in done.inner_text()
        assert f"当前状态：拟退出（{today:%Y-%m-%d}起：{REASON}）" in main.inner_text()
        history = grid_text(page, "新状态")
        assert "拟退出" in history and REASON in history and "演示用户" in history
        assert outlet_history(engine, int(target.id)).to_status.tolist() == ["exit_proposed"]
        shot = screenshot(page, "outlet_status")

        # The 督办台账, sources narrowed to 网点拟退出: the outlet is new since the last meeting.
        # Wide enough for the ledger grid to draw its 原因 column (the grid renders only the columns in view).
        page.set_viewport_size({"width": 2600, "height": 1400})
        page.goto(f"{base}/ledger?lk=outlet")
        wait_for_app(page)
        assert page.get_by_text("新增事项（").count() == 1
        new_items = grid_text(page, f"{name}：拟退出")
        assert f"{name}：拟退出" in new_items and REASON in new_items and f"{today:%Y-%m-%d}起" in new_items
        item = ledger_items(engine, AS_OF, kinds=("outlet",))
        item = item[item.source_key == str(int(target.id))]
        assert len(item) == 1 and REASON in item.detail.iloc[0]
        page.locator('[data-testid="stDataFrame"]', has_text=f"{name}：拟退出").first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        ledger_shot = screenshot(page, "ledger_outlet_exit")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
    shutil.copy(shot, ROOT / "docs" / "img" / "outlet_status.png")
    shutil.copy(ledger_shot, ROOT / "docs" / "img" / "ledger_outlet_exit.png")
