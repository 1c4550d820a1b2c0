"""地区下钻 — province → city → county → its products, outlets and units, on either side of the money."""

from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.engines.drilldown import (
    DrillState,
    apply,
    breadcrumbs,
    drill,
    picked_code,
    state_from_filters,
    state_to_params,
    up_to,
    with_side,
)
from data_access.figures.outlets import outlet_count, outlet_points
from data_access.figures.overview import amount_total
from data_access.figures.readiness import missing
from data_access.figures.region_amounts import (
    amount_by_child,
    involved_counts,
    pairing_flows,
    top_products,
    top_units,
)
from data_access.query.text import money_text, pct_text
from data_access.reference import boundaries
from data_access.reference.labels import (
    BUYER_KINDS,
    CATEGORIES,
    OUTLET_KINDS,
    OUTLET_STATUSES,
    PAIRING_KINDS,
    REGION_LEVELS,
)
from data_access.reference.regions import region_table
from pages.common import maps, region_charts, tables, ui

SIDES = {"origin": "产地（钱流向哪里）", "buyer": "采购方（钱从哪里来）"}


def _go(f, state: DrillState, target: DrillState) -> None:
    """Move the shared filters to ``target`` and redraw (the sidebar follows)."""
    if target != state:
        ui.move_filters(apply(f, target))


def _sync_params(state: DrillState) -> None:
    for key, value in state_to_params(state).items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def _start_label(province_names: dict, code: str | None) -> str:
    return "全国" if code is None else province_names[code]


def _controls(f, state: DrillState, regions: pd.DataFrame, gen: int) -> None:
    """方向 (origin / buyer side) and 起点 (the province to start from)."""
    c1, c2 = st.columns([3, 2])
    side = c1.segmented_control(
        "方向", list(SIDES), format_func=SIDES.get, default=state.side, key=f"dd_side_{state.side}_{gen}"
    )
    if side and side != state.side:
        _go(f, state, with_side(state, side))
    provinces = regions[regions.level == "province"]
    province_names = dict(zip(provinces.code, provinces.name, strict=True))
    start_options = [None] + provinces.code.tolist()
    current_province = state.code[:2] + "0000" if state.code else None
    start = c2.selectbox(
        "起点",
        start_options,
        format_func=partial(_start_label, province_names),
        index=start_options.index(current_province) if current_province in start_options else 0,
        key=f"dd_start_{state.code}_{gen}",
    )
    if start != current_province:
        _go(f, state, drill(DrillState(side=state.side), start, regions) if start else DrillState(side=state.side))


def _breadcrumbs(f, state: DrillState, regions: pd.DataFrame, gen: int) -> str:
    """路径: a button per level above the current one; returns the current region's name."""
    crumbs = breadcrumbs(regions, state)
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key="dd_breadcrumbs"):
        st.markdown("**路径**", width="content")
        for i, (code, name) in enumerate(crumbs):
            last = i == len(crumbs) - 1
            clicked = st.button(
                name, key=f"dd_crumb_{code}_{gen}", disabled=last, type="primary" if last else "secondary"
            )
            if clicked:
                _go(f, state, up_to(state, code, regions))
            if not last:
                st.markdown("›", width="content")
    return crumbs[-1][1]


def _child_deck(shapes, children, flows, regions, side_word: str, show_flows: bool):
    features = maps.choropleth_features(shapes, children, f"{side_word}采购额")
    layers = [maps.base_layer(boundaries.base_features("province"), fill=maps.LAND), maps.choropleth_layer(features)]
    if show_flows and len(flows):
        layers.append(maps.flow_layer(flows, regions))
    lngs, lats = maps.features_bounds(features)
    return maps.deck(layers, maps.view_for(lngs, lats), height=520)


