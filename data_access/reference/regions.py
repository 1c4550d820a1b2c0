"""Region look-ups for filters and breadcrumbs: names, children, ancestors."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from data_access.store.db import frame
from data_access.store.schema import region


# Regions are reference data: ``init`` writes them into an empty store and nothing changes them
# after, so each process reads a store's ~3,400 regions once (the read and the frame cost ~10 ms,
# more than the sums the region pages ask for) and then only checks that their number is the same.
def region_level(code: str | None) -> str:
    """``country`` | ``province`` | ``city`` | ``county`` for a region code (None = 全国)."""
    if not code:
        return "country"
    if code.isdigit() and code.endswith("0000"):
        return "province"
    if code.isdigit() and code.endswith("00"):
        return "city"
    return "county"


def region_prefix(code: str) -> str:
    """The code prefix every region inside ``code`` shares (52 for 贵州省, 5203 for 遵义市)."""
    level = region_level(code)
    return {"province": code[:2], "city": code[:4]}.get(level, code)


_TABLES: dict[tuple[str, int], pd.DataFrame] = {}


def region_table(engine: Engine) -> pd.DataFrame:
    """Every region: ``code, name, level, parent_code, province_code, city_code, lng, lat``."""
    q = select(
        region.c.code,
        region.c.name,
        region.c.level,
        region.c.parent_code,
        region.c.province_code,
        region.c.city_code,
        region.c.lng,
        region.c.lat,
    ).order_by(region.c.code)
    with engine.connect() as conn:
        key = (
            engine.url.render_as_string(hide_password=True),
            conn.execute(select(func.count()).select_from(region)).scalar(),
        )
        if key not in _TABLES:
            df = frame(
                conn.execute(q),
                columns=["code", "name", "level", "parent_code", "province_code", "city_code", "lng", "lat"],
            )
            # Text as plain object columns: callers build code → name dicts, and iterating pandas'
            # Arrow-backed strings costs ~1 ms per column.
            _TABLES[key] = df.astype({c: object for c in df.columns if c not in ("lng", "lat")})
    return _TABLES[key].copy()


def region_children(regions: pd.DataFrame, code: str | None) -> pd.DataFrame:
    """The regions directly below ``code`` (provinces when ``code`` is None)."""
    if not code:
        return regions[regions.level == "province"]
    return regions[regions.parent_code == code]


def region_path(regions: pd.DataFrame, code: str | None) -> list[tuple[str | None, str]]:
    """Breadcrumb from 全国 down to ``code``: ``[(None, '全国'), ('520000', '贵州省'), …]``."""
    path: list[tuple[str | None, str]] = []
    by_code = regions.set_index("code")
    while code and code in by_code.index:
        path.append((code, str(by_code.at[code, "name"])))
        code = by_code.at[code, "parent_code"]
    return [(None, "全国")] + path[::-1]


def region_name(regions: pd.DataFrame, code: str | None) -> str:
    """The Chinese name of ``code`` (全国 for None; the code itself when unknown)."""
    if not code:
        return "全国"
    hit = regions.loc[regions.code == code, "name"]
    return str(hit.iloc[0]) if len(hit) else code
