"""How fast a price fell (issue 18, second round): a glut in the first months of data is caught from
its speed; a slow drift of the level over years (a market shift) stays below yellow while a glut of
the same or larger size that falls within months still fires. Hand-made series, both grains, and no
look-ahead by truncation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_access.engines.signals import score_series

RANK = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}


def ranks(scores: pd.DataFrame) -> np.ndarray:
    return scores["level"].map(RANK).to_numpy()


def start_glut(weeks_before=14, depth=0.35, seed=0, amp=0.0) -> pd.DataFrame:
    """Reporting starts ``weeks_before`` weeks before a fall of ``depth`` (half in the first week,
    all of it by the third), then the price stays low for 10 weeks."""
    rng = np.random.default_rng(seed)
    n = weeks_before + 12
    t = np.arange(n)
    shape = np.clip((t - weeks_before + 1) / 2, 0, 1)
    price = 10 * np.exp(amp * np.sin(2 * np.pi * t / 52) + np.log1p(-depth) * shape + rng.normal(0, 0.02, n))
    return pd.DataFrame({"series_id": "SG", "date": pd.date_range("2023-01-02", periods=n, freq="7D"), "price": price})


def drift(periods_per_year: int, years: int, start: int, span: int, size: float, seed=0) -> pd.DataFrame:
    """A seasonal series whose level moves ``size`` lower linearly over ``span`` periods from ``start``."""
    rng = np.random.default_rng(seed)
    n = periods_per_year * years
    t = np.arange(n)
    move = np.log1p(-size) * np.clip((t - start) / span, 0, 1)
    price = 10 * np.exp(0.08 * np.sin(2 * np.pi * t / periods_per_year) + move + rng.normal(0, 0.02, n))
    freq, begin = ("7D", "2019-01-07") if periods_per_year == 52 else ("MS", "2017-01-01")
    return pd.DataFrame({"series_id": "MS", "date": pd.date_range(begin, periods=n, freq=freq), "price": price})


@pytest.mark.parametrize("seed", range(4))
def test_glut_in_the_first_months_of_data_is_caught_from_its_speed(seed):
    frame = start_glut(seed=seed)
    scores = score_series(frame)
    r = ranks(scores)
    onset = 14
    assert (r[:onset] == RANK["none"]).all()
    assert r[onset : onset + 6].max() >= RANK["yellow"]
    first = int(np.flatnonzero(r >= RANK["yellow"])[0])
    reason = scores["reason"].iloc[first]
    assert "持续下跌：较下跌前水平" in reason and "周内急跌" in reason and "尚无往年同期数据" in reason


def test_a_seasonal_swing_in_the_first_year_is_no_glut():
    # Data starts at the seasonal peak of a ±20% season: the price slides 33% to the trough over
    # half a year. Without an earlier year that is a fall, but a slow one: at most blue.
    frame = start_glut(weeks_before=40, depth=0.0, amp=0.2)
    frame = frame.assign(price=10 * np.exp(0.2 * np.cos(2 * np.pi * np.arange(len(frame)) / 52)))
    assert ranks(score_series(frame)).max() <= RANK["blue"]


@pytest.mark.parametrize(
    "periods_per_year, start, span, size",
    [(52, 110, 80, 0.22), (12, 26, 24, 0.15)],
    ids=["weekly", "monthly"],
)
def test_a_slow_market_shift_stays_below_yellow(periods_per_year, start, span, size):
    # The level settles about a fifth lower over one and a half to two years: a market shift, not
    # a glut (monthly bands are narrower, so the monthly shift is smaller).
    for seed in range(3):
        frame = drift(periods_per_year, 5, start, span, size, seed=seed)
        assert ranks(score_series(frame)).max() <= RANK["blue"], seed


@pytest.mark.parametrize(
    "periods_per_year, start, span",
    [(52, 110, 6), (12, 26, 2)],
    ids=["weekly", "monthly"],
)
def test_a_fast_fall_of_the_same_size_still_fires(periods_per_year, start, span):
    frame = drift(periods_per_year, 5, start, span, 0.30)
    r = ranks(score_series(frame))
    assert r[start : start + span + 4].max() >= RANK["yellow"]


def test_further_slow_fall_after_half_a_year_counts_at_half_and_says_so():
    # 30% within 8 weeks, then another 25% over the next year: still an alert, the reason says how
    # the later part was counted.
    rng = np.random.default_rng(2)
    n = 52 * 4
    t = np.arange(n)
    onset = 110
    fast = np.log(0.7) * np.clip((t - onset + 1) / 8, 0, 1)
    slow = np.log(0.75) * np.clip((t - onset - 8) / 52, 0, 1)
    price = 10 * np.exp(0.08 * np.sin(2 * np.pi * t / 52) + fast + slow + rng.normal(0, 0.015, n))
    frame = pd.DataFrame({"series_id": "W", "date": pd.date_range("2019-01-07", periods=n, freq="7D"), "price": price})
    scores = score_series(frame)
    r = ranks(scores)
    assert (r[onset + 8 : onset + 60] >= RANK["yellow"]).all()
    assert "按一半计" in scores["reason"].iloc[onset + 50]


@pytest.mark.parametrize("grain", ["week", "month"])
def test_no_look_ahead_for_speed_rules_by_truncation(grain):
    if grain == "week":
        frame = start_glut(seed=5)
    else:
        frame = drift(12, 5, 26, 24, 0.15)
        frame.loc[frame.index[-6:], "price"] *= 0.65
    full = score_series(frame)
    for cut in range(8, len(frame) + 1, 3):
        part = frame.iloc[:cut]
        pd.testing.assert_frame_equal(score_series(part), full.loc[part.index])