def _children_view(f, state: DrillState, regions, flows, here: str, side_word: str, gen: int) -> None:
    """Above county level: the child regions on a map and as bars, each clickable to drill in."""
    children = cache.query(amount_by_child, f)
    shapes = cache.shared(boundaries.child_shapes, state.code)  # read-only reference shapes
    total = float(children.amount.sum())
    with_data = int((children.amount > 0).sum())
    m = st.columns(3)
    m[0].metric(f"{here}·{side_word}采购额", money_text(total))
    m[1].metric("有采购的下级地区", f"{with_data} / {len(children)}")
    top = children.iloc[0] if with_data else None
    m[2].metric(
        "最大下级地区",
        top["name"] if top is not None else "—",
        help=f"{money_text(top['amount'])}，占 {pct_text(top['share'])}" if top is not None else None,
    )
    if not with_data:
        st.info(
            f"所选期间{here}没有{side_word}口径的采购记录。可切换方向，或点上方的路径返回上一级。",
            icon=":material/info:",
        )
    st.caption("点击地图上的地区或右侧柱条，进入下一级。")
    map_col, bar_col = st.columns([3, 2])
    with map_col:
        show_flows = st.toggle("在地图上显示帮扶资金流向（弧线）", value=True, key=f"dd_arcs_{state.code}_{gen}")
        deck = maps.memo_deck(
            ("drilldown", f, state.side, state.code, show_flows),
            partial(_child_deck, shapes, children, flows, regions, side_word, show_flows),
        )
        event = st.pydeck_chart(
            deck,
            height=520,
            on_select="rerun",
            selection_mode="single-object",
            key=f"dd_map_{state.side}_{state.code}_{gen}",
        )
        st.caption(maps.SOURCE_CAPTION)
        _go(f, state, drill(state, picked_code(event.selection if event else None), regions))
    with bar_col:
        table = children.rename(
            columns={"code": "区划代码", "name": "地区", "amount": "采购额（元）", "purchases": "笔数", "share": "占比"}
        )[["区划代码", "地区", "采购额（元）", "笔数", "占比"]]
        event = tables.chart_and_table(
            region_charts.region_bars(children),
            table,
            f"{here}下级地区采购额",
            key=f"dd_bars_{state.side}_{state.code}_{gen}",
            on_select="rerun",
            selection_mode="points",
        )
        _go(f, state, drill(state, picked_code(event.selection if event else None), regions))


def _county_deck(shapes, flows, outlets, regions, code: str, total: float, side_word: str):
    layers = [
        maps.base_layer(boundaries.base_features("province"), fill=maps.LAND),
        maps.choropleth_layer(
            maps.choropleth_features(shapes, pd.DataFrame({"code": [code], "amount": [total]}), f"{side_word}采购额"),
            pickable=False,
        ),
    ]
    if len(flows):
        layers.append(maps.flow_layer(flows, regions))
    if len(outlets):
        layers.append(maps.outlet_layer(outlets))
    lngs, lats = maps.features_bounds(shapes)
    ends = regions[regions.code.isin(set(flows.helper_code) | set(flows.origin_code))]
    view = maps.view_for([*lngs, *outlets.lng, *ends.lng], [*lats, *outlets.lat, *ends.lat])
    return maps.deck(layers, view, height=480)


def _county_view(f, state: DrillState, regions, flows, here: str, side_word: str, gen: int) -> None:
    """At county level: its amount, products, units and outlets, on a map and in tabs."""
    shapes = cache.shared(boundaries.shapes_for, (state.code,))  # read-only reference shapes
    products = cache.query(top_products, f)
    units = cache.query(top_units, f)
    outlets = cache.query(outlet_points, f, 500)
    total = cache.query(amount_total, f)
    counts = cache.query(involved_counts, f)
    if state.side == "buyer":  # the outlets that stand in the county, sales or not
        counts["outlets"] = cache.query(outlet_count, f)
    m = st.columns(4)
    m[0].metric(f"{here}·{side_word}采购额", money_text(total))
    m[1].metric("产品", f"{counts['products']:,}", help="所选期间有采购记录的产品数")
    m[2].metric("采购单位", f"{counts['units']:,}", help="所选期间有采购记录的预算单位、国企等")
    if state.side == "origin":
        m[3].metric("经手网点", f"{counts['outlets']:,}", help=f"销售过{here}产品的网点（专柜、专馆等）")
    else:
        m[3].metric("辖区内网点", f"{counts['outlets']:,}", help=f"位于{here}的网点（专柜、专馆等）")
    if not total:
        st.info(
            f"所选期间{here}没有{side_word}口径的采购记录。可切换方向，或点上方的路径返回上一级。",
            icon=":material/info:",
        )
    map_col, info_col = st.columns([3, 2])
    with map_col:
        deck = maps.memo_deck(
            ("drilldown", f, state.side, state.code),
            partial(_county_deck, shapes, flows, outlets, regions, state.code, total, side_word),
        )
        st.pydeck_chart(deck, height=480, key=f"dd_map_{state.side}_{state.code}_{gen}")
        st.caption(
            f"深色区域：{here}；弧线：帮扶方到产地的采购资金，红色为结对关系内、灰色为非结对；"
            "圆点：经手这些采购的网点（颜色为网点类型，大小为销售额）。"
        )
        st.caption(maps.SOURCE_CAPTION)
    with info_col:
        _county_tabs(here, products, outlets, units, counts)


