"""滞销 (unsold-glut) early-warning engine: four documented methods per series, combined.

1. seasonal anomaly of price and volume (recent level + seasonal offset + robust scale + EWMA);
2. persistent decline against the level before the decline began (frozen reference, GIEWS/ALPS-style);
3. year on year against the median of the same period of earlier years that were not in glut;
4. price below the catalogue's cost price (猪粮比价-style ratio bands × persistence), and below
   the reference price (raises a level).

Pure numerical code, no database. The methods, thresholds and measured quality are in
``docs/warnings.md``. All series are scored at once on stacked ``(series, period)`` arrays;
every value at a date uses only observations up to that date (rows of the same period dated
later included).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "LEVELS",
    "LEVEL_THRESHOLDS",
    "METHOD_NAMES",
    "SeriesInputError",
    "run_csv",
    "score_series",
    "series_state",
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

# Persistent decline (method 2): a run begins when the deseasonalised price is 10% below the
# median of the previous two years (at least 8 weeks / 4 months of it); its reference is frozen
# there until the price is back within 5% or the run is two years old.
DECLINE_ENTRY = 0.10
DECLINE_EXIT = 0.05
# Fall below the frozen reference that scores blue / yellow / orange / red.
DECLINE_BANDS = (0.18, 0.27, 0.36, 0.48)
# Monthly values are averages of a month's prices, about half as noisy as single weeks: narrower bands.
DECLINE_BANDS_MONTHLY = (0.12, 0.17, 0.25, 0.35)
# Without a year of history (no seasonal offset) the bands are this much wider (a fast fall is
# scored on the normal bands, see RECENT_WINDOW).
NO_SEASON_BAND_FACTOR = 1.6
# Speed of a decline: the depth a run reached within its first half year (26 weeks / 6 months)
# counts in full; any further fall after that counts at this share. A glut is a supply shock that
# falls within months and is kept at the depth it reached while it lasts; a level that keeps
# sliding for years is a market shift (new supply area, channel), not a glut.
FAST_RUN = {"weekly": 26, "monthly": 6}
SLOW_SHARE = 0.5
# Without a year of history (weekly series): the fall below the frozen reference that happened
# since the level of weeks t-11..t-4 (their median) is scored on the normal bands, not the wider
# no-season ones. A seasonal swing of even ±25% moves the price at most about 3% a week, so a
# 27% fall within a few weeks is no seasonal move.
RECENT_WINDOW = 8  # weeks in the median
RECENT_LAG = 4  # its latest week is t-4
# Seasonally adjusted fall speed (monthly series with a seasonal norm): the deseasonalised price
# against the median of its months t-5..t-3, i.e. the fall of the last one to three months less
# the usual seasonal change over the same calendar months (glut years left out of the norm). It
# scores on the monthly decline bands the month after, when the price is still SPEED_CONFIRM below
# that level, and only if the fall is at least SPEED_Z robust residual scales (a volatile series'
# normal swings never count). A spring fall that every earlier year shows is not a fall here.
SPEED_LAG = 3
SPEED_WINDOW = 3
SPEED_CONFIRM = 0.10
SPEED_Z = 3.0
# Periods more than this far above the long level are left out of the seasonal and year-on-year norms.
HIGH_EXCLUDE = 0.15
# The seasonal price signal may score at most this much above the level methods (about half a
# level step: a dip against the recent normal must be backed by a fall of the level).
PRICE_HEADROOM = 0.7
# The seasonal price signal counts at this share beside the level-based methods (noise of a
# two-week dip on a volatile series gave one quiet series in six a yellow).
SEASONAL_WEIGHT = 0.85
# Year on year (method 3): the same period of the previous three years, glut years left out.
YOY_YEARS = 3
YOY_BANDS = (0.25, 0.33, 0.45, 0.60)
# Cost price (method 4), in the spirit of the 猪粮比价 plan: break-even 6:1 ↔ ratio 1.0,
# 5:1 ↔ 5/6. Below cost → blue; below cost for 3 periods → yellow; below 5/6 → orange;
# below 5/6 for 3 periods, or below 0.7 → red.
COST_PERIODS = 3
COST_DEEP = 5 / 6
COST_SEVERE = 0.7
# Reference (guide) price: below 90% of it for 3 periods raises an existing alert one level.
REFERENCE_SHARE = 0.9
# The grain at a date is read from the series' latest this many date spacings up to it.
GRAIN_GAPS = 6
# A monthly value more than 60% below the month before waits for a second month (a typo).
MONTHLY_TYPO_FALL = 0.6
# Grids of at least this many cells are rolled in two threads (the machine's two cores).
_THREAD_CELLS = 1_000_000


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
    ref_window: int  # window of the long level before a decline (method 2)
    ref_min: int
    run_max: int  # longest decline run before its reference is renewed
    min_history: int  # fewer observed periods than this: 数据不足, no level
    stale: int  # no data for this many periods up to the as-of date: 数据过期


WEEKLY = _Grain("weekly", "周", 52, 4, 9, 53, 26, 4, 104, 8, 104, 8, 104, 8, 2)
MONTHLY = _Grain("monthly", "个月", 12, 3, 3, 13, 6, 3, 24, 6, 24, 4, 24, 4, 2)


class SeriesInputError(ValueError):
    """Bad series input; the message names the row and the field, in Chinese."""


def score_series(
    obs: pd.DataFrame,
    season_months: dict[str, set[int]] | None = None,
    prices: dict[str, dict[str, float | None]] | None = None,
) -> pd.DataFrame:
    """Score each observation (one row per input row, input order) for 滞销 risk.

    ``obs``: ``series_id, date, price`` (yuan per unit) and optional ``volume`` (units sold),
    ``stock`` and ``zero_confirmed`` (a zero volume counts only when the row reports stock or
    confirms the zero; otherwise it is a missing report), weekly or monthly. ``prices``: per
    series ``{"cost": 成本价, "reference": 参考价}`` in the price's unit. Returns
    ``series_id, date, level, score, reason, status, methods`` plus diagnostics.
    """
    clean = _clean(obs)
    return _score_clean(clean, season_months or {}, prices)


def series_state(obs: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per series, as of a date: ``series_id, grain (week|month), last_date, periods, state`` with
    state ``正常``, ``数据不足`` (fewer observed periods than the engine needs: no level can be
    given) or ``数据过期`` (no data in the last two periods up to ``as_of``: the last level is
    stale). Rows after ``as_of`` are ignored."""
    cols = ["series_id", "grain", "last_date", "periods", "state"]
    if obs.empty:
        return pd.DataFrame(columns=cols)
    df = obs[["series_id", "date"]].copy()
    df["date"] = pd.to_datetime(df["date"]).dt.normalize()
    as_of = pd.Timestamp(as_of).normalize()
    df = df[df["date"] <= as_of]
    if df.empty:
        return pd.DataFrame(columns=cols)
    codes, uniques = pd.factorize(df["series_id"], sort=False)
    monthly_row = _monthly_rows(codes, df["date"].to_numpy().astype("datetime64[ns]"))
    df["monthly"] = monthly_row
    df["week"] = (df["date"].to_numpy().astype("datetime64[D]") - WEEK_EPOCH).astype(np.int64) // 7
    df["month"] = df["date"].to_numpy().astype("datetime64[M]").astype(np.int64)
    g = df.sort_values("date").groupby("series_id", sort=False)
    out = pd.DataFrame(
        {
            "monthly": g["monthly"].last(),
            "last_date": g["date"].max(),
            "weeks": g["week"].nunique(),
            "months": g["month"].nunique(),
        }
    )
    monthly = out["monthly"].to_numpy()
    out["grain"] = np.where(monthly, "month", "week")
    out["periods"] = np.where(monthly, out["months"], out["weeks"])
    age = np.where(
        monthly,
        (as_of.year - out["last_date"].dt.year) * 12 + as_of.month - out["last_date"].dt.month,
        (as_of - out["last_date"]).dt.days // 7,
    )
    need = np.where(monthly, MONTHLY.min_history, WEEKLY.min_history)
    out["state"] = np.select(
        [age >= np.where(monthly, MONTHLY.stale, WEEKLY.stale), out["periods"] < need], ["数据过期", "数据不足"], "正常"
    )
    return out.reset_index()[cols]


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
    # Text work on the distinct ids only (a few thousand), not on millions of rows.
    sid_codes, sid_uniques = pd.factorize(sid, use_na_sentinel=False)
    sid_text = pd.Series(
        pd.Series(sid_uniques, dtype=object).astype(str).str.strip().to_numpy(dtype=object)[sid_codes],
        index=obs.index,
        dtype=object,
    )
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
        blank = volume_raw.isna().to_numpy().copy()
        if not pd.api.types.is_numeric_dtype(volume_raw):
            blank |= (volume_raw.astype(str).str.strip() == "").to_numpy()
        volume = _numbers(volume_raw)
        bad = ~blank & ~np.isfinite(volume)
        report(bad, "volume", volume_raw, "不是数字（没有销量请留空）")
        report(~blank & ~bad & (volume < 0), "volume", volume_raw, "不能为负数")
        volume = np.where(blank, np.nan, volume)
    else:
        volume = np.full(n, np.nan)
    stock = _numbers(obs[columns["stock"]]) if "stock" in columns else np.full(n, np.nan)
    if "zero_confirmed" in columns:
        flag = obs[columns["zero_confirmed"]]
        confirmed = flag.astype(str).str.strip().str.lower().isin(["1", "true", "yes", "是", "y"]).to_numpy()
    else:
        confirmed = np.zeros(n, dtype=bool)

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
            "stock": stock,
            "zero_confirmed": confirmed,
        },
    )


