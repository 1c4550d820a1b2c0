"""The 滞销 engine's methods on hand-made series (issue 18): decline against the level before it,
year on year without glut years, cost/reference price bands, monthly first-month warnings, no glut
on a return from a plateau or a shortage spike, zero volume as missing, 数据不足/数据过期, the grain
from the data so far, no look-ahead (also inside a period), reasons naming methods and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_access.engines.signals import score_series, series_state

RANK = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}


def weekly(series_id="W", years=3, seed=0, level=10.0, noise=0.02, start="2021-01-04"):
    rng = np.random.default_rng(seed)
    t = np.arange(52 * years)
    price = level * np.exp(0.08 * np.sin(2 * np.pi * t / 52) + rng.normal(0, noise, t.size))
    return pd.DataFrame(
        {"series_id": series_id, "date": pd.date_range(start, periods=t.size, freq="7D"), "price": price}
    )


def monthly(series_id="M", years=5, seed=0, level=10.0, noise=0.02):
    rng = np.random.default_rng(seed)
    t = np.arange(12 * years)
    price = level * np.exp(0.08 * np.sin(2 * np.pi * t / 12) + rng.normal(0, noise, t.size))
    return pd.DataFrame(
        {"series_id": series_id, "date": pd.date_range("2017-01-01", periods=t.size, freq="MS"), "price": price}
    )


def ranks(scores: pd.DataFrame) -> np.ndarray:
    return scores["level"].map(RANK).to_numpy()


def test_long_glut_never_becomes_the_baseline():
    # A 45% fall over 20 weeks held for a whole year: the alert must last, not fade in 26 weeks.
    frame = weekly(years=4)
    t = np.arange(len(frame))
    onset = 110
    fall = np.clip((t - onset + 1) / 20, 0, 1)
    frame["price"] *= np.exp(np.log(0.55) * fall)
    scores = score_series(frame)
    r = ranks(scores)
    assert (r[onset + 20 : onset + 72] >= RANK["yellow"]).all()
    assert r[onset + 60] >= RANK["orange"]
    assert "持续下跌：较下跌前水平" in scores["reason"].iloc[onset + 60]


def test_last_years_glut_is_not_this_years_seasonal_norm():
    # The same 40% glut in the same weeks two years running: the second is caught as well as the first.
    frame = weekly(years=4, noise=0.015)
    for onset in (60, 112):
        frame.loc[onset : onset + 9, "price"] *= 0.6
    r = ranks(score_series(frame))
    assert r[62:70].max() >= RANK["orange"]
    assert r[114:122].max() >= RANK["orange"]


def test_year_on_year_method_names_its_figures():
    frame = monthly(years=5, noise=0.01)
    frame.loc[frame.index[-8:], "price"] *= 0.5
    scores = score_series(frame)
    last = scores.iloc[-1]
    assert last["level"] in {"orange", "red"}
    assert "同比下降：较前3年同期中位数低" in last["reason"]
    assert "yoy" in last["methods"].split(",")


def test_monthly_series_warns_in_the_first_month_of_a_large_shortfall():
    frame = monthly(years=5)
    frame.loc[frame.index[-1], "price"] *= 0.6
    scores = score_series(frame)
    assert RANK[scores["level"].iloc[-1]] >= RANK["yellow"]
    assert "个月" in scores["reason"].iloc[-1]
    assert (ranks(scores)[:-1] <= RANK["blue"]).all()


def test_monthly_typo_waits_for_a_second_month():
    frame = monthly(years=5)
    frame.loc[frame.index[-1], "price"] /= 10
    assert score_series(frame)["level"].iloc[-1] == "none"


def test_return_to_normal_after_a_high_plateau_is_no_glut():
    frame = weekly(years=4)
    frame.loc[100:130, "price"] *= 1.6  # seven months high, then back
    r = ranks(score_series(frame))
    assert r[125:160].max() <= RANK["blue"]


def test_shortage_spike_is_no_glut():
    frame = weekly(years=3)
    frame["volume"] = 500.0
    frame.loc[120:123, "price"] *= 2.5
    frame.loc[120:123, "volume"] *= 0.5
    r = ranks(score_series(frame))
    assert r[110:140].max() == RANK["none"]


def test_zero_volume_is_missing_unless_stock_or_confirmed():
    frame = weekly(years=3)
    frame["volume"] = 500.0
    frame.loc[frame.index[-2:], "volume"] = 0.0
    assert score_series(frame)["level"].iloc[-1] == "none"  # a blank report, not a collapse
    with_stock = frame.assign(stock=np.where(frame.index >= len(frame) - 2, 900.0, np.nan))
    assert RANK[score_series(with_stock)["level"].iloc[-1]] >= RANK["yellow"]
    confirmed = frame.assign(zero_confirmed=np.where(frame.index >= len(frame) - 2, "是", ""))
    assert RANK[score_series(confirmed)["level"].iloc[-1]] >= RANK["yellow"]


def test_cost_band_levels_on_a_held_ratio():
    frame = weekly(years=2, noise=0.0)
    frame["price"] = 10.0
    out = {}
    for ratio in (0.97, 0.80, 0.65):
        f = frame.copy()
        f.loc[f.index[-6:], "price"] = 9.0 * ratio
        s = score_series(f, prices={"W": {"cost": 9.0}})
        out[ratio] = s
    # The ratio is read on the persistent price (the higher of the latest two weeks), so the run
    # of weeks below cost starts with the second low week.
    # 3% below cost: blue at once (三级 analogue), yellow from 3 weeks on (二级); the decline
    # itself (13%) is under the blue band.
    first, third = out[0.97].iloc[-5], out[0.97].iloc[-3]
    assert RANK[first["level"]] >= RANK["blue"] and "cost" in first["methods"]
    assert "低于成本价：价格为成本价的97%，已连续1周" in first["reason"]
    assert third["level"] == "yellow" and "已连续3周" in third["reason"]
    assert out[0.80]["level"].iloc[-5] == "orange"  # below 5/6 of cost (一级 analogue)
    assert out[0.80]["level"].iloc[-3] == "red"  # … for 3 weeks
    assert out[0.65]["level"].iloc[-5] == "red"  # below 0.7 of cost


def test_reference_price_raises_an_existing_alert_one_level():
    frame = weekly(years=3, noise=0.01)
    frame.loc[frame.index[-6:], "price"] *= 0.75
    plain = score_series(frame)
    raised = score_series(frame, prices={"W": {"reference": 12.0}})
    assert RANK[raised["level"].iloc[-1]] == min(RANK[plain["level"].iloc[-1]] + 1, 4)
    assert "低于参考价" in raised["reason"].iloc[-1] and "等级上调一级" in raised["reason"].iloc[-1]
    quiet = weekly(years=3, noise=0.01)
    assert (score_series(quiet, prices={"W": {"reference": 20.0}})["level"] == "none").all()


def test_too_little_history_says_so_and_gives_no_level():
    frame = weekly(years=1).iloc[:6]
    frame.loc[frame.index[-2:], "price"] *= 0.4
    scores = score_series(frame)
    assert (scores["status"] == "数据不足").all()
    assert (scores["level"] == "none").all()
    m = monthly(years=1).iloc[:3]
    assert (score_series(m)["status"] == "数据不足").all()


def test_series_state_short_and_stale():
    w = weekly("W", years=1)
    m = monthly("M", years=2)
    short = weekly("S", years=1).iloc[:5]
    obs = pd.concat([w, m, short], ignore_index=True)
    last_w, last_m = w["date"].max(), m["date"].max()
    state = series_state(obs, last_w + pd.Timedelta(days=6)).set_index("series_id")
    assert state.loc["W", "state"] == "正常" and state.loc["W", "grain"] == "week"
    assert state.loc["M", "grain"] == "month"
    later = series_state(obs, last_m + pd.DateOffset(months=2)).set_index("series_id")
    assert later.loc["M", "state"] == "数据过期"
    one_month = series_state(obs, last_m + pd.DateOffset(months=1)).set_index("series_id")
    assert one_month.loc["M", "state"] == "正常"
    assert series_state(obs, short["date"].max()).set_index("series_id").loc["S", "state"] == "数据不足"


def test_grain_is_read_from_the_data_up_to_each_date():
    # Weekly for two years, then monthly reports: early rows are weekly, the late ones monthly,
    # and the early rows' scores do not change when the monthly rows arrive.
    w = weekly("G", years=2)
    months = pd.date_range(w["date"].max() + pd.Timedelta(days=31), periods=40, freq="MS")
    m = pd.DataFrame({"series_id": "G", "date": months, "price": 10.0})
    frame = pd.concat([w, m], ignore_index=True)
    full = score_series(frame)
    early = score_series(w)
    pd.testing.assert_frame_equal(full.loc[w.index], early)
    grain_of_last = score_series(frame.assign(price=np.r_[frame["price"].to_numpy()[:-2], [5.0, 5.0]]))
    assert "个月" in grain_of_last["reason"].iloc[-1]


@pytest.mark.parametrize("grain", ["week", "month"])
def test_no_look_ahead_by_truncation(grain):
    frame = weekly(years=4) if grain == "week" else monthly(years=5)
    frame.loc[frame.index[-10:], "price"] *= 0.6
    frame["volume"] = np.random.default_rng(1).uniform(400, 600, len(frame))
    full = score_series(frame, prices={frame["series_id"].iloc[0]: {"cost": 8.0, "reference": 11.0}})
    for cut in range(len(frame) // 3, len(frame), max(1, len(frame) // 9)):
        part = frame.iloc[:cut]
        got = score_series(part, prices={frame["series_id"].iloc[0]: {"cost": 8.0, "reference": 11.0}})
        pd.testing.assert_frame_equal(got, full.loc[part.index])


@pytest.mark.parametrize("grain", ["week", "month"])
def test_rows_of_a_period_never_see_later_rows_of_that_period(grain):
    # Several reports inside one period (daily reports in the last weeks; two or three a month):
    # each row's score equals the score of the data cut at its own date.
    if grain == "week":
        base = weekly("D", years=3)
        days = pd.date_range(base["date"].max() + pd.Timedelta(days=7), periods=21, freq="D")
        price = 10 * np.r_[np.ones(7), np.full(14, 0.6)] * np.exp(np.random.default_rng(4).normal(0, 0.02, 21))
    else:
        base = monthly("D", years=5)
        days = pd.DatetimeIndex(
            [base["date"].max() + pd.DateOffset(months=k, days=d) for k in range(1, 7) for d in (0, 9, 19)]
        )
        price = 10 * np.r_[np.ones(6), np.full(12, 0.6)]
    frame = pd.concat([base, pd.DataFrame({"series_id": "D", "date": days, "price": price})], ignore_index=True)
    full = score_series(frame)
    assert RANK[full["level"].iloc[-1]] >= RANK["yellow"]
    for i in range(len(base), len(frame), 4):
        cut = frame[frame["date"] <= frame["date"].iloc[i]]
        pd.testing.assert_frame_equal(score_series(cut), full.loc[cut.index])


def test_reason_names_every_method_with_figures():
    frame = weekly(years=4, noise=0.01)
    frame["volume"] = 500.0
    frame.loc[frame.index[-8:], "price"] *= 0.5
    frame.loc[frame.index[-8:], "volume"] *= 0.5
    scores = score_series(frame, prices={"W": {"cost": 8.0, "reference": 11.0}})
    last = scores.iloc[-1]
    assert last["level"] == "red"
    for fragment in (
        "季节异常：价格低于季节常态",
        "持续下跌：较下跌前水平",
        "同比下降",
        "低于成本价：价格为成本价的",
        "已持续",
    ):
        assert fragment in last["reason"]
    assert set(last["methods"].split(",")) >= {"seasonal", "decline", "yoy", "cost"}


def test_extended_set_on_a_third_seed():
    # Thresholds were set on seed 1 and reported on seed 2 (docs/warnings.md); this checks a third.
    from data_access.engines import signals_eval

    obs, labels, season = signals_eval.extended_panel(seed=7, n_per_category=40)
    table = signals_eval.evaluate_by_category(score_series(obs, season), labels).set_index("category")
    assert table.loc["全部平稳", "any_orange"] <= 0.02
    assert table.loc["全部滞销", "median_lead_days"] >= 14
    for glut in ("fast_fall", "monthly_glut", "long_glut", "gap_glut"):
        assert table.loc[glut, "detection"] >= 0.95, glut
    for quiet in ("zero_volume", "level_up_back", "quiet_weekly", "quiet_monthly"):
        assert table.loc[quiet, "any_orange"] <= 0.05, quiet
