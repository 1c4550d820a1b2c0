"""滞销 (unsold-glut) early-warning engine: seasonal price and volume anomalies per series.

Pure numerical code, no database. The method and its measured quality are in
``docs/warnings.md``. All series are scored at once on stacked ``(series, period)`` arrays;
every value at a date uses only observations up to that date.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "LEVELS",
    "LEVEL_THRESHOLDS",
    "SeriesInputError",
    "run_csv",
    "score_series",
    "warnings_from_scores",
]

LEVELS = ("none", "blue", "yellow", "orange", "red")
LEVEL_LABELS = {"none": "", "blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红"}
# Lower bounds on the score for blue, yellow, orange, red (see docs/warnings.md).
LEVEL_THRESHOLDS = (2.0, 2.7, 4.0, 5.5)

# Weight of the score outside the product's selling season (上市周期); 1.0 inside it and
# when the season is unknown, so a missing catalogue entry never hides a glut.
OFF_SEASON_WEIGHT = 0.85
# Weight of the score while a series has less than a year of history (no seasonal baseline).
NO_SEASON_WEIGHT = 0.7
# Volume alone is a noisier witness than price: it counts at this share.
VOLUME_WEIGHT = 1.0
# When both price and volume are below normal, the weaker one adds this share.
JOINT_BONUS = 0.5
# A price this many scale units above normal means shortage, not glut: volume is ignored.
PRICE_UP_VETO = 1.5
# Smallest robust scale in log units, so a perfectly flat history does not turn a
# one-cent move into an alarm (3% for price, 8% for volume).
PRICE_SCALE_FLOOR = 0.03
VOLUME_SCALE_FLOOR = 0.08
MAD_TO_SIGMA = 1.4826
MEAN_ABS_TO_SIGMA = 1.2533
EWMA_ALPHA = 0.25
EWMA_CAP = 4.0
EWMA_SCALE_FLOOR = 0.3
WEEK_EPOCH = np.datetime64("1970-01-05")  # a Monday: weeks run Monday to Sunday


@dataclass(frozen=True)
class _Grain:
    """Window lengths, in periods, for one observation grain."""

    name: str
    unit: str
    period: int  # periods per year: the seasonal lag
    years_back: int  # previous years whose same-season deviation is pooled
    smooth: int  # centred median used only on past years' values
    annual: int  # centred window of the annual mean level (used only a year later)
    level: int  # trailing window of the recent deseasonalised level
    level_min: int
    scale: int  # trailing window of the robust residual scale
    scale_min: int


WEEKLY = _Grain("weekly", "周", 52, 4, 9, 53, 26, 4, 104, 8)
MONTHLY = _Grain("monthly", "个月", 12, 3, 3, 13, 6, 3, 24, 6)


class SeriesInputError(ValueError):
    """Bad series input; the message names the row and the field, in Chinese."""


def score_series(obs: pd.DataFrame, season_months: dict[str, set[int]] | None = None) -> pd.DataFrame:
    """Score each observation (one row per input row, input order) for 滞销 risk.

    ``obs``: ``series_id, date, price`` (yuan per unit) and optional ``volume`` (units sold),
    weekly or monthly. Returns ``series_id, date, level, score, reason`` plus diagnostics.
    """
    clean = _clean(obs)
    return _score_clean(clean, season_months or {})


def warnings_from_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Collapse consecutive alert rows of a series into episodes (one row per warning).

    Returns ``series_id, level`` (highest), ``score`` (peak), ``first_date, last_date,
    peak_date, reason`` (at the peak); rows of level ``none`` separate episodes.
    """
    cols = ["series_id", "level", "score", "first_date", "last_date", "peak_date", "reason"]
    if scores.empty:
        return pd.DataFrame(columns=cols)
    s = scores[["series_id", "date", "level", "score", "reason"]].copy()
    s["date"] = pd.to_datetime(s["date"])
    s = s.sort_values(["series_id", "date"], kind="stable").reset_index(drop=True)
    alert = (s["level"] != "none").to_numpy()
    same_series = (s["series_id"] == s["series_id"].shift()).to_numpy()
    prev_alert = np.r_[False, alert[:-1]]
    starts = alert & ~(same_series & prev_alert)
    s["episode"] = np.cumsum(starts)
    s = s[alert]
    if s.empty:
        return pd.DataFrame(columns=cols)
    s["rank"] = s["level"].map({name: i for i, name in enumerate(LEVELS)})
    g = s.groupby("episode", sort=True)
    peak = s.loc[g["score"].idxmax()].set_index("episode")
    out = pd.DataFrame(
        {
            "series_id": g["series_id"].first(),
            "level": g["rank"].max().map(dict(enumerate(LEVELS))),
            "score": g["score"].max(),
            "first_date": g["date"].min(),
            "last_date": g["date"].max(),
            "peak_date": peak["date"],
            "reason": peak["reason"],
        }
    )
    return out.reset_index(drop=True)[cols]


