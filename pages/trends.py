"""趋势分析 — free exploration: a measure by a dimension over time, last year beside it."""

import streamlit as st

from data_access import cache
from data_access.figures.overview import data_as_of
from data_access.figures.readiness import missing
from data_access.figures.semantic import (
    DIMENSIONS,
    GRAINS,
    MEASURES,
    compatible,
    display_table,
    trend,
)
from data_access.query.filters import Filters
from pages.common import tables, ui
from pages.common.trend_charts import CHART_TYPES, trend_figure

TOP_CHOICES = [3, 5, 10, 20, 50]
DEFAULTS = {"measure": "amount", "dim": "channel", "grain": "month", "chart": "line", "top": "10", "yoy": "1"}
ALLOWED = {
    "measure": list(MEASURES),
    "dim": list(DIMENSIONS),
    "grain": list(GRAINS),
    "chart": list(CHART_TYPES),
    "top": [str(n) for n in TOP_CHOICES],
    "yoy": ["0", "1"],
}


def _from_url() -> dict:
    """The page's own URL state, each value checked against its allow-list."""
    state = {}
    for key, default in DEFAULTS.items():
        value = st.query_params.get(f"t_{key}", default)
        state[key] = value if value in ALLOWED[key] else default
    if not compatible(state["measure"], state["dim"]):
        state["dim"] = "total"
    return state


def _to_url(state: dict) -> None:
    for key, value in state.items():
        if st.query_params.get(f"t_{key}") != value:
            st.query_params[f"t_{key}"] = value


def _measure_label(key: str) -> str:
    return MEASURES[key].label


def _dimension_label(key: str) -> str:
    return DIMENSIONS[key].label


def _controls() -> dict:
    """The measure, dimension, grain, chart type, top N and last-year widgets, started from the URL
    and written back to it; returns the state (``measure, dim, grain, chart, top, yoy``)."""
    url_state = _from_url()
    for key, value in url_state.items():
        st.session_state.setdefault(f"trend_{key}", value)

    c = st.columns([3, 3, 2])
    measure = c[0].selectbox("指标", list(MEASURES), format_func=_measure_label, key="trend_measure")
    dims = [d for d in DIMENSIONS if compatible(measure, d)]
    if st.session_state.get("trend_dim") not in dims:
        st.session_state["trend_dim"] = "total"
    dimension = c[1].selectbox("维度", dims, format_func=_dimension_label, key="trend_dim")
    grain = c[2].segmented_control("时间粒度", list(GRAINS), format_func=GRAINS.get, key="trend_grain") or "month"
    c = st.columns([3, 3, 2])
    chart = (
        c[0].segmented_control("图表类型", list(CHART_TYPES), format_func=CHART_TYPES.get, key="trend_chart") or "line"
    )
    top = c[1].select_slider(
        "显示前 N 项", [str(n) for n in TOP_CHOICES], key="trend_top", disabled=dimension == "total"
    )
    compare = c[2].toggle("对比上年同期", value=st.session_state["trend_yoy"] == "1", key="trend_yoy_toggle")
    state = dict(measure=measure, dim=dimension, grain=grain, chart=chart, top=top, yoy="1" if compare else "0")
    st.session_state["trend_yoy"] = state["yoy"]
    _to_url(state)
    return state


def _trend(f: Filters, state: dict) -> None:
    """The trend of the chosen measure as a chart and a table (with its definition and filters as the note)."""
    measure, dimension, grain, chart = state["measure"], state["dim"], state["grain"], state["chart"]
    compare = state["yoy"] == "1"
    m = MEASURES[measure]
    st.caption(f"口径：{m.help}")
    result = cache.query(trend, f, measure, dimension, grain, int(state["top"]), compare)
    for note in result.notes:
        st.caption(note)

    if result.table.empty:
        st.info("所选条件下没有数据。")
        return

    is_share = m.kind == "share"
    scale, unit = (0.01, "%") if is_share else (1e4, "万元") if m.unit == "元" else (1.0, m.unit)
    fig = trend_figure(
        result.table, chart, m.label, unit, scale=scale, stackable=m.kind in ("sum", "count"), compare=compare
    )
    title = f"{m.label}_按{DIMENSIONS[dimension].label}_{GRAINS[grain]}_{f.start:%Y%m%d}-{f.end:%Y%m%d}"
    as_of = cache.query(data_as_of)
    note = "；".join(
        [
            f"{m.label}（口径：{m.help}）",
            ui.describe_filters(f),
            *result.notes,
            *([f"数据截至 {as_of:%Y-%m-%d}"] if as_of else []),
        ]
    )
    tables.chart_and_table(fig, display_table(result), title, key="trends", note=note)


def render() -> None:
    """趋势分析: the controls (kept in the URL), then the chart and its table."""
    f = ui.current_filters()
    st.title("趋势分析")
    ui.freshness(
        "采购明细（purchase）、单位年度预算（unit_budget）、带贫受益记录（benefit）；"
        "指标与维度由 data_access.figures.semantic 定义"
    )
    st.caption(ui.describe_filters(f))
    if cache.query(missing, f.year)["purchases"]:
        ui.no_data(f"{f.year}年库中没有采购记录。", (("reporting", "purchases"),))
    state = _controls()
    _trend(f, state)


render()
