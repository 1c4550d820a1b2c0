"""基础数据 in through the front door, on both stores: the unit register and the unit-year budgets
loaded from files made as offices make them, checked row by row, all or nothing, idempotent, and
exported in the shape they re-import from."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access import cli
from data_access.desks.ingest import parse_upload, template_bytes
from data_access.desks.registers import commit_register, register_counts, register_export, register_frame
from data_access.engines import rules
from data_access.query.filters import Filters
from data_access.reference.setup import init_store
from data_access.store import schema as s
from data_access.trust.auth import AccessDenied, Principal
from tests.principals import ADMIN, DESK

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit(prefix17: str) -> str:
    """A 统一社会信用代码 with its GB 32100 check character (an oracle written apart from the code's)."""
    total = sum(CHARSET.index(c) * w for c, w in zip(prefix17, WEIGHTS, strict=True))
    return prefix17 + CHARSET[(31 - total % 31) % 31]


SCHOOL = credit("12440400456789012")
UNITS = [
    ["珠海市第一中学", "行政事业单位", "香洲区", "珠海市", SCHOOL, "", "珠海一中、市一中"],
    ["珠海市总工会", "工会", "440402", "440400", "", "", ""],
    ["珠海市教育局", "机关", "广东省珠海市香洲区", "珠海市", "", "", ""],
    ["大通湖区机关事务中心", "预算单位", "大通湖区", "益阳市", "", "", ""],
]


def units_xlsx(rows=UNITS) -> bytes:
    """As an office makes it: a merged title row, a blank line, synonym headers, a 填表人 footer."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2026年度消费帮扶单位名录（珠海市协作办）"])
    ws.merge_cells("A1:G1")
    ws.append([])
    ws.append(["单位全称", "单位性质", "所在地", "所属辖区", "信用代码", "主管单位", "简称"])
    for r in rows:
        ws.append(r)
    ws.append(["填表人：张三"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def budgets_gbk(rows) -> bytes:
    head = (
        "单位名称,年度,食堂食材采购预算（万元）,预留比例,工会会员人数,节日慰问品经费（元）,年度计划采购额（万元）\r\n"
    )
    return (head + "".join(",".join(r) + "\r\n" for r in rows)).encode("gbk")


BUDGETS = [
    ["珠海一中", "２０２６", "１２０", "30%", "", "", "40"],
    ["珠海市总工会", "2026年", "", "", '"1,200人"', "600000", "60"],
    ["珠海市教育局", "2026", "80.5", "0.3", "", "", "25"],
]


def load(engine, form: str, data: bytes, name: str, who: Principal = ADMIN, year: int | None = None):
    result = parse_upload(data, form, name, date(2026, 6, 30))
    return commit_register(engine, who, result, year=year)


@pytest.fixture
def store(fresh_engine):
    init_store(fresh_engine)
    return fresh_engine


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (s.buyer_unit, s.unit_alias, s.unit_budget, s.report_batch, s.audit_log)
        }


def test_an_empty_store_takes_its_units_and_budgets_from_office_files(store):
    out = load(store, "units", units_xlsx(), "单位名录.xlsx")
    assert out.committed and (out.created, out.updated, out.unchanged) == (4, 0, 0), out.errors
    frame = register_frame(store, "units").set_index("单位名称")
    assert frame.loc["珠海市第一中学", "单位类型"] == "预算单位"
    assert frame.loc["珠海市第一中学", "所在地区"] == "440402" and frame.loc["珠海市第一中学", "帮扶辖区"] == "440400"
    assert frame.loc["珠海市第一中学", "别名"] == "市一中、珠海一中"
    assert frame.loc["珠海市总工会", "单位类型"] == "工会"
    assert frame.loc["大通湖区机关事务中心", "所在地区"] == "4309A1"

    out = load(store, "budgets", budgets_gbk(BUDGETS), "预算.csv")
    assert out.committed and out.created == 3, out.errors
    with store.connect() as conn:
        got = {
            r.name: r
            for r in conn.execute(
                select(s.buyer_unit.c.name, s.unit_budget).join(
                    s.buyer_unit, s.buyer_unit.c.id == s.unit_budget.c.unit_id
                )
            )
        }
    school = got["珠海市第一中学"]  # filed under its alias 珠海一中, full-width digits, 万元 in the header
    assert (school.year, float(school.canteen_food_budget), school.reserved_share) == (2026, 1_200_000.0, 0.3)
    assert float(school.plan_amount) == 400_000.0
    union = got["珠海市总工会"]
    assert union.union_members == 1200 and float(union.gift_budget) == 600_000.0 and union.canteen_food_budget is None
    assert got["珠海市教育局"].reserved_share == 0.3

    # The rules of the units' jurisdiction now judge them (珠海: canteen 832 share on the canteen budget).
    evaluated = rules.evaluate(store, Filters(start=date(2026, 1, 1), end=date(2026, 6, 30)))
    judged = set(evaluated.loc[evaluated.rule_code == "zh_canteen_832_share", "unit_name"])
    assert {"珠海市第一中学", "珠海市教育局"} <= judged


def test_the_same_file_twice_and_an_unchanged_export_change_nothing(store):
    load(store, "units", units_xlsx(), "单位名录.xlsx")
    load(store, "budgets", budgets_gbk(BUDGETS), "预算.csv")
    before = _snapshot(store)
    again = load(store, "units", units_xlsx(), "单位名录.xlsx")
    assert again.already and not again.committed
    assert _snapshot(store) == before
    for form in ("units", "budgets"):
        out = load(store, form, register_export(store, form), f"{form}-导出.xlsx")
        assert out.committed and (out.created, out.updated) == (0, 0) and out.unchanged > 0, (form, out.errors)
    after = _snapshot(store)
    assert after["report_batch"] == before["report_batch"] + 2 and after["audit_log"] == before["audit_log"]
    for table in ("buyer_unit", "unit_alias", "unit_budget"):
        assert after[table] == before[table]


def test_a_changed_row_raises_its_version_and_audits_before_and_after(store):
    load(store, "units", units_xlsx(), "单位名录.xlsx")
    edited = [r[:] for r in UNITS]
    edited[1][3] = "广东省"  # the union's rules now come from the province
    out = load(store, "units", units_xlsx(edited), "单位名录-改.xlsx")
    assert (out.created, out.updated, out.unchanged) == (0, 1, 3)
    with store.connect() as conn:
        version, jurisdiction = conn.execute(
            select(s.buyer_unit.c.version, s.buyer_unit.c.jurisdiction_code).where(
                s.buyer_unit.c.name == "珠海市总工会"
            )
        ).one()
        detail = conn.execute(
            select(s.audit_log.c.detail)
            .where(s.audit_log.c.action == "register_change", s.audit_log.c.subject == "单位:珠海市总工会")
            .order_by(s.audit_log.c.id.desc())
        ).scalar()
    assert (version, jurisdiction) == (2, "440000")
    assert '"jurisdiction_code": "440400"' in detail and '"jurisdiction_code": "440000"' in detail


@pytest.mark.parametrize(
    "form, rows, field, reason",
    [
        (
            "units",
            [["某单位", "预算单位", "香洲区", "珠海市", "91440400MA4UXXXX1X", "", ""]],
            "统一社会信用代码",
            "校验位",
        ),
        ("units", [["某单位", "预算单位", "不存在县", "珠海市", "", "", ""]], "所在地区", "不是已知的区县"),
        (
            "units",
            [["某单位", "预算单位", "香洲区", "珠海市", "", "", ""]] * 1
            + [["某单位", "工会", "香洲区", "珠海市", "", "", ""]],
            "单位名称",
            "重复",
        ),
        ("units", [["某单位", "外星机构", "香洲区", "珠海市", "", "", ""]], "单位类型", "无法识别"),
        ("budgets", [["珠海市第一小学", "2026", "100", "", "", "", ""]], "单位", "是否为：珠海市第一中学"),
        ("budgets", [["珠海市第一中学", "1900", "100", "", "", "", ""]], "年度", "年度应在"),
        ("budgets", [["珠海市总工会", "2026", "", "", "-30", "", ""]], "工会会员人数", "不小于 0"),
    ],
)
def test_bad_rows_are_refused_by_row_and_field_and_nothing_is_written(store, form, rows, field, reason):
    load(store, "units", units_xlsx(), "单位名录.xlsx")
    before = _snapshot(store)
    data = units_xlsx(rows) if form == "units" else budgets_gbk(rows)
    out = load(store, form, data, "bad")
    assert not out.committed and out.errors
    hit = [e for e in out.errors if e.field == field and reason in e.reason]
    assert hit and hit[0].row is not None, [e.message for e in out.errors]
    assert _snapshot(store) == before


def test_who_may_load_what(store):
    load(store, "units", units_xlsx(), "单位名录.xlsx")
    with store.connect() as conn:
        school = conn.execute(select(s.buyer_unit.c.id).where(s.buyer_unit.c.name == "珠海市第一中学")).scalar()
    reporter = Principal(username="rep", role="reporter", unit_id=school)
    with pytest.raises(AccessDenied):
        load(store, "units", units_xlsx(), "x.xlsx", who=reporter)
    with pytest.raises(AccessDenied):
        load(store, "budgets", budgets_gbk(BUDGETS[:1]), "x.csv", who=DESK)
    with pytest.raises(AccessDenied):
        load(store, "budgets", budgets_gbk(BUDGETS), "all.csv", who=reporter)
    own = load(store, "budgets", budgets_gbk(BUDGETS[:1]), "own.csv", who=reporter)
    assert own.committed and own.created == 1


def test_templates_are_recognised_and_the_cli_loads_a_file(store, tmp_path):
    for form in ("units", "budgets"):
        for kind in ("xlsx", "csv"):
            # The template's own headers are recognised; its 示例 row is skipped, so nothing is left to load.
            parsed = parse_upload(template_bytes(form, kind), form, f"t.{kind}", date(2026, 6, 30))
            assert [e.reason for e in parsed.errors] == ["文件只有表头（第2行），没有数据行"], (form, kind)
    path = tmp_path / "单位名录.xlsx"
    path.write_bytes(units_xlsx())
    url = store.url.render_as_string(hide_password=False)
    assert cli.main(["import", str(path), "--form", "units", "--url", url]) == 0
    budgets = tmp_path / "预算.csv"  # no 年度 column: the year comes from --year
    budgets.write_bytes("单位,食堂食材采购预算（万元）,年度计划采购额（万元）\r\n珠海一中,120,40\r\n".encode("gbk"))
    assert "年度" not in pd.read_csv(budgets, encoding="gbk").columns
    assert cli.main(["import", str(budgets), "--form", "budgets", "--year", "2026", "--url", url]) == 0
    assert register_counts(store) == {"units": 4, "aliases": 2, "budgets": 1}
