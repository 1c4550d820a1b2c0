"""Seasonally adjusted fall speed of monthly series (issue 18, eggs 2020): a fall much steeper than
the usual seasonal change of the same calendar months is caught the month after it (once the price
has not come back), while a spring fall that every earlier year shows stays quiet. Hand-made
monthly series, and no look-ahead by truncation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_access.engines.signals import score_series

RANK = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}
# A seasonal profile with a spring low: Feb→Mar falls about 10 % every year, autumn is high.
PROFILE = np.log([1.00, 0.98, 0.88, 0.88, 0.92, 0.95, 0.98, 1.03, 1.08, 1.10, 1.07, 1.03])


def monthly(final_year: np.ndarray | None = None, years: int = 5, seed: int = 0, amp: float = 1.0) -> pd.DataFrame:
    """``years`` years of a seasonal monthly price (small noise), the profile's swing times ``amp``;
    ``final_year`` multiplies the last year's prices (1.0 = as usual)."""
    rng = np.random.default_rng(seed)
    n = 12 * years
    log_price = np.log(10.0) + np.tile(amp * PROFILE, years) + rng.normal(0, 0.01, n)
    if final_year is not None:
        log_price[-12:] += np.log(final_year)
    dates = pd.date_range("2016-01-01", periods=n, freq="MS")
    return pd.DataFrame({"series_id": "EGG", "date": dates, "price": np.exp(log_price)})


def first_at_least(obs: pd.DataFrame, level: str) -> pd.Timestamp | None:
    scores = score_series(obs)
    hit = obs.loc[scores["level"].map(RANK) >= RANK[level], "date"]
    return hit.min() if len(hit) else None


# The last year: a high autumn (+12 %) that collapses off-season, in June, by a quarter and stays down.
OFF_SEASON_FALL = np.array([1.12, 1.12, 1.12, 1.12, 1.12, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_normal_seasonal_fall_stays_quiet(seed):
    assert first_at_least(monthly(seed=seed), "yellow") is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steep_off_season_fall_fires_the_month_after(seed):
    obs = monthly(OFF_SEASON_FALL, seed=seed)
    scores = score_series(obs)
    ranks = scores["level"].map(RANK)
    fall = pd.Timestamp("2020-06-01")
    # Not before the fall; yellow or higher the month after it at the latest, for the fall speed.
    assert ranks[obs["date"] < fall].max() < RANK["yellow"]
    after = obs["date"] == pd.Timestamp("2020-07-01")
    assert ranks[after].iloc[0] >= RANK["yellow"]
    assert "剔除季节因素" in scores.loc[after, "reason"].iloc[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_deep_spring_fall_every_year_is_seasonal(seed):
    # Feb→Mar −22 % and an autumn peak 67 % above the spring low, every year: about the size of the fall
    # as the off-season one above, but the usual one for these months.
    assert first_at_least(monthly(seed=seed, amp=2.3), "yellow") is None


def test_no_look_ahead_by_truncation():
    obs = pd.concat([monthly(OFF_SEASON_FALL, seed=3), monthly(seed=4).assign(series_id="QUIET")], ignore_index=True)
    full = score_series(obs)
    for cut in ("2020-05-01", "2020-06-01", "2020-07-01", "2020-09-01"):
        part = obs[obs["date"] <= cut]
        pd.testing.assert_frame_equal(score_series(part), full.loc[part.index])
