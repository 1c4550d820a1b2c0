"""The 滞销 engine: CSV contract, robustness to typos and gaps, no look-ahead, measured quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_access import cli
from data_access.engines import signals_eval
from data_access.engines.signals import run_csv, score_series, warnings_from_scores

OUT_COLUMNS = ["series_id", "date", "level", "score", "reason"]


def weekly(series_id="A", years=3, seed=0, noise=0.03, volume=True):
    """A seasonal weekly series with mild noise: price in yuan/kg, volume in kg/week."""
    rng = np.random.default_rng(seed)
    t = np.arange(52 * years)
    season = np.sin(2 * np.pi * t / 52)
    frame = pd.DataFrame(
        {
            "series_id": series_id,
            "date": pd.date_range("2021-01-04", periods=t.size, freq="7D"),
            "price": np.round(8 * np.exp(0.12 * season + rng.normal(0, noise, t.size)), 2),
        }
    )
    if volume:
        frame["volume"] = np.round(500 * np.exp(-0.3 * season + rng.normal(0, 0.1, t.size)))
    return frame


def run(frame: pd.DataFrame, tmp_path) -> pd.DataFrame:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(src, index=False)
    assert run_csv(src, dst) == 0
    out = pd.read_csv(dst, keep_default_na=False)
    assert list(out.columns) == OUT_COLUMNS
    assert len(out) == len(frame)
    return out


def test_flat_series_is_all_none(tmp_path):
    frame = weekly(noise=0)
    frame["price"] = 5.0
    frame["volume"] = 100.0
    out = run(frame, tmp_path)
    assert set(out["level"]) == {"none"}
    assert set(out["reason"]) == {""}


def test_clear_held_fall_after_two_years_ends_red(tmp_path):
    frame = weekly(years=3)
    fall = frame.index >= len(frame) - 8
    frame.loc[fall, "price"] *= 0.6
    frame.loc[fall, "volume"] *= 0.6
    out = run(frame, tmp_path)
    assert out["level"].iloc[-1] == "red"
    assert (out["level"].iloc[-7:] == "red").all()
    last = out["reason"].iloc[-1]
    assert "价格低于季节常态" in last and "销量低于常态" in last
    assert f"自{out['date'].iloc[-8]}起" in last or f"自{out['date'].iloc[-7]}起" in last
    # Quiet history before the fall: nothing above blue.
    assert not out["level"].iloc[60:-8].isin(["yellow", "orange", "red"]).any()


@pytest.mark.parametrize("factor", [1.8, 3.0])
def test_upward_spike_never_alerts(tmp_path, factor):
    frame = weekly(years=3)
    frame.loc[120:123, "price"] *= factor
    frame.loc[120:123, "volume"] *= 0.6  # shortage: fewer sales at a higher price
    out = run(frame, tmp_path)
    assert not out["level"].iloc[100:].isin(["yellow", "orange", "red"]).any()
    assert (out["level"].iloc[118:126] == "none").all()


@pytest.mark.parametrize("factor", [10.0, 0.1])
def test_single_typo_does_not_fire(tmp_path, factor):
    frame = weekly(years=3)
    frame.loc[130, "price"] *= factor
    out = run(frame, tmp_path)
    assert (out["level"].iloc[125:140] == "none").all()


def test_missing_weeks_keep_one_output_row_per_input_row(tmp_path):
    frame = weekly(years=3)
    rng = np.random.default_rng(5)
    frame = frame[rng.random(len(frame)) > 0.2]
    frame = frame.drop(frame.index[40:48], errors="ignore")
    out = run(frame, tmp_path)
    assert list(out["date"]) == list(frame["date"].dt.strftime("%Y-%m-%d"))


def test_price_only_series_works(tmp_path):
    frame = weekly(years=3, volume=False)
    frame.loc[frame.index >= len(frame) - 6, "price"] *= 0.6
    out = run(frame, tmp_path)
    assert out["level"].iloc[-1] in {"orange", "red"}
    assert "销量" not in out["reason"].iloc[-1]


def test_monthly_series_works(tmp_path):
    months = pd.date_range("2019-01-01", periods=60, freq="MS")
    season = np.sin(2 * np.pi * np.arange(60) / 12)
    rng = np.random.default_rng(2)
    price = 6 * np.exp(0.15 * season + rng.normal(0, 0.03, 60))
    price[-4:] *= 0.6
    frame = pd.DataFrame({"series_id": "M", "date": months, "price": np.round(price, 2)})
    out = run(frame, tmp_path)
    assert out["level"].iloc[-1] in {"orange", "red"}
    assert "个月" in out["reason"].iloc[-1]
    assert not out["level"].iloc[:-4].isin(["orange", "red"]).any()


def test_shuffled_rows_give_the_same_result():
    frame = pd.concat([weekly("A", seed=1), weekly("B", seed=2)], ignore_index=True)
    frame.loc[frame.index[-8:], "price"] *= 0.6
    ordered = score_series(frame)
    shuffled = score_series(frame.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(ordered, shuffled.loc[ordered.index])


def test_no_look_ahead_truncation_leaves_earlier_rows_unchanged():
    obs, _, season = signals_eval.synthetic_panel(11, 40)
    full = score_series(obs, season)
    for cut in ("2021-06-01", "2022-09-12", "2024-03-04"):
        part = obs[obs["date"] <= cut]
        pd.testing.assert_frame_equal(score_series(part, season), full.loc[part.index])


def test_selling_season_weights_the_score():
    frame = weekly(years=3)
    frame.loc[frame.index[-6:], "price"] *= 0.7
    month = frame["date"].iloc[-1].month
    inside = score_series(frame, {"A": {month}})
    outside = score_series(frame, {"A": {(month + 5) % 12 + 1}})
    assert inside["score"].iloc[-1] > outside["score"].iloc[-1]
    assert inside["reason"].iloc[-1].endswith("处于上市季")
    assert outside["reason"].iloc[-1].endswith("非上市季")


def test_warnings_collapse_consecutive_alerts_into_episodes():
    frame = weekly(years=3)
    frame.loc[frame.index[-8:], "price"] *= 0.6
    episodes = warnings_from_scores(score_series(frame))
    last = episodes.iloc[-1]
    assert last["level"] == "red"
    assert last["last_date"] == frame["date"].iloc[-1]
    assert last["first_date"] >= frame["date"].iloc[-9]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("series_id,date\nA,2024-01-01\n", ["缺少必需的列", "price"]),
        ("series_id,date,price\nA,2024-01-01,5\nA,2024-13-45,5\n", ["第3行", "date"]),
        (
            "series_id,date,price\nA,2024-01-01,5\nA,2024-01-08,五元\n",
            ["第3行", "price", "不是数字"],
        ),
        ("series_id,date,price\nA,2024-01-01,-5\n", ["第2行", "price", "大于0"]),
        ("series_id,date,price,volume\nA,2024-01-01,5,many\n", ["第2行", "volume"]),
        ("series_id,date,price\n,2024-01-01,5\n", ["第2行", "series_id"]),
    ],
)
def test_bad_input_names_row_and_field(tmp_path, capsys, text, expected):
    src = tmp_path / "bad.csv"
    src.write_text(text, encoding="utf-8")
    assert run_csv(src, tmp_path / "out.csv") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in expected:
        assert fragment in err
    assert not (tmp_path / "out.csv").exists()


def test_gbk_csv_is_read(tmp_path):
    frame = weekly(years=1)
    frame["series_id"] = "巫山脆李"
    src = tmp_path / "gbk.csv"
    frame.to_csv(src, index=False, encoding="gbk")
    assert run_csv(src, tmp_path / "out.csv") == 0
    assert pd.read_csv(tmp_path / "out.csv")["series_id"].iloc[0] == "巫山脆李"


def test_cli_warnings_command(tmp_path):
    parser = cli.build_parser()
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    weekly(years=1).to_csv(src, index=False)
    args = parser.parse_args(["warnings", "--series", str(src), "--out", str(dst)])
    assert args.func(args) == 0
    assert len(pd.read_csv(dst)) == 52


def test_quality_targets_on_held_out_seed():
    obs, labels, season = signals_eval.synthetic_panel(seed=7, n_series=400)
    metrics = signals_eval.evaluate(score_series(obs, season), labels)
    assert metrics["detection"] >= 0.95
    assert metrics["median_lead_days"] >= 21
    assert metrics["false_alarm_share"] <= 0.03
