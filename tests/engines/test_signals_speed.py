"""The fast paths of the 滞销 engine give exactly what the plain versions give."""

import warnings

import numpy as np
import pandas as pd

from data_access.engines import signals


def _loop_run_length(cond, observed):
    n, width = cond.shape
    out = np.zeros((n, width), dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for j in range(width):
        ok = observed[:, j]
        count = np.where(ok, np.where(cond[:, j], count + 1, 0), count)
        out[:, j] = np.where(ok, count, 0)
    return out


def test_run_length_by_cumulative_sums_matches_the_loop():
    rng = np.random.default_rng(3)
    cond = rng.random((50, 120)) < 0.7
    observed = rng.random((50, 120)) < 0.8
    assert np.array_equal(signals._run_length(cond, observed), _loop_run_length(cond, observed))


def test_year_median_network_matches_nanmedian():
    rng = np.random.default_rng(4)
    for k in (1, 2, 3, 4, 5):
        stack = rng.normal(size=(k, 40, 60))
        stack[rng.random(stack.shape) < 0.3] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(stack, axis=0)
        assert np.array_equal(signals._nanmedian_stack(stack), expected, equal_nan=True)


def test_threaded_rolling_median_matches_one_pass(monkeypatch):
    rng = np.random.default_rng(5)
    a = rng.normal(size=(31, 90))
    a[rng.random(a.shape) < 0.1] = np.nan
    for window, minp, how, center in ((104, 8, "median", False), (9, 1, "median", True), (26, 4, "median", False)):
        monkeypatch.setattr(signals, "_THREAD_CELLS", 10**9)
        one = signals._rolling(a, window, minp, how, center)
        monkeypatch.setattr(signals, "_THREAD_CELLS", 10)
        two = signals._rolling(a, window, minp, how, center)
        assert np.array_equal(one, two, equal_nan=True)


def test_text_columns_keep_values_and_dtype():
    obs = pd.DataFrame(
        {
            "series_id": np.repeat(["a", "b"], 60),
            "date": np.tile(pd.date_range("2022-01-03", periods=60, freq="7D"), 2),
            "price": np.r_[np.full(50, 10.0), np.full(10, 4.0), np.full(60, 8.0)],
        }
    )
    out = signals.score_series(obs)
    for col in ("level", "reason", "status", "methods"):
        assert out[col].dtype == pd.Series(["x"]).dtype
    assert (out["level"].iloc[:50] == "none").all() and (out["level"].iloc[55:60] != "none").all()
    assert out["reason"].iloc[59].startswith("持续下跌") or "持续下跌" in out["reason"].iloc[59]
    assert (out["reason"][out["level"] == "none"] == "").all()
