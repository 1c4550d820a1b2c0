"""Go-live, end to end, on both stores: an empty store → ``init`` → the first administrator → every
register imported from files made as an office makes them (XLSX with a merged title row, GBK CSV with
a title line, full-width digits, 万元 amounts, header synonyms) → purchases and both seed-002 forms
(附件1 带贫人员名册, 附件2 消费扶贫证明材料) through 数据报送 → the seed rules evaluate on those units and
budgets → 总览 and 采购进度 show the amounts, and the units behind them, that the files add up to.

Every expected figure is computed here from the Python lists the files are written from, and the
purchase totals are cross-checked with a plain SQL SUM over ``purchase``.
"""

from __future__ import annotations

import calendar
import csv
import io
import random
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from data_access import cli
from data_access.desks.imports import commit_upload
from data_access.desks.ingest import parse_upload
from data_access.desks.registers import commit_register
from data_access.engines import rules
from data_access.figures.overview import amount_by_channel, monthly_amounts, overview_kpis
from data_access.figures.procurement import amount_by, procurement_kpis, rule_progress, unit_purchase_totals
from data_access.query.filters import Filters
from data_access.query.periods import time_progress
from data_access.store.meta import is_demo_store, store_is_empty
from data_access.trust import auth
from data_access.trust.personal import fictional_id_number

TODAY = date(2026, 7, 15)  # the day the office loads its files
AS_OF = date(2026, 6, 30)  # the figures are read as of the end of June
F = Filters(start=date(2026, 1, 1), end=AS_OF)
PASSWORD = "Golive-2026!"

# 单位名录: (name, kind, kind as written, region code, region as written, jurisdiction as written, alias)
UNITS = [
    ("珠海市第一中学", "budget_unit", "预算单位", "440402", "香洲区", "珠海市", "珠海一中"),
    ("珠海市人民医院", "budget_unit", "事业单位", "440402", "４４０４０２", "珠海市", ""),
    ("珠海市总工会", "union", "工会", "440402", "香洲区", "珠海市", "市总工会"),
    ("珠海市教育工会", "union", "基层工会", "440404", "金湾区", "珠海市", ""),
    ("广州市越秀区机关工会", "union", "工会", "440104", "越秀区", "广州市", ""),
    ("广州市城市建设投资集团", "state_firm", "国企", "440106", "天河区", "广州市", "广州城投"),
]
KIND = {u[0]: u[1] for u in UNITS}
ALIAS = {u[6]: u[0] for u in UNITS if u[6]}

# 年度预算与预留份额 for 2026, in yuan: canteen budget, reserved share, reserved amount, members,
# gift budget, welfare budget, plan. Written below in 万元, percentages and full-width digits.
BUDGETS = {
    "珠海市第一中学": dict(canteen=1_200_000, share=0.30, reserved=360_000, plan=400_000),
    "珠海市人民医院": dict(canteen=2_500_000, share=0.20, reserved=500_000, plan=600_000),
    "珠海市总工会": dict(members=300, gift=450_000, welfare=300_000, plan=200_000),
    "珠海市教育工会": dict(members=120, gift=180_000, welfare=120_000, plan=90_000),
    "广州市越秀区机关工会": dict(members=200, gift=200_000, welfare=160_000, plan=150_000),
    "广州市城市建设投资集团": dict(plan=1_000_000),
}

