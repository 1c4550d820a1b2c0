"""数据报送 page under AppTest, on both backends (uploading is exercised in the browser test)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_access.store.config import ENV_URL
from tests.principals import ADMIN
from tests.signin import session_for

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")


@pytest.fixture
def app_env(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    return demo_engine


def reporting_page(principal=None) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    if principal is not None:
        session_for(at, principal)  # with its server-side session
    at.run()
    at.switch_page("pages/reporting.py")
    at.run()
    return at


def test_page_offers_forms_templates_and_lists_batches(app_env):
    at = reporting_page()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "数据报送"
    radio = at.radio(key="rep_form")
    # 价格监测数据 is offered to desks and admins (the app runs as an admin here).
    assert list(radio.options) == ["带贫人员名册", "消费扶贫证明材料", "消费帮扶采购台账", "价格监测数据"]
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("下载模板（XLSX）") == 1 and labels.count("下载模板（CSV）") == 1
    batches = at.dataframe[-1].value
    assert len(batches) > 0 and {"报送单位", "报送人", "报送时间", "行数", "文件哈希（SHA-256）"} <= set(
        batches.columns
    )


def test_chosen_form_is_kept_in_the_url(app_env):
    at = reporting_page()
    at.radio(key="rep_form").set_value("purchases").run()
    assert not at.exception
    assert at.query_params["form"] == "purchases"
    assert any("采购台账" in c.value for c in at.caption)


def test_reporter_sees_only_its_own_unit(writable_demo_engine, monkeypatch):
    from sqlalchemy import select

    from data_access.store import schema as s
    from data_access.trust import auth

    monkeypatch.setenv(ENV_URL, writable_demo_engine.url.render_as_string(hide_password=False))
    with writable_demo_engine.connect() as conn:
        own, name = conn.execute(
            select(s.buyer_unit.c.id, s.buyer_unit.c.name)
            .join(s.report_batch, s.report_batch.c.unit_id == s.buyer_unit.c.id)
            .limit(1)
        ).one()
    auth.add_user(writable_demo_engine, ADMIN, "rep", "pass-for-tests-1", "reporter", unit=own)
    at = reporting_page(auth.active_principal(writable_demo_engine, "rep"))
    assert not at.exception, [e.value for e in at.exception]
    unit = at.selectbox(key="rep_unit")
    assert unit.options == [name] and unit.disabled
    shown = at.dataframe[-1].value
    assert len(shown) and set(shown["报送单位"]) == {name}