def run_csv(in_path: str | Path, out_path: str | Path) -> int:
    """Score a CSV of series and write ``series_id,date,level,score,reason`` (one row per input row).

    Returns the process exit code: 0 on success, 2 on bad input (message on stderr, in Chinese).
    """
    try:
        raw = _read_csv(Path(in_path))
        # Row labels are file line numbers: the header is line 1.
        clean = _clean(raw, np.arange(2, len(raw) + 2))
        scores = _score_clean(clean, {})
    except SeriesInputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    out = scores[["series_id", "date", "level", "score", "reason"]].copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    try:
        out.to_csv(out_path, index=False, encoding="utf-8")
    except OSError as exc:
        print(f"错误：无法写入输出文件 {out_path}：{exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def _read_csv(path: Path) -> pd.DataFrame:
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError as exc:
            last_error = exc
        except FileNotFoundError as exc:
            raise SeriesInputError(f"找不到输入文件 {path}") from exc
        except pd.errors.EmptyDataError as exc:
            raise SeriesInputError(f"输入文件 {path} 为空") from exc
        except (pd.errors.ParserError, OSError) as exc:
            raise SeriesInputError(f"无法读取输入文件 {path}：{exc}") from exc
    raise SeriesInputError(f"输入文件 {path} 既不是UTF-8也不是GBK编码") from last_error


def _clean(obs: pd.DataFrame, row_labels=None) -> pd.DataFrame:
    """Validated frame on the input index: series_id, date, price (>0), volume (>=0 or NaN)."""
    columns = {str(c).strip().lower(): c for c in obs.columns}
    missing = [c for c in ("series_id", "date", "price") if c not in columns]
    if missing:
        raise SeriesInputError(f"缺少必需的列：{', '.join(missing)}（需要 series_id, date, price，可选 volume）")
    n = len(obs)
    errors: list[str] = []

    def label(pos: int) -> str:
        return f"第{pos + 1}条记录" if row_labels is None else f"第{row_labels[pos]}行"

    def report(mask: np.ndarray, field: str, values: pd.Series, why: str) -> None:
        for pos in np.flatnonzero(mask)[: max(0, 5 - len(errors))]:
            errors.append(f"{label(pos)} 字段 {field}：{why}（值为“{values.iloc[pos]}”）")
        if mask.any() and len(errors) >= 5:
            errors.append("……")

    sid = obs[columns["series_id"]]
    sid_text = sid.astype(str).str.strip()
    report((sid.isna() | (sid_text == "")).to_numpy(), "series_id", sid, "不能为空")

    date_raw = obs[columns["date"]]
    if pd.api.types.is_datetime64_any_dtype(date_raw):
        dates = pd.to_datetime(date_raw)
    else:
        text = date_raw.astype(str).str.strip()
        dates = pd.to_datetime(text, errors="coerce", format="mixed")
    report(dates.isna().to_numpy(), "date", date_raw, "无法解析为日期（应为 YYYY-MM-DD）")

    price_raw = obs[columns["price"]]
    price = _numbers(price_raw)
    bad = ~np.isfinite(price)
    report(bad, "price", price_raw, "不是数字")
    report(~bad & (price <= 0), "price", price_raw, "必须大于0")

    if "volume" in columns:
        volume_raw = obs[columns["volume"]]
        blank = volume_raw.isna().to_numpy() | (volume_raw.astype(str).str.strip() == "").to_numpy()
        volume = _numbers(volume_raw)
        bad = ~blank & ~np.isfinite(volume)
        report(bad, "volume", volume_raw, "不是数字（没有销量请留空）")
        report(~blank & ~bad & (volume < 0), "volume", volume_raw, "不能为负数")
        volume = np.where(blank, np.nan, volume)
    else:
        volume = np.full(n, np.nan)

    if errors:
        shown = [e for e in errors if e != "……"][:5]
        more = "；……" if "……" in errors else ""
        raise SeriesInputError("输入数据有误：" + "；".join(shown) + more)
    if n == 0:
        raise SeriesInputError("输入没有数据行")
    return pd.DataFrame(
        index=obs.index,
        data={
            "series_id": (sid if pd.api.types.is_numeric_dtype(sid) else sid_text).array,
            "date": pd.DatetimeIndex(dates).normalize().as_unit("ns"),
            "price": price,
            "volume": volume,
        },
    )


def _numbers(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype(str).str.strip().str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _score_clean(clean: pd.DataFrame, season_months: dict) -> pd.DataFrame:
    n = len(clean)
    codes, uniques = pd.factorize(clean["series_id"], sort=False)
    date_ns = clean["date"].to_numpy().astype("datetime64[ns]")
    monthly_series = _monthly_series(codes, date_ns, len(uniques))
    monthly = monthly_series[codes]

    cols = {
        "level_rank": np.zeros(n, dtype=np.int8),
        "score": np.zeros(n),
        "price_z": np.full(n, np.nan),
        "volume_z": np.full(n, np.nan),
        "price_gap": np.full(n, np.nan),
        "volume_gap": np.full(n, np.nan),
        "baseline": np.full(n, np.nan),
        "band_low": np.full(n, np.nan),
        "band_high": np.full(n, np.nan),
        "since": np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"),
        "periods": np.zeros(n, dtype=np.int64),
        "seasonal": np.zeros(n, dtype=bool),
        "in_season": np.full(n, -1, dtype=np.int8),
    }
    season_table, has_season = _season_table(uniques, season_months)
    for grain, rows in ((WEEKLY, ~monthly), (MONTHLY, monthly)):
        idx = np.flatnonzero(rows)
        if idx.size:
            part = _score_grain(
                grain,
                codes[idx],
                date_ns[idx],
                clean["price"].to_numpy()[idx],
                clean["volume"].to_numpy()[idx],
                season_table,
                has_season,
            )
            for key, values in part.items():
                cols[key][idx] = values

    out = pd.DataFrame(
        {
            "series_id": clean["series_id"].array,
            "date": clean["date"].to_numpy(),
            "level": np.asarray(LEVELS, dtype=object)[cols["level_rank"]],
            "score": np.round(cols["score"], 2),
        }
    )
    out["reason"] = _reasons(out, cols, monthly)
    for key in ("price_z", "volume_z", "price_gap", "volume_gap"):
        out[key] = np.round(cols[key], 3)
    for key in ("baseline", "band_low", "band_high"):
        out[key] = cols[key]
    out["since"] = cols["since"]
    out["in_season"] = pd.array(np.where(cols["in_season"] < 0, None, cols["in_season"] == 1), dtype="boolean")
    out.index = clean.index
    return out


def _monthly_series(codes: np.ndarray, date_ns: np.ndarray, n_series: int) -> np.ndarray:
    """Per series: True when the median spacing of its dates is 20 days or more."""
    day = date_ns.astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, codes))
    c, d = codes[order], day[order]
    keep = np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])]
    c, d = c[keep], d[keep]
    gap = np.diff(d).astype(float)
    same = c[1:] == c[:-1]
    spacing = pd.Series(gap[same]).groupby(c[1:][same]).median()
    monthly = np.zeros(n_series, dtype=bool)
    monthly[spacing.index.to_numpy()] = spacing.to_numpy() >= 20
    return monthly


