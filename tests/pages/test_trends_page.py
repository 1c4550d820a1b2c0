"""趋势分析 under AppTest: the state comes from and goes to the URL; downloads hold what is shown."""

import pytest
from streamlit.testing.v1 import AppTest

from data_access.store.config import ENV_URL
from tests.pages.test_pages import DASHBOARD


@pytest.fixture
def app_env(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    return demo_engine


def open_trends(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_trends_defaults_draw_a_table_and_write_the_url(app_env):
    at = open_trends()
    assert at.selectbox(key="trend_measure").value == "amount"
    assert at.selectbox(key="trend_dim").value == "channel"
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["月份", "渠道", "采购金额（元）"]
    assert "上年同期（元）" in table.columns
    assert at.query_params["t_measure"] == "amount" and at.query_params["t_dim"] == "channel"


def test_trends_reads_its_state_from_the_url_and_rejects_unknown_names(app_env):
    at = open_trends(
        {
            "t_measure": "canteen_share",
            "t_dim": "helper",
            "t_grain": "year",
            "t_yoy": "0",
            "t_chart": "bar",
            "t_top": "drop table",
        }
    )
    table = at.dataframe[0].value
    assert list(table.columns) == ["年", "帮扶方（采购单位所属辖区）", "食堂食材采购占预算比例（%）"]
    assert table.iloc[:, 2].between(0, 100).all()
    assert at.query_params["t_top"] == "10"


@pytest.mark.parametrize("measure, dim", [("beneficiaries", "origin_city"), ("quantity", "category")])
def test_changing_measure_and_dimension_redraws(app_env, measure, dim):
    at = open_trends()
    at.selectbox(key="trend_measure").set_value(measure).run()
    at.selectbox(key="trend_dim").set_value(dim).run()
    assert not at.exception
    assert at.query_params["t_measure"] == measure and at.query_params["t_dim"] == dim
    assert at.dataframe[0].value.shape[0] > 0


def test_beneficiaries_offer_no_channel_dimension(app_env):
    at = open_trends({"t_measure": "beneficiaries", "t_dim": "channel"})
    assert "channel" not in at.selectbox(key="trend_dim").options
    assert at.selectbox(key="trend_dim").value == "total"