def _numbers(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype(str).str.strip().str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _score_clean(clean: pd.DataFrame, season_months: dict, prices: dict | None = None) -> pd.DataFrame:
    n = len(clean)
    codes, uniques = pd.factorize(clean["series_id"], sort=False)
    date_ns = clean["date"].to_numpy().astype("datetime64[ns]")
    monthly = _monthly_rows(codes, date_ns)
    volume = clean["volume"].to_numpy(dtype=float).copy()
    # A zero volume is a missing report unless the row reports stock or confirms the zero.
    real_zero = clean["stock"].notna().to_numpy() | clean["zero_confirmed"].to_numpy(dtype=bool)
    volume[(volume == 0) & ~real_zero] = np.nan

    # (dtype, fill) of each per-row column; allocated only when one grain covers part of the rows.
    spec = {
        "level_rank": (np.int8, 0),
        "score": (np.float64, 0.0),
        "price_z": (np.float64, np.nan),
        "volume_z": (np.float64, np.nan),
        "price_gap": (np.float64, np.nan),
        "volume_gap": (np.float64, np.nan),
        "baseline": (np.float64, np.nan),
        "band_low": (np.float64, np.nan),
        "band_high": (np.float64, np.nan),
        "since": ("datetime64[ns]", np.datetime64("NaT")),
        "periods": (np.int64, 0),
        "seasonal": (bool, 0),
        "in_season": (np.int8, -1),
        "s_seasonal": (np.float64, 0.0),
        "s_decline": (np.float64, 0.0),
        "s_yoy": (np.float64, 0.0),
        "cost_rank": (np.int8, 0),
        "raised": (bool, 0),
        "decline_gap": (np.float64, np.nan),
        "decline_ref": (np.float64, np.nan),
        "decline_since": ("datetime64[ns]", np.datetime64("NaT")),
        "decline_quick": (np.float64, 0.0),
        "decline_slow": (np.float64, 0.0),
        "decline_speed": (np.float64, 0.0),
        "yoy_gap": (np.float64, np.nan),
        "yoy_years": (np.int64, 0),
        "floor_ratio": (np.float64, np.nan),
        "floor_run": (np.int64, 0),
        "ref_ratio": (np.float64, np.nan),
        "ref_run": (np.int64, 0),
        "history": (np.int64, 0),
    }
    cols: dict[str, np.ndarray] = {}
    season_table, has_season = _season_table(uniques, season_months)
    cost, reference = _price_floors(uniques, prices or {})
    price_all = clean["price"].to_numpy()
    for grain, rows in ((WEEKLY, ~monthly), (MONTHLY, monthly)):
        idx = np.flatnonzero(rows)
        if idx.size == 0:
            continue
        # Every row of the series up to the last row read at this grain is history for it.
        last = pd.Series(date_ns[idx]).groupby(codes[idx]).max()
        limit = np.full(len(uniques), np.datetime64("NaT"), dtype="datetime64[ns]")
        limit[last.index.to_numpy()] = last.to_numpy()
        use = np.flatnonzero(~np.isnat(limit[codes]) & (date_ns <= limit[codes]))
        part = _score_grain(
            grain,
            codes[use],
            date_ns[use],
            price_all[use],
            volume[use],
            season_table,
            has_season,
            cost,
            reference,
            rows[use],
        )
        take = rows[use]
        if use.size == n and take.all():  # one grain for every row: the part is the column
            for key, values in part.items():
                cols[key] = values.astype(spec[key][0], copy=False)
            continue
        for key, values in part.items():
            if key not in cols:
                cols[key] = np.full(n, spec[key][1], dtype=spec[key][0])
            cols[key][use[take]] = values[take]

    for key, (dtype, fill) in spec.items():
        if key not in cols:
            cols[key] = np.full(n, fill, dtype=dtype)
    out = pd.DataFrame(
        {
            "series_id": clean["series_id"].array,
            "date": clean["date"].to_numpy(),
            "level": _text(cols["level_rank"], LEVELS),
            "score": np.round(cols["score"], 2),
        }
    )
    alert = np.flatnonzero(cols["level_rank"] > 0)
    out["reason"] = _text_at(_reasons(cols, monthly), alert)
    min_history = np.where(monthly, MONTHLY.min_history, WEEKLY.min_history)
    out["status"] = _text((cols["history"] < min_history).astype(np.int8), ("", "数据不足"))
    out["methods"] = _text_at(_methods(cols), alert)
    for key in (
        "price_z",
        "volume_z",
        "price_gap",
        "volume_gap",
        "decline_gap",
        "yoy_gap",
        "floor_ratio",
        "s_seasonal",
        "s_decline",
        "s_yoy",
    ):
        out[key] = np.round(cols[key], 3)
    for key in ("baseline", "band_low", "band_high"):
        out[key] = cols[key]
    out["since"] = cols["since"]
    out["in_season"] = pd.array(np.where(cols["in_season"] < 0, None, cols["in_season"] == 1), dtype="boolean")
    out.index = clean.index
    return out


def _text(codes: np.ndarray, labels) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """A text column ``labels[codes]`` built as an Arrow dictionary (millions of rows in a few
    milliseconds instead of converting as many Python strings); the same values and dtype."""
    try:
        import pyarrow as pa  # optional: without it pandas stores text as Python objects
    except ImportError:  # pragma: no cover - pandas then stores text as Python objects
        return np.asarray(labels, dtype=object)[codes]
    d = pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(list(labels), type=pa.large_string())
    )
    return pd.Series(d.cast(pa.large_string()).to_pandas()).array