def _season_table(uniques: pd.Index, season_months: dict) -> tuple[np.ndarray, np.ndarray]:
    table = np.zeros((len(uniques), 12), dtype=bool)
    has = np.zeros(len(uniques), dtype=bool)
    if season_months:
        lookup = {str(k): v for k, v in season_months.items()}
        for i, sid in enumerate(uniques):
            months = lookup.get(str(sid))
            if months:
                has[i] = True
                table[i, [m - 1 for m in months if 1 <= m <= 12]] = True
    return table, has


def _score_grain(grain, codes, date_ns, price, volume, season_table, has_season) -> dict:
    """Score the rows of one grain; returns per-row arrays keyed like ``_score_clean``'s."""
    if grain is WEEKLY:
        key = (date_ns.astype("datetime64[D]") - WEEK_EPOCH).astype(np.int64) // 7
    else:
        key = date_ns.astype("datetime64[M]").astype(np.int64)
    gcode, series_index = pd.factorize(codes, sort=False)
    start = pd.Series(key).groupby(gcode).min().to_numpy()
    pos = key - start[gcode]
    n_s, width = len(series_index), int(pos.max()) + 1

    # Several rows in one period (two markets, a resubmission) count as their median.
    cell = gcode.astype(np.int64) * width + pos
    grid_price = _cell_median(cell, np.log(price), n_s, width)
    with np.errstate(divide="ignore"):
        grid_volume = _cell_median(cell, np.log1p(volume), n_s, width)
    grid_date = np.full(n_s * width, np.iinfo(np.int64).max)
    np.minimum.at(grid_date, cell, date_ns.astype(np.int64))
    grid_date = grid_date.reshape(n_s, width)
    observed = ~np.isnan(grid_price)

    p = _anomaly(grid_price, grain, PRICE_SCALE_FLOOR)
    v = _anomaly(grid_volume, grain, VOLUME_SCALE_FLOOR)

    price_z = np.nan_to_num(np.clip(np.fmax(-p["persistent"] / p["scale"], -p["ewma_z"]), 0, None))
    volume_z = np.nan_to_num(np.clip(np.fmax(-v["persistent"] / v["scale"], -v["ewma_z"]), 0, None))
    price_up = np.nan_to_num(p["resid"] / p["scale"]) > PRICE_UP_VETO
    volume_z = np.where(price_up, 0.0, volume_z)
    weighted_v = VOLUME_WEIGHT * volume_z
    raw = np.maximum(price_z, weighted_v) + JOINT_BONUS * np.minimum(price_z, weighted_v)

    if grain is WEEKLY:
        cell_key = start[:, None] + np.arange(width)[None, :]
        month = (WEEK_EPOCH + cell_key * 7).astype("datetime64[M]").astype(np.int64) % 12
    else:
        month = (start[:, None] + np.arange(width)[None, :]) % 12
    series_codes = np.asarray(series_index)
    in_season = np.take_along_axis(season_table[series_codes], month, axis=1)
    has = has_season[series_codes][:, None]
    weight = np.where(has & ~in_season, OFF_SEASON_WEIGHT, 1.0)
    # Without a seasonal baseline a seasonal dip looks like a fall: trust it less.
    weight = np.where(p["seasonal"], weight, weight * NO_SEASON_WEIGHT)
    score = np.where(observed, raw * weight, 0.0)
    rank = np.searchsorted(np.asarray(LEVEL_THRESHOLDS), score, side="right").astype(np.int8)

    since_pos = _run_start(rank > 0, observed)
    since = np.take_along_axis(grid_date, np.clip(since_pos, 0, width - 1), axis=1)
    periods = np.arange(width)[None, :] - since_pos + 1

    base = p["baseline"]
    flat = (gcode, pos)
    return {
        "level_rank": rank[flat],
        "score": score[flat],
        "price_z": price_z[flat],
        "volume_z": volume_z[flat],
        "price_gap": np.expm1(p["persistent"])[flat],
        "volume_gap": np.expm1(v["persistent"])[flat],
        "baseline": np.exp(base)[flat],
        "band_low": np.exp(base - 2 * p["scale"])[flat],
        "band_high": np.exp(base + 2 * p["scale"])[flat],
        "since": np.where(rank > 0, since, np.iinfo(np.int64).min)[flat].astype("datetime64[ns]"),
        "periods": np.where(rank > 0, periods, 0)[flat],
        "seasonal": p["seasonal"][flat],
        "in_season": np.where(has, in_season.astype(np.int8), -1)[flat],
    }


