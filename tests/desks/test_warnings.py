"""滞销预警 in the store: refresh idempotence, lists, the lifecycle and its lock, candidate buyers."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from data_access import cli
from data_access.desks.warnings import (
    StaleWarning,
    WarningActionError,
    apply_action,
    refresh_warnings,
)
from data_access.figures import alerts
from data_access.query.filters import Filters
from data_access.reference.setup import init_store
from data_access.store.schema import (
    buyer_unit,
    price_observation,
    price_series,
    product,
    warning,
    warning_action,
)
from tests.principals import DESK, desk

ALL = Filters(start=date(2020, 1, 1), end=date(2026, 12, 31))
WUSHAN = "500237"  # 巫山县, paired with 珠海 (对口支援)
ZHUHAI_UNIT_REGION = "440402"


def _glut_store(engine, weeks: int = 170):
    """A store with one weekly series of 巫山脆李 whose price and volume collapse in the last weeks,
    one quiet series, and one 珠海 buyer unit. Returns the glut series id."""
    init_store(engine)
    rng = np.random.default_rng(3)
    dates = pd.date_range("2023-01-02", periods=weeks, freq="W-MON")
    with engine.begin() as conn:
        conn.execute(
            product.insert(),
            [
                dict(
                    id=1,
                    name="巫山脆李",
                    category="fruit",
                    origin_code=WUSHAN,
                    unit="kg",
                    season_months="6,7,8",
                    reference_price=10.0,
                    supply_volume=100_000,
                    certified=True,
                    status="listed",
                ),
                dict(
                    id=2,
                    name="巫山蜂蜜",
                    category="specialty",
                    origin_code=WUSHAN,
                    unit="kg",
                    season_months="",
                    reference_price=60.0,
                    supply_volume=5_000,
                    certified=False,
                    status="listed",
                ),
            ],
        )
        conn.execute(
            price_series.insert(),
            [
                dict(id=1, product_id=1, region_code=WUSHAN, market="巫山脆李产地监测点", frequency="week"),
                dict(id=2, product_id=2, region_code=WUSHAN, market="巫山蜂蜜产地监测点", frequency="week"),
            ],
        )
        conn.execute(
            buyer_unit.insert(),
            [
                dict(
                    id=1,
                    name="珠海市教育局",
                    kind="budget_unit",
                    region_code=ZHUHAI_UNIT_REGION,
                    jurisdiction_code="440400",
                )
            ],
        )
    _observe(engine, dates, rng)
    return 1


def _observe(engine, dates, rng, collapse_from: int = 160):
    n = len(dates)
    fall = np.clip((np.arange(n) - collapse_from + 1) / 4, 0, 1) * 0.45
    rows = []
    for i, d in enumerate(dates):
        rows.append(
            dict(
                series_id=1,
                obs_date=d.date(),
                price=round(10 * (1 - fall[i]) * np.exp(rng.normal(0, 0.02)), 2),
                volume=round(2000 * (1 - fall[i]) * np.exp(rng.normal(0, 0.05))),
            )
        )
        rows.append(
            dict(
                series_id=2,
                obs_date=d.date(),
                price=round(60 * np.exp(rng.normal(0, 0.02)), 2),
                volume=round(100 * np.exp(rng.normal(0, 0.05))),
            )
        )
    with engine.begin() as conn:
        conn.execute(delete(price_observation))
        conn.execute(price_observation.insert(), rows)


def _snapshot(engine):
    with engine.connect() as conn:
        w = conn.execute(select(warning).order_by(warning.c.id)).all()
        a = conn.execute(select(func.count()).select_from(warning_action)).scalar()
    return w, a


def test_refresh_finds_the_glut_and_running_twice_changes_nothing(fresh_engine):
    _glut_store(fresh_engine)
    first = refresh_warnings(fresh_engine, DESK)
    assert first["inserted"] == 1 and first["series"] == 2
    before = _snapshot(fresh_engine)
    second = refresh_warnings(fresh_engine, DESK)
    assert (second["inserted"], second["updated"]) == (0, 0)
    assert _snapshot(fresh_engine) == before
    df = alerts.open_warnings(fresh_engine, ALL)
    assert df.product_name.tolist() == ["巫山脆李"]
    w = df.iloc[0]
    assert w.level in {"orange", "red"} and w.status == "new" and w.region_name == "巫山县"
    assert "价格低于" in w.reason and "销量低于" in w.reason


def test_refresh_limited_to_some_series_touches_only_their_warnings(fresh_engine):
    glut = _glut_store(fresh_engine)
    quiet = refresh_warnings(fresh_engine, DESK, series_ids=[2])
    assert quiet["series"] == 1 and quiet["inserted"] == 0
    assert _snapshot(fresh_engine) == ([], 0)  # the glut series was not scored
    found = refresh_warnings(fresh_engine, DESK, series_ids=[glut])
    assert found["series"] == 1 and found["inserted"] == 1
    assert alerts.open_warnings(fresh_engine, ALL).series_id.tolist() == [glut]


def test_refresh_extends_an_episode_with_new_data_instead_of_duplicating_it(fresh_engine):
    _glut_store(fresh_engine, weeks=163)  # three weeks into the fall: already an episode
    refresh_warnings(fresh_engine, DESK)
    (w0,) = _snapshot(fresh_engine)[0]
    _observe(fresh_engine, pd.date_range("2023-01-02", periods=168, freq="W-MON"), np.random.default_rng(3))
    c = refresh_warnings(fresh_engine, DESK)
    assert (c["inserted"], c["updated"]) == (0, 1)
    (w1,) = _snapshot(fresh_engine)[0]
    assert w1.id == w0.id and w1.first_date == w0.first_date and w1.last_date > w0.last_date
    assert w1.version == w0.version  # the engine never invalidates a desk's open form


def test_refresh_on_the_demo_store_is_idempotent(writable_demo_engine):
    before = _snapshot(writable_demo_engine)
    assert len(before[0]) > 10
    c = refresh_warnings(writable_demo_engine, DESK)
    assert (c["inserted"], c["updated"]) == (0, 0)
    assert _snapshot(writable_demo_engine) == before


def test_refresh_command_line(fresh_engine, capsys):
    _glut_store(fresh_engine)
    url = fresh_engine.url.render_as_string(hide_password=False)
    assert cli.main(["warnings", "--refresh", "--url", url]) == 0
    assert "新增预警 1" in capsys.readouterr().out
    assert cli.main(["warnings", "--refresh", "--url", url]) == 0
    assert "新增预警 0，更新 0" in capsys.readouterr().out


def test_warnings_command_still_requires_series_and_out():
    with pytest.raises(SystemExit):
        cli.main(["warnings", "--series", "in.csv"])


def test_lifecycle_new_to_closed_with_an_incident_log(fresh_engine):
    _glut_store(fresh_engine)
    refresh_warnings(fresh_engine, DESK)
    wid = int(alerts.open_warnings(fresh_engine, ALL).id.iloc[0])
    v = apply_action(fresh_engine, desk("张三"), wid, 1, "acknowledge")
    with pytest.raises(WarningActionError, match="先指派责任专班"):
        apply_action(fresh_engine, desk("张三"), wid, v, "absorb", absorbed_volume=100, buyer_unit_id=1)
    v = apply_action(fresh_engine, desk("张三"), wid, v, "assign", owner_group="distribution")
    with pytest.raises(WarningActionError, match="大于 0"):
        apply_action(fresh_engine, desk("李四"), wid, v, "absorb", absorbed_volume=-5, buyer_unit_id=1)
    v = apply_action(fresh_engine, desk("李四"), wid, v, "absorb", absorbed_volume=1200, buyer_unit_id=1)
    v = apply_action(fresh_engine, desk("李四"), wid, v, "absorb", absorbed_volume=800.5, buyer_unit_id=1)
    d = alerts.warning_detail(fresh_engine, wid)
    assert d["status"] == "absorbing" and d["absorbed_volume"] == pytest.approx(2000.5)
    assert d["owner_group_name"] == "完善农产品流通销售渠道专班" and d["version"] == v == 5
    v = apply_action(fresh_engine, desk("王五"), wid, v, "close", note="价格回升")
    with pytest.raises(WarningActionError, match="不能执行"):
        apply_action(fresh_engine, desk("王五"), wid, v, "acknowledge")
    assert alerts.open_warnings(fresh_engine, ALL).empty
    h = alerts.warning_history(fresh_engine, wid)
    assert h.action.tolist() == ["created", "acknowledge", "assign", "absorb", "absorb", "close"]
    assert h.to_status.tolist() == ["new", "acknowledged", "acknowledged", "absorbing", "absorbing", "closed"]
    assert h.buyer_name.iloc[3] == "珠海市教育局" and "流通销售渠道专班" in h.note.iloc[2]
    # A refresh never reopens or rewrites what the desks closed.
    refresh_warnings(fresh_engine, DESK)
    assert alerts.warning_detail(fresh_engine, wid)["status"] == "closed"
    assert len(alerts.warning_history(fresh_engine, wid)) == 6


def test_two_desks_editing_the_same_warning(fresh_engine):
    _glut_store(fresh_engine)
    refresh_warnings(fresh_engine, DESK)
    wid = int(alerts.open_warnings(fresh_engine, ALL).id.iloc[0])
    seen_by_a = alerts.warning_detail(fresh_engine, wid)["version"]
    seen_by_b = alerts.warning_detail(fresh_engine, wid)["version"]
    apply_action(fresh_engine, desk("流通专班"), wid, seen_by_a, "assign", owner_group="distribution")
    with pytest.raises(StaleWarning, match="已被他人修改") as exc:
        apply_action(fresh_engine, desk("协作专班"), wid, seen_by_b, "assign", owner_group="cooperation")
    assert "第 1 版" in str(exc.value) and "第 2 版" in str(exc.value)
    d = alerts.warning_detail(fresh_engine, wid)
    assert d["owner_group"] == "distribution" and d["version"] == 2
    assert alerts.warning_history(fresh_engine, wid).actor.tolist() == ["预警引擎", "流通专班"]
    # B refreshes, sees A's change and can act on the new version.
    apply_action(fresh_engine, desk("协作专班"), wid, d["version"], "note", note="已联系协作专班跟进")
    assert alerts.warning_detail(fresh_engine, wid)["version"] == 3


def test_demo_store_lists_and_counts_agree(demo_engine):
    df = alerts.open_warnings(demo_engine, ALL)
    assert list(df.columns[:14]) == [
        "id",
        "product_id",
        "product_name",
        "category",
        "region_code",
        "region_name",
        "level",
        "score",
        "reason",
        "status",
        "owner_group",
        "first_date",
        "last_date",
        "absorbed_volume",
    ]
    assert len(df) > 0 and "closed" not in set(df.status)
    counts = alerts.warning_counts(demo_engine, ALL)
    assert counts == {lv: int((df.level == lv).sum()) for lv in ("red", "orange", "yellow", "blue")}
    assert df.level.map({"red": 4, "orange": 3, "yellow": 2, "blue": 1}).is_monotonic_decreasing
    reds = alerts.open_warnings(demo_engine, ALL, levels=["red"])
    assert len(reds) == counts["red"]
    guizhou = alerts.open_warnings(demo_engine, Filters(ALL.start, ALL.end, region_code="520000"))
    assert guizhou.region_code.str.startswith("52").all()
    assert len(guizhou) == sum(
        alerts.warning_counts(demo_engine, Filters(ALL.start, ALL.end, region_code="520000")).values()
    )


def test_demo_history_and_warnings_since(demo_engine):
    with demo_engine.connect() as conn:
        closed = conn.execute(select(func.count()).select_from(warning).where(warning.c.status == "closed")).scalar()
    assert closed > 0
    recent = alerts.warnings_since(demo_engine, date(2026, 9, 1))
    everything = alerts.warnings_since(demo_engine, date(2000, 1, 1))
    assert 0 < len(recent) < len(everything)
    assert (recent.last_change_at >= pd.Timestamp("2026-09-01")).all()
    assert everything.is_new.all() and set(recent.last_change.dropna()) <= set(alerts.ACTION_LABELS.values())


def test_warning_series_has_the_baseline_band_and_alert_dates(demo_engine):
    w = alerts.open_warnings(demo_engine, ALL).iloc[0]
    s = alerts.warning_series(demo_engine, int(w.id))
    assert len(s) > 52
    alerting = s[s.level != "none"]
    assert pd.Timestamp(w.first_date) in set(alerting.date)
    inside = s.dropna(subset=["baseline"])
    assert (inside.band_low < inside.baseline).all() and (inside.baseline < inside.band_high).all()
    assert alerts.warning_series(demo_engine, 10**9).empty and alerts.warning_detail(demo_engine, 10**9) is None


def test_haversine_zhuhai_to_wushan():
    # 珠海 (113.58, 22.27) to 巫山 (109.88, 31.07): about 1,040 km.
    assert alerts.haversine_km(113.58, 22.27, 109.88, 31.07) == pytest.approx(1040, rel=0.03)


def test_candidates_paired_first_then_by_gap():
    behind = pd.DataFrame(
        {
            "unit_id": [1, 2, 3],
            "unit_name": ["上海甲", "珠海乙", "珠海丙"],
            "region_code": ["310101", "440402", "440403"],
            "jurisdiction_code": ["310000", "440400", "440400"],
            "gap_yuan": [900_000.0, 10_000.0, 50_000.0],
        }
    )
    pairings = pd.DataFrame(
        {"helper_code": ["440400", "310000"], "helped_code": [WUSHAN, "530000"], "kind": ["counterpart", "east_west"]}
    )
    regions = pd.DataFrame(
        {
            "code": ["310101", "440402", "440403", WUSHAN],
            "name": ["黄浦区", "香洲区", "斗门区", "巫山县"],
            "lng": [121.49, 113.58, 113.30, 109.88],
            "lat": [31.23, 22.27, 22.21, 31.07],
        }
    )
    out = alerts.rank_candidates(behind, WUSHAN, 109.88, 31.07, pairings, regions)
    assert out.unit_name.tolist() == ["珠海丙", "珠海乙", "上海甲"]
    assert out.paired.tolist() == [True, True, False] and out.pairing_kind.iloc[0] == "对口支援"
    assert out.distance_km.iloc[2] == pytest.approx(1120, rel=0.05)
