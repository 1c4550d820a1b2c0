"""督办台账 in a real headless Chromium: a desk officer prepares the joint meeting — what changed
since the last one, per 专班 and for one 专班 — and downloads the meeting pack."""

import shutil
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import openpyxl
import pandas as pd
import pytest

from tests.browser_support import (
    browser_page,
    demo_store,
    screenshot,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 10, 31)  # the demo data's last day
GROUP = "procurement"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_ledger")
    yield url, engine
    engine.dispose()


def metric(page, label: str) -> str:
    return (
        page.locator('[data-testid="stMetric"]', has_text=label).locator('[data-testid="stMetricValue"]').inner_text()
    )


def download(page, button: str, tmp_path: Path) -> Path:
    with page.expect_download() as got:
        page.get_by_role("button", name=button).click()
    path = tmp_path / got.value.suggested_filename
    got.value.save_as(path)
    return path


def test_desk_prepares_the_joint_meeting(store, tmp_path):
    from data_access.figures.ledger import group_summary, ledger_items, meetings, since_meeting
    from data_access.reference.seeds import TASK_GROUPS

    url, engine = store
    names = {code: name for code, name, _ in TASK_GROUPS}
    last = meetings(engine).held_on.iloc[0]
    everything = since_meeting(engine, last, AS_OF)
    mine = since_meeting(engine, last, AS_OF, GROUP)
    assert len(mine["new"]) and len(mine["closed"]) and len(mine["overdue"])
    with streamlit_server(url) as base, browser_page(height=1400) as page:
        page.goto(base)
        wait_for_app(page)
        page.goto(f"{base}/ledger")
        wait_for_app(page)
        # The latest meeting is the default comparison, and the URL says so.
        assert parse_qs(urlparse(page.url).query)["since"] == [last.isoformat()]
        assert page.get_by_role("combobox", name="责任专班").input_value() == "全部专班"
        assert metric(page, "在办事项") == str(len(ledger_items(engine, AS_OF)))
        assert metric(page, "会后新增") == str(len(everything["new"]))
        assert metric(page, "会后办结") == str(len(everything["closed"]))
        lead = page.locator('[data-testid="stAlert"]', has_text="上会要点").inner_text()
        assert f"逾期未办结 {len(everything['overdue'])} 项" in lead and "逾期最久" in lead
        # One line per 专班: with whom each item is to be raised.
        grid = page.locator('[data-testid="stDataFrame"] table[role="grid"]').first
        grid.locator('[role="columnheader"]', has_text="会后有进展").wait_for(state="attached")
        assert int(grid.get_attribute("aria-rowcount")) == len(TASK_GROUPS) + 1
        assert grid.locator("tbody tr").first.locator('[role="gridcell"]').first.text_content() == TASK_GROUPS[0][1]

        pack = download(page, "导出会议材料（XLSX）", tmp_path)
        book = openpyxl.load_workbook(pack)
        assert book.sheetnames[0] == "按专班"
        per_group = pd.read_excel(pack, sheet_name="按专班", skiprows=3)  # the export stamp, the note, a blank line
        want = group_summary(engine, last, AS_OF)
        assert list(per_group["责任专班"]) == list(want.owner_name)
        assert list(per_group["逾期"]) == list(want.overdue) and list(per_group["会后新增"]) == list(want.new)

        page.get_by_role("combobox", name="责任专班").click()
        page.get_by_role("option", name=names[GROUP], exact=True).click()
        wait_for_app(page)
        assert parse_qs(urlparse(page.url).query)["group"] == [GROUP]
        assert metric(page, "在办事项") == str(len(ledger_items(engine, AS_OF, GROUP)))
        assert metric(page, "会后新增") == str(len(mine["new"]))
        assert metric(page, "会后办结") == str(len(mine["closed"]))
        for label, key in (("逾期事项", "overdue"), ("新增事项", "new"), ("已办结", "closed"), ("有进展", "progress")):
            assert page.get_by_text(f"{label}（{len(mine[key])}）").count() == 1
        assert page.get_by_text("按专班", exact=False).filter(has_text="每个专班").count() == 0

        pack = download(page, "导出会议材料（XLSX）", tmp_path)
        assert names[GROUP] in pack.name and pack.suffix == ".xlsx"
        book = openpyxl.load_workbook(pack)
        assert book.sheetnames == ["新增事项", "已办结", "逾期事项", "有进展", "全部在办", "报送情况"]
        assert str(last.isoformat()) in book["新增事项"].cell(row=1, column=1).value
        for sheet, key in (("新增事项", "new"), ("已办结", "closed"), ("逾期事项", "overdue"), ("有进展", "progress")):
            frame = pd.read_excel(pack, sheet_name=sheet, skiprows=3)  # the export stamp, the note, a blank line
            assert sorted(frame["编号"]) == sorted(mine[key].id), sheet
            assert set(frame["责任专班"]) <= {names[GROUP]}
            assert {"事项", "级别", "办结时限", "逾期天数", "最近动态", "原因"} <= set(frame.columns)
        closed = pd.read_excel(pack, sheet_name="已办结", skiprows=3)  # the export stamp, the note, a blank line
        assert set(closed["办结方式"]) <= {"专班办结", "来源消除自动销号"} and closed["最近动态"].str.len().min() > 10
        open_now = pd.read_excel(pack, sheet_name="全部在办", skiprows=3)  # the export stamp, the note, a blank line
        assert len(open_now) == len(ledger_items(engine, AS_OF, GROUP))

        # The view is a link a colleague can open.
        page.goto(page.url)
        wait_for_app(page)
        assert page.get_by_role("combobox", name="责任专班").input_value() == names[GROUP]
        page.goto(f"{base}/ledger")
        wait_for_app(page)
        shot = screenshot(page, "ledger")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
    shutil.copy(shot, ROOT / "docs" / "img" / "ledger.png")