def _cell_median(cell: np.ndarray, values: np.ndarray, n_s: int, width: int) -> np.ndarray:
    grid = np.full(n_s * width, np.nan)
    ok = np.isfinite(values)
    cells, vals = cell[ok], values[ok]
    if np.bincount(cells, minlength=n_s * width).max(initial=0) <= 1:
        grid[cells] = vals
    else:
        med = pd.Series(vals).groupby(cells).median()
        grid[med.index.to_numpy()] = med.to_numpy()
    return grid.reshape(n_s, width)


def _anomaly(y: np.ndarray, grain: _Grain, floor: float) -> dict:
    """Residual of log values against a causal seasonal baseline, and its robust scale.

    Baseline at t = seasonal offset (median over previous years of the smoothed deviation
    from that year's level) + recent level (median of deseasonalised values before t).
    """
    P = grain.period
    smooth = _rolling(y, grain.smooth, 1, "median", center=True)
    annual = _rolling(smooth, grain.annual, grain.annual // 2, "mean", center=True)
    deviation = smooth - annual
    # Only lags of a full year or more are used, so the centred windows above end before t.
    seasonal = _nanmedian_lags(deviation, [P * k for k in range(1, grain.years_back + 1)])

    deseason = y - seasonal
    level_s = _shift(_rolling(deseason, grain.level, grain.level_min, "median"))
    # Without a year of history a short trailing level follows the season as well as it can.
    level_0 = _shift(_rolling(y, max(grain.level // 3, grain.level_min + 1), grain.level_min, "median"))
    use_season = ~np.isnan(seasonal) & ~np.isnan(level_s)
    baseline = np.where(use_season, np.nan_to_num(seasonal) + level_s, level_0)

    resid = y - baseline
    spread = _shift(_rolling(np.abs(resid), grain.scale, grain.scale_min, "median"))
    scale = np.maximum(MAD_TO_SIGMA * spread, floor)

    # Alerts need the two latest observations low (within three periods): one typo never fires.
    r1, r2 = _shift(resid, 1), _shift(resid, 2)
    persistent = np.where(~np.isnan(r1), np.maximum(resid, r1), np.maximum(resid, r2))

    # A sustained moderate shortfall (slow decline) accumulates in an EWMA of the capped
    # standardised persistent residual, itself standardised by its own past robust spread
    # (which absorbs the autocorrelation of real noise).
    ewma = _ewma(np.clip(persistent / scale, -EWMA_CAP, EWMA_CAP), EWMA_ALPHA)
    ewma_spread = _shift(_rolling(np.abs(ewma), grain.scale, grain.scale_min, "mean"))
    ewma_z = ewma / np.maximum(MEAN_ABS_TO_SIGMA * ewma_spread, EWMA_SCALE_FLOOR)
    return {
        "ewma_z": ewma_z,
        "resid": resid,
        "persistent": persistent,
        "scale": scale,
        "baseline": baseline,
        "seasonal": use_season,
    }


def _rolling(a: np.ndarray, window: int, min_periods: int, how: str, center: bool = False) -> np.ndarray:
    # Rows laid end to end with NaN padding between them: one Cython pass over all series.
    n, width = a.shape
    pad = window
    flat = np.full((n, width + pad), np.nan)
    flat[:, :width] = a
    roll = pd.Series(flat.ravel()).rolling(window, min_periods=min_periods, center=center)
    out = getattr(roll, how)().to_numpy()
    return out.reshape(n, width + pad)[:, :width]


def _ewma(z: np.ndarray, alpha: float) -> np.ndarray:
    """Causal EWMA along periods; missing periods carry the last value and stay missing."""
    out = np.full_like(z, np.nan)
    state = np.full(z.shape[0], np.nan)
    for j in range(z.shape[1]):  # one step over all series at once
        col = z[:, j]
        ok = ~np.isnan(col)
        state = np.where(ok, np.where(np.isnan(state), col, (1 - alpha) * state + alpha * col), state)
        out[:, j] = np.where(ok, state, np.nan)
    return out


def _shift(a: np.ndarray, k: int = 1) -> np.ndarray:
    out = np.full_like(a, np.nan)
    out[:, k:] = a[:, :-k]
    return out


def _nanmedian_lags(a: np.ndarray, lags: list[int]) -> np.ndarray:
    stack = np.stack([_shift(a, k) if k < a.shape[1] else np.full_like(a, np.nan) for k in lags])
    stack.sort(axis=0)  # NaN sorts last
    count = (~np.isnan(stack)).sum(axis=0)
    lo = np.take_along_axis(stack, np.clip((count - 1) // 2, 0, None)[None], axis=0)[0]
    hi = np.take_along_axis(stack, np.clip(count // 2, 0, None)[None], axis=0)[0]
    return np.where(count > 0, (lo + hi) / 2, np.nan)


def _run_start(alert: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Per cell: position where the current alert run began (missing periods do not break it)."""
    n, width = alert.shape
    cols = np.broadcast_to(np.arange(width), (n, width))
    last_quiet = np.maximum.accumulate(np.where(observed & ~alert, cols, -1), axis=1)
    nxt = np.where(observed, cols, width)
    next_obs = np.minimum.accumulate(nxt[:, ::-1], axis=1)[:, ::-1]
    next_obs = np.concatenate([next_obs, np.full((n, 1), width)], axis=1)
    return np.take_along_axis(next_obs, last_quiet + 1, axis=1)


def _reasons(out: pd.DataFrame, cols: dict, monthly: np.ndarray) -> np.ndarray:
    """Chinese explanation for alert rows; empty for level none."""
    reason = np.full(len(out), "", dtype=object)
    idx = np.flatnonzero(cols["level_rank"] > 0)
    if idx.size == 0:
        return reason
    pz, vz = cols["price_z"][idx], cols["volume_z"][idx]
    pg, vg = cols["price_gap"][idx], cols["volume_gap"][idx]
    seasonal = cols["seasonal"][idx]
    price_part = (
        pd.Series(np.where(seasonal, "价格低于季节常态", "价格低于近期常态"), dtype=object)
        + _fmt(pz, 1)
        + "个标准差（"
        + _fmt(pg * 100, 0)
        + "%）"
    )
    volume_part = "销量低于常态" + _fmt(vz, 1) + "个标准差（" + _fmt(vg * 100, 0) + "%）"
    show_p, show_v = pz >= 1.0, vz >= 1.0
    signals = np.where(
        show_p & show_v,
        price_part + "，" + volume_part,
        np.where(show_p, price_part, volume_part),
    )
    unit = np.where(monthly[idx], "个月", "周")
    since = pd.Series(cols["since"][idx]).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    duration = "，已持续" + pd.Series(cols["periods"][idx]).astype(str) + unit + "，自" + since + "起"
    season = np.select(
        [cols["in_season"][idx] == 1, cols["in_season"][idx] == 0],
        ["；处于上市季", "；非上市季"],
        "",
    )
    reason[idx] = (pd.Series(signals, dtype=object) + duration + season).to_numpy()
    return reason


def _fmt(values: np.ndarray, digits: int) -> pd.Series:
    rounded = np.round(values.astype(float), digits)
    rounded = np.where(rounded == 0, 0.0, rounded)  # no "-0"
    text = pd.Series(rounded).map(f"{{:.{digits}f}}".format)
    return text.astype(object)
