"""Every page runs under AppTest on the demo store, on both backends."""

import os
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_access.store.config import ENV_URL
from pages import registry
from tests.signin import signed_in_as

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
PAGES = [p.file for p in registry.PAGES]  # every page of the router, from its one list


@pytest.fixture
def app_env(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    return demo_engine


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page)
        at.run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(app_env, page):
    at = run_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.body for e in at.error]


def test_overview_shows_figures_and_demo_marker(app_env):
    at = run_page("pages/overview.py")
    labels = {m.label: m.value for m in at.metric}
    assert "年度累计采购额" in labels and labels["年度累计采购额"].endswith(("万元", "亿元"))
    assert any("演示数据" in w.body for w in at.sidebar.warning)
    assert any("演示用户" in i.body for i in at.sidebar.info)


def test_unreachable_store_shows_a_clear_message(monkeypatch):
    monkeypatch.setenv(ENV_URL, "postgresql+psycopg://bangfu:topsecret@127.0.0.1:1/bangfu")
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.run()
    assert not at.exception
    shown = " ".join(e.body for e in at.error)
    assert "无法连接数据库" in shown and "127.0.0.1:1" in shown and "topsecret" not in shown
    os.environ.pop("BANGFU_DEMO", None)


def test_store_that_comes_back_recovers_without_restart(databases, monkeypatch):
    """The banner shows while the database is missing; once it exists the same session recovers."""
    if databases.backend != "postgresql":
        pytest.skip("a missing database is a PostgreSQL situation")
    url = databases.new_url()  # created now; drop it to simulate the outage
    from sqlalchemy import create_engine, text

    from tests.conftest import PG_ADMIN_URL

    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}"'))
    monkeypatch.setenv(ENV_URL, url)
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at = AppTest.from_file(DASHBOARD, default_timeout=180)
    at.run()
    assert not at.exception and any("无法连接数据库" in e.body for e in at.error)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert any(m.label == "年度累计采购额" for m in at.metric)


def test_overview_is_a_briefing_with_traffic_lights_and_changes(app_env):
    at = run_page("pages/overview.py")
    assert not at.exception, [e.value for e in at.exception]
    labels = {m.label: m.value for m in at.metric}
    for label in (
        "年度累计采购额",
        "完成年度计划 / 时间进度",
        "政策规则达标",
        "落后单位",
        "未关闭滞销预警",
        "运营中网点 / 拟退出",
        "新增滞销预警",
        "新落后单位",
        "已追上单位",
        "新增网点",
    ):
        assert label in labels, label
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert sum(("[绿" in b) or ("[黄" in b) or ("[红" in b) or ("[—" in b) for b in badges) == 6
    assert "since" in at.query_params
    at.date_input(key="overview_since").set_value(date(2026, 1, 1)).run()
    assert not at.exception
    assert at.query_params["since"] in ("2026-01-01", ["2026-01-01"])
    assert [d.proto.label for d in at.get("download_button")][:3] == ["下载简报包（PPTX + XLSX）", "仅 PPTX", "仅 XLSX"]


def test_catalogue_filters_and_opens_a_product(app_env):
    at = run_page("pages/catalogue.py")
    assert not at.exception, [e.value for e in at.exception]
    total = int({m.label: m.value for m in at.metric}["产品数"].replace(",", ""))
    at.text_input[0].input("茶").run()
    narrowed = int({m.label: m.value for m in at.metric}["产品数"].replace(",", ""))
    assert 0 < narrowed < total and at.query_params["q"] in ("茶", ["茶"])
    charts_before = len(at.get("plotly_chart"))
    picker = next(b for b in at.selectbox if b.label == "查看产品")
    picker.select(int(picker.options[1].split()[0])).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = {m.label for m in at.metric}
    assert {"名库状态", "重点产品认定", "参考价", "年供货量", "带贫人数"} <= labels
    assert at.query_params["product"] in (picker.options[1].split()[0], [picker.options[1].split()[0]])
    assert len(at.get("plotly_chart")) == charts_before + 1  # the product's price/volume chart


def test_an_empty_store_says_no_data_never_normal(databases, monkeypatch):
    """A configured store that starts empty has nothing to judge: every card and the headline say so."""
    from data_access.figures.overview import briefing_cards, headline_status
    from data_access.query.filters import Filters
    from data_access.reference.setup import init_store

    engine = databases.new_engine()
    init_store(engine)
    cards = briefing_cards(engine, Filters(start=date(2026, 1, 1), end=date(2026, 6, 30)))
    assert [c["status"] for c in cards] == [None] * len(cards)
    assert headline_status(cards)[0].startswith("暂无数据")
    monkeypatch.setenv(ENV_URL, engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("BANGFU_DEMO", raising=False)
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    signed_in_as(at, engine)  # a configured store opens to its users only
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown)
    assert "暂无数据" in shown and "正常" not in shown
    engine.dispose()
