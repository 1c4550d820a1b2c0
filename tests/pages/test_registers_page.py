"""基础数据 under AppTest: an admin sees the unit register, the policy rules with every version and
the registers' templates; a reporter sees only its own unit's budget rows and cannot load the unit register."""

from datetime import date
from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access.store import schema as s
from data_access.store.config import ENV_URL
from data_access.trust import auth
from tests.principals import ADMIN
from tests.signin import session_for

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")


def registers_page(principal=None) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    if principal is not None:
        session_for(at, principal)  # with its server-side session
    at.run()
    at.switch_page("pages/registers.py")
    at.run()
    return at


def test_admin_sees_the_unit_register(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at = registers_page()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="reg_form").options == [
        "单位名录",
        "年度预算与预留份额",
        "供应商名录",
        "结对关系",
        "联席会议",
        "网点名录",
        "产品名库",
        "政策规则",
    ]
    table = at.dataframe[0].value
    with demo_engine.connect() as conn:
        names = {n for (n,) in conn.execute(select(s.buyer_unit.c.name))}
    assert set(table["单位名称"]) == names and "统一社会信用代码" in table.columns


def test_admin_sees_every_rule_version_and_the_effective_year(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at = registers_page()
    at.radio(key="reg_form").set_value("rules").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    with demo_engine.connect() as conn:
        codes = conn.execute(select(s.policy_rule.c.jurisdiction_code)).scalars().all()
    assert len(table) == len(codes) and set(table["适用辖区"]) == set(codes)
    assert {"起止年度", "指标", "阈值", "条款原文"} <= set(table.columns) and "30%" in set(table["阈值"])
    assert at.number_input(key="reg_rule_year").value == date.today().year
    assert any("阈值变更自“生效年度”起另立新版本" in c.value for c in at.caption)


def test_reporter_sees_only_its_budget_rows(writable_demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, writable_demo_engine.url.render_as_string(hide_password=False))
    with writable_demo_engine.connect() as conn:
        unit, name = conn.execute(
            select(s.buyer_unit.c.id, s.buyer_unit.c.name).join(
                s.unit_budget, s.unit_budget.c.unit_id == s.buyer_unit.c.id
            )
        ).first()
    auth.add_user(writable_demo_engine, ADMIN, "rep_reg", "pass-for-tests-1", "reporter", unit=unit)
    at = registers_page(auth.active_principal(writable_demo_engine, "rep_reg"))
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="reg_form").options == ["年度预算与预留份额"]
    assert set(at.dataframe[0].value["单位"]) == {name}