# 供应商名录: (name, region as written, kind as written)
SUPPLIERS = [
    ("湄潭县绿源茶业有限公司", "湄潭县", "企业"),
    ("巫山县脆李种植专业合作社", "500237", "农民专业合作社"),
    ("米林市雪域藏香猪家庭农场", "540481", "家庭农场"),
    ("高州市荔乡农产品专业合作社", "高州市", "合作社"),
    ("威宁县高原马铃薯专业合作社", "520526", "合作社"),
    ("泸水市草果种植专业合作社", "泸水市", "合作社"),
]
# 产品名库: (name, category as written, origin code, supplier, season, volume, price, certified on, status)
PRODUCTS = [
    ("湄潭翠芽", "茶叶", "520328", "湄潭县绿源茶业有限公司", "3-5月", "20吨", "260", "2024-06-01", "在库"),
    ("巫山脆李", "水果", "500237", "巫山县脆李种植专业合作社", "6-8月", "500吨", "10", "", "在库"),
    ("米林藏香猪肉", "肉类", "540481", "米林市雪域藏香猪家庭农场", "11月-次年2月", "30吨", "90", "", "观察"),
    ("高州荔枝", "水果", "440981", "高州市荔乡农产品专业合作社", "5、6、7月", "800吨", "16", "", "在库"),
    ("威宁马铃薯", "蔬菜", "520526", "威宁县高原马铃薯专业合作社", "全年", "2000吨", "3.2", "", "在库"),
    ("泸水草果", "土特产", "533301", "泸水市草果种植专业合作社", "10-12月", "15吨", "40", "", "在库"),
]
OUTLETS = [
    ("珠海市民中心消费帮扶专馆", "专馆", "香洲区市民中心", "香洲区", 113.55, 22.27, "运营中", ""),
    ("金湾机场消费帮扶专区", "消费帮扶专区", "金湾机场", "金湾区", None, None, "运营", ""),
    ("越秀区消费帮扶专柜", "专柜", "越秀区中山路", "越秀区", 113.27, 23.13, "暂停", "装修暂停营业"),
]
# 结对关系: the seeds' Zhuhai east-west pair (unchanged) and one the seeds do not have, which makes
# 怒江州 an east-west area of Zhuhai's union rule (its gifts from 泸水市 count as east-west).
PAIRINGS = [
    ("珠海市", "遵义市", "东西部协作", "2021年"),
    ("珠海市", "533300", "东西部扶贫协作", "2021"),
]
EASTWEST_ZH = ("52", "5333")  # 贵州全境 (seed) and 怒江州 (the file above)
MEETINGS = [("2026年3月18日", "消费帮扶工作联席会议第1次会议", "部署年度工作"), ("2026-06-18", "第2次会议", "")]

# 消费帮扶采购台账: (date, buyer as written, supplier, product, origin, channel text, channel, purpose
# text, purpose, amount in yuan, amount as written)
PURCHASES = [
    ("2026-02-10", "珠海一中", 4, 4, "520526", "832平台", "p832", "食堂食材", "canteen", 80_000, "80,000.00"),
    (
        "２０２６-０４-１５",
        "珠海市第一中学",
        4,
        4,
        "威宁彝族回族苗族自治县",
        "832",
        "p832",
        "食堂",
        "canteen",
        120_000,
        "１２万元",
    ),
    ("2026/05/06", "珠海市第一中学", 3, 3, "440981", "食堂直供", "canteen", "食堂食材", "canteen", 30_000, "3万"),
    ("2026-03-01", "珠海市人民医院", 1, 1, "500237", "832平台", "p832", "食堂食材", "canteen", 50_000, "50000"),
    ("2026-02-01", "市总工会", 0, 0, "湄潭县", "832平台", "p832", "节日慰问品", "holiday_gift", 60_000, "6万元"),
    ("2026-06-10", "珠海市总工会", 1, 1, "巫山县", "专馆", "hall", "慰问品", "holiday_gift", 40_000, "40000"),
    ("2026-06-12", "珠海市总工会", 5, 5, "533301", "专区", "zone", "节日慰问", "holiday_gift", 20_000, "２００００"),
    ("2026-01-20", "珠海市教育工会", 4, 4, "520526", "专区", "zone", "节日慰问品", "holiday_gift", 30_000, "3万元"),
    ("2026-04-02", "广州市越秀区机关工会", 4, 4, "520526", "专馆", "hall", "集体福利", "welfare", 50_000, "5万元"),
    ("2026-05-09", "广州市越秀区机关工会", 2, 2, "540481", "832平台", "p832", "职工福利", "welfare", 20_000, "20000"),
    ("2026-05-20", "广州城投", 3, 3, "440981", "电商", "ecommerce", "其他", "other", 100_000, "10万元"),
    ("2025-05-01", "广州市城市建设投资集团", 3, 3, "440981", "电商", "ecommerce", "其他", "other", 80_000, "8万元"),
    ("2025-11-03", "广州市城市建设投资集团", 3, 3, "440981", "展销会", "fair", "其他", "other", 25_000, "25000"),
]
# 附件2 消费扶贫证明材料 of 珠海市教育工会 for 2026-05 (no 产地 column: it comes from the supplier).
PROOFS = [
    ("1", "湄潭翠芽", 0, "珠海市教育工会", "50公斤", "15000", "2026-05-08", "节日慰问品", "520328", "holiday_gift"),
    ("2", "巫山脆李", 1, "珠海市教育工会", "800斤", "1.2万元", "2026年5月20日", "集体福利", "500237", "welfare"),
]
# 附件1 带贫人员名册 of 珠海市教育工会 for 2026-05: (name, benefit as written, benefit in yuan)
BENEFICIARIES = [("张演示", "1200", 1200.0), ("李演示", "０.３万元", 3000.0), ("王演示", "800.50", 800.5)]


