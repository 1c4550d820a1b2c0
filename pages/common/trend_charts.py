"""趋势分析's chart builder: a trend table in, a plotly Figure out (pure, testable without a browser)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pages.common.charts import PALETTE, _layout, memo_built

CHART_TYPES = {"line": "折线图", "bar": "柱状图", "area": "面积图"}


@memo_built
def trend_figure(
    table: pd.DataFrame,
    chart: str,
    value_label: str,
    unit: str,
    scale: float = 1.0,
    stackable: bool = False,
    compare: bool = False,
) -> go.Figure:
    """One trace per member over ``period`` (values divided by ``scale``); last year dotted beside it.

    ``table`` has ``period, member_name, value`` and, with ``compare``, ``value_last_year``.
    Areas stack only for additive measures (``stackable``).
    """
    fig = go.Figure()
    members = list(dict.fromkeys(table.member_name))
    for i, name in enumerate(members):
        color = PALETTE[i % len(PALETTE)]
        rows = table[table.member_name == name]
        y = rows.value / scale
        hover = f"{name}：%{{y:,.2f}}{unit}<extra></extra>"
        if chart == "bar":
            fig.add_bar(x=rows.period, y=y, name=name, marker_color=color, hovertemplate=hover)
        elif chart == "area":
            fig.add_scatter(
                x=rows.period,
                y=y,
                name=name,
                mode="lines",
                line=dict(color=color),
                stackgroup="this" if stackable else None,
                fill=None if stackable else "tozeroy",
                hovertemplate=hover,
            )
        else:
            fig.add_scatter(
                x=rows.period,
                y=y,
                name=name,
                mode="lines+markers",
                line=dict(color=color, width=2),
                hovertemplate=hover,
            )
        if compare:
            y_last = rows.value_last_year / scale
            hover_last = f"{name}（上年同期）：%{{y:,.2f}}{unit}<extra></extra>"
            if chart == "bar":
                fig.add_bar(
                    x=rows.period,
                    y=y_last,
                    name=f"{name}（上年同期）",
                    marker_color=color,
                    opacity=0.4,
                    hovertemplate=hover_last,
                )
            else:
                fig.add_scatter(
                    x=rows.period,
                    y=y_last,
                    name=f"{name}（上年同期）",
                    mode="lines",
                    line=dict(color=color, dash="dot"),
                    hovertemplate=hover_last,
                )
    fig = _layout(fig, height=420)
    if chart == "bar":
        fig.update_layout(barmode="stack" if stackable and not compare else "group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text=f"{value_label}（{unit}）", tickformat=",.2f" if unit == "%" else ",.0f")
    return fig
