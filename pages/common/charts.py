"""Pure chart builders: DataFrame in, plotly Figure out (testable without a browser).

Public builders are wrapped in ``memo_built``: a rerun with the same (small, bounded) inputs gets
the figure already built. Building a figure costs 10–100 ms of plotly validation, more than the
cached data under it; the figures are never changed after they are built, so one object can serve
every rerun and session.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from data_access.cache import HASH_FUNCS, TTL_SECONDS

PALETTE = ["#c0392b", "#2e86de", "#27ae60", "#f39c12", "#8e44ad", "#16a085", "#d35400", "#7f8c8d"]
LEVEL_COLORS = {"red": "#d62728", "orange": "#ff7f0e", "yellow": "#e6c229", "blue": "#1f77b4", "none": "#bbbbbb"}
RAG_COLORS = {"red": "#d62728", "yellow": "#e6c229", "green": "#2ca02c"}
FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"


def memo_built(builder):
    """``builder`` (a chart, or the frame a map layer is drawn from) memoised on its arguments
    (DataFrames keyed by content, ``cache.frame_digest``) for the cache's TTL. What it returns is
    shared between reruns and sessions: never change it after building."""
    return st.cache_resource(ttl=TTL_SECONDS, max_entries=500, show_spinner=False, hash_funcs=HASH_FUNCS)(builder)


def _layout(fig: go.Figure, title: str | None = None, height: int = 360) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        font=dict(family=FONT),
        legend=dict(orientation="h", y=-0.15),
        hovermode="x unified",
        plot_bgcolor="white",
    )
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(gridcolor="#eeeeee", tickformat=",.0f")
    return fig


@memo_built
def cumulative_vs_progress(monthly: pd.DataFrame, plan: float | None, year: int) -> go.Figure:
    """Cumulative amount (万元) by month against last year and the time-progress line to plan."""
    months = [f"{m}月" for m in monthly.month]
    fig = go.Figure()
    fig.add_bar(x=months, y=monthly.amount / 1e4, name=f"{year}年当月", marker_color="#9ecae1", opacity=0.7)
    fig.add_scatter(
        x=months,
        y=monthly.cumulative / 1e4,
        name=f"{year}年累计",
        mode="lines+markers",
        line=dict(color=PALETTE[0], width=3),
    )
    fig.add_scatter(
        x=months,
        y=monthly.cumulative_last_year / 1e4,
        name=f"{year - 1}年累计",
        mode="lines",
        line=dict(color="#7f8c8d", dash="dot"),
    )
    if plan:
        fig.add_scatter(
            x=months,
            y=[plan / 1e4 * m / 12 for m in monthly.month],
            name="时间进度（计划×月份/12）",
            mode="lines",
            line=dict(color=PALETTE[2], dash="dash"),
        )
    fig.update_yaxes(title_text="万元")
    return _layout(fig)


@memo_built
def amount_bars(
    df: pd.DataFrame,
    label_col: str,
    value_col: str = "amount",
    color: str = PALETTE[1],
    horizontal: bool = True,
    height: int = 360,
) -> go.Figure:
    """Bars of amounts (万元) by a label column, largest on top."""
    d = df.sort_values(value_col, ascending=horizontal)
    if horizontal:
        fig = go.Figure(
            go.Bar(
                y=d[label_col],
                x=d[value_col] / 1e4,
                orientation="h",
                marker_color=color,
                hovertemplate="%{y}: %{x:,.1f}万元<extra></extra>",
            )
        )
        fig.update_xaxes(title_text="万元")
    else:
        fig = go.Figure(
            go.Bar(
                x=d[label_col],
                y=d[value_col] / 1e4,
                marker_color=color,
                hovertemplate="%{x}: %{y:,.1f}万元<extra></extra>",
            )
        )
        fig.update_yaxes(title_text="万元")
    fig = _layout(fig, height=height)
    fig.update_layout(hovermode="closest")
    return fig


@memo_built
def season_heatmap(season: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    """上市日历: products in season by category (rows) and month (columns), from ``season_by_category``."""
    grid = season.pivot(index="category", columns="month", values="products").fillna(0)
    fig = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=[f"{m}月" for m in grid.columns],
            y=[labels.get(c, c) for c in grid.index],
            colorscale="Greens",
            hovertemplate="%{y} %{x}：%{z} 个产品上市<extra></extra>",
            showscale=False,
            texttemplate="%{z}",
        )
    )
    fig = _layout(fig, height=max(220, 40 * len(grid) + 60))
    fig.update_yaxes(tickformat=None, autorange="reversed")
    fig.update_layout(hovermode="closest")
    return fig


@memo_built
def price_volume(
    series: pd.DataFrame, reference_price: float | None = None, season_months: list[int] | None = None
) -> go.Figure:
    """A product's price (元/kg, line) over its sales volume (kg, bars), selling-season months shaded."""
    fig = go.Figure()
    fig.add_bar(x=series.obs_date, y=series.volume, name="销量（kg）", marker_color="#c7e9c0", yaxis="y2")
    fig.add_scatter(
        x=series.obs_date, y=series.price, name="价格（元/kg）", mode="lines", line=dict(color=PALETTE[0], width=2)
    )
    if reference_price:
        fig.add_hline(
            y=reference_price,
            line=dict(color="#7f8c8d", dash="dot"),
            annotation_text=f"名库参考价 {reference_price:g}",
            annotation_position="top left",
        )
    if season_months and not series.empty:
        for start in pd.date_range(series.obs_date.min().replace(day=1), series.obs_date.max(), freq="MS"):
            if start.month in season_months:
                fig.add_vrect(
                    x0=start,
                    x1=start + pd.offsets.MonthBegin(1),
                    fillcolor="#fdd49e",
                    opacity=0.25,
                    line_width=0,
                    layer="below",
                )
    fig = _layout(fig, height=340)
    fig.update_layout(
        yaxis=dict(title_text="元/kg", tickformat=",.2f"),
        yaxis2=dict(title_text="kg", overlaying="y", side="right", showgrid=False, tickformat=",.0f"),
    )
    return fig
