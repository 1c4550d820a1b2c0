"""数据报送 in a real headless Chromium: upload a GBK CSV, see the preview, commit, see the batch."""

import shutil

import pytest
from sqlalchemy import func, select

from data_access.store import schema as s
from tests import ingest_corpus as corpus
from tests.browser_support import (
    ROOT,
    browser_page,
    demo_store,
    screenshot,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_reporting", scale=5_000)
    with streamlit_server(url, {"BANGFU_DATA_DIR": str(tmp_path_factory.mktemp("data"))}) as base:
        yield base, engine
    engine.dispose()


def test_upload_gbk_csv_preview_commit_and_see_batch(store, tmp_path):
    base, engine = store
    with engine.connect() as conn:
        buyer = conn.execute(select(s.buyer_unit.c.name).order_by(s.buyer_unit.c.id).limit(1)).scalar_one()
        purchases_before = conn.execute(select(func.count()).select_from(s.purchase)).scalar()
    rows = [
        corpus._ledger_row(
            采购单位=buyer, 凭证号=f"GBK{i}", 交易日期=f"2024年5月{i + 1}日", **{"金额（元）": f"1,{i}00.50元"}
        )
        for i in range(3)
    ]
    path = tmp_path / "五月采购台账.csv"
    path.write_bytes(corpus.csv_bytes([corpus.LEDGER_HEADER, *rows], encoding="gbk", title="消费帮扶采购台账"))

    with browser_page(height=1300) as page:
        page.goto(f"{base}/reporting?form=purchases")
        wait_for_app(page)
        page.get_by_text("下载模板（XLSX）").wait_for()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        page.get_by_text("可以导入").wait_for(timeout=60_000)
        wait_for_app(page)
        assert page.get_by_text("预览（前 3 行，共 3 行）").count() == 1
        page.get_by_role("button", name="确认导入").click()
        page.get_by_text("已导入「消费帮扶采购台账」3 行").wait_for(timeout=60_000)
        wait_for_app(page)
        batches = page.locator('[data-testid="stDataFrame"]').last
        # The grid draws on a canvas; its accessible cells carry the text.
        batches.locator("[role=gridcell]", has_text="五月采购台账.csv").wait_for(state="attached", timeout=10_000)
        assert page.get_by_text("演示数据").count() > 0
        screenshot(page, "reporting")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
        # The same file again: recognised, nothing written twice.
        page.reload()
        wait_for_app(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        page.get_by_text("已于此前导入").wait_for(timeout=60_000)
        assert page.get_by_role("button", name="确认导入").is_disabled()

    with engine.connect() as conn:
        batch = conn.execute(
            select(
                s.report_batch.c.id,
                s.report_batch.c.file_name,
                s.report_batch.c.row_count,
                s.report_batch.c.submitted_by,
            ).where(s.report_batch.c.file_name == "五月采购台账.csv")
        ).all()
        purchases_after = conn.execute(select(func.count()).select_from(s.purchase)).scalar()
    assert len(batch) == 1 and batch[0].row_count == 3 and batch[0].submitted_by == "demo"
    assert purchases_after == purchases_before + 3
    (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "artifacts" / "reporting.png", ROOT / "docs" / "img" / "reporting.png")