def _county_tabs(here: str, products, outlets, units, counts: dict) -> None:
    tab_p, tab_o, tab_u = st.tabs(["产品", "网点", "单位"])
    with tab_p:
        st.caption(f"按采购额排前 {len(products)} 个，共 {counts['products']:,} 个")
        t = products.assign(品类=products.category.map(CATEGORIES)).rename(
            columns={
                "name": "产品",
                "origin_name": "产地",
                "amount": "采购额（元）",
                "quantity": "数量",
                "purchases": "笔数",
            }
        )[["产品", "品类", "产地", "采购额（元）", "数量", "笔数"]]
        st.dataframe(t, hide_index=True, width="stretch")
        tables.download_buttons(t, f"{here}产品", "dd_prod")
    with tab_o:
        st.caption(f"按销售额排前 {len(outlets)} 个，共 {counts['outlets']:,} 个")
        t = outlets.assign(类型=outlets.kind.map(OUTLET_KINDS), 状态=outlets.status.map(OUTLET_STATUSES)).rename(
            columns={"name": "网点", "sales_yuan": "销售额（元）", "purchases": "笔数"}
        )[["网点", "类型", "状态", "销售额（元）", "笔数"]]
        st.dataframe(t, hide_index=True, width="stretch")
        tables.download_buttons(t, f"{here}网点", "dd_outlets")
    with tab_u:
        st.caption(f"按采购额排前 {len(units)} 个，共 {counts['units']:,} 个")
        t = units.assign(类型=units.kind.map(BUYER_KINDS)).rename(
            columns={"name": "单位", "region_name": "所在地", "amount": "采购额（元）", "purchases": "笔数"}
        )[["单位", "类型", "所在地", "采购额（元）", "笔数"]]
        st.dataframe(t, hide_index=True, width="stretch")
        tables.download_buttons(t, f"{here}单位", "dd_units")


def _flows(flows, state: DrillState, here: str) -> None:
    """结对帮扶资金流向: helper jurisdictions to origins, as a Sankey and a table."""
    st.subheader("结对帮扶资金流向")
    if flows.empty:
        st.info("所选范围内没有采购记录。", icon=":material/info:")
        return
    paired_share = float(flows.loc[flows.paired, "amount"].sum() / flows.amount.sum())
    st.caption(f"帮扶方（采购单位所属辖区）→ 产地；红色为结对关系内的采购，占所示金额的 {pct_text(paired_share)}。")
    ft = flows.assign(结对关系=flows.pairing_kind.map(lambda k: PAIRING_KINDS.get(k, "非结对采购"))).rename(
        columns={"helper_name": "帮扶方", "origin_name": "产地", "amount": "金额（元）"}
    )
    tables.chart_and_table(
        region_charts.flows_sankey(flows),
        ft[["帮扶方", "产地", "金额（元）", "结对关系"]],
        f"{here}帮扶资金流向",
        key=f"dd_flows_{state.side}_{state.code}",
    )


def render() -> None:
    f = ui.current_filters()
    regions = cache.query(region_table)
    state = state_from_filters(f)
    # Every widget that shows the drill state is keyed by the move that drew it: a chart or picker
    # kept under an old key would resend its old selection and drill straight back.
    gen = ui.filters_generation()
    _sync_params(state)

    st.title("地区下钻")
    ui.freshness(
        "采购明细（purchase）按产地县或采购单位所在地逐级汇总；帮扶方为采购单位的政策辖区（buyer_unit.jurisdiction_code），"
        "结对关系取结对表（pairing）"
    )
    _controls(f, state, regions, gen)
    here = _breadcrumbs(f, state, regions, gen)
    where = here if state.code is None else f"{here}（{REGION_LEVELS[state.level]}）"
    st.caption(f"{ui.describe_filters(f)} ｜ 当前：{where}")
    if cache.query(missing, f.year)["purchases"]:
        ui.no_data(f"{f.year}年库中没有采购记录。", (("reporting", "purchases"),))

    flows = cache.query(pairing_flows, f)
    side_word = "产地" if state.side == "origin" else "采购方"
    if not state.at_bottom:
        _children_view(f, state, regions, flows, here, side_word, gen)
    else:
        _county_view(f, state, regions, flows, here, side_word, gen)
    _flows(flows, state, here)


render()
