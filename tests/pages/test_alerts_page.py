"""The 滞销预警 page under AppTest on the demo store, on both backends."""

from datetime import date
from pathlib import Path

from streamlit.testing.v1 import AppTest

from data_access.desks.warnings import apply_action
from data_access.figures import alerts
from data_access.query.filters import Filters
from data_access.store.config import ENV_URL
from data_access.trust import auth
from tests.principals import ADMIN, desk
from tests.signin import session_for

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
ALL = Filters(start=date(2020, 1, 1), end=date(2026, 12, 31))


def _page(engine, monkeypatch, warning_id: int | None = None, principal=None) -> AppTest:
    monkeypatch.setenv(ENV_URL, engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    if principal is not None:
        session_for(at, principal)  # with its server-side session
    at.run()
    at.switch_page("pages/alerts.py")
    if warning_id is not None:
        at.query_params["warning"] = str(warning_id)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_counts_and_the_warning_named_in_the_url(demo_engine, monkeypatch):
    listed = alerts.open_warnings(demo_engine, ALL)
    target = listed.iloc[-1]
    at = _page(demo_engine, monkeypatch, int(target.id))
    metrics = {m.label: int(m.value) for m in at.metric}
    assert metrics == {
        f"{name}预警": n
        for name, n in zip(
            ["红色", "橙色", "黄色", "蓝色"], alerts.warning_counts(demo_engine, ALL).values(), strict=True
        )
    }
    assert at.selectbox(key="alerts_pick").value == int(target.id)
    assert any(h.value.startswith(f"#{target.id} {target.product_name}") for h in at.subheader)
    assert any(target.reason in m.value for m in at.markdown)
    assert at.query_params["warning"] == str(target.id)
    # 监测序列: every series with its last observation and whether it is out of date.
    assert "监测序列" in [h.value for h in at.subheader]
    monitored = next(d.value for d in at.dataframe if "最近数据" in d.value.columns)
    assert len(monitored) > 0 and set(monitored["状态"]) <= {"正常", "数据过期", "数据不足"}
    assert monitored["最近数据"].notna().all()


def test_a_desk_acts_from_the_page_and_a_stale_page_is_refused(writable_demo_engine, monkeypatch):
    listed = alerts.open_warnings(writable_demo_engine, ALL)
    wid = int(listed[listed.status == "new"].id.iloc[0])
    at = _page(writable_demo_engine, monkeypatch, wid)
    at.button(key="act_ack").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("已确认" in s.value for s in at.success)
    assert alerts.warning_detail(writable_demo_engine, wid)["status"] == "acknowledged"
    at.selectbox(key="in_owner_group").set_value("distribution")
    at.button(key="FormSubmitter:form_assign-指派专班").click().run()
    d = alerts.warning_detail(writable_demo_engine, wid)
    assert d["owner_group"] == "distribution" and d["version"] == 3
    log = at.table[-1].value
    assert "新发 → 已确认" in log["状态"].tolist() and "指派专班" in log["操作"].tolist()
    # Another desk adds a note while this page is open: this page's next action is refused.
    apply_action(writable_demo_engine, desk("另一专班"), wid, 3, "note", note="已电话联系产地")
    at.text_input(key="in_note").input("跟进中")
    at.button(key="FormSubmitter:form_note-添加备注").click().run()
    assert any("已被他人修改" in e.value for e in at.error)
    history = alerts.warning_history(writable_demo_engine, wid)
    assert history.actor.tolist()[-1] == "另一专班" and "跟进中" not in history.note.fillna("").tolist()


def test_a_leader_reads_but_cannot_act(writable_demo_engine, monkeypatch):
    auth.add_user(writable_demo_engine, ADMIN, "leader", "pass-for-tests-1", "leader", display_name="领导")
    at = _page(writable_demo_engine, monkeypatch, principal=auth.active_principal(writable_demo_engine, "leader"))
    assert not [b for b in at.button if b.label in {"确认预警", "指派专班", "记录消纳", "关闭预警"}]
    assert any("只能查看" in i.value for i in at.info)
