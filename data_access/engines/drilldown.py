"""地区下钻 as pure functions: where the user is, where a click takes them, the way back.

The state is a side (``origin`` 产地 | ``buyer`` 采购方) and a region code (None = 全国); the
level follows from the code. A click on the map or a chart yields a region code; ``drill``
turns it into the next state, and ``apply`` into the shared ``Filters``. No Streamlit here,
so every step is testable without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from data_access.query.filters import REGION_SIDES, Filters, region_level

LEVELS = ("country", "province", "city", "county")
NEXT_LEVEL = {"country": "province", "province": "city", "city": "county", "county": None}


@dataclass(frozen=True)
class DrillState:
    """Side and region of the drilldown; ``code`` None is 全国."""

    side: str = "origin"
    code: str | None = None

    @property
    def level(self) -> str:
        return region_level(self.code)

    @property
    def at_bottom(self) -> bool:
        """True at a county: the next step is its products, outlets and units."""
        return self.level == "county"


def state_from_filters(f: Filters) -> DrillState:
    """The drilldown state the shared filters stand at."""
    return DrillState(side=f.region_side, code=f.region_code)


def apply(f: Filters, state: DrillState) -> Filters:
    """The shared filters moved to ``state`` (period, channels and the rest unchanged)."""
    return replace(f, region_code=state.code, region_side=state.side)


def state_to_params(state: DrillState) -> dict[str, str]:
    """URL parameters of the state: ``side``, ``level`` and ``region`` (absent at 全国)."""
    params = {"side": state.side, "level": state.level}
    if state.code:
        params["region"] = state.code
    return params


def state_from_params(params, regions: pd.DataFrame) -> DrillState:
    """Read a state from URL parameters; an unknown side or region falls back to origin / 全国."""
    side = str(params.get("side", "origin"))
    code = str(params.get("region", "") or "")
    return DrillState(side=side if side in REGION_SIDES else "origin", code=code if code in set(regions.code) else None)


def children(regions: pd.DataFrame, code: str | None) -> pd.DataFrame:
    """Regions directly below ``code`` (provinces below 全国)."""
    if not code:
        return regions[regions.level == "province"]
    return regions[regions.parent_code == code]


def _ancestors(regions: pd.DataFrame, code: str | None) -> list[str]:
    parent_of = dict(zip(regions.code, regions.parent_code, strict=True))
    out = []
    while isinstance(code, str) and code:  # a province's parent is missing (None or NaN)
        out.append(code)
        code = parent_of.get(code)
    return out


def drill(state: DrillState, code: str | None, regions: pd.DataFrame) -> DrillState:
    """The state after the user picks region ``code`` on the map or chart.

    Any region inside the current one is accepted (a county picked from a province view goes
    straight there); anything else — outside, unknown, None, or a pick at the bottom — leaves
    the state as it is. A region with one child only (北京市 → 北京市市辖区) is passed through.
    """
    if not code or code not in set(regions.code) or code == state.code:
        return state
    if state.code and state.code not in _ancestors(regions, code):
        return state
    while True:
        below = children(regions, code)
        if len(below) != 1:
            break
        code = str(below.code.iloc[0])
    return replace(state, code=code)


def up_to(state: DrillState, code: str | None, regions: pd.DataFrame) -> DrillState:
    """The state after clicking the breadcrumb ``code`` (None = 全国); only ancestors count."""
    if code is None:
        return replace(state, code=None)
    if code in _ancestors(regions, state.code):
        return replace(state, code=code)
    return state


def with_side(state: DrillState, side: str) -> DrillState:
    """Switch between 产地 and 采购方; the drilldown starts again from 全国 on the new side,
    as regions that sell rarely buy and the other way round."""
    if side not in REGION_SIDES or side == state.side:
        return state
    return DrillState(side=side, code=None)


def breadcrumbs(regions: pd.DataFrame, state: DrillState) -> list[tuple[str | None, str]]:
    """``[(None, '全国'), ('520000', '贵州省'), …]`` down to the current region; regions passed
    through (one child only) are left out."""
    names = dict(zip(regions.code, regions.name, strict=True))
    path = list(reversed(_ancestors(regions, state.code)))
    crumbs: list[tuple[str | None, str]] = [(None, "全国")]
    for i, code in enumerate(path):
        is_last = i == len(path) - 1
        if not is_last and len(children(regions, code)) == 1:
            continue
        crumbs.append((code, names.get(code, code)))
    return crumbs


def picked_code(selection: Any) -> str | None:
    """The region code in a Streamlit chart selection, or None.

    Reads a plotly selection (``points[0].customdata[0]``) or a pydeck one
    (``objects[layer][0].properties.code`` for GeoJSON features, ``.code`` otherwise).
    """
    if not selection:
        return None
    for point in selection.get("points", None) or []:
        data = point.get("customdata")
        if isinstance(data, (list, tuple)) and data:
            return str(data[0])
        if isinstance(data, str):
            return data
    for objects in (selection.get("objects", None) or {}).values():
        for obj in objects or []:
            props = obj.get("properties") if isinstance(obj, dict) else None
            code = (props or {}).get("code") or (obj.get("code") if isinstance(obj, dict) else None)
            if code:
                return str(code)
    return None
