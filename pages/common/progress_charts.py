"""Pure chart builders of the 采购进度 page: rule status bars and amounts beside last year."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pages.common.charts import PALETTE, RAG_COLORS, _layout, memo_built

STATUS_NAMES = {"green": "绿（按进度达标）", "yellow": "黄（略落后）", "red": "红（明显落后）"}


@memo_built
def rule_status_bars(overview: pd.DataFrame) -> go.Figure:
    """Per rule, stacked counts of subjects by status (red, yellow, green), most red on top."""
    d = overview.iloc[::-1]
    fig = go.Figure()
    for status in ("red", "yellow", "green"):
        fig.add_bar(
            y=d.rule_title,
            x=d[status],
            orientation="h",
            name=STATUS_NAMES[status],
            marker_color=RAG_COLORS[status],
            hovertemplate="%{y}<br>" + STATUS_NAMES[status] + "：%{x}<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="评价对象数")
    fig = _layout(fig, height=max(280, 28 * len(d) + 80))
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(tickformat=None)
    return fig


@memo_built
def amount_vs_last_year(df: pd.DataFrame, label_col: str, year: int, top: int = 12) -> go.Figure:
    """Horizontal bars (万元) of ``amount`` beside ``amount_last_year`` for the largest ``top`` labels."""
    d = df.head(top).iloc[::-1]
    fig = go.Figure()
    fig.add_bar(
        y=d[label_col],
        x=d.amount_last_year / 1e4,
        orientation="h",
        name=f"{year - 1}年同期",
        marker_color="#bdc3c7",
        hovertemplate="%{y}：%{x:,.1f}万元<extra>上年同期</extra>",
    )
    fig.add_bar(
        y=d[label_col],
        x=d.amount / 1e4,
        orientation="h",
        name=f"{year}年",
        marker_color=PALETTE[1],
        hovertemplate="%{y}：%{x:,.1f}万元<extra>本期</extra>",
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="万元")
    fig = _layout(fig, height=max(260, 34 * len(d) + 90))
    fig.update_layout(hovermode="closest", legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
    fig.update_yaxes(tickformat=None)
    return fig