def _text_at(values: np.ndarray, idx: np.ndarray):
    """Text column of ``values`` that are empty except at positions ``idx``."""
    codes = np.zeros(len(values), dtype=np.int32)
    codes[idx] = np.arange(1, idx.size + 1, dtype=np.int32)
    return _text(codes, ["", *values[idx].tolist()])


def _monthly_rows(codes: np.ndarray, date_ns: np.ndarray) -> np.ndarray:
    """Per row: True when, up to that row's date, at least half of the series' latest
    ``GRAIN_GAPS`` spacings between distinct dates are 20 days or more (the grain as the data so
    far shows it, following a change of reporting within a few reports; a first row is weekly)."""
    day = date_ns.astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, codes))
    c, d = codes[order], day[order]
    new_date = np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])]
    uc, ud = c[new_date], d[new_date]
    same = np.r_[False, uc[1:] == uc[:-1]]
    gap = np.r_[0, np.diff(ud)]
    long_gap = np.cumsum(same & (gap >= 20))
    any_gap = np.cumsum(same)
    idx = np.arange(uc.size)
    first = np.maximum.accumulate(np.where(~same, idx, 0))  # first distinct date of the series
    back = np.maximum(idx - GRAIN_GAPS, first)
    n_long = long_gap - long_gap[back]
    n_all = any_gap - any_gap[back]
    monthly_date = (n_long > 0) & (2 * n_long >= n_all)
    out = np.empty(len(codes), dtype=bool)
    out[order] = monthly_date[np.cumsum(new_date) - 1]
    return out


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


