"""政策规则 in through the front door, on both stores: rules loaded from office files (a merged title
row, GBK, header synonyms, codes or Chinese names), an unknown metric refused, admins only, and
versions by year — a changed threshold applies from the effective year on while past years keep the
threshold they were judged by, in the store and in the rule engine's verdicts. ``init`` never resets
a rule changed in the app."""

from __future__ import annotations

import io
import json
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select, update

from data_access import cli
from data_access.desks.ingest import parse_upload, template_bytes
from data_access.desks.registers import commit_register, register_export, register_frame
from data_access.engines import rules
from data_access.engines.rules import METRIC_NAMES, METRICS, THRESHOLD_UNITS
from data_access.query.filters import Filters
from data_access.reference.seeds import load_reference_data
from data_access.reference.setup import init_store
from data_access.store import schema as s
from data_access.trust.auth import AccessDenied, Principal
from tests.principals import ADMIN, DESK

HEADER = ["适用辖区", "起止年度", "对象类型", "指标", "阈值", "名称", "条款原文", "文件名称", "文号", "条款"]
DOC = ("《杭州市消费帮扶工作方案》", "杭协办〔2025〕3号")
HANGZHOU = [
    ["杭州市", "2025-", "预算单位", "预留份额比例", "10%", "预算单位预留份额≥10%", "预留不低于10%。", *DOC, "三（一）"],
    [
        "330100",
        "2025至今",
        "工会",
        "慰问品人均帮扶金额",
        "300元/人",
        "工会人均≥300元",
        "人均不少于300元。",
        *DOC,
        "三（二）",
    ],
    ["浙江省杭州市", "2025-2027", "各类单位", "按月报送", "25日", "每月25日前报送", "每月25日前报送。", *DOC, "五"],
]


