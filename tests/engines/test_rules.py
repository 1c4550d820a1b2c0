"""The rule engine on a small hand-built store (figures worked out by hand) and on the demo store."""

from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import insert

from data_access.engines import rules
from data_access.query.filters import Filters
from data_access.reference.seeds import POLICY_RULES
from data_access.reference.setup import init_store
from data_access.store.schema import buyer_unit, purchase, report_batch, unit_budget

NOV30 = date(2026, 11, 30)  # time progress 334/365
MAY15 = date(2026, 5, 15)  # time progress 135/365
YEAR = Filters(start=date(2026, 1, 1), end=NOV30)

UNITS = [
    # id, name, kind, region, jurisdiction
    (1, "珠海测试局甲", "budget_unit", "440402", "440400"),
    (2, "珠海测试局乙", "budget_unit", "440403", "440400"),
    (3, "珠海测试工会", "union", "440402", "440400"),
    (4, "大通湖测试工会", "union", "4309A1", "4309A1"),
    (5, "广州测试局", "budget_unit", "440103", "440100"),
    (6, "广州测试工会", "union", "440104", "440100"),
    (7, "重庆测试局", "budget_unit", "500103", "500000"),
]
BUDGETS = [
    dict(unit_id=1, canteen_food_budget=1_000_000, reserved_share=0.30, reserved_amount=300_000),
    dict(unit_id=2, canteen_food_budget=500_000, reserved_share=None, reserved_amount=None),
    dict(unit_id=3, union_members=100, gift_budget=100_000, welfare_budget=50_000),
    dict(unit_id=4, union_members=200, gift_budget=150_000, welfare_budget=80_000),
    dict(unit_id=5, canteen_food_budget=800_000, reserved_share=0.12, reserved_amount=96_000),
    dict(unit_id=6, union_members=300, gift_budget=200_000, welfare_budget=100_000),
    dict(unit_id=7, canteen_food_budget=600_000, reserved_share=0.15, reserved_amount=90_000),
]
PURCHASES = [
    # date, unit, origin, channel, purpose, amount
    ("2026-03-10", 1, "520302", "p832", "canteen", 120_000),
    ("2026-02-10", 2, "520302", "p832", "canteen", 130_000),
    ("2026-02-11", 2, "520302", "canteen", "canteen", 50_000),  # not through 832: not counted
    ("2026-09-20", 3, "520302", "hall", "holiday_gift", 30_000),  # 遵义: east-west
    ("2026-09-21", 3, "441702", "zone", "holiday_gift", 10_000),  # 阳江: in-province, not east-west
    ("2026-09-22", 4, "4309A1", "counter", "holiday_gift", 60_000),
    ("2025-03-01", 5, "520502", "p832", "canteen", 100_000),
    ("2025-12-15", 5, "520502", "p832", "canteen", 50_000),
    ("2026-02-01", 5, "520502", "p832", "canteen", 80_000),
    ("2026-06-01", 6, "520502", "hall", "welfare", 30_000),
    ("2026-06-02", 6, "520502", "zone", "welfare", 20_000),
    ("2026-06-03", 6, "520502", "p832", "welfare", 40_000),  # welfare not at 专馆/专区
    ("2025-04-01", 7, "500237", "p832", "canteen", 100_000),  # 巫山县: a former deep-poverty township host
    ("2026-04-01", 7, "500237", "p832", "canteen", 120_000),
    ("2025-04-02", 7, "500154", "p832", "canteen", 50_000),  # 开州区: nothing this year
]
# 大通湖 unit 4: Jan–Oct reported, March late (after the 29th), November (due 29 Nov) missing.
# 广州 unit 5: Q1, Q2 reported, Q3 missing; unit 6: nothing.
REPORTS = [(4, f"2026-{m:02d}", datetime(2026, m, 20, 10)) for m in range(1, 11) if m != 3] + [
    (4, "2026-03", datetime(2026, 4, 2, 9)),
    (5, "2026-Q1", datetime(2026, 4, 10, 9)),
    (5, "2026-Q2", datetime(2026, 7, 10, 9)),
]


