"""Builds the real-episode price files in this folder from published anchor figures.

Run ``python tests/data/episodes/build.py`` from the repository root: it rewrites every
``<series>.csv`` and ``episodes.csv`` here. The CSVs are committed; this script is the record of
where each value came from and how the gaps were filled, so a reviewer can re-derive them.

Anchors live in ``anchors/<source series>.csv`` (date, value, kind, source); kinds:

* ``published`` — the figure as printed in the cited report (the report's own period is named
  in the source when it is a week or a day rather than the whole month);
* ``derived`` — exact arithmetic on published figures of the same series (a printed year-on-year
  index or percentage, or a printed point change); the formula is in the source;
* ``interpolated`` — written by this script: linear between the nearest anchors before and after,
  never used at either end of a series;
* ``read_from_chart`` — reserved; no value here was read off a chart.

Nothing is invented: a month without any anchor is interpolated and says so.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("published", "derived", "interpolated", "read_from_chart")

# Short source names used in the series descriptions (the anchors carry the full citation).
MARA = "农业农村部 全国农产品批发市场价格信息系统 (周报/日报/月报)"
GARLIC = "国际大蒜贸易网 中国批发大蒜定基指数 (销区16个批发市场综合价格指数)"


def load_anchors(name: str) -> list[tuple[str, float, str, str]]:
    """Anchors of one source series: ``anchors/<name>.csv`` (date, value, kind, source)."""
    with (HERE / "anchors" / f"{name}.csv").open(encoding="utf-8") as fh:
        return [(r["date"], float(r["value"]), r["kind"], r["source"]) for r in csv.DictReader(fh)]


@dataclass
class Series:
    series_id: str
    product: str
    market: str
    unit: str
    grain: str  # monthly | weekly
    anchors: list[tuple[str, float, str, str]]
    first: str | None = None  # clip the grid (inclusive); default: first / last anchor
    last: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out, d = [], dt.date(first.year, first.month, 1)
    while d <= last:
        out.append(d)
        d = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return out


def _weeks(first: dt.date, last: dt.date) -> list[dt.date]:
    d = first - dt.timedelta(days=first.weekday())
    out = []
    while d <= last:
        out.append(d)
        d += dt.timedelta(days=7)
    return out


def rows(s: Series) -> list[dict[str, str]]:
    anchors = {dt.date.fromisoformat(d): (v, k, src) for d, v, k, src in s.anchors}
    for d, (_, k, _) in anchors.items():
        assert k in KINDS and k != "interpolated", (s.series_id, d, k)
        if s.grain == "monthly":
            assert d.day == 1, (s.series_id, d)
        else:
            assert d.weekday() == 0, (s.series_id, d)
    keys = sorted(anchors)
    first = dt.date.fromisoformat(s.first) if s.first else keys[0]
    last = dt.date.fromisoformat(s.last) if s.last else keys[-1]
    grid = _months(first, last) if s.grain == "monthly" else _weeks(first, last)
    out = []
    for d in grid:
        if d in anchors:
            v, k, src = anchors[d]
        else:
            before = max(a for a in keys if a < d)
            after = min(a for a in keys if a > d)
            w = (d - before).days / (after - before).days
            v = anchors[before][0] + w * (anchors[after][0] - anchors[before][0])
            k = "interpolated"
            src = (
                f"linear interpolation between {before.isoformat()} ({anchors[before][0]:.2f}) "
                f"and {after.isoformat()} ({anchors[after][0]:.2f})"
            )
        out.append({"date": d.isoformat(), "price": f"{v:.2f}", "unit": s.unit, "kind": k, "source": src})
    return out


SERIES: list[Series] = [
    Series(
        "pork_2021_national_wholesale",
        "猪肉(白条肉)",
        "全国农产品批发市场(农业农村部监测)",
        "元/kg",
        "monthly",
        load_anchors("pork_national_wholesale"),
        meta={
            "category": "glut",
            "glut_start": "2021-02-01",
            "trough_date": "2021-10-01",
            "eval_start": "2021-01-01",
            "eval_end": "2021-12-01",
            "documented_event": (
                "2021-06-29 发改委: 6月21-25日猪粮比4.90:1 进入过度下跌一级预警, 中央和地方启动猪肉储备收储;"
                " 2021-07 起中央冻猪肉储备收储"
            ),
            "expect": "≥yellow on or before 2021-04-01 (issue: pork 2021 by April 2021); ≥yellow before trough",
            "sources": f"{MARA}; 635700.com/jiage/chumu/150386.html (发改委预警)",
        },
    ),
    Series(
        "pork_2019_national_wholesale",
        "猪肉(白条肉)",
        "全国农产品批发市场(农业农村部监测)",
        "元/kg",
        "monthly",
        load_anchors("pork_national_wholesale"),
        last="2020-01-01",
        meta={
            "category": "quiet",
            "glut_start": "",
            "trough_date": "",
            "eval_start": "2019-01-01",
            "eval_end": "2020-01-01",
            "documented_event": "2019 非洲猪瘟后供给短缺, 价格由约20元/kg升至2019-10末约52元/kg (峰后11月回落约10%)",
            "expect": "nothing ≥orange 2019-01..2020-01 (issue: pork 2019 surge)",
            "sources": MARA,
        },
    ),
    Series(
        "garlic_2017_national_wholesale_index",
        "大蒜",
        "全国16个销区批发市场(国际大蒜贸易网 批发定基指数)",
        "点(定基指数)",
        "monthly",
        load_anchors("garlic_wholesale_index"),
        meta={
            "category": "glut",
            "glut_start": "2017-05-01",
            "trough_date": "2018-07-01",
            "eval_start": "2017-05-01",
            "eval_end": "2018-10-01",
            "documented_event": (
                "2017年新蒜上市后价格崩落 (批发指数 2017-05 约1105 → 2018-07 213.20); 2018年5月指数同比仅31.27%"
            ),
            "expect": "≥yellow before 2018-07-01 (trough); also warns in 2018 (issue: worst season)",
            "sources": GARLIC,
        },
    ),
    Series(
        "egg_2017_national_wholesale",
        "鸡蛋",
        "全国农产品批发市场(农业部监测)",
        "元/kg",
        "monthly",
        load_anchors("egg_national_wholesale"),
        last="2018-06-01",
        meta={
            "category": "glut",
            "glut_start": "2016-09-01",
            "trough_date": "2017-05-01",
            "eval_start": "2016-09-01",
            "eval_end": "2017-08-01",
            "documented_event": (
                "H7N9禽流感与消费淡季: 2016年9月至2017年5月蛋价连续8个月下跌, 创近10年新低, 蛋鸡养殖亏损近5年最大"
                " (《近期中国鸡蛋市场形势及展望》); 2017年第18周批发均价5.18元/kg 同比低28.0%"
            ),
            "expect": "≥yellow before 2017-05-01 (trough)",
            "sources": f"{MARA}; agrisci.alljournals.cn 《近期中国鸡蛋市场形势及展望》(摘要)",
        },
    ),
    Series(
        "egg_2020_national_wholesale",
        "鸡蛋",
        "全国农产品批发市场(农业农村部监测)",
        "元/kg",
        "monthly",
        load_anchors("egg_national_wholesale"),
        meta={
            "category": "glut",
            "glut_start": "2020-02-01",
            "trough_date": "2020-06-01",
            "eval_start": "2020-01-01",
            "eval_end": "2020-09-01",
            "documented_event": (
                "新冠疫情与产能过剩: 2020年2月蛋价环比降18.45%, 自2月起鸡蛋出场价连续5个月低于成本价"
                " (经济日报 2020-07-30, 农业农村部禽蛋首席分析师); 5月批发均价同比下跌24.8%"
            ),
            "expect": "≥yellow before 2020-06-01 (trough)",
            "sources": (
                f"{MARA}; one-tool.net/hongguan/20200730/073020339.html (经济日报);"
                " 18yangzhi.cn/js/1773.html (中国经济周刊)"
            ),
        },
    ),
    Series(
        "egg_2018_19_national_wholesale",
        "鸡蛋",
        "全国农产品批发市场(农业农村部监测)",
        "元/kg",
        "monthly",
        load_anchors("egg_national_wholesale"),
        last="2019-11-01",
        meta={
            "category": "quiet",
            "glut_start": "",
            "trough_date": "",
            "eval_start": "2018-01-01",
            "eval_end": "2019-11-01",
            "documented_event": (
                "无滞销: 正常季节波动 (春季低、秋季高; 2018-03 7.42 → 2018-09 9.95; 2019-04 7.43 → 2019-10 11.04)"
            ),
            "expect": "nothing ≥orange 2018-01..2019-11 (seasonal dips are the norm, not a glut)",
            "sources": MARA,
        },
    ),
    Series(
        "beef_national_wholesale",
        "牛肉",
        "全国农产品批发市场(农业农村部监测)",
        "元/kg",
        "monthly",
        load_anchors("beef_national_wholesale"),
        meta={
            "category": "quiet",
            "glut_start": "",
            "trough_date": "",
            "eval_start": "2016-12-01",
            "eval_end": "2022-03-01",
            "documented_event": (
                "无滞销: 牛肉批发价稳步上涨 (2016年约53元/kg → 2022年约78元/kg), 2019下半年随猪肉短缺加速上涨"
            ),
            "expect": "nothing ≥orange 2016-12..2022-03 (a rising, inflation-like trend)",
            "sources": MARA,
        },
    ),
]

MANIFEST_COLUMNS = [
    "file",
    "series_id",
    "product",
    "market",
    "unit",
    "grain",
    "category",
    "glut_start",
    "trough_date",
    "eval_start",
    "eval_end",
    "documented_event",
    "expect",
    "sources",
]


def main() -> None:
    manifest = []
    for s in SERIES:
        path = HERE / f"{s.series_id}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["date", "price", "unit", "kind", "source"])
            w.writeheader()
            w.writerows(rows(s))
        manifest.append(
            {
                "file": path.name,
                "series_id": s.series_id,
                "product": s.product,
                "market": s.market,
                "unit": s.unit,
                "grain": s.grain,
                **s.meta,
            }
        )
    with (HERE / "episodes.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        w.writeheader()
        w.writerows(manifest)


if __name__ == "__main__":
    main()
