"""AppTest runs of 网点地图 and 地区下钻 beyond the first screen, on both backends: county and city deep
links, the buyer side, each shading of the outlet map. (Clicking down and back up by the breadcrumb
is driven in a real browser: tests/browser/test_browser_maps.py.)"""

import pytest
from streamlit.testing.v1 import AppTest

from data_access.store.config import ENV_URL
from tests.pages.test_pages import DASHBOARD


@pytest.fixture
def app_env(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    return demo_engine


def run(page: str, **params) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.body for e in at.error]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.main.metric}


def test_drilldown_county_shows_products_outlets_units_and_goes_back(app_env):
    at = run("pages/drilldown.py", region="520302", side="origin")
    shown = metrics(at)
    assert shown["红花岗区·产地采购额"].endswith(("万元", "亿元"))
    assert int(shown["产品"].replace(",", "")) > 0 and int(shown["采购单位"].replace(",", "")) > 0
    assert "经手网点" in shown
    assert [t.label for t in at.main.tabs][:3] == ["产品", "网点", "单位"]
    crumbs = [b.label for b in at.main.button if b.key and b.key.startswith("dd_crumb_")]
    assert crumbs == ["全国", "贵州省", "遵义市", "红花岗区"]
    assert at.query_params.get("level") in ("county", ["county"]), at.query_params


def test_drilldown_city_deep_link_lists_its_counties(app_env):
    at = run("pages/drilldown.py", region="520300", side="origin")
    assert "遵义市·产地采购额" in metrics(at)
    crumbs = [b.label for b in at.main.button if b.key and b.key.startswith("dd_crumb_")]
    assert crumbs == ["全国", "贵州省", "遵义市"]
    assert at.session_state["filters"].region_code == "520300"
    assert "当前：遵义市（地市级）" in " ".join(c.value for c in at.main.caption)
    assert "点击地图上的地区或右侧柱条，进入下一级。" in " ".join(c.value for c in at.main.caption)


def test_drilldown_buyer_side_from_the_country(app_env):
    at = run("pages/drilldown.py", side="buyer")
    shown = metrics(at)
    assert shown["全国·采购方采购额"].endswith(("万元", "亿元"))
    assert "当前：全国" in " ".join(c.value for c in at.main.caption)
    assert "全国（全国）" not in " ".join(c.value for c in at.main.caption)
    assert at.main.subheader[0].value == "结对帮扶资金流向"


@pytest.mark.parametrize("shade", ["origin", "buyer", "none"])
def test_outlet_map_each_shading(app_env, shade):
    at = run("pages/outlet_map.py", shade=shade)
    shown = metrics(at)
    assert int(shown["网点总数"].replace(",", "")) > 0
    assert any("退出候选网点" in m.value for m in at.main.markdown)


def test_a_desk_proposes_an_outlet_for_exit_on_the_map_page_and_the_ledger_lists_it(writable_demo_engine, monkeypatch):
    from data_access.figures.outlets import outlet_history, outlet_register

    monkeypatch.setenv(ENV_URL, writable_demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    reg = outlet_register(writable_demo_engine)
    target = reg[reg.status == "operating"].iloc[0]
    at = run("pages/outlet_map.py")
    assert any(s.value == "网点状态与动态退出" for s in at.main.subheader)
    at.selectbox(key="om_status_outlet").select(int(target.id)).run()
    tag = f"{int(target.id)}_{int(target.version)}"
    radio = at.radio(key=f"om_status_to_{tag}")
    assert radio.options == ["暂停", "拟退出"]  # only the steps allowed from 运营中
    # No reason: refused with a message, nothing written.
    radio.set_value("exit_proposed")
    at.button(key=f"FormSubmitter:om_status_{tag}-保存状态变更").click().run()
    assert any("请填写状态变更的原因" in w.value for w in at.warning)
    assert outlet_history(writable_demo_engine, int(target.id)).empty
    at.radio(key=f"om_status_to_{tag}").set_value("exit_proposed")
    at.text_area(key=f"om_status_reason_{tag}").input("价格明显高于同类网点，群众投诉")
    at.button(key=f"FormSubmitter:om_status_{tag}-保存状态变更").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("已改为「拟退出」" in s.value for s in at.success)
    assert any("拟退出（" in m.value and "价格明显高于同类网点，群众投诉" in m.value for m in at.main.markdown)
    history = next(d.value for d in at.dataframe if "新状态" in d.value.columns)
    assert history["新状态"].tolist() == ["拟退出"] and history["原因"].tolist() == ["价格明显高于同类网点，群众投诉"]
    # Now 拟退出: the form offers 已退出 and the withdrawal.
    radio = at.radio(key=f"om_status_to_{int(target.id)}_{int(target.version) + 1}")
    assert radio.options == ["已退出", "运营中（撤销拟退出）"]
    at.switch_page("pages/ledger.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # Listed under 会后新增 and under 全部在办, with the reason and the date.
    tables = [d.value for d in at.dataframe if {"事项", "原因"} <= set(d.value.columns)]
    rows = [t[t["事项"] == f"{target['name']}：拟退出"] for t in tables]
    assert sum(len(r) for r in rows) == 2
    assert all(
        "拟退出（" in r["原因"].iloc[0] and "价格明显高于同类网点，群众投诉" in r["原因"].iloc[0]
        for r in rows
        if len(r)
    )
