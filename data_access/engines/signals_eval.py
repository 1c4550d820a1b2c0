"""Measured quality of the 滞销 engine on labelled synthetic series, an ALPS-style baseline, a benchmark.

The generator is deterministic for a seed; labels give each episode's onset and worst week.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import pandas as pd

from data_access.engines.signals import LEVELS, score_series

__all__ = [
    "EPISODE_KINDS",
    "GLUT_CATEGORIES",
    "QUIET_CATEGORIES",
    "alps_baseline",
    "benchmark",
    "evaluate",
    "evaluate_by_category",
    "extended_panel",
    "quality_table",
    "synthetic_panel",
]

EPISODE_KINDS = ("fast_fall", "slow_decline", "volume_collapse")
START = np.datetime64("2020-01-06")  # a Monday
# Detection window around an episode, in days: from before onset to after the worst week.
EARLY_DAYS, LATE_DAYS = 28, 14


def synthetic_panel(
    seed: int, n_series: int, years: int = 5, quiet_share: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, set[int]]]:
    """Weekly labelled series: (observations, labels, selling-season months per series).

    Observations: ``series_id, date, price`` (yuan/kg) and ``volume`` (kg/week, blank for
    price-only series). Labels: one row per series with ``kind`` (``quiet`` or an episode
    kind), ``onset_date`` and ``worst_date`` (NaT when quiet) and the distractors applied.
    """
    rng = np.random.default_rng(seed)
    n, T = n_series, 52 * years
    t = np.arange(T)
    week_of_year = t % 52

    # Harvest week: price trough and volume peak of the season, with a 3-6 month selling season.
    harvest = rng.integers(0, 52, n)
    phase = 2 * np.pi * (week_of_year[None, :] - harvest[:, None]) / 52
    amp = rng.uniform(0.05, 0.25, n)[:, None]
    season_shape = -np.cos(phase) + rng.uniform(-0.3, 0.3, n)[:, None] * np.cos(2 * phase)
    trend = rng.normal(0, 0.04, n)[:, None] / 52 * t[None, :]
    log_price = np.log(rng.uniform(1.5, 40, n))[:, None] + amp * season_shape + trend
    log_price += _ar1(rng, n, T, rng.uniform(0.3, 0.8, n), rng.uniform(0.03, 0.07, n))

    vamp = rng.uniform(0.2, 0.8, n)[:, None]
    log_volume = np.log(rng.uniform(50, 5000, n))[:, None] - vamp * season_shape
    log_volume += rng.normal(0, 0.03, n)[:, None] / 52 * t[None, :]
    log_volume += _ar1(rng, n, T, rng.uniform(0.2, 0.7, n), rng.uniform(0.08, 0.2, n))

    harvest_month = ((harvest * 7) // 30.5).astype(int) % 12
    span = rng.integers(3, 7, n)
    season = {
        f"S{i:05d}": {int((harvest_month[i] + k - span[i] // 2) % 12) + 1 for k in range(span[i])} for i in range(n)
    }

    kind = np.where(rng.random(n) < quiet_share, "quiet", rng.choice(EPISODE_KINDS, n))
    onset = np.full(n, -1)
    worst = np.full(n, -1)
    for k in EPISODE_KINDS:
        idx = np.flatnonzero(kind == k)
        if idx.size == 0:
            continue
        on = _onsets(rng, harvest[idx], T)
        dp, dv, to_worst = _episode_profile(rng, k, idx.size, T, on)
        log_price[idx] += dp
        log_volume[idx] += dv
        onset[idx], worst[idx] = on, on + to_worst

    spike = rng.random(n) < 0.3
    for i in np.flatnonzero(spike):
        at, length = rng.integers(60, T - 5), rng.integers(1, 5)
        log_price[i, at : at + length] += np.log1p(rng.uniform(0.3, 0.8))
        log_volume[i, at : at + length] -= rng.uniform(0, 0.3)
    typo = rng.random(n) < 0.3
    for i in np.flatnonzero(typo):
        for at in rng.choice(np.arange(20, T), rng.integers(1, 3), replace=False):
            log_price[i, at] += np.log(10) * rng.choice([-1, 1])
    present = np.ones((n, T), dtype=bool)
    gaps = rng.random(n) < 0.3
    present[gaps] = rng.random((gaps.sum(), T)) > 0.1
    for i in np.flatnonzero(gaps & (rng.random(n) < 0.5)):
        at = rng.integers(20, T - 10)
        present[i, at : at + rng.integers(3, 9)] = False
    price_only = (rng.random(n) < 0.2) & (kind != "volume_collapse")

    ids = np.array([f"S{i:05d}" for i in range(n)])
    dates = START + 7 * t
    rows = np.nonzero(present)
    volume = np.round(np.exp(log_volume), 1)
    volume[price_only] = np.nan
    obs = pd.DataFrame(
        {
            "series_id": ids[rows[0]],
            "date": pd.to_datetime(dates[rows[1]]),
            "price": np.round(np.exp(log_price), 2)[rows],
            "volume": volume[rows],
        }
    )
    episode = onset >= 0
    labels = pd.DataFrame(
        {
            "series_id": ids,
            "kind": kind,
            "onset_date": pd.to_datetime(np.where(episode, dates[np.clip(onset, 0, T - 1)], np.datetime64("NaT"))),
            "worst_date": pd.to_datetime(np.where(episode, dates[np.clip(worst, 0, T - 1)], np.datetime64("NaT"))),
            "upward_spike": spike,
            "typo": typo,
            "missing_weeks": gaps,
            "price_only": price_only,
        }
    )
    return obs, labels, season


def _ar1(rng, n: int, T: int, phi: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """AR(1) noise with the given marginal standard deviation, one row per series."""
    eps = rng.normal(0, 1, (n, T)) * (sd * np.sqrt(1 - phi**2))[:, None]
    out = np.empty((n, T))
    out[:, 0] = rng.normal(0, 1, n) * sd
    for j in range(1, T):
        out[:, j] = phi * out[:, j - 1] + eps[:, j]
    return out


def _onsets(rng, harvest: np.ndarray, T: int) -> np.ndarray:
    """Onset weeks in years 3-5: mostly near harvest (the classic window), some anywhere."""
    lo, hi = 110, T - 20
    year = rng.integers(2, T // 52, harvest.size)
    near = year * 52 + harvest + rng.integers(-4, 5, harvest.size)
    anywhere = rng.integers(lo, hi, harvest.size)
    on = np.where(rng.random(harvest.size) < 0.8, near, anywhere)
    return np.where((on >= lo) & (on <= hi), on, anywhere)


def _episode_profile(rng, kind: str, m: int, T: int, onset: np.ndarray):
    """Log offsets for price and volume (m x T) and the weeks from onset to the worst week."""
    k = np.arange(T)[None, :] - onset[:, None]  # weeks since onset
    hold = rng.integers(1, 4, m)[:, None]
    recover = rng.integers(6, 13, m)[:, None]
    if kind == "fast_fall":
        to_worst = rng.integers(4, 9, m)
        depth = rng.uniform(0.30, 0.50, m)
        # Half the fall in the first week, three quarters by the second, the rest by the worst week.
        ramp = np.where(k == 0, 0.5, np.where(k == 1, 0.75, 0.75 + 0.25 * (k - 1) / (to_worst[:, None] - 1)))
        price_depth, volume_depth = (
            depth,
            np.where(rng.random(m) < 0.7, rng.uniform(0.2, 0.5, m), 0),
        )
    elif kind == "slow_decline":
        to_worst = rng.integers(8, 17, m)
        depth = rng.uniform(0.25, 0.45, m)
        ramp = (k + 1) / to_worst[:, None]
        price_depth, volume_depth = (
            depth,
            np.where(rng.random(m) < 0.7, rng.uniform(0.15, 0.4, m), 0),
        )
    else:
        to_worst = rng.integers(4, 11, m)
        ramp = np.where(k <= 2, (k + 1) / 3 * 0.6, 0.6 + 0.4 * (k - 2) / np.maximum(to_worst[:, None] - 2, 1))
        price_depth, volume_depth = rng.uniform(0.0, 0.05, m), rng.uniform(0.5, 0.8, m)
    tw = to_worst[:, None]
    after = k - tw - hold
    shape = np.where(
        k < 0,
        0.0,
        np.where(
            k <= tw,
            np.minimum(ramp, 1.0),
            np.where(after <= 0, 1.0, np.clip(1 - after / recover, 0, 1)),
        ),
    )
    dp = np.log1p(-price_depth)[:, None] * shape
    dv = np.log1p(-volume_depth)[:, None] * shape
    return dp, dv, to_worst


def alps_baseline(
    obs: pd.DataFrame, thresholds: tuple[float, float, float, float] = (0.25, 1.0, 1.5, np.inf)
) -> pd.DataFrame:
    """ALPS-style detector: per series OLS of log price on trend + month dummies fit on past rows.

    Returns ``series_id, date, level, score`` (score = minus the standardised residual).
    Default thresholds are ALPS's stress/alert/crisis (0.25/1.0/1.5 SD) as blue/yellow/orange.
    """
    df = obs[["series_id", "date", "price"]].copy()
    df["date"] = pd.to_datetime(df["date"])
    df = df.sort_values(["series_id", "date"], kind="stable")
    codes, _ = pd.factorize(df["series_id"])
    day = df["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    week = (day - day.min()) // 7
    start = pd.Series(week).groupby(codes).min().to_numpy()
    pos = week - start[codes]
    n, T = codes.max() + 1, pos.max() + 1
    y = np.full((n, T), np.nan)
    y[codes, pos] = np.log(df["price"].to_numpy(dtype=float))
    month = np.zeros((n, T), dtype=np.int64)
    month[codes, pos] = df["date"].dt.month.to_numpy() - 1

    p = 13  # trend (in years) and 12 month intercepts
    xtx = np.zeros((n, p, p))
    xty = np.zeros((n, p))
    yty = np.zeros(n)
    nobs = np.zeros(n)
    z = np.full((n, T), np.nan)
    ridge = 1e-6 * np.eye(p)
    for j in range(T):
        x = np.zeros((n, p))
        x[:, 0] = j / 52
        x[np.arange(n), 1 + month[:, j]] = 1.0
        ok = ~np.isnan(y[:, j])
        ready = ok & (nobs >= 52)
        if ready.any():
            beta = np.linalg.solve(xtx[ready] + ridge, xty[ready][..., None])[..., 0]
            fit = np.einsum("ij,ij->i", x[ready], beta)
            rss = yty[ready] - 2 * np.einsum("ij,ij->i", beta, xty[ready])
            rss += np.einsum("ij,ijk,ik->i", beta, xtx[ready], beta)
            sd = np.sqrt(np.maximum(rss, 1e-12) / (nobs[ready] - p))
            z[ready, j] = (y[ready, j] - fit) / sd
        xo, yo = x[ok], y[ok, j]
        xtx[ok] += xo[:, :, None] * xo[:, None, :]
        xty[ok] += xo * yo[:, None]
        yty[ok] += yo**2
        nobs[ok] += 1
    score = np.nan_to_num(-z[codes, pos])
    rank = np.searchsorted(np.asarray(thresholds), score, side="right")
    return pd.DataFrame(
        {
            "series_id": df["series_id"].to_numpy(),
            "date": df["date"].to_numpy(),
            "level": np.asarray(LEVELS, dtype=object)[rank],
            "score": np.round(score, 2),
        }
    )


def evaluate(scores: pd.DataFrame, labels: pd.DataFrame) -> dict:
    """Detection rate, median lead time (days) and quiet-series false-alarm share of one detector.

    Detection: level ≥ yellow at any date from 4 weeks before onset to 2 weeks after the worst
    week; lead: worst date minus the first such alert; false alarm: quiet series with any ≥ orange.
    """
    rank = scores["level"].map({name: i for i, name in enumerate(LEVELS)}).to_numpy()
    s = pd.DataFrame(
        {
            "series_id": scores["series_id"].to_numpy(),
            "date": pd.to_datetime(scores["date"]).to_numpy(),
            "rank": rank,
        }
    )
    ep = labels[labels["kind"] != "quiet"]
    hits = s[s["rank"] >= LEVELS.index("yellow")].merge(ep, on="series_id")
    inside = (hits["date"] >= hits["onset_date"] - pd.Timedelta(days=EARLY_DAYS)) & (
        hits["date"] <= hits["worst_date"] + pd.Timedelta(days=LATE_DAYS)
    )
    first = hits[inside].groupby("series_id")["date"].min()
    detected = ep.set_index("series_id").join(first.rename("first_alert"), how="left")
    lead = (detected["worst_date"] - detected["first_alert"]).dt.days
    quiet = labels.loc[labels["kind"] == "quiet", "series_id"]
    alarmed = s.loc[s["rank"] >= LEVELS.index("orange"), "series_id"].unique()
    yellowed = s.loc[s["rank"] >= LEVELS.index("yellow"), "series_id"].unique()
    by_kind = detected.assign(hit=detected["first_alert"].notna()).groupby("kind")["hit"].mean()
    return {
        "detection": float(detected["first_alert"].notna().mean()) if len(ep) else float("nan"),
        "median_lead_days": float(lead.median()) if lead.notna().any() else float("nan"),
        "false_alarm_share": float(quiet.isin(alarmed).mean()) if len(quiet) else float("nan"),
        "quiet_yellow_share": float(quiet.isin(yellowed).mean()) if len(quiet) else float("nan"),
        "n_episodes": int(len(ep)),
        "n_quiet": int(len(quiet)),
        **{f"detection_{k}": float(v) for k, v in by_kind.items()},
    }


def quality_table(seed: int, n_series: int) -> pd.DataFrame:
    """Engine vs ALPS-style baseline on one generated set: one row per detector, metrics as columns."""
    obs, labels, season = synthetic_panel(seed, n_series)
    rows = {
        "本引擎（季节基线+销量+持续性）": evaluate(score_series(obs, season), labels),
        "ALPS式基线（原阈值 0.25/1/1.5）": evaluate(alps_baseline(obs), labels),
        "ALPS式基线（收紧阈值 2.5/3.5/5）": evaluate(alps_baseline(obs, (2.5, 3.5, 5.0, np.inf)), labels),
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "detector"
    return table.reset_index()


def benchmark(n_series: int, years: int, seed: int = 1) -> dict:
    """Seconds and peak memory of ``score_series`` on ``n_series`` weekly series × ``years``."""
    rng = np.random.default_rng(seed)
    T = 52 * years
    t = np.arange(T)
    phase = 2 * np.pi * (t[None, :] - rng.integers(0, 52, n_series)[:, None]) / 52
    log_price = np.log(rng.uniform(1.5, 40, n_series))[:, None] - 0.15 * np.cos(phase)
    log_price = log_price + rng.normal(0, 0.05, (n_series, T))
    log_volume = np.log(rng.uniform(50, 5000, n_series))[:, None] + 0.4 * np.cos(phase)
    log_volume = log_volume + rng.normal(0, 0.15, (n_series, T))
    obs = pd.DataFrame(
        {
            "series_id": np.repeat([f"S{i:05d}" for i in range(n_series)], T),
            "date": pd.to_datetime(np.tile(START + 7 * t, n_series)),
            "price": np.exp(log_price).ravel(),
            "volume": np.exp(log_volume).ravel(),
        }
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    scores = score_series(obs)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "series": n_series,
        "years": years,
        "rows": len(obs),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak / 1024),
        "peak_rss_before_scoring_mb": round(before / 1024),
        "alert_rows": int((scores["level"] != "none").sum()),
    }


# ---------------------------------------------------------------------------------------------
# The extended labelled set (issue 18): weekly and monthly series, the hard cases of real data.
# ---------------------------------------------------------------------------------------------

# Categories with a glut to catch, and quiet categories (any ≥ orange is a false alarm).
GLUT_CATEGORIES = (
    "fast_fall",
    "slow_decline",
    "volume_collapse",
    "monthly_glut",
    "long_glut",
    "start_glut",
    "gap_glut",
)
QUIET_CATEGORIES = (
    "quiet_weekly",
    "quiet_monthly",
    "short_history",
    "zero_volume",
    "level_up_back",
    "shortage_spike",
    "inflation",
    "market_shift",
)
MONTH_START = np.datetime64("2019-01")


def extended_panel(seed: int, n_per_category: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, set[int]]]:
    """Labelled weekly and monthly series, ``n_per_category`` of each category in
    ``GLUT_CATEGORIES + QUIET_CATEGORIES``: (observations, labels, selling-season months).

    Observations: ``series_id, date, price, volume`` (volume blank when not reported, 0 when a
    zero was reported). Labels: ``series_id, category, kind`` (``quiet`` for quiet categories),
    ``grain`` (``week``/``month``), ``onset_date, worst_date`` (NaT when quiet).
    """
    rng = np.random.default_rng(seed)
    m = n_per_category
    frames, labels, seasons = [], [], {}

    # The original weekly generator gives the three classic kinds and the plain quiet series.
    obs, lab, season = synthetic_panel(seed, 4 * m, quiet_share=0.25)
    keep = []
    for cat, kind in (
        ("fast_fall", "fast_fall"),
        ("slow_decline", "slow_decline"),
        ("volume_collapse", "volume_collapse"),
        ("quiet_weekly", "quiet"),
    ):
        ids = lab.loc[lab["kind"] == kind, "series_id"].to_numpy()[:m]
        keep.append(pd.DataFrame({"series_id": ids, "category": cat}))
    keep = pd.concat(keep, ignore_index=True)
    lab = lab.merge(keep, on="series_id")
    frames.append(obs[obs["series_id"].isin(keep["series_id"])])
    labels.append(lab.assign(grain="week")[["series_id", "category", "kind", "grain", "onset_date", "worst_date"]])
    seasons.update({k: v for k, v in season.items() if k in set(keep["series_id"])})

    for cat in GLUT_CATEGORIES[3:] + QUIET_CATEGORIES[1:]:
        o, lb = _category(rng, cat, m)
        frames.append(o)
        labels.append(lb)
    obs = pd.concat(frames, ignore_index=True)
    labels = pd.concat(labels, ignore_index=True)
    return obs, labels, seasons


def _base(rng, n: int, T: int, period: int):
    """Seasonal log price and log volume (n × T) with AR(1) noise; ``period`` periods a year."""
    t = np.arange(T)
    harvest = rng.integers(0, period, n)
    phase = 2 * np.pi * (t[None, :] % period - harvest[:, None]) / period
    amp = rng.uniform(0.05, 0.25, n)[:, None]
    shape = -np.cos(phase)
    log_price = np.log(rng.uniform(1.5, 40, n))[:, None] + amp * shape
    weekly = period == 52
    phi = rng.uniform(0.3, 0.8, n) if weekly else rng.uniform(0.1, 0.5, n)
    sd = rng.uniform(0.03, 0.07, n) if weekly else rng.uniform(0.03, 0.06, n)
    log_price += _ar1(rng, n, T, phi, sd)
    log_volume = np.log(rng.uniform(50, 5000, n))[:, None] - rng.uniform(0.2, 0.8, n)[:, None] * shape
    log_volume += _ar1(rng, n, T, rng.uniform(0.2, 0.7, n), rng.uniform(0.08, 0.2, n))
    return log_price, log_volume


def _glut_shape(
    rng,
    m: int,
    T: int,
    onset: np.ndarray,
    to_worst: np.ndarray,
    hold: np.ndarray,
    recover: np.ndarray,
    first: float | None = None,
):
    """0..1 depth profile: ramps to 1 by the worst period, holds, recovers linearly."""
    k = np.arange(T)[None, :] - onset[:, None]
    tw = np.maximum(to_worst, 1)[:, None]
    ramp = (k + 1) / (tw + 1) if first is None else np.where(k == 0, first, first + (1 - first) * k / tw)
    after = k - tw - hold[:, None]
    return np.where(
        k < 0,
        0.0,
        np.where(
            k <= tw, np.minimum(ramp, 1.0), np.where(after <= 0, 1.0, np.clip(1 - after / recover[:, None], 0, 1))
        ),
    )


def _category(rng, cat: str, m: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    monthly = cat in ("monthly_glut", "quiet_monthly")
    period = 12 if monthly else 52
    T = 5 * period
    lp, lv = _base(rng, m, T, period)
    present = np.ones((m, T), dtype=bool)
    has_volume = rng.random(m) < 0.6
    onset = np.full(m, -1)
    worst = np.full(m, -1)
    t = np.arange(T)
    if cat == "monthly_glut":
        onset = rng.integers(26, T - 8, m)
        to_worst = rng.integers(0, 3, m)
        depth = rng.uniform(0.30, 0.50, m)
        shape = _glut_shape(rng, m, T, onset, to_worst, rng.integers(1, 6, m), rng.integers(2, 6, m), first=0.7)
        lp += np.log1p(-depth)[:, None] * shape
        lv += np.log1p(-rng.uniform(0.0, 0.4, m))[:, None] * shape
        worst = onset + to_worst
    elif cat == "long_glut":
        onset = rng.integers(70, T - 70, m)
        to_worst = rng.integers(20, 41, m)
        depth = rng.uniform(0.35, 0.60, m)
        shape = _glut_shape(rng, m, T, onset, to_worst, rng.integers(20, 52, m), rng.integers(8, 26, m))
        lp += np.log1p(-depth)[:, None] * shape
        lv += np.log1p(-rng.uniform(0.0, 0.3, m))[:, None] * shape
        worst = onset + to_worst
    elif cat == "start_glut":
        # Reporting begins 10–20 weeks before the glut: no earlier year, a short recent norm.
        first_obs = rng.integers(0, 60, m)
        onset = first_obs + rng.integers(10, 21, m)
        to_worst = rng.integers(2, 9, m)
        depth = rng.uniform(0.30, 0.50, m)
        shape = _glut_shape(rng, m, T, onset, to_worst, rng.integers(4, 12, m), rng.integers(6, 13, m), first=0.5)
        lp += np.log1p(-depth)[:, None] * shape
        present &= t[None, :] >= first_obs[:, None]
        worst = onset + to_worst
    elif cat == "gap_glut":
        # A reporting gap of 8–20 weeks; the glut begins inside it and data resumes low.
        gap_start = rng.integers(100, T - 60, m)
        gap_len = rng.integers(8, 21, m)
        onset = gap_start + gap_len - rng.integers(2, 6, m)
        to_worst = rng.integers(2, 7, m)
        depth = rng.uniform(0.30, 0.50, m)
        shape = _glut_shape(rng, m, T, onset, to_worst, rng.integers(4, 12, m), rng.integers(6, 13, m), first=0.5)
        lp += np.log1p(-depth)[:, None] * shape
        present &= (t[None, :] < gap_start[:, None]) | (t[None, :] >= (gap_start + gap_len)[:, None])
        worst = np.maximum(onset + to_worst, gap_start + gap_len)
    elif cat == "short_history":
        length = rng.integers(12, 51, m)
        present &= t[None, :] >= (T - length)[:, None]
    elif cat == "zero_volume":
        has_volume[:] = True
    elif cat == "level_up_back":
        # A price that sits 30–70% high for 2–10 months, then returns to normal within 2–6 weeks.
        start = rng.integers(60, T - 60, m)
        length = rng.integers(8, 44, m)
        back = rng.integers(2, 7, m)
        k = t[None, :] - start[:, None]
        up = np.clip((k + 1) / 3, 0, 1) * (k < length[:, None]) + np.clip(
            1 - (k - length[:, None] + 1) / back[:, None], 0, 1
        ) * (k >= length[:, None])
        lp += np.log1p(rng.uniform(0.3, 0.7, m))[:, None] * up
    elif cat == "shortage_spike":
        for i in range(m):
            for _ in range(rng.integers(1, 4)):
                at, length = rng.integers(30, T - 5), rng.integers(1, 7)
                lp[i, at : at + length] += np.log1p(rng.uniform(0.3, 1.0))
                lv[i, at : at + length] -= rng.uniform(0.1, 0.5)
    elif cat == "inflation":
        lp += rng.uniform(0.08, 0.20, m)[:, None] * t[None, :] / 52
    elif cat == "market_shift":
        # A new supply area or channel: the price level settles 10–25% lower over one to two years.
        start = rng.integers(20, T - 120, m)
        span = rng.integers(52, 105, m)
        lp += np.log1p(-rng.uniform(0.10, 0.25, m))[:, None] * np.clip(
            (t[None, :] - start[:, None]) / span[:, None], 0, 1
        )
    if cat != "quiet_monthly" and not monthly:
        typo = rng.random(m) < 0.2
        for i in np.flatnonzero(typo):
            lp[i, rng.integers(20, T)] += np.log(10) * rng.choice([-1, 1])
        holes = rng.random(m) < 0.3
        present[holes] &= rng.random((holes.sum(), T)) > 0.08
    volume = np.round(np.exp(lv), 1)
    volume[~has_volume] = np.nan
    blank = rng.random((m, T)) < 0.05
    volume[blank] = np.nan
    if cat == "zero_volume":
        zero = rng.random((m, T)) < rng.uniform(0.02, 0.10, m)[:, None]
        volume[zero] = 0.0
        volume[rng.random((m, T)) < 0.10] = np.nan
    prefix = {
        "monthly_glut": "MG",
        "long_glut": "LG",
        "start_glut": "SG",
        "gap_glut": "GG",
        "quiet_monthly": "QM",
        "short_history": "SH",
        "zero_volume": "ZV",
        "level_up_back": "UB",
        "shortage_spike": "SS",
        "inflation": "IN",
        "market_shift": "MS",
    }[cat]
    ids = np.array([f"{prefix}{i:04d}" for i in range(m)])
    if monthly:
        dates = (MONTH_START + t).astype("datetime64[D]")
    else:
        dates = START + 7 * t
    rows = np.nonzero(present)
    obs = pd.DataFrame(
        {
            "series_id": ids[rows[0]],
            "date": pd.to_datetime(dates[rows[1]]),
            "price": np.round(np.exp(lp), 2)[rows],
            "volume": volume[rows],
        }
    )
    glut = onset >= 0
    nat = np.datetime64("NaT")
    labels = pd.DataFrame(
        {
            "series_id": ids,
            "category": cat,
            "kind": cat if glut.any() else "quiet",
            "grain": "month" if monthly else "week",
            "onset_date": pd.to_datetime(np.where(glut, dates[np.clip(onset, 0, T - 1)], nat)),
            "worst_date": pd.to_datetime(np.where(glut, dates[np.clip(worst, 0, T - 1)], nat)),
        }
    )
    return obs, labels


def evaluate_by_category(scores: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """One row per category: ``n``, ``detection`` (glut categories: ≥ yellow from 4 weeks / 1 month
    before onset to 2 weeks / 1 month after the worst period), ``median_lead_days``,
    ``any_orange`` and ``any_yellow`` (share of series with any such level: for quiet categories the
    false-alarm shares), plus an ``全部`` summary row for gluts and one for quiet series."""
    rank = scores["level"].map({name: i for i, name in enumerate(LEVELS)}).to_numpy()
    s = pd.DataFrame(
        {"series_id": scores["series_id"].to_numpy(), "date": pd.to_datetime(scores["date"]).to_numpy(), "rank": rank}
    )
    hits = s[s["rank"] >= LEVELS.index("yellow")].merge(labels, on="series_id")
    early = np.where(hits["grain"] == "month", 31, EARLY_DAYS)
    late = np.where(hits["grain"] == "month", 31, LATE_DAYS)
    inside = (hits["date"] >= hits["onset_date"] - pd.to_timedelta(early, unit="D")) & (
        hits["date"] <= hits["worst_date"] + pd.to_timedelta(late, unit="D")
    )
    first = hits[inside].groupby("series_id")["date"].min()
    lab = labels.set_index("series_id").join(first.rename("first_alert"), how="left")
    lab["lead"] = (lab["worst_date"] - lab["first_alert"]).dt.days
    lab["any_orange"] = lab.index.isin(s.loc[s["rank"] >= LEVELS.index("orange"), "series_id"].unique())
    lab["any_yellow"] = lab.index.isin(s.loc[s["rank"] >= LEVELS.index("yellow"), "series_id"].unique())
    lab["hit"] = lab["first_alert"].notna()
    lab["is_glut"] = lab["kind"] != "quiet"
    rows = []
    order = [c for c in GLUT_CATEGORIES + QUIET_CATEGORIES if c in set(lab["category"])]
    for cat in order + ["全部滞销", "全部平稳"]:
        if cat == "全部滞销":
            part = lab[lab["is_glut"]]
        elif cat == "全部平稳":
            part = lab[~lab["is_glut"]]
        else:
            part = lab[lab["category"] == cat]
        glut = bool(part["is_glut"].all()) if len(part) else False
        rows.append(
            {
                "category": cat,
                "n": len(part),
                "detection": float(part["hit"].mean()) if glut else np.nan,
                "median_lead_days": float(part["lead"].median()) if glut and part["lead"].notna().any() else np.nan,
                "any_orange": float(part["any_orange"].mean()),
                "any_yellow": float(part["any_yellow"].mean()),
            }
        )
    return pd.DataFrame(rows)