@pytest.fixture
def small_store(fresh_engine):
    init_store(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(
            insert(buyer_unit),
            [dict(id=i, name=n, kind=k, region_code=r, jurisdiction_code=j) for i, n, k, r, j in UNITS],
        )
        conn.execute(
            insert(unit_budget),
            [
                dict(
                    dict.fromkeys(
                        (
                            "canteen_food_budget",
                            "reserved_share",
                            "reserved_amount",
                            "union_members",
                            "gift_budget",
                            "welfare_budget",
                            "plan_amount",
                        )
                    ),
                    year=2026,
                    **b,
                )
                for b in BUDGETS
            ],
        )
        conn.execute(
            insert(purchase),
            [
                dict(
                    id=i + 1,
                    purchase_date=date.fromisoformat(d),
                    month=int(d[:4] + d[5:7]),
                    buyer_unit_id=u,
                    origin_code=o,
                    channel=c,
                    purpose=p,
                    amount=a,
                )
                for i, (d, u, o, c, p, a) in enumerate(PURCHASES)
            ],
        )
        conn.execute(
            insert(report_batch),
            [
                dict(
                    id=i + 1,
                    form="proofs",
                    unit_id=u,
                    period=p,
                    submitted_at=at,
                    submitted_by="test",
                    file_hash=f"h{i}",
                    row_count=1,
                    status="committed",
                )
                for i, (u, p, at) in enumerate(REPORTS)
            ],
        )
    return fresh_engine


def _one(df: pd.DataFrame, rule: str, unit=None, region=None) -> pd.Series:
    hit = df[(df.rule_code == rule) & ((df.unit_id == unit) if unit else (df.region_code == region))]
    assert len(hit) == 1, (rule, unit, region, hit)
    return hit.iloc[0]


def test_forty_percent_of_target_is_green_in_may_and_red_in_november(small_store):
    may = _one(rules.evaluate(small_store, YEAR, as_of=MAY15), "zh_canteen_832_share", unit=1)
    assert may.status == "green" and may.met and may.gap_yuan == 0
    assert may.expected_yuan == pytest.approx(300_000 * 135 / 365)
    nov = _one(rules.evaluate(small_store, YEAR), "zh_canteen_832_share", unit=1)
    assert nov.actual_yuan == pytest.approx(120_000) and nov.target_yuan == pytest.approx(300_000)
    assert nov.value == pytest.approx(0.12)
    assert nov.expected_yuan == pytest.approx(300_000 * 334 / 365)
    assert nov.gap_yuan == pytest.approx(300_000 * 334 / 365 - 120_000)
    assert nov.remaining_yuan == pytest.approx(180_000)
    assert nov.status == "red" and not nov.met
    assert (
        nov.clause == "《关于大力推进消费帮扶巩固拓展脱贫攻坚成果的工作方案》（珠海）（珠委农组〔2021〕15号）四（二）"
    )


def test_hand_computed_evaluations(small_store):
    ev = rules.evaluate(small_store, YEAR)
    p = 334 / 365
    expected = {
        ("zh_reserve_share", 1): ("green", 0.30, 0.0),
        ("zh_reserve_share", 2): ("red", None, 150_000),  # not filed
        ("zh_canteen_832_share", 2): ("yellow", 0.26, 150_000 * p - 130_000),  # short by < 10% of target
        ("zh_union_gift_share", 3): ("green", 0.40, 0.0),
        ("zh_union_gift_eastwest", 3): ("green", 0.75, 0.0),  # 30 of 40 thousand from 遵义
        ("dth_union_per_member", 4): ("red", 300.0, 100_000 * p - 60_000),
        ("dth_monthly_report", 4): ("yellow", 9 / 11, None),  # March late, November (latest) missing
        ("gz_yoy_not_below", 5): ("red", 0.8, 20_000),  # 8 vs 10 (same period), band 10% of 15
        ("gz_quarterly_report", 5): ("yellow", 2 / 3, None),  # only the latest quarter missing
        ("gz_union_welfare_outlet", 6): ("green", 0.5, 0.0),
        ("gz_quarterly_report", 6): ("red", 0.0, None),
        ("cq_reserve_filed", 7): ("green", 1.0, None),
    }
    for (rule, unit), (status, value, gap) in expected.items():
        row = _one(ev, rule, unit=unit)
        assert row.status == status, (rule, unit, row.status)
        assert pd.isna(row.value) if value is None else row.value == pytest.approx(value), (rule, unit, row.value)
        assert pd.isna(row.gap_yuan) if gap is None else row.gap_yuan == pytest.approx(gap, abs=0.01), (rule, unit)
    wushan = _one(ev, "cq_townships_only_up", region="500237")
    assert wushan.status == "green" and wushan.value == pytest.approx(1.2) and wushan.unit_name == "巫山县"
    kaizhou = _one(ev, "cq_townships_only_up", region="500154")
    assert kaizhou.status == "red" and kaizhou.gap_yuan == pytest.approx(50_000) and pd.isna(kaizhou.unit_id)
    # Unit 6 bought nothing last year: the year-on-year rule does not bite yet.
    assert ev[(ev.rule_code == "gz_yoy_not_below") & (ev.unit_id == 6)].empty
    assert len(ev) == 15


def test_last_year_to_the_same_day_counts_the_days_of_a_partial_month(small_store):
    # As of 15 May, last year's 10 May and 14 May count and 20 May / 16 May do not — for units and
    # for origin counties alike (the whole months come from the rollups, the days apart).
    extra = [
        ("2025-05-10", 5, "520502", 7_000),
        ("2025-05-20", 5, "520502", 9_000),
        ("2025-05-14", 7, "500237", 11_000),
        ("2025-05-16", 7, "500237", 13_000),
    ]
    with small_store.begin() as conn:
        conn.execute(
            insert(purchase),
            [
                dict(
                    id=100 + i,
                    purchase_date=date.fromisoformat(d),
                    month=int(d[:4] + d[5:7]),
                    buyer_unit_id=u,
                    origin_code=o,
                    channel="p832",
                    purpose="canteen",
                    amount=a,
                )
                for i, (d, u, o, a) in enumerate(extra)
            ],
        )
    ev = rules.evaluate(small_store, YEAR, as_of=MAY15)
    unit = _one(ev, "gz_yoy_not_below", unit=5)
    assert unit.base_yuan == pytest.approx(100_000 + 7_000) and unit.actual_yuan == pytest.approx(80_000)
    assert unit.value == pytest.approx(80_000 / 107_000)
    county = _one(ev, "cq_townships_only_up", region="500237")
    assert county.base_yuan == pytest.approx(100_000 + 11_000) and county.actual_yuan == pytest.approx(120_000)


def test_units_behind_and_summary(small_store):
    behind = rules.units_behind(small_store, YEAR)
    assert behind.unit_id.tolist() == [1, 2, 4, 5, 6]
    # Each unit's worst rule: red before yellow; unit 2 is red on its (unfiled) reserve share.
    assert behind.set_index("unit_id").loc[2, "rule_code"] == "zh_reserve_share"
    assert behind.set_index("unit_id").loc[2, "rules_behind"] == 2
    assert set(behind.status) == {"red"}
    assert list(behind.columns[: len(rules.COLUMNS)]) == rules.COLUMNS
    s = rules.rules_summary(small_store, YEAR)
    assert (s["met"], s["total"], s["units_behind"]) == (6, 15, 5)
    assert s["by_status"] == {"green": 6, "yellow": 3, "red": 6}
    assert s["rules"] == 11 and s["rules_all_met"] == 4  # 珠海慰问品、东西部, 广州福利, 重庆填报


@pytest.mark.parametrize(
    "f, units",
    [
        (Filters(start=date(2026, 1, 1), end=NOV30, buyer_kinds=("union",)), {3, 4, 6}),
        (Filters(start=date(2026, 1, 1), end=NOV30, region_code="440400", region_side="buyer"), {1, 2, 3}),
    ],
)
def test_filters_choose_the_subjects(small_store, f, units):
    ev = rules.evaluate(small_store, f)
    assert set(ev.unit_id.dropna().astype(int)) == units


def test_channel_filter_narrows_what_is_counted(small_store):
    f = Filters(start=date(2026, 1, 1), end=NOV30, channels=("hall",))
    ev = rules.evaluate(small_store, f)
    assert _one(ev, "zh_union_gift_share", unit=3).actual_yuan == pytest.approx(30_000)
    assert _one(ev, "gz_union_welfare_outlet", unit=6).actual_yuan == pytest.approx(30_000)


def test_demo_store_is_consistent(demo_engine):
    f = Filters(start=date(2026, 1, 1), end=date(2026, 10, 31))
    ev = rules.evaluate(demo_engine, f)
    assert set(ev.rule_code) == {r["code"] for r in POLICY_RULES}
    assert set(ev.status) == {"green", "yellow", "red"}
    money = ev[ev.target_yuan.notna()]
    assert (money.gap_yuan == (money.expected_yuan - money.actual_yuan).clip(lower=0)).all()
    assert (money[money.status == "green"].gap_yuan == 0).all()
    assert (
        money[money.status == "red"].gap_yuan >= rules.YELLOW_BAND * money[money.status == "red"].target_yuan - 0.01
    ).all()
    assert ev.met.equals(ev.status == "green")
    assert ev.clause.str.startswith("《").all()
    behind = rules.units_behind(demo_engine, f)
    assert behind.unit_id.is_unique and len(behind) > 10
    assert behind.gap_yuan.dropna().is_monotonic_decreasing
    s = rules.rules_summary(demo_engine, f)
    assert s["units_behind"] == len(behind) and s["total"] == len(ev) and 0 < s["met"] < s["total"]


def test_demo_store_earlier_as_of_asks_less(demo_engine):
    f = Filters(start=date(2026, 1, 1), end=date(2026, 10, 31))
    late = rules.evaluate(demo_engine, f)
    early = rules.evaluate(demo_engine, f, as_of=date(2026, 3, 31))
    share = late[late.metric == "canteen_832_share"].set_index("unit_id")
    share_early = early[early.metric == "canteen_832_share"].set_index("unit_id")
    assert (share_early.expected_yuan < share.expected_yuan).all()
    assert (share_early.target_yuan == share.target_yuan).all()


def test_a_rule_whose_metric_has_no_handler_is_refused_loudly(small_store):
    """A rule row the engine cannot evaluate is an error naming the rule, never a silently missing row."""
    from sqlalchemy import update

    from data_access.store.schema import policy_rule

    with small_store.begin() as conn:
        conn.execute(
            update(policy_rule).where(policy_rule.c.code == "zh_canteen_832_share").values(metric="no_such_metric")
        )
    with pytest.raises(rules.UnknownMetric, match="zh_canteen_832_share.*no_such_metric"):
        rules.evaluate(small_store, YEAR, as_of=MAY15)