def rules_xlsx(
    rows,
    header=("辖区", "适用年度", "适用对象", "考核指标", "目标值", "规则名称", "原文", "政策文件", "文号", "条款号"),
):
    """As an office makes it: a merged title row, a blank line, synonym headers, a 填表人 footer."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["消费帮扶政策规则（杭州市协作办）"])
    ws.merge_cells("A1:J1")
    ws.append([])
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    ws.append(["填表人：李四"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def gbk_csv(lines: list[list[str]]) -> bytes:
    return "".join(",".join(line) + "\r\n" for line in lines).encode("gbk")


def load(engine, form: str, data: bytes, name: str, who: Principal = ADMIN, year: int | None = None):
    return commit_register(engine, who, parse_upload(data, form, name, date(2026, 6, 30)), year=year)


@pytest.fixture
def store(fresh_engine):
    init_store(fresh_engine)
    return fresh_engine


def _rules(engine, *where) -> list[dict]:
    p = s.policy_rule
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(p).where(*where).order_by(p.c.year_from, p.c.id)).mappings()]


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (s.policy_rule, s.report_batch, s.audit_log)
        }
        p = s.policy_rule
        counts["rules"] = conn.execute(
            select(p.c.code, p.c.year_from, p.c.year_to, p.c.threshold, p.c.title, p.c.version).order_by(p.c.code)
        ).all()
    return counts


def _zh_reserve(engine) -> list[dict]:
    p = s.policy_rule
    return _rules(engine, p.c.jurisdiction_code == "440400", p.c.metric == "reserved_share")


def _edited_seed(threshold: str = "25%", title: str = "预算单位预留份额≥25%", years: str = "2021-") -> bytes:
    """The seed rule zh_reserve_share as an admin would type it again, with a new threshold."""
    return gbk_csv(
        [
            HEADER,
            [
                "珠海市",
                years,
                "预算单位",
                "reserved_share",
                threshold,
                title,
                "各级预算单位应当按照不低于25%的比例预留年度食堂食材采购份额。",
                "《关于大力推进消费帮扶巩固拓展脱贫攻坚成果的工作方案》（珠海）",
                "珠委农组〔2021〕15号",
                "四（二）",
            ],
        ]
    )


def test_every_engine_metric_has_a_name_and_a_threshold_unit():
    assert set(METRIC_NAMES) == set(METRICS) == set(THRESHOLD_UNITS)
    assert len(set(METRIC_NAMES.values())) == len(METRICS)


def test_rules_of_a_new_jurisdiction_load_from_an_office_xlsx_and_a_gbk_csv_and_judge_its_units(store):
    out = load(store, "rules", rules_xlsx(HANGZHOU), "政策规则.xlsx")
    assert out.committed and (out.created, out.updated, out.unchanged) == (3, 0, 0), [e.message for e in out.errors]
    got = {r["metric"]: r for r in _rules(store, s.policy_rule.c.jurisdiction_code == "330100")}
    reserve = got["reserved_share"]
    assert (reserve["subject_kind"], reserve["year_from"], reserve["year_to"]) == ("budget_unit", 2025, None)
    assert reserve["threshold"] == pytest.approx(0.10) and reserve["threshold_unit"] == "ratio"
    assert reserve["code"] == "330100_reserved_share_2025" and reserve["version"] == 1
    assert (reserve["source_doc_no"], reserve["source_clause"]) == ("杭协办〔2025〕3号", "三(一)")
    gift = got["gift_per_member"]
    assert (gift["subject_kind"], gift["threshold"], gift["threshold_unit"]) == ("union", 300.0, "yuan_per_member")
    monthly = got["report_monthly_by_day"]
    assert (monthly["subject_kind"], monthly["threshold"], monthly["year_to"]) == ("any_unit", 25.0, 2027)

    # Two year columns instead of 起止年度, the metric by its engine code, the threshold as a decimal.
    csv = gbk_csv(
        [
            ["辖区", "起始年度", "终止年度", "对象", "指标代码", "目标值", "名称", "原文", "文件", "文号", "条款"],
            ["杭州市", "2024", "2028年", "budget_unit", "canteen_832_share", "0.15", "832采购≥15%", "原文", *DOC, "四"],
            ["杭州市", "２０２５", "", "各单位", "按季报送", "每季度", "按季报送", "每季度报送。", DOC[0], "", "六"],
        ]
    )
    out = load(store, "rules", csv, "规则.csv")
    assert out.committed and out.created == 2, [e.message for e in out.errors]
    got = {r["metric"]: r for r in _rules(store, s.policy_rule.c.jurisdiction_code == "330100")}
    assert (got["canteen_832_share"]["year_from"], got["canteen_832_share"]["year_to"]) == (2024, 2028)
    assert got["canteen_832_share"]["threshold"] == pytest.approx(0.15)
    assert (got["report_quarterly"]["year_from"], got["report_quarterly"]["source_doc_no"]) == (2025, None)

    # A unit of 杭州 with its budget is now judged by these rules, exactly like by a seed rule.
    units = gbk_csv(
        [["单位名称", "单位类型", "所在地区", "帮扶辖区"], ["杭州市测试局", "预算单位", "上城区", "杭州市"]]
    )
    assert load(store, "units", units, "units.csv").committed
    budget = gbk_csv(
        [
            ["单位名称", "年度", "食堂食材采购预算（万元）", "预留比例", "预留金额（万元）"],
            ["杭州市测试局", "2026", "100", "12%", "12"],
        ]
    )
    assert load(store, "budgets", budget, "budgets.csv").committed
    evaluated = rules.evaluate(store, Filters(start=date(2026, 1, 1), end=date(2026, 6, 30)))
    mine = evaluated[evaluated.unit_name == "杭州市测试局"].set_index("rule_code")
    assert mine.loc["330100_reserved_share_2025", "threshold"] == pytest.approx(0.10)
    assert bool(mine.loc["330100_reserved_share_2025", "met"])
    assert mine.loc["330100_canteen_832_share_2024", "threshold"] == pytest.approx(0.15)
    assert "330100_report_quarterly_2025" in mine.index


@pytest.mark.parametrize(
    "row, field, words",
    [
        (
            ["杭州市", "2025-", "预算单位", "人均GDP增速", "10%", "名称", "原文", *DOC, "一"],
            "指标",
            ["预留份额比例", "按月报送"],
        ),
        (
            ["杭州市", "2025-", "预算单位", "产地区县采购额同比", "100%", "名称", "原文", *DOC, "一"],
            "对象类型",
            ["产地区县"],
        ),
        (["杭州市", "2025-", "产地区县", "预留份额比例", "10%", "名称", "原文", *DOC, "一"], "对象类型", ["产地区县"]),
        (["杭州市", "2025-", "各类单位", "按月报送", "10%", "名称", "原文", *DOC, "一"], "阈值", ["29日"]),
        (["杭州市", "2025-", "预算单位", "预留份额比例", "500元/人", "名称", "原文", *DOC, "一"], "阈值", ["10%"]),
        (["杭州市", "2025", "预算单位", "预留份额比例", "10%", "名称", "原文", *DOC, "一"], "起止年度", ["2021-2021"]),
        (["杭州市", "2027-2025", "预算单位", "预留份额比例", "10%", "名称", "原文", *DOC, "一"], "起止年度", ["早于"]),
        (
            ["不存在市", "2025-", "预算单位", "预留份额比例", "10%", "名称", "原文", *DOC, "一"],
            "适用辖区",
            ["不是已知"],
        ),
        (["杭州市", "2025-", "外星单位", "预留份额比例", "10%", "名称", "原文", *DOC, "一"], "对象类型", ["各类单位"]),
    ],
)
def test_a_bad_rule_is_refused_by_row_and_field_and_nothing_is_written(store, row, field, words):
    before = _snapshot(store)
    good = ["杭州市", "2025-", "工会", "慰问品人均帮扶金额", "300", "名称", "原文", *DOC, "二"]
    out = load(store, "rules", gbk_csv([HEADER, good, row]), "bad.csv")
    assert not out.committed
    hit = [e for e in out.errors if e.row == 3 and e.field == field]
    assert hit and all(w in hit[0].reason for w in words), [e.message for e in out.errors]
    assert f"第3行「{field}」" in hit[0].message
    assert _snapshot(store) == before


def test_only_an_admin_loads_rules(store):
    before = _snapshot(store)
    with store.connect() as conn:
        unit = conn.execute(select(s.buyer_unit.c.id).limit(1)).scalar()
    for who in (Principal(username="rep", role="reporter", unit_id=unit), DESK):
        with pytest.raises(AccessDenied):
            load(store, "rules", rules_xlsx(HANGZHOU), "政策规则.xlsx", who=who)
    assert _snapshot(store) == before


def _zhuhai_school(store) -> None:
    units = gbk_csv(
        [["单位名称", "单位类型", "所在地区", "帮扶辖区"], ["珠海市测试中学", "预算单位", "香洲区", "珠海市"]]
    )
    assert load(store, "units", units, "units.csv").committed
    budgets = gbk_csv(
        [["单位名称", "年度", "食堂食材采购预算（万元）", "预留比例", "预留金额（万元）"]]
        + [["珠海市测试中学", str(y), "100", "28%", "28"] for y in (2025, 2026)]
    )
    assert load(store, "budgets", budgets, "budgets.csv").committed


def _verdict(store, as_of: date):
    evaluated = rules.evaluate(store, Filters(start=date(as_of.year, 1, 1), end=as_of), as_of)
    mine = evaluated[(evaluated.unit_name == "珠海市测试中学") & (evaluated.metric == "reserved_share")]
    assert len(mine) == 1, mine
    return mine.iloc[0]


def test_a_changed_threshold_is_a_new_version_from_the_effective_year_and_past_years_keep_theirs(store):
    _zhuhai_school(store)
    assert (_verdict(store, date(2026, 6, 30)).threshold, _verdict(store, date(2026, 6, 30)).met) == (0.30, False)

    out = load(store, "rules", _edited_seed(), "珠海预留份额.csv", year=2026)
    assert out.committed and (out.created, out.updated, out.unchanged) == (1, 1, 0), [e.message for e in out.errors]
    old, new = _zh_reserve(store)
    assert (old["code"], old["year_from"], old["year_to"], old["threshold"], old["version"]) == (
        "zh_reserve_share",
        2021,
        2025,
        0.30,
        2,
    )
    assert old["title"] == "预算单位预留份额≥30%"  # the text past years were judged by stays with them
    assert (new["code"], new["year_from"], new["year_to"], new["version"]) == (
        "440400_reserved_share_2026",
        2026,
        None,
        1,
    )
    assert new["threshold"] == pytest.approx(0.25) and new["title"] == "预算单位预留份额≥25%"

    # The school filed 28%: behind the old 30% in 2025, on track against the new 25% in 2026.
    past, now = _verdict(store, date(2025, 6, 30)), _verdict(store, date(2026, 6, 30))
    assert (past.rule_code, past.threshold, bool(past.met)) == ("zh_reserve_share", 0.30, False)
    assert (now.rule_code, bool(now.met)) == ("440400_reserved_share_2026", True)
    assert now.threshold == pytest.approx(0.25)

    with store.connect() as conn:
        detail = conn.execute(
            select(s.audit_log.c.detail).where(
                s.audit_log.c.action == "register_change", s.audit_log.c.subject == "政策规则:zh_reserve_share"
            )
        ).scalar()
    change = json.loads(detail)
    assert (change["before"]["year_to"], change["after"]["year_to"]) == (None, 2025)

    # The same file again, or the same content in another file, changes nothing.
    before = _snapshot(store)
    again = load(store, "rules", _edited_seed(), "珠海预留份额.csv", year=2026)
    assert again.already and not again.committed
    copy = load(store, "rules", _edited_seed() + b"\r\n", "珠海预留份额-副本.csv", year=2026)
    assert copy.committed and (copy.created, copy.updated, copy.unchanged) == (0, 0, 1), [
        e.message for e in copy.errors
    ]
    after = _snapshot(store)
    assert after["rules"] == before["rules"] and after["audit_log"] == before["audit_log"]


def test_text_changes_update_a_version_in_place_and_a_later_start_closes_the_open_version(store):
    out = load(store, "rules", _edited_seed("30%", "预算单位预留食堂食材采购份额≥30%"), "title.csv", year=2026)
    assert (out.created, out.updated) == (0, 1), [e.message for e in out.errors]
    (rule,) = _zh_reserve(store)
    assert (rule["code"], rule["year_to"], rule["version"]) == ("zh_reserve_share", None, 2)
    assert rule["title"] == "预算单位预留食堂食材采购份额≥30%" and rule["threshold"] == 0.30

    # A new version from 2028 (a year not yet started): the open version is closed at 2027.
    out = load(store, "rules", _edited_seed("35%", "预留≥35%", "2028-"), "2028.csv", year=2026)
    assert (out.created, out.updated) == (1, 1), [e.message for e in out.errors]
    old, new = _zh_reserve(store)
    assert (old["year_to"], old["threshold"], new["year_from"], new["year_to"]) == (2027, 0.30, 2028, None)
    assert new["threshold"] == pytest.approx(0.35)

    # Its threshold changed before it starts: that version is corrected in place, no new version.
    out = load(store, "rules", _edited_seed("33%", "预留≥33%", "2028-"), "2028b.csv", year=2026)
    assert (out.created, out.updated) == (0, 1), [e.message for e in out.errors]
    old, new = _zh_reserve(store)
    assert (new["year_from"], new["version"], new["title"]) == (2028, 2, "预留≥33%")
    assert new["threshold"] == pytest.approx(0.33)


@pytest.mark.parametrize(
    "threshold, years, field, words",
    [
        # A version that ended before the effective year keeps its threshold.
        ("20%", "2021-2025", "阈值", ["2026年起生效", "过去的年度"]),
        # A new version inside the closed 2021–2025 version's years.
        ("20%", "2024-", "起止年度", ["重叠", "zh_reserve_share"]),
    ],
)
def test_changes_that_would_rewrite_judged_years_or_overlap_are_refused(store, threshold, years, field, words):
    assert load(store, "rules", _edited_seed(), "split.csv", year=2026).committed
    before = _snapshot(store)
    out = load(store, "rules", _edited_seed(threshold, years=years), "bad.csv", year=2026)
    assert not out.committed
    hit = [e for e in out.errors if e.row == 2 and e.field == field]
    assert hit and all(w in hit[0].reason for w in words), [e.message for e in out.errors]
    assert _snapshot(store) == before


def test_an_unchanged_export_re_imports_with_no_change_and_an_edited_export_keeps_history(store):
    assert load(store, "rules", rules_xlsx(HANGZHOU), "政策规则.xlsx").committed
    assert load(store, "rules", _edited_seed(), "split.csv", year=2026).committed
    frame = register_frame(store, "rules")
    assert list(frame.columns) == HEADER and len(frame) == len(_rules(store))
    zh = frame[(frame["适用辖区"] == "440400") & (frame["指标"] == "预留份额比例")]
    assert list(zh["起止年度"]) == ["2021-2025", "2026-"] and list(zh["阈值"]) == ["30%", "25%"]

    before = _snapshot(store)
    out = load(store, "rules", register_export(store, "rules"), "政策规则-导出.xlsx", year=2026)
    assert out.committed and (out.created, out.updated) == (0, 0) and out.unchanged == len(frame), [
        e.message for e in out.errors
    ]
    after = _snapshot(store)
    assert after["rules"] == before["rules"] and after["audit_log"] == before["audit_log"]

    # Export → edit one cell (杭州's monthly deadline from 25日 to 20日, from 2027) → re-import.
    wb = openpyxl.load_workbook(io.BytesIO(register_export(store, "rules")))
    ws = wb.active
    header_row = next(r for r in ws.iter_rows(min_row=1, max_row=5) if r[0].value == "适用辖区")[0].row
    for row in ws.iter_rows(min_row=header_row + 1):
        if row[0].value == "330100" and row[3].value == "按月报送":
            row[4].value = "20日"
    buf = io.BytesIO()
    wb.save(buf)
    out = load(store, "rules", buf.getvalue(), "政策规则-改.xlsx", year=2027)
    assert (out.created, out.updated) == (1, 1), [e.message for e in out.errors]
    p = s.policy_rule
    monthly = _rules(store, p.c.jurisdiction_code == "330100", p.c.metric == "report_monthly_by_day")
    assert [(r["year_from"], r["year_to"], r["threshold"]) for r in monthly] == [(2025, 2026, 25.0), (2027, 2027, 20.0)]


def test_init_keeps_a_rule_an_admin_changed_and_never_reopens_a_closed_one(store):
    assert load(store, "rules", _edited_seed(), "split.csv", year=2026).committed
    title = _edited_seed("40%", "工会节日慰问品经费用于帮扶产品不低于四成").replace(
        "珠海市,2021-,预算单位,reserved_share".encode("gbk"), "珠海市,2021-,工会,gift_assist_share".encode("gbk")
    )
    assert load(store, "rules", title, "gift.csv", year=2026).committed
    with store.begin() as conn:  # an untouched seed rule tampered with outside the app is still reset
        conn.execute(update(s.policy_rule).where(s.policy_rule.c.code == "zh_canteen_832_share").values(threshold=0.9))
    before = _snapshot(store)["rules"]

    init_store(store)
    load_reference_data(store)

    old, new = _zh_reserve(store)
    assert (old["year_to"], old["threshold"], old["version"]) == (2025, 0.30, 2)
    assert (new["year_from"], new["year_to"]) == (2026, None) and new["threshold"] == pytest.approx(0.25)
    (gift,) = _rules(store, s.policy_rule.c.code == "zh_union_gift_share")
    assert gift["title"] == "工会节日慰问品经费用于帮扶产品不低于四成" and gift["version"] == 2
    (canteen,) = _rules(store, s.policy_rule.c.code == "zh_canteen_832_share")
    assert canteen["threshold"] == 0.30 and canteen["version"] == 1
    assert _snapshot(store)["rules"] == [
        r if r[0] != "zh_canteen_832_share" else (*r[:3], 0.30, *r[4:]) for r in before
    ]


def test_the_template_is_recognised_and_the_cli_loads_rules(store, tmp_path):
    for kind in ("xlsx", "csv"):
        parsed = parse_upload(template_bytes("rules", kind), "rules", f"t.{kind}", date(2026, 6, 30))
        assert [e.reason for e in parsed.errors] == ["文件只有表头（第2行），没有数据行"], kind
    path = tmp_path / "政策规则.xlsx"
    path.write_bytes(rules_xlsx(HANGZHOU))
    url = store.url.render_as_string(hide_password=False)
    assert cli.main(["import", str(path), "--form", "rules", "--year", "2026", "--url", url]) == 0
    assert len(_rules(store, s.policy_rule.c.jurisdiction_code == "330100")) == 3
    bad = tmp_path / "bad.csv"
    bad.write_bytes(gbk_csv([HEADER, ["杭州市", "2025-", "预算单位", "人均GDP", "1", "名", "文", *DOC, "一"]]))
    assert cli.main(["import", str(bad), "--form", "rules", "--url", url]) == 1
