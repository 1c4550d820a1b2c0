"""The real-episode files (tests/data/episodes) are well-formed and honest about their values.

No engine here: these tests only hold the data to its contract (dates in order at the series'
grain, positive prices, every row sourced and flagged, the manifest pointing at real files with
the glut period inside the data), and check that the CSVs are exactly what build.py writes.
"""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd
import pytest

from tests.episodes import EPISODES_DIR, KINDS, SERIES_COLUMNS, load_episodes, load_manifest, load_series

MANIFEST = load_manifest()
IDS = list(MANIFEST["series_id"])
MIN_HISTORY_BEFORE_GLUT = {"monthly": 12, "weekly": 52}  # periods of data before the glut starts


def _build_module():
    spec = importlib.util.spec_from_file_location("episodes_build", EPISODES_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _row(series_id: str):
    return MANIFEST.set_index("series_id").loc[series_id]


def test_manifest_is_complete():
    assert MANIFEST["series_id"].is_unique
    assert set(MANIFEST["grain"]) <= {"weekly", "monthly"}
    assert set(MANIFEST["category"]) <= {"glut", "quiet"}
    for row in MANIFEST.itertuples():
        assert (EPISODES_DIR / row.file).is_file(), row.file
        assert row.documented_event.strip() and row.expect.strip() and row.sources.strip(), row.series_id
        assert pd.notna(row.eval_start) and pd.notna(row.eval_end) and row.eval_start < row.eval_end
        if row.category == "glut":
            assert pd.notna(row.glut_start) and pd.notna(row.trough_date), row.series_id
            assert row.glut_start < row.trough_date, row.series_id
        else:
            assert pd.isna(row.glut_start) and pd.isna(row.trough_date), row.series_id
    # the issue asks for at least four real gluts and real quiet/rising periods (pork 2019 among them)
    assert (MANIFEST["category"] == "glut").sum() >= 4
    assert (MANIFEST["category"] == "quiet").sum() >= 3
    assert {"pork_2021_national_wholesale", "garlic_2017_national_wholesale_index"} <= set(
        MANIFEST.loc[MANIFEST["category"] == "glut", "series_id"]
    )
    assert "pork_2019_national_wholesale" in set(MANIFEST.loc[MANIFEST["category"] == "quiet", "series_id"])


@pytest.mark.parametrize("series_id", IDS)
def test_series_file_is_well_formed(series_id):
    meta = _row(series_id)
    raw = pd.read_csv(EPISODES_DIR / meta["file"], dtype=str, keep_default_na=False)
    assert list(raw.columns) == SERIES_COLUMNS
    frame = load_series(meta["file"])
    assert len(frame) >= 24
    assert frame["date"].is_monotonic_increasing and frame["date"].is_unique
    steps = frame["date"].diff().dropna()
    if meta["grain"] == "monthly":
        assert (frame["date"].dt.day == 1).all()
        months = frame["date"].dt.year * 12 + frame["date"].dt.month
        assert (months.diff().dropna() == 1).all(), "a monthly series has one row per month, no gaps"
    else:
        assert (frame["date"].dt.weekday == 0).all()
        assert (steps == pd.Timedelta(days=7)).all(), "a weekly series has one row per week (Monday), no gaps"
    assert (frame["price"] > 0).all()
    assert frame["unit"].nunique() == 1 and frame["unit"].iloc[0] == meta["unit"]
    assert set(frame["kind"]) <= set(KINDS)
    assert (frame["source"].fillna("").str.strip() != "").all(), "every row names its source"
    interpolated = frame["kind"] == "interpolated"
    assert frame.loc[interpolated, "source"].str.startswith("linear interpolation between").all()
    assert not interpolated.iloc[0] and not interpolated.iloc[-1], "no value is extrapolated at either end"
    assert (~interpolated).mean() >= 0.4, "at least 40 % of the rows are published or derived figures"


@pytest.mark.parametrize("series_id", IDS)
def test_periods_lie_inside_the_data(series_id):
    meta = _row(series_id)
    frame = load_series(meta["file"]).set_index("date")
    first, last = frame.index.min(), frame.index.max()
    assert first <= meta["eval_start"] and meta["eval_end"] <= last
    if meta["category"] != "glut":
        return
    assert first < meta["glut_start"] and meta["trough_date"] <= last
    history = (frame.index < meta["glut_start"]).sum()
    assert history >= MIN_HISTORY_BEFORE_GLUT[meta["grain"]], "too little history for a seasonal baseline"
    window = frame.loc[meta["glut_start"] : meta["eval_end"], "price"]
    assert window.idxmin() == meta["trough_date"], "the trough is the lowest price of the glut window"
    assert frame.loc[meta["trough_date"], "price"] <= 0.75 * frame.loc[meta["glut_start"], "price"]


def test_files_are_what_build_writes():
    build = _build_module()
    for series in build.SERIES:
        written = pd.read_csv(EPISODES_DIR / f"{series.series_id}.csv", dtype=str, keep_default_na=False)
        assert written.to_dict("records") == build.rows(series), series.series_id
    assert sorted(s.series_id for s in build.SERIES) == sorted(IDS)


def test_load_episodes_long_frame():
    manifest, obs = load_episodes()
    assert list(obs.columns[:3]) == ["series_id", "date", "price"]
    assert set(obs["series_id"]) == set(manifest["series_id"])
    assert obs.groupby("series_id")["date"].is_monotonic_increasing.all()
    assert pd.api.types.is_datetime64_any_dtype(obs["date"]) and obs["price"].dtype == float
    _, sparse = load_episodes(interpolated=False)
    assert set(sparse["kind"]) <= {"published", "derived"} and 0 < len(sparse) < len(obs)