def _xlsx(title: str, header: list[str], rows: list[list]) -> bytes:
    """As an office makes one: the title merged across the columns above the header."""
    wb = Workbook()
    ws = wb.active
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _gbk_csv(title: str, header: list[str], rows: list[list]) -> bytes:
    """As Excel saves a CSV on a Chinese Windows: GBK, a title line, the header."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title] + [""] * (len(header) - 1))
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("gbk")


def _budget_cells(b: dict, i: int) -> list:
    def wan(v):  # under the 万元 header
        return None if v is None else f"{v / 10_000:g}"

    gift = b.get("gift")
    return [
        str(2026) if i % 2 else "2026年",
        wan(b.get("canteen")) if i != 1 else "２５０",
        None if b.get("share") is None else f"{b['share'] * 100:g}%",
        None if b.get("reserved") is None else f"{b['reserved']:,}",
        None if b.get("members") is None else f"{b['members']}人",
        None if gift is None else f"{gift / 10_000:g}万元",
        b.get("welfare"),
        f"{b['plan'] / 10_000:g}万元",
    ]


def _office_files(admin_year: int) -> list[tuple[str, str, bytes]]:
    """(form, file name, bytes) of every register, in the order an office loads them."""
    return [
        (
            "units",
            "单位名录.xlsx",
            _xlsx(
                "消费帮扶责任单位名录",
                ["单位名称", "类型", "所在地", "适用辖区", "统一社会信用代码", "简称"],
                [[n, kt, rt, j, None, a or None] for n, _k, kt, _r, rt, j, a in UNITS],
            ),
        ),
        (
            "budgets",
            "年度预算.csv",
            _gbk_csv(
                f"{admin_year}年度各单位消费帮扶预算与预留份额",
                [
                    "单位",
                    "年度",
                    "食堂食材预算（万元）",
                    "预留比例",
                    "预留金额",
                    "会员人数",
                    "慰问品经费",
                    "集体福利额度",
                    "消费帮扶计划",
                ],
                [[n, *_budget_cells(b, i)] for i, (n, b) in enumerate(BUDGETS.items())],
            ),
        ),
        (
            "suppliers",
            "供应商名录.csv",
            _gbk_csv("消费帮扶供应商名录", ["供应商名称", "所在县区", "主体类型"], [list(s) for s in SUPPLIERS]),
        ),
        (
            "products",
            "产品名库.xlsx",
            _xlsx(
                "消费帮扶产品名库",
                ["品名", "产品类别", "产地", "供应商", "上市时间", "年供应量", "参考价格", "认定日期", "产品状态"],
                [list(p) for p in PRODUCTS],
            ),
        ),
        (
            "outlets",
            "网点名录.xlsx",
            _xlsx(
                "五专网点名录",
                ["网点名称", "网点类型", "详细地址", "所在区县", "经度", "纬度", "运营状态", "状态说明"],
                [list(o) for o in OUTLETS],
            ),
        ),
        (
            "pairings",
            "结对关系.csv",
            _gbk_csv("结对关系", ["帮扶方", "受援地区", "结对类型", "起始年份"], [list(p) for p in PAIRINGS]),
        ),
        # 政策规则 of the office beside the seeds' (init loaded those): 广州's unions owe 30 % of the
        # 节日慰问品 budget in 帮扶产品 from 2026 — a rule the seeds do not have.
        (
            "rules",
            "政策规则.csv",
            _gbk_csv(
                "广州市消费帮扶政策规则（2026年）",
                [
                    "适用辖区",
                    "起止年度",
                    "对象类型",
                    "考核指标",
                    "目标值",
                    "规则名称",
                    "条款原文",
                    "依据文件",
                    "文号",
                    "条款",
                ],
                [
                    [
                        "广州市",
                        "2026至今",
                        "工会",
                        "慰问品帮扶产品占比",
                        "３０％",
                        "工会慰问品帮扶产品占比≥30%",
                        "各级工会节日慰问品采购脱贫地区农副产品的比例不低于30%。",
                        "广州市消费帮扶工作方案（示例）",
                        "",
                        "二（三）",
                    ]
                ],
            ),
        ),
        (
            "meetings",
            "联席会议.xlsx",
            _xlsx("联席会议记录", ["会议日期", "会议名称", "会议议题"], [list(m) for m in MEETINGS]),
        ),
    ]


def _purchase_file() -> bytes:
    rows = [
        [d, buyer, SUPPLIERS[s][0], PRODUCTS[p][0], origin, ch, pu, "500kg" if i % 3 == 0 else None, written]
        for i, (d, buyer, s, p, origin, ch, _c, pu, _p, _a, written) in enumerate(PURCHASES)
    ]
    header = ["采购日期", "采购单位名称", "供货单位", "商品名称", "原产地", "采购方式", "采购用途", "重量", "采购金额"]
    return _gbk_csv("消费帮扶采购台账（2025—2026年）", header, rows)


def _proof_file() -> bytes:
    rows = [
        [seq, prod, SUPPLIERS[s][0], buyer, q, amt, d, remark] for seq, prod, s, buyer, q, amt, d, remark, *_ in PROOFS
    ]
    header = ["序号", "产品名称", "卖方", "买方", "数量", "金额", "交易时间", "备注"]
    return _xlsx("附件2　消费扶贫证明材料", header, rows)


def _beneficiary_file() -> bytes:
    rng = random.Random(17)
    rows = [
        [name, fictional_id_number(rng, "520328", date(1970 + i, 3, 9)), f"1380013800{i}", written]
        for i, (name, written, _) in enumerate(BENEFICIARIES)
    ]
    return _gbk_csv("附件1　带贫人员名册", ["姓名", "身份证号码", "联系电话", "收益金额"], rows)


def _facts() -> list[dict]:
    """Every purchase the files carry, as plain values: date, unit, channel, purpose, origin, amount."""
    out = [
        dict(
            day=date.fromisoformat(d.translate(str.maketrans("０１２３４５６７８９", "0123456789")).replace("/", "-")),
            unit=ALIAS.get(buyer, buyer),
            channel=channel,
            purpose=purpose,
            origin=PRODUCTS[p][2],
            amount=float(amount),
        )
        for d, buyer, _s, p, _o, _ct, channel, _pt, purpose, amount, _w in PURCHASES
    ]
    days = {"2026-05-08": date(2026, 5, 8), "2026年5月20日": date(2026, 5, 20)}
    amounts = {"15000": 15_000.0, "1.2万元": 12_000.0}
    out += [
        dict(day=days[d], unit=buyer, channel="other", purpose=purpose, origin=origin, amount=amounts[amt])
        for _seq, _p, _s, buyer, _q, amt, d, _r, origin, purpose in PROOFS
    ]
    return out


def _sum(facts, **where) -> float:
    return sum(
        x["amount"]
        for x in facts
        if all((v(x[k]) if callable(v) else x[k] == v) for k, v in where.items() if k not in ("start", "end"))
        and where.get("start", date.min) <= x["day"] <= where.get("end", date.max)
    )


def _rule_rows(evaluated, code: str) -> dict[str, dict]:
    d = evaluated[evaluated.rule_code == code]
    return {r["unit_name"]: r for r in d.to_dict("records")}


def _status(actual: float, expected: float, target: float) -> str:
    shortfall = expected - actual
    return "green" if shortfall <= 0.005 else "yellow" if shortfall < rules.YELLOW_BAND * target else "red"


def test_go_live_from_office_files(fresh_engine, monkeypatch):
    engine = fresh_engine
    url = engine.url.render_as_string(hide_password=False)

    # The operator: init an empty store (no demo), then the first administrator.
    assert cli.main(["init", "--url", url]) == 0
    assert store_is_empty(engine) and not is_demo_store(engine)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["user", "--url", url, "add", "xzb-admin", "--role", "admin", "--password-stdin"]) == 0
    admin = auth.authenticate(engine, "xzb-admin", PASSWORD)
    assert admin.role == "admin"

    # The office loads every register from its files.
    expected_new = {
        "units": len(UNITS),
        "budgets": len(BUDGETS),
        "suppliers": len(SUPPLIERS),
        "products": len(PRODUCTS),
        "outlets": len(OUTLETS),
        "pairings": 1,  # the seeds' pair is already in the store: unchanged
        "meetings": len(MEETINGS),
        "rules": 1,
    }
    for form, name, data in _office_files(2026):
        parsed = parse_upload(data, form, name, TODAY)
        assert parsed.ok, (form, [e.message for e in parsed.errors])
        outcome = commit_register(engine, admin, parsed)
        assert outcome.committed, (form, outcome.message, [e.message for e in outcome.errors])
        assert outcome.created == expected_new[form], (form, outcome.message)

    with engine.connect() as conn:
        stored = {
            n: (k, r, j)
            for n, k, r, j in conn.execute(text("SELECT name, kind, region_code, jurisdiction_code FROM buyer_unit"))
        }
        aliases = dict(
            conn.execute(text("SELECT a.alias, u.name FROM unit_alias a JOIN buyer_unit u ON u.id = a.unit_id")).all()
        )
        budgets = {
            n: (float(c or 0), float(g or 0), float(w or 0), float(p), m)
            for n, c, g, w, p, m in conn.execute(
                text(
                    "SELECT u.name, b.canteen_food_budget, b.gift_budget, b.welfare_budget, b.plan_amount,"
                    " b.union_members FROM unit_budget b JOIN buyer_unit u ON u.id = b.unit_id WHERE b.year = 2026"
                )
            )
        }
        outlet_status = dict(conn.execute(text("SELECT name, status FROM outlet")).all())
    assert stored == {u[0]: (u[1], u[3], {"珠海市": "440400", "广州市": "440100"}[u[5]]) for u in UNITS}
    assert aliases == ALIAS
    for unit, b in BUDGETS.items():
        assert budgets[unit][:4] == (
            b.get("canteen", 0),
            b.get("gift", 0),
            b.get("welfare", 0),
            b["plan"],
        ), unit
        assert budgets[unit][4] == b.get("members")
    assert outlet_status == {
        "珠海市民中心消费帮扶专馆": "operating",
        "金湾机场消费帮扶专区": "operating",
        "越秀区消费帮扶专柜": "suspended",
    }

    # 数据报送: the purchase ledger, then both seed-002 forms of one union for May.
    ledger = parse_upload(_purchase_file(), "purchases", "采购台账.csv", TODAY)
    assert ledger.ok and ledger.encoding == "gb18030", [e.message for e in ledger.errors]
    out = commit_upload(engine, ledger, principal=admin)
    assert out.committed and out.created == {"supplier": 0, "product": 0}, out.message
    proofs = parse_upload(_proof_file(), "proofs", "附件2.xlsx", TODAY)
    assert proofs.ok, [e.message for e in proofs.errors]
    out = commit_upload(engine, proofs, principal=admin, unit="珠海市教育工会", period="2026-05")
    assert out.committed and out.created == {"supplier": 0, "product": 0}, out.message
    people = parse_upload(_beneficiary_file(), "beneficiaries", "附件1.csv", TODAY)
    assert people.ok, [e.message for e in people.errors]
    out = commit_upload(engine, people, principal=admin, unit="珠海市教育工会", period="2026-05")
    assert out.committed, out.message

    facts = _facts()
    this_year = dict(start=F.start, end=F.end)
    last_year = dict(start=date(2025, 1, 1), end=date(2025, 6, 30))
    total = _sum(facts, **this_year)
    assert total == 600_000 + 15_000 + 12_000  # the ledger's 2026 rows and the 附件2 rows
    per_unit = {u[0]: _sum(facts, unit=u[0], **this_year) for u in UNITS}

    # Plain SQL over the facts agrees with the files.
    with engine.connect() as conn:
        sql_total = conn.execute(
            text("SELECT SUM(amount) FROM purchase WHERE purchase_date BETWEEN :a AND :b"), dict(a=F.start, b=F.end)
        ).scalar()
        sql_units = dict(
            conn.execute(
                text(
                    "SELECT u.name, SUM(p.amount) FROM purchase p JOIN buyer_unit u ON u.id = p.buyer_unit_id"
                    " WHERE p.purchase_date BETWEEN :a AND :b GROUP BY u.name"
                ),
                dict(a=F.start, b=F.end),
            ).all()
        )
        benefits = conn.execute(text("SELECT COUNT(*), SUM(amount) FROM benefit")).one()
    assert float(sql_total) == pytest.approx(total)
    assert {n: float(a) for n, a in sql_units.items()} == pytest.approx({n: a for n, a in per_unit.items() if a})
    assert benefits[0] == len(BENEFICIARIES) and float(benefits[1]) == pytest.approx(sum(b[2] for b in BENEFICIARIES))

    # 总览.
    plan = sum(b["plan"] for b in BUDGETS.values())
    kpis = overview_kpis(engine, F)
    assert kpis["amount"] == pytest.approx(total)
    assert kpis["amount_last_year"] == pytest.approx(_sum(facts, **last_year)) == 80_000
    assert kpis["plan"] == plan and kpis["plan_share"] == pytest.approx(total / plan)
    assert kpis["purchases"] == sum(1 for x in facts if F.start <= x["day"] <= F.end)
    assert kpis["units_reporting"] == sum(1 for a in per_unit.values() if a) and kpis["units_total"] == len(UNITS)
    assert (kpis["outlets_total"], kpis["outlets_operating"]) == (3, 2)
    months = monthly_amounts(engine, F).set_index("month")
    for m in range(1, 7):
        expected = _sum(facts, start=date(2026, m, 1), end=date(2026, m, calendar.monthrange(2026, m)[1]))
        assert months.loc[m, "amount"] == pytest.approx(expected), m
    channels = amount_by_channel(engine, F).set_index("channel").amount.to_dict()
    assert channels == pytest.approx(
        {c: _sum(facts, channel=c, **this_year) for c in {x["channel"] for x in facts if x["day"] >= F.start}}
    )

    # 采购进度: the same total, by unit kind and by unit.
    p = procurement_kpis(engine, F)
    assert (p["amount"], p["plan"], p["units_buying"]) == (pytest.approx(total), plan, kpis["units_reporting"])
    kinds = amount_by(engine, F, "buyer_kind").set_index("key")
    for kind in {u[1] for u in UNITS}:
        assert kinds.loc[kind, "amount"] == pytest.approx(_sum(facts, unit=lambda n, k=kind: KIND[n] == k, **this_year))
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT name, id FROM buyer_unit")).all())
    for unit, amount in per_unit.items():
        assert unit_purchase_totals(engine, F, ids[unit])["amount"] == pytest.approx(amount), unit

    # The seed rules judge those units on those budgets (珠海 and 广州 rules, year to the end of June).
    progress = time_progress(AS_OF)
    evaluated = rules.evaluate(engine, F)
    canteen_832 = {u: _sum(facts, unit=u, purpose="canteen", channel="p832", **this_year) for u in per_unit}
    gift = {u: _sum(facts, unit=u, purpose="holiday_gift", **this_year) for u in per_unit}
    eastwest = {
        u: _sum(facts, unit=u, purpose="holiday_gift", origin=lambda o: o.startswith(EASTWEST_ZH), **this_year)
        for u in per_unit
    }
    welfare_outlet = {
        u: _sum(facts, unit=u, purpose="welfare", channel=lambda c: c in ("hall", "zone"), **this_year)
        for u in per_unit
    }

    reserve = _rule_rows(evaluated, "zh_reserve_share")
    assert set(reserve) == {"珠海市第一中学", "珠海市人民医院"}
    for unit, row in reserve.items():
        b = BUDGETS[unit]
        assert row["target_yuan"] == pytest.approx(b["canteen"] * 0.30)
        assert row["actual_yuan"] == pytest.approx(b["reserved"])
    assert (reserve["珠海市第一中学"]["status"], reserve["珠海市人民医院"]["status"]) == ("green", "red")

    p832 = _rule_rows(evaluated, "zh_canteen_832_share")
    for unit, row in p832.items():
        target = BUDGETS[unit]["canteen"] * 0.30
        assert row["target_yuan"] == pytest.approx(target)
        assert row["actual_yuan"] == pytest.approx(canteen_832[unit])
        assert row["status"] == _status(canteen_832[unit], target * progress, target), unit
    assert p832["珠海市人民医院"]["status"] == "red"

    gifts = _rule_rows(evaluated, "zh_union_gift_share")
    assert set(gifts) == {"珠海市总工会", "珠海市教育工会"}
    for unit, row in gifts.items():
        target = BUDGETS[unit]["gift"] * 0.40
        assert row["target_yuan"] == pytest.approx(target)
        assert row["actual_yuan"] == pytest.approx(gift[unit])
        assert row["status"] == _status(gift[unit], target * progress, target), unit
    assert gift["珠海市教育工会"] == 30_000 + 15_000  # the 附件2 gift counts

    ew = _rule_rows(evaluated, "zh_union_gift_eastwest")
    for unit, row in ew.items():
        assert (row["base_yuan"], row["actual_yuan"]) == (pytest.approx(gift[unit]), pytest.approx(eastwest[unit]))
    # 泸水市 counts as east-west only through the pairing the office's file added.
    assert eastwest["珠海市总工会"] == 60_000 + 20_000

    welfare = _rule_rows(evaluated, "gz_union_welfare_outlet")
    row = welfare["广州市越秀区机关工会"]
    assert row["target_yuan"] == pytest.approx(160_000 * 0.50)
    assert row["actual_yuan"] == pytest.approx(welfare_outlet["广州市越秀区机关工会"]) == 50_000

    # The office's own rule (from its rules file) judges 广州's union like a seed rule.
    gz_gift = evaluated[evaluated.rule_code.str.startswith("440100_gift_assist_share")]
    assert list(gz_gift.unit_name) == ["广州市越秀区机关工会"]
    assert gz_gift.iloc[0]["target_yuan"] == pytest.approx(200_000 * 0.30)
    assert gz_gift.iloc[0]["actual_yuan"] == pytest.approx(gift["广州市越秀区机关工会"])

    # 采购进度's ranking lists exactly the units the rules judged, the hospital among the red ones.
    ranking = rule_progress(engine, F)["ranking"]
    assert set(ranking.unit_name) <= set(per_unit)
    assert ranking.set_index("unit_name").loc["珠海市人民医院", "status"] == "red"
