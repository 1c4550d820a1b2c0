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
from tests.signin import signed_in_as

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")


def golive_page(engine=None) -> AppTest:
    """上线准备 as an admin of ``engine`` (a configured store has no open admin), or as the demo user."""
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    if engine is not None:
        signed_in_as(at, engine)
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
    at = golive_page(empty_store)  # a configured store: its first admin (no demo user here)
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
    assert status["用户"] == "齐备"  # the admin signed in is a user


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
    signed_in_as(at, empty_store, f"{role}1")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert auth.ROLES[role] in " ".join(m.value for m in at.sidebar.markdown)  # signed in, not at the sign-in
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/golive.py")
