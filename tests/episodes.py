"""Real Chinese produce price episodes (published figures) as test data — see tests/data/episodes/README.md.

``load_episodes()`` returns the manifest (one row per series: category glut|quiet, glut period,
evaluation window, documented event, expectation) and one long frame of all observations.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

EPISODES_DIR = Path(__file__).resolve().parent / "data" / "episodes"
SERIES_COLUMNS = ["date", "price", "unit", "kind", "source"]
KINDS = ("published", "derived", "interpolated", "read_from_chart")
DATE_COLUMNS = ("glut_start", "trough_date", "eval_start", "eval_end")


def load_manifest() -> pd.DataFrame:
    """``episodes.csv``; the date columns as Timestamps (NaT where a quiet series has none)."""
    manifest = pd.read_csv(EPISODES_DIR / "episodes.csv", dtype=str, keep_default_na=False)
    for col in DATE_COLUMNS:
        manifest[col] = pd.to_datetime(manifest[col].replace("", None))
    return manifest


def load_series(file: str) -> pd.DataFrame:
    """One series file as written: date (Timestamp), price (float), unit, kind, source."""
    frame = pd.read_csv(EPISODES_DIR / file, dtype={"unit": str, "kind": str, "source": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    frame["price"] = frame["price"].astype(float)
    return frame


def load_episodes(*, interpolated: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manifest, observations) — observations long: series_id, date, price, unit, grain, kind.

    ``interpolated=False`` leaves the interpolated rows out, so a series keeps only the published and
    derived figures and has gaps where nothing was published (the engine must then cope with gaps).
    """
    manifest = load_manifest()
    frames = []
    for row in manifest.itertuples():
        frame = load_series(row.file)
        if not interpolated:
            frame = frame[frame["kind"] != "interpolated"]
        frame.insert(0, "series_id", row.series_id)
        frame["grain"] = row.grain
        frames.append(frame[["series_id", "date", "price", "unit", "grain", "kind"]])
    return manifest, pd.concat(frames, ignore_index=True)