def _price_floors(uniques: pd.Index, prices: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per series: log cost price and log reference price (NaN when unknown or not positive)."""
    cost = np.full(len(uniques), np.nan)
    ref = np.full(len(uniques), np.nan)
    if prices:
        lookup = {str(k): v for k, v in prices.items()}
        for i, sid in enumerate(uniques):
            p = lookup.get(str(sid)) or {}
            c, r = p.get("cost"), p.get("reference")
            if c is not None and np.isfinite(c) and c > 0:
                cost[i] = np.log(c)
            if r is not None and np.isfinite(r) and r > 0:
                ref[i] = np.log(r)
    return cost, ref


def _score_grain(grain, codes, date_ns, price, volume, season_table, has_season, cost, reference, read) -> dict:
    """Score the rows of one grain; returns per-row arrays keyed like ``_score_clean``'s.

    Several rows in one period (daily reports, two markets, a resubmission) count as their
    median; a row sees only the rows of its period dated up to its own date.
    """
    if grain is WEEKLY:
        key = (date_ns.astype("datetime64[D]") - WEEK_EPOCH).astype(np.int64) // 7
    else:
        key = date_ns.astype("datetime64[M]").astype(np.int64)
    gcode, series_index = pd.factorize(codes, sort=False)
    start = pd.Series(key).groupby(gcode).min().to_numpy()
    pos = key - start[gcode]
    n_s, width = len(series_index), int(pos.max()) + 1
    cell = gcode.astype(np.int64) * width + pos
    log_price = np.log(price)
    with np.errstate(divide="ignore"):
        log_volume = np.log1p(volume)
    grid_date = np.full(n_s * width, np.iinfo(np.int64).max)
    np.minimum.at(grid_date, cell, date_ns.astype(np.int64))
    grid_date = grid_date.reshape(n_s, width)
    series_codes = np.asarray(series_index)
    ctx = dict(
        grain=grain,
        start=start,
        width=width,
        grid_date=grid_date,
        season=season_table[series_codes],
        has=has_season[series_codes],
        cost=cost[series_codes],
        reference=reference[series_codes],
    )
    day = date_ns.astype("datetime64[D]").astype(np.int64)
    grids = _grid_scores(_cell_median(cell, log_price, n_s, width), _cell_median(cell, log_volume, n_s, width), ctx)
    if cell.size == n_s * width and np.array_equal(cell, np.arange(cell.size)):
        # One row per period, in series and period order (a stored panel): the grid is the rows.
        result = {key_: v.reshape(-1) for key_, v in grids.items()}
    else:
        result = {key_: grids[key_].reshape(-1)[cell] for key_ in list(grids)}
    del grids
    # A row dated before the last date of its period must not see the later rows of that period:
    # such rows are scored again on the series cut at their date (pass i takes each series' i-th
    # such date). Stored series hold one row per period, so this is only for raw input.
    cell_last = pd.Series(day).groupby(cell).transform("max").to_numpy()
    partial = (day < cell_last) & read  # only rows read at this grain need it
    if partial.any():
        cut = pd.DataFrame({"s": gcode[partial], "d": day[partial]}).drop_duplicates().sort_values(["s", "d"])
        cut["i"] = cut.groupby("s").cumcount()
        for _, one in cut.groupby("i"):
            cutoff = np.full(n_s, np.iinfo(np.int64).min)
            cutoff[one["s"].to_numpy()] = one["d"].to_numpy()
            seen = day <= cutoff[gcode]
            grids = _grid_scores(
                _cell_median(cell[seen], log_price[seen], n_s, width),
                _cell_median(cell[seen], log_volume[seen], n_s, width),
                ctx,
            )
            mine = partial & (day == cutoff[gcode])
            flat = (gcode[mine], pos[mine])
            for key_, v in grids.items():
                result[key_][mine] = v[flat]
    return result


def _grid_scores(gp: np.ndarray, gv: np.ndarray, ctx: dict) -> dict:
    """All methods on one grid of log price ``gp`` and log(1 + volume) ``gv`` (series × period)."""
    grain, start, width = ctx["grain"], ctx["start"], ctx["width"]
    observed = ~np.isnan(gp)
    P = grain.period
    lags = [P * k for k in range(1, grain.years_back + 1)]
    yp = _persist(gp, grain)

    # Seasonal offset from earlier years. Periods that were themselves in glut (a decline run at
    # least a blue band deep) or far above the long level (a shortage spike or a high plateau) are
    # left out of the seasonal norm and of the annual level, so last year's glut never becomes
    # this year's seasonal norm.
    smooth = _rolling(gp, grain.smooth, 1, "median", center=True)
    annual0 = _rolling(smooth, grain.annual, grain.annual // 2, "mean", center=True)
    seasonal0 = _nanmedian_lags(smooth - annual0, lags)
    base = _shift(_rolling(gp - np.nan_to_num(seasonal0), grain.ref_window, grain.ref_min, "median"))
    first = _decline_runs(yp - np.nan_to_num(seasonal0), base, grain)
    glut = first["in_run"] & (first["gap"] <= np.log1p(-DECLINE_BANDS[0]))
    high = np.nan_to_num(gp - np.nan_to_num(seasonal0) - base) > np.log1p(HIGH_EXCLUDE)
    unusual = glut | high
    kept = np.where(unusual, np.nan, smooth)
    annual = _rolling(kept, grain.annual, grain.annual // 4, "mean", center=True)
    seasonal = _nanmedian_lags(kept - annual, lags)
    seasonal = np.where(np.isnan(seasonal), seasonal0, seasonal)
    has_year = ~np.isnan(seasonal)
    del annual0, seasonal0, first, glut, kept, annual  # peak memory on large panels

    # 1. Seasonal anomaly (the original method), price and volume.
    p = _anomaly(gp, grain, PRICE_SCALE_FLOOR, seasonal)
    v = _anomaly(gv, grain, VOLUME_SCALE_FLOOR, None)
    price_z = np.nan_to_num(np.clip(np.fmax(-p["persistent"] / p["scale"], -p["ewma_z"]), 0, None))
    volume_z = np.nan_to_num(np.clip(np.fmax(-v["persistent"] / v["scale"], -v["ewma_z"]), 0, None))
    price_up = np.nan_to_num(p["resid"] / p["scale"]) > PRICE_UP_VETO
    # Fewer sales at a higher price is a shortage: volume is ignored then, and its accumulated
    # EWMA counts only while the latest volumes are themselves below normal (not the week after).
    volume_z = np.where(price_up | ~(np.nan_to_num(v["persistent"]) < 0), 0.0, volume_z)
    volume_gap = np.expm1(v["persistent"])
    del v, price_up

    # 2. Decline against the level before it began (frozen at the start of the run).
    # The long level itself leaves out the periods far above it (a plateau or spike).
    base = _shift(
        _rolling(np.where(high, np.nan, gp - np.nan_to_num(seasonal)), grain.ref_window, grain.ref_min, "median")
    )
    run = _decline_runs(yp - np.nan_to_num(seasonal), base, grain)
    # Speed: the depth reached within the run's first half year counts in full, a slower further
    # fall at SLOW_SHARE (a drift over years is a market shift, not a glut).
    gap_fast = np.fmax(run["gap"], run["fast"])  # the shallower of now and the fast depth
    slow = np.nan_to_num(run["gap"]) - np.nan_to_num(gap_fast)  # further fall after the first half year
    fall = np.where(run["in_run"], -np.expm1(gap_fast + SLOW_SHARE * slow), 0.0)
    slow_fall = np.where(run["in_run"], -slow, 0.0)
    no_year = NO_SEASON_BAND_FACTOR * (DECLINE_BANDS[0] / DECLINE_BANDS_MONTHLY[0] if grain is MONTHLY else 1.0)
    bands = np.where(has_year, 1.0, no_year)
    decline_bands = DECLINE_BANDS_MONTHLY if grain is MONTHLY else DECLINE_BANDS
    s_decline = _band_score(fall, decline_bands, bands)
    # Without a year of history a fall since the level of the recent weeks cannot be a seasonal
    # move: that part of the fall is scored on the normal bands. Only the leading periods without
    # a seasonal norm need it (a trailing window sees only earlier periods, as for ``level_0``).
    quick = np.zeros_like(fall)
    need = np.flatnonzero((~has_year).any(axis=0)) if grain is WEEKLY else np.array([], dtype=int)
    if need.size:
        upto = int(need[-1]) + 1
        recent = np.full_like(gp, np.nan)
        recent[:, :upto] = _shift(_rolling(gp[:, :upto], RECENT_WINDOW, RECENT_WINDOW // 2, "median"), RECENT_LAG)
        quick = np.fmin(fall, np.nan_to_num(-np.expm1(yp - recent), nan=0.0))
        quick = np.where(run["in_run"] & ~has_year, np.clip(quick, 0.0, None), 0.0)
        del recent
    s_quick = _band_score(quick, decline_bands, 1.0)
    s_decline = np.maximum(s_decline, s_quick)

    # Monthly: a fall much faster than the usual seasonal change of the same months (confirmed the
    # month after) is scored on the same bands, even before the level is 10% below its long median.
    speed = _seasonal_speed(gp, yp, seasonal, p["scale"]) if grain is MONTHLY else np.zeros_like(fall)
    s_speed = _band_score(speed, decline_bands, 1.0)
    s_decline = np.maximum(s_decline, s_speed)

    # 3. Year on year: against the median of the same period in the previous years not in glut.
    past = []
    for k in range(1, YOY_YEARS + 1):
        lag = P * k
        value = _shift(smooth, lag) if lag < width else np.full_like(smooth, np.nan)
        was_glut = _shift(unusual, lag) if lag < width else np.zeros_like(unusual)
        past.append(np.where(was_glut, np.nan, value))
    stack = np.stack(past)
    yoy_years = (~np.isnan(stack)).sum(axis=0)
    yoy_ref = _nanmedian_stack(stack)
    yoy_gap = yp - yoy_ref
    yoy_fall = np.nan_to_num(-np.expm1(yoy_gap), nan=0.0)
    s_yoy = _band_score(yoy_fall, YOY_BANDS, 1.0)

    # The seasonal price signal says how unusual a price is against its recent seasonal normal;
    # how deep the glut is comes from the level methods: the price part may add at most one level
    # step above them. A price coming back down after a high plateau (below its recent normal,
    # not below the level before it) thus stays quiet.
    price_z = np.minimum(price_z * SEASONAL_WEIGHT, np.maximum(s_decline, s_yoy) + PRICE_HEADROOM)
    weighted_v = VOLUME_WEIGHT * volume_z
    raw = np.maximum(price_z, weighted_v) + JOINT_BONUS * np.minimum(price_z, weighted_v)

    # Selling season weight (as before) on the seasonal score.
    if grain is WEEKLY:
        cell_key = start[:, None] + np.arange(width)[None, :]
        month = (WEEK_EPOCH + cell_key * 7).astype("datetime64[M]").astype(np.int64) % 12
    else:
        month = (start[:, None] + np.arange(width)[None, :]) % 12
    in_season = np.take_along_axis(ctx["season"], month, axis=1)
    has = ctx["has"][:, None]
    weight = np.where(has & ~in_season, OFF_SEASON_WEIGHT, 1.0)
    weight = np.where(p["seasonal"], weight, weight * NO_SEASON_WEIGHT)
    s_seasonal = raw * weight

    # 4. Cost price (猪粮比价-style bands × persistence) and the reference price.
    cost = ctx["cost"][:, None]
    floor_ratio = np.exp(yp - cost)
    below = observed & (floor_ratio < 1.0)
    deep = observed & (floor_ratio < COST_DEEP)
    below_run = _run_length(below, observed)
    deep_run = _run_length(deep, observed)
    cost_rank = np.select(
        [
            deep & ((deep_run >= COST_PERIODS) | (floor_ratio < COST_SEVERE)),
            deep,
            below & (below_run >= COST_PERIODS),
            below,
        ],
        [4, 3, 2, 1],
        0,
    ).astype(np.int8)
    ref_ratio = np.exp(yp - ctx["reference"][:, None])
    ref_below = observed & (ref_ratio < REFERENCE_SHARE)
    ref_run = _run_length(ref_below, observed)

    thresholds = np.asarray(LEVEL_THRESHOLDS)
    s_cost = np.where(cost_rank > 0, thresholds[np.clip(cost_rank - 1, 0, 3)], 0.0)
    score = np.maximum.reduce([s_seasonal, s_decline, s_yoy, s_cost])
    history = np.cumsum(observed, axis=1)
    score = np.where(observed & (history >= grain.min_history), score, 0.0)
    rank = np.searchsorted(thresholds, score, side="right").astype(np.int8)
    raised = (rank > 0) & (rank < 4) & (ref_run >= COST_PERIODS)
    rank = np.where(raised, rank + 1, rank).astype(np.int8)
    score = np.where(raised, np.maximum(score, thresholds[np.clip(rank - 1, 0, 3)]), score)

    since_pos = _run_start(rank > 0, observed)
    since = np.take_along_axis(ctx["grid_date"], np.clip(since_pos, 0, width - 1), axis=1)
    periods = np.arange(width)[None, :] - since_pos + 1
    run_since = np.take_along_axis(ctx["grid_date"], np.clip(run["start"], 0, width - 1), axis=1)
    base_p = p["baseline"]
    nat = np.iinfo(np.int64).min
    return {
        "level_rank": rank,
        "score": score,
        "price_z": price_z,
        "volume_z": volume_z,
        "price_gap": np.expm1(p["persistent"]),
        "volume_gap": volume_gap,
        "baseline": np.exp(base_p),
        "band_low": np.exp(base_p - 2 * p["scale"]),
        "band_high": np.exp(base_p + 2 * p["scale"]),
        "since": np.where(rank > 0, since, nat).astype("datetime64[ns]"),
        "periods": np.where(rank > 0, periods, 0),
        "seasonal": p["seasonal"],
        "in_season": np.where(has, in_season.astype(np.int8), -1).astype(np.int8),
        "s_seasonal": s_seasonal,
        "s_decline": s_decline,
        "s_yoy": s_yoy,
        "cost_rank": cost_rank,
        "raised": raised,
        "decline_gap": np.where(run["in_run"], np.expm1(run["gap"]), np.nan),
        "decline_ref": np.exp(run["ref"] + np.nan_to_num(seasonal)),
        "decline_since": np.where(run["in_run"], run_since, nat).astype("datetime64[ns]"),
        "decline_quick": np.where(s_quick >= LEVEL_THRESHOLDS[0], quick, 0.0),
        "decline_speed": np.where(s_speed >= LEVEL_THRESHOLDS[0], speed, 0.0),
        "decline_slow": np.where(slow_fall > 0.005, -np.expm1(-slow_fall), 0.0),
        "yoy_gap": np.expm1(yoy_gap),
        "yoy_years": yoy_years,
        "floor_ratio": floor_ratio,
        "floor_run": np.where(deep, deep_run, below_run),
        "ref_ratio": ref_ratio,
        "ref_run": ref_run,
        "history": history,
    }


def _seasonal_speed(gp: np.ndarray, yp: np.ndarray, seasonal: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Monthly fall of the deseasonalised price below the median of months t-5..t-3, confirmed:
    at t the fall reached at t-1 counts if the price at t is still ``SPEED_CONFIRM`` below that
    level and the fall is at least ``SPEED_Z`` residual scales (0 otherwise, and without a norm)."""
    deseason = gp - seasonal
    before = _shift(_rolling(deseason, SPEED_WINDOW, SPEED_WINDOW // 2 + 1, "median"), SPEED_LAG)
    fall = -np.expm1(yp - seasonal - before)  # NaN without a seasonal norm or a level before
    trigger = np.nan_to_num(_shift(fall, 1), nan=0.0)
    confirmed = np.nan_to_num(fall, nan=0.0) >= SPEED_CONFIRM
    speed = np.where(confirmed, np.fmin(trigger, np.nan_to_num(fall, nan=0.0) + 1.0), 0.0)
    with np.errstate(invalid="ignore"):
        big = -np.log1p(-np.clip(speed, 0.0, 0.99)) >= SPEED_Z * scale
    return np.where(big, np.clip(speed, 0.0, None), 0.0)


def _persist(y: np.ndarray, grain: _Grain) -> np.ndarray:
    """The value an alert may rest on. Weekly: the larger of the two latest observations (within
    three periods), so one typo never fires. Monthly: the latest month alone (a monthly series warns
    in the first month of a large shortfall) unless it fell more than 60% in one month, which waits
    for a second month (a ×10 typo)."""
    prev = np.where(np.isnan(_shift(y, 1)), _shift(y, 2), _shift(y, 1))
    two = np.maximum(y, prev)  # NaN unless both are there
    if grain is WEEKLY:
        return two
    typo = (y - prev) < np.log1p(-MONTHLY_TYPO_FALL)
    return np.where(typo, two, y)


def _decline_runs(yd: np.ndarray, base: np.ndarray, grain: _Grain) -> dict:
    """Decline runs on deseasonalised persistent values ``yd`` against ``base`` (the long median
    before each period). A run starts when ``yd`` falls ``DECLINE_ENTRY`` below ``base``; its
    reference is then frozen at that ``base`` (the level before the decline) until the price is
    back within ``DECLINE_EXIT`` of it or the run is ``run_max`` periods old."""
    n, width = yd.shape
    in_run = np.zeros(n, dtype=bool)
    ref = np.full(n, np.nan)
    begun = np.full(n, -1)
    length = np.zeros(n, dtype=np.int64)
    out_gap = np.full((n, width), np.nan)
    out_run = np.zeros((n, width), dtype=bool)
    out_ref = np.full((n, width), np.nan)
    out_start = np.full((n, width), -1)
    out_fast = np.full((n, width), np.nan)
    fast = np.zeros(n)
    fast_run = FAST_RUN[grain.name]
    enter_at, exit_at = np.log1p(-DECLINE_ENTRY), np.log1p(-DECLINE_EXIT)
    for j in range(width):
        x, b = yd[:, j], base[:, j]
        ok = ~np.isnan(x)
        current = np.where(in_run, ref, b)
        gap = x - current
        enter = ok & ~in_run & (gap < enter_at)
        leave = ok & in_run & ((gap > exit_at) | (length >= grain.run_max))
        in_run = (in_run & ~leave) | enter
        ref = np.where(enter, b, ref)
        begun = np.where(enter, j, begun)
        length = np.where(in_run, np.where(enter, 1, length + 1), 0)
        # Deepest fall (most negative gap) reached within the run's first half year.
        early = in_run & ok & (length <= fast_run)
        fast = np.where(in_run, np.where(enter, np.minimum(gap, 0), fast), 0.0)
        fast = np.where(early, np.minimum(fast, gap), fast)
        out_fast[:, j] = np.where(in_run & ok, fast, np.nan)
        out_gap[:, j] = np.where(ok, gap, np.nan)
        out_run[:, j] = in_run & ok
        out_ref[:, j] = np.where(in_run, ref, b)
        out_start[:, j] = np.where(in_run, begun, -1)
    return {"gap": out_gap, "in_run": out_run, "ref": out_ref, "start": out_start, "fast": out_fast}


def _band_score(fall: np.ndarray, bands: tuple, factor) -> np.ndarray:
    """Map a fractional fall onto the score scale: each band's lower bound scores its level's
    threshold, linear between bands (and from 0 below blue)."""
    f = np.asarray(factor)
    xs = [0.0, *bands, bands[-1] + 0.25]
    ys = [0.0, *LEVEL_THRESHOLDS, LEVEL_THRESHOLDS[-1] + 1.5]
    return np.interp(np.nan_to_num(fall) / f, xs, ys)


def _run_length(cond: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Consecutive observed periods up to each cell where ``cond`` holds (missing periods carry).

    By cumulative sums: the count of observed ``cond`` cells so far, less that count at the
    latest observed cell where ``cond`` failed (0 on missing periods)."""
    hit = cond & observed
    total = np.cumsum(hit, axis=1, dtype=np.int64)
    at_break = np.maximum.accumulate(np.where(observed & ~cond, total, 0), axis=1)
    return np.where(hit, total - at_break, 0)


def _anomaly(y: np.ndarray, grain: _Grain, floor: float, seasonal: np.ndarray | None) -> dict:
    """Residual of log values against a causal seasonal baseline, and its robust scale.

    Baseline at t = seasonal offset (median over previous years of the smoothed deviation
    from that year's level; given for price, where glut years are left out) + recent level
    (median of deseasonalised values before t).
    """
    if seasonal is None:
        smooth = _rolling(y, grain.smooth, 1, "median", center=True)
        annual = _rolling(smooth, grain.annual, grain.annual // 2, "mean", center=True)
        # Only lags of a full year or more are used, so the centred windows above end before t.
        seasonal = _nanmedian_lags(smooth - annual, [grain.period * k for k in range(1, grain.years_back + 1)])

    deseason = y - seasonal
    level_s = _shift(_rolling(deseason, grain.level, grain.level_min, "median"))
    # Without a year of history a short trailing level follows the season as well as it can.
    use_season = ~np.isnan(seasonal) & ~np.isnan(level_s)
    # It is read only where there is no seasonal baseline (mostly the first year): a trailing
    # window at a period sees only earlier periods, so computing it on the leading columns up to
    # the last one that needs it gives the same values.
    need = np.flatnonzero((~use_season).any(axis=0))
    level_0 = np.full_like(y, np.nan)
    if need.size:
        upto = int(need[-1]) + 1
        short = max(grain.level // 3, grain.level_min + 1)
        level_0[:, :upto] = _shift(_rolling(y[:, :upto], short, grain.level_min, "median"))
    baseline = np.where(use_season, np.nan_to_num(seasonal) + level_s, level_0)

    resid = y - baseline
    spread = _shift(_rolling(np.abs(resid), grain.scale, grain.scale_min, "median"))
    scale = np.maximum(MAD_TO_SIGMA * spread, floor)

    persistent = _persist(resid, WEEKLY)  # two low periods for this method at either grain

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


def _rolling(a: np.ndarray, window: int, min_periods: int, how: str, center: bool = False) -> np.ndarray:
    n, width = a.shape
    if how == "median" and n * width >= _THREAD_CELLS and n >= 2:
        # pandas' rolling median releases the GIL: two halves of the series run on two cores
        # (medians only: a rolling mean carries a running sum across rows, so a split would change
        # its last bits; means are cheap anyway).
        half = n // 2
        with ThreadPoolExecutor(2) as pool:
            parts = list(
                pool.map(lambda rows: _rolling_rows(rows, window, min_periods, how, center), (a[:half], a[half:]))
            )
        return np.concatenate(parts)
    return _rolling_rows(a, window, min_periods, how, center)


def _rolling_rows(a: np.ndarray, window: int, min_periods: int, how: str, center: bool) -> np.ndarray:
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
    return _nanmedian_stack(np.stack([_shift(a, k) if k < a.shape[1] else np.full_like(a, np.nan) for k in lags]))


def _nanmedian_stack(stack: np.ndarray) -> np.ndarray:
    """Median over the first axis ignoring NaN (NaN where all are missing).

    For the 3 or 4 years stacked here a sorting network of elementwise min/max (NaN as +inf,
    so it sorts last) is much cheaper than a sort along the first axis."""
    k = stack.shape[0]
    pairs = {1: [], 2: [(0, 1)], 3: [(0, 1), (1, 2), (0, 1)], 4: [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]}.get(k)
    if pairs is None:
        stack = stack.copy()
        stack.sort(axis=0)  # NaN sorts last
    else:
        stack = [np.where(np.isnan(x), np.inf, x) for x in stack]
        for i, j in pairs:
            stack[i], stack[j] = np.minimum(stack[i], stack[j]), np.maximum(stack[i], stack[j])
        stack = np.stack(stack)
        stack[np.isinf(stack) & (stack > 0)] = np.nan
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


METHOD_NAMES = {
    "seasonal": "季节异常",
    "decline": "持续下跌",
    "yoy": "同比下降",
    "cost": "低于成本价",
    "reference": "低于参考价",
}


def _fired(cols: dict) -> dict:
    blue = LEVEL_THRESHOLDS[0]
    return {
        "seasonal": cols["s_seasonal"] >= blue,
        "decline": cols["s_decline"] >= blue,
        "yoy": cols["s_yoy"] >= blue,
        "cost": cols["cost_rank"] > 0,
        "reference": cols["raised"],
    }


def _methods(cols: dict) -> np.ndarray:
    """Comma-separated codes of the methods that fired on each alert row (empty otherwise)."""
    alert = cols["level_rank"] > 0
    out = np.full(len(alert), "", dtype=object)
    for code, hit in _fired(cols).items():
        add = alert & hit
        out[add] = np.where(out[add] == "", code, out[add] + "," + code)
    return out


def _reasons(cols: dict, monthly: np.ndarray) -> np.ndarray:
    """Chinese explanation for alert rows naming each method that fired with its figures; empty for none."""
    reason = np.full(len(cols["level_rank"]), "", dtype=object)
    idx = np.flatnonzero(cols["level_rank"] > 0)
    if idx.size == 0:
        return reason
    fired = {k: v[idx] for k, v in _fired(cols).items()}
    unit = pd.Series(np.where(monthly[idx], "个月", "周"), dtype=object)
    empty = pd.Series([""] * idx.size, dtype=object)

    pz, vz = cols["price_z"][idx], cols["volume_z"][idx]
    pg, vg = cols["price_gap"][idx], cols["volume_gap"][idx]
    price_part = (
        pd.Series(np.where(cols["seasonal"][idx], "价格低于季节常态", "价格低于近期常态"), dtype=object)
        + _fmt(pz, 1)
        + "个标准差（"
        + _fmt(pg * 100, 0)
        + "%）"
    )
    volume_part = "销量低于常态" + _fmt(vz, 1) + "个标准差（" + _fmt(vg * 100, 0) + "%）"
    show_p, show_v = pz >= 1.0, vz >= 1.0
    seasonal = "季节异常：" + pd.Series(
        np.where(show_p & show_v, price_part + "，" + volume_part, np.where(show_p, price_part, volume_part)),
        dtype=object,
    )
    decline_since = pd.Series(cols["decline_since"][idx]).dt.strftime("%Y-%m-%d").fillna("").to_numpy(dtype=object)
    in_run = ~np.isnan(cols["decline_gap"][idx])
    speed = cols["decline_speed"][idx]
    speed_part = _clause(
        speed > 0,
        f"上月剔除季节因素后较其{SPEED_LAG}–{SPEED_LAG + SPEED_WINDOW - 1}个月前的水平急跌"
        + _fmt(speed * 100, 0)
        + f"%（远快于往年同期的季节走势），本月仍低{round(SPEED_CONFIRM * 100)}%以上",
    )
    decline = (
        "持续下跌：较下跌前水平（约"
        + _fmt(cols["decline_ref"][idx], 2)
        + "元）低"
        + _fmt(-cols["decline_gap"][idx] * 100, 0)
        + "%，自"
        + decline_since
        + "起"
        + _clause(
            cols["decline_quick"][idx] > 0,
            f"，近{RECENT_WINDOW + RECENT_LAG - 1}周内急跌"
            + _fmt(cols["decline_quick"][idx] * 100, 0)
            + "%（尚无往年同期数据，急跌按常规档位计）",
        )
        + _clause(
            cols["decline_slow"][idx] > 0,
            "，其中下跌半年后的继续下跌" + _fmt(cols["decline_slow"][idx] * 100, 0) + "%按一半计",
        )
    )
    decline = pd.Series(
        np.where(
            in_run,
            decline + np.where(speed > 0, "；" + speed_part, ""),
            "持续下跌：" + speed_part,
        ),
        dtype=object,
    )

    yoy = (
        "同比下降：较前"
        + pd.Series(cols["yoy_years"][idx]).astype(str)
        + "年同期中位数低"
        + _fmt(-cols["yoy_gap"][idx] * 100, 0)
        + "%（滞销年份不计入）"
    )
    cost = (
        "低于成本价：价格为成本价的"
        + _fmt(cols["floor_ratio"][idx] * 100, 0)
        + "%，已连续"
        + pd.Series(cols["floor_run"][idx]).astype(str)
        + unit
    )
    reference = (
        "低于参考价：价格为参考价的"
        + _fmt(cols["ref_ratio"][idx] * 100, 0)
        + "%，已连续"
        + pd.Series(cols["ref_run"][idx]).astype(str)
        + unit
        + "，等级上调一级"
    )
    text = empty.copy()
    for part, hit in (
        (seasonal, "seasonal"),
        (decline, "decline"),
        (yoy, "yoy"),
        (cost, "cost"),
        (reference, "reference"),
    ):
        h = pd.Series(fired[hit])
        text = text.where(~h, np.where(text == "", part, text + "；" + part))
    since = pd.Series(cols["since"][idx]).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    duration = "；已持续" + pd.Series(cols["periods"][idx]).astype(str) + unit + "，自" + since + "起"
    season = np.select(
        [cols["in_season"][idx] == 1, cols["in_season"][idx] == 0],
        ["；处于上市季", "；非上市季"],
        "",
    )
    reason[idx] = (text + duration + season).to_numpy()
    return reason


def _clause(applies: np.ndarray, text: pd.Series) -> pd.Series:
    """A reason's optional part: ``text`` where it ``applies``, empty elsewhere."""
    return pd.Series(np.where(applies, text, ""), dtype=object)


def _fmt(values: np.ndarray, digits: int) -> pd.Series:
    rounded = np.round(values.astype(float), digits)
    rounded = np.where(rounded == 0, 0.0, rounded)  # no "-0"
    text = pd.Series(rounded).map(f"{{:.{digits}f}}".format)
    return text.astype(object)
