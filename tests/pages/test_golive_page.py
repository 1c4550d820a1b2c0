"""上线准备 under AppTest: on an initialised store an admin sees every register an office loads as
缺失, each with the link that opens its form and its template; on the demo store the same page shows
the counts; no other role reaches the page."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_access.figures.readiness import MISSING
from data_access.reference.setup import init_store
from data_access.store.config import ENV_URL
from data_access.trust import auth
from tests.desks.test_registers import load, units_xlsx
from tests.principals import ADMIN

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")


def golive_page(principal=None) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    if principal is not None:
        at.session_state["principal"] = principal
    at.run()
    at.switch_page("pages/golive.py")
    at.run()
    return at


def _links(at: AppTest) -> dict[str, str]:
    """label → page and query string of every st.page_link on the page."""
    return {e.proto.label: f"{e.proto.page}?{e.proto.query_string}" for e in at.get("page_link")}


@pytest.fixture
def empty_store(databases, monkeypatch):
    engine = databases.new_engine()
    init_store(engine)
    monkeypatch.setenv(ENV_URL, engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("BANGFU_DEMO", raising=False)
    yield engine
    engine.dispose()


def test_an_empty_store_lists_what_is_missing_with_links_and_templates(empty_store):
    at = golive_page()  # no users yet: the demo user, an admin
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    status = dict(zip(table["项目"], [s[0] for s in table["状态"]], strict=True))
    assert status["单位名录"] == status["本年度预算与预留份额"] == status["本年度采购记录"] == MISSING
    assert status["结对关系"] == status["在用政策规则"] == "齐备"  # loaded by init from the seeds
    links = _links(at)
    assert links["去「基础数据 · 单位名录」导入"] == "registers?register=units"
    assert links["去「基础数据 · 网点名录」导入"] == "registers?register=outlets"
    assert links["去「数据报送 · 消费帮扶采购台账」导入"] == "reporting?form=purchases"
    templates = [d.proto.label for d in at.get("download_button")]
    # Six registers still missing (pairings came with init), the purchase ledger and the price form.
    assert templates.count("下载模板（XLSX）") == 8
    assert links["去「数据报送 · 价格监测数据」导入"] == "reporting?form=prices"
    captions = " ".join(c.value for c in at.caption)
    assert "python -m data_access user add" in captions


def test_the_demo_store_shows_its_counts(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at = golive_page()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value.set_index("项目")
    assert table.loc["单位名录", "现有"] > 0 and table.loc["本年度预算与预留份额", "覆盖"] != "—"
    assert [s[0] for s in table["状态"] if s[0] == MISSING] == [MISSING]  # only the users: none are set up


@pytest.mark.parametrize("role", ["leader", "desk", "analyst", "reporter"])
def test_only_an_admin_opens_it(empty_store, role):
    load(empty_store, "units", units_xlsx(), "单位名录.xlsx")  # a reporter belongs to a unit
    unit = "珠海市第一中学" if role == "reporter" else None
    auth.add_user(empty_store, ADMIN, f"{role}1", "pass-for-tests-1", role, unit=unit)
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.session_state["principal"] = auth.active_principal(empty_store, f"{role}1")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/golive.py")
