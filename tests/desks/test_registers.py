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
            for t in (
                s.buyer_unit,
                s.unit_alias,
                s.unit_budget,
                s.supplier,
                s.pairing,
                s.meeting,
                s.report_batch,
                s.audit_log,
            )
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
    units = units_xlsx()  # one file (openpyxl stamps each new workbook with the time it was written)
    load(store, "units", units, "单位名录.xlsx")
    load(store, "budgets", budgets_gbk(BUDGETS), "预算.csv")
    before = _snapshot(store)
    again = load(store, "units", units, "单位名录.xlsx")
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


def _csv_gbk(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


SUPPLIERS = [
    "供应商名称,信用代码,所在县区,主体类型,联农带贫人数",
    f"大通湖区某某水产合作社,{credit('93430900MA4LXXXX1')},大通湖区,农民专业合作社,35",
    '巫山县某某果业有限公司,,500237,龙头企业,"1,200"',
]
PAIRINGS = [
    "帮扶地区,受援地区,结对类型,起始年度,终止年度",
    "杭州市,恩施市,东西部扶贫协作,2021,",
    "杭州市,利川市,东西部协作,2021年,2025",
]
OUTLETS = [
    "网点名称,网点类型,详细地址,所在区县,经度,纬度,运营主体,开业日期,运营状态",
    "市民中心消费帮扶专柜,智能专柜,香洲区某路1号,香洲区,113.55,22.27,某某公司,2024-05-01,运营中",
    "大通湖区消费帮扶馆,专馆,,大通湖区,,,,2023年9月1日,暂停",
]
PRODUCTS = [
    "产品名称,产品类别,产地,供应商名称,上市周期,年供货量,参考价,保本价,认定文号,认定日期,状态",
    "大通湖大闸蟹,水产品,大通湖区,大通湖区某某水产合作社,9-11月,50吨,80元/斤,55,2024年第一批,2024-06-01,在库",
    "巫山脆李,水果,巫山县,,7月-次年1月,,12,,,,观察",
]
MEETINGS = ["会议日期,会议名称,议题", "2026年3月18日,消费帮扶工作联席会议第1次会议,部署", "2026-06-18,第2次会议,"]


@pytest.mark.parametrize(
    "form, lines, expect",
    [
        (
            "suppliers",
            SUPPLIERS,
            {
                "大通湖区某某水产合作社": ("4309A1", "cooperative", 35),
                "巫山县某某果业有限公司": ("500237", "firm", 1200),
            },
        ),
        ("pairings", PAIRINGS, {("330100", "422801"): (2021, None), ("330100", "422802"): (2021, 2025)}),
        (
            "meetings",
            MEETINGS,
            {date(2026, 3, 18): ("消费帮扶工作联席会议第1次会议", "部署"), date(2026, 6, 18): ("第2次会议", None)},
        ),
    ],
)
def test_each_register_loads_once_and_re_imports_its_export_unchanged(store, form, lines, expect):
    if form == "products":  # a product names its supplier from the register
        load(store, "suppliers", _csv_gbk(SUPPLIERS), "suppliers.csv")
    out = load(store, form, _csv_gbk(lines), f"{form}.csv")
    assert out.committed and out.created == len(expect), out.errors
    with store.connect() as conn:
        if form == "suppliers":
            t = s.supplier
            got = {
                r[0]: tuple(r[1:]) for r in conn.execute(select(t.c.name, t.c.region_code, t.c.kind, t.c.beneficiaries))
            }
        elif form == "pairings":
            t = s.pairing
            got = {
                (r[0], r[1]): (r[2], r[3])
                for r in conn.execute(select(t.c.helper_code, t.c.helped_code, t.c.since_year, t.c.until_year))
            }
        elif form == "products":
            t = s.product
            got = {
                r[0]: tuple(r[1:])
                for r in conn.execute(
                    select(
                        t.c.name,
                        t.c.category,
                        t.c.season_months,
                        t.c.supply_volume,
                        t.c.reference_price,
                        t.c.cost_price,
                        t.c.certified,
                        t.c.status,
                    )
                )
            }
        elif form == "outlets":
            t = s.outlet
            got = {r[0]: tuple(r[1:]) for r in conn.execute(select(t.c.name, t.c.kind, t.c.coord_source, t.c.status))}
        else:
            t = s.meeting
            got = {
                date.fromisoformat(str(r[0])[:10]): (r[1], r[2])
                for r in conn.execute(select(t.c.held_on, t.c.title, t.c.note))
            }
    assert {k: got[k] for k in expect} == expect
    before = _snapshot(store)
    again = load(store, form, register_export(store, form), f"{form}-导出.xlsx")
    assert again.committed and (again.created, again.updated) == (0, 0), again.errors
    assert _snapshot(store)["audit_log"] == before["audit_log"]


@pytest.mark.parametrize(
    "form, lines, field, reason",
    [
        ("suppliers", ["名称,所在县", "某合作社,不存在县"], "所在县", "不是已知的区县"),
        ("suppliers", ["名称,所在县,类型", "某合作社,大通湖区,外星公司"], "类型", "无法识别"),
        (
            "pairings",
            ["帮扶方,受援地,类型,起始年度,终止年度", "杭州市,恩施市,东西部协作,2024,2021"],
            "终止年度",
            "早于起始年度",
        ),
        ("pairings", ["帮扶方,受援地,类型", "杭州市,恩施市,友好城市"], "类型", "无法识别"),
        ("meetings", ["日期,名称", "2026-02-30,会议"], "日期", ""),
        ("outlets", ["名称,类型,所在县区,经度,纬度", "某专柜,专柜,香洲区,22.27,113.55"], "经度", "经纬度是否填反"),
        ("outlets", ["名称,类型,所在县区,经度", "某专柜,专柜,香洲区,113.55"], "纬度", "同时填写"),
        ("outlets", ["名称,类型,所在县区", "某专柜,流动摊,香洲区"], "类型", "无法识别"),
        ("products", ["产品名称,品类,产地县,上市月份", "某米,粮油,大通湖区,13-15月"], "上市月份", "月份"),
        ("products", ["产品名称,品类,产地县,供应商", "某米,粮油,大通湖区,不存在合作社"], "供应商", "不在供应商名录中"),
    ],
)
def test_bad_register_rows_name_row_and_field(store, form, lines, field, reason):
    before = _snapshot(store)
    out = load(store, form, _csv_gbk(lines), "bad.csv")
    assert not out.committed and any(e.field == field and reason in e.reason and e.row for e in out.errors), [
        e.message for e in out.errors
    ]
    assert _snapshot(store) == before


def test_a_ledger_finds_units_by_alias_and_names_the_closest_unit_it_does_not_know(store):
    """Purchases reported under 珠海一中 land on 珠海市第一中学; an unregistered name is refused with the
    registered names closest to it."""
    from data_access.desks.imports import commit_upload
    from tests import ingest_corpus as corpus

    load(store, "units", units_xlsx(), "单位名录.xlsx")
    row = corpus._ledger_row(采购单位="珠海一中", 供应商="别名测试合作社", 产品名称="别名测试米", 凭证号="AL1")
    result = parse_upload(corpus.csv_bytes([corpus.LEDGER_HEADER, row]), "purchases", "ledger.csv", corpus.TODAY)
    out = commit_upload(store, result, principal=ADMIN)
    assert out.committed, [e.message for e in out.errors]
    with store.connect() as conn:
        buyer = conn.execute(
            select(s.buyer_unit.c.name)
            .join(s.purchase, s.purchase.c.buyer_unit_id == s.buyer_unit.c.id)
            .where(s.purchase.c.voucher_no == "AL1")
        ).scalar()
    assert buyer == "珠海市第一中学"
    row = corpus._ledger_row(采购单位="珠海市第一小学", 凭证号="AL2")
    result = parse_upload(corpus.csv_bytes([corpus.LEDGER_HEADER, row]), "purchases", "ledger2.csv", corpus.TODAY)
    out = commit_upload(store, result, principal=ADMIN)
    assert not out.committed
    assert any(e.field == "采购单位" and "是否为：珠海市第一中学" in e.reason for e in out.errors), [
        e.message for e in out.errors
    ]


def test_an_outlet_without_coordinates_stands_at_its_county_and_the_map_says_so(store):
    from data_access.figures.outlets import outlet_points
    from pages.common.maps import outlet_frame

    load(store, "outlets", _csv_gbk(OUTLETS), "outlets.csv")
    points = outlet_points(store, Filters(start=date(2026, 1, 1), end=date(2026, 6, 30)))
    lines = dict(zip(points.name, outlet_frame(points).line3, strict=True))
    assert lines["大通湖区消费帮扶馆"].endswith("位置为区县中心")
    assert "区县中心" not in lines["市民中心消费帮扶专柜"]
    with store.connect() as conn:
        centre = conn.execute(select(s.region.c.lng, s.region.c.lat).where(s.region.c.code == "4309A1")).one()
    here = points.set_index("name").loc["大通湖区消费帮扶馆"]
    assert (here.lng, here.lat) == pytest.approx(tuple(centre))
