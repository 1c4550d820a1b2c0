"""Pure chart builders of the 滞销预警 page: DataFrame in, plotly Figure out."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from data_access.reference.labels import WARNING_LEVELS
from pages.common.charts import FONT, LEVEL_COLORS, memo_built

LEVEL_ORDER = ("red", "orange", "yellow", "blue")


@memo_built
def warnings_by_region_bars(df: pd.DataFrame, top: int = 20) -> go.Figure:
    """Stacked horizontal bars: open warnings per region (``region_name``) by level, most on top."""
    totals = df.groupby("region_name", sort=False).warnings.sum().head(top)
    names = list(totals.index[::-1])
    fig = go.Figure()
    for level in LEVEL_ORDER:
        part = df[df.level == level].set_index("region_name").warnings.reindex(names).fillna(0)
        fig.add_bar(
            y=names,
            x=part.values,
            orientation="h",
            name=WARNING_LEVELS[level],
            marker_color=LEVEL_COLORS[level],
            hovertemplate="%{y} " + WARNING_LEVELS[level] + "：%{x} 条<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        height=max(220, 28 * len(names) + 90),
        margin=dict(l=10, r=10, t=10, b=10),
        font=dict(family=FONT),
        legend=dict(orientation="h", y=-0.12),
        plot_bgcolor="white",
    )
    fig.update_xaxes(
        title_text="未关闭预警（条）", dtick=1 if len(totals) and totals.max() <= 10 else None, gridcolor="#eeeeee"
    )
    return fig


@memo_built
def warning_series_chart(series: pd.DataFrame, first_date, last_date, unit: str = "kg") -> go.Figure:
    """Price with its seasonal baseline and ±2 SD band, alert weeks marked by level (top), and
    volume against the same week last year (bottom); the warning's span shaded."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.64, 0.36],
        vertical_spacing=0.06,
        subplot_titles=(f"价格（元/{unit}）与季节常态区间", f"销量（{unit}）"),
    )
    band = series.dropna(subset=["band_low", "band_high"])
    fig.add_scatter(
        x=band.date,
        y=band.band_high,
        mode="lines",
        line=dict(width=0),
        showlegend=False,
        hoverinfo="skip",
        row=1,
        col=1,
    )
    fig.add_scatter(
        x=band.date,
        y=band.band_low,
        mode="lines",
        line=dict(width=0),
        fill="tonexty",
        fillcolor="rgba(46,134,222,0.15)",
        name="常态区间（±2个标准差）",
        hoverinfo="skip",
        row=1,
        col=1,
    )
    fig.add_scatter(
        x=series.date,
        y=series.baseline,
        mode="lines",
        name="季节常态价格",
        line=dict(color="#2e86de", dash="dash"),
        hovertemplate="常态 %{y:.2f}<extra></extra>",
        row=1,
        col=1,
    )
    fig.add_scatter(
        x=series.date,
        y=series.price,
        mode="lines",
        name="监测价格",
        line=dict(color="#333333", width=2),
        hovertemplate="价格 %{y:.2f}<extra></extra>",
        row=1,
        col=1,
    )
    for level in LEVEL_ORDER[::-1]:
        hit = series[series.level == level]
        if len(hit):
            fig.add_scatter(
                x=hit.date,
                y=hit.price,
                mode="markers",
                name=f"{WARNING_LEVELS[level]}预警",
                marker=dict(color=LEVEL_COLORS[level], size=9, line=dict(color="white", width=1)),
                hovertemplate=WARNING_LEVELS[level] + "预警 评分 %{customdata:.1f}<extra></extra>",
                customdata=hit.score,
                row=1,
                col=1,
            )
    fig.add_bar(
        x=series.date,
        y=series.volume,
        name="销量",
        marker_color="#9ecae1",
        row=2,
        col=1,
        hovertemplate="销量 %{y:,.0f}<extra></extra>",
    )
    fig.add_scatter(
        x=series.date,
        y=series.volume_last_year,
        mode="lines",
        name="上年同期销量",
        line=dict(color="#7f8c8d", dash="dot"),
        row=2,
        col=1,
        hovertemplate="上年同期 %{y:,.0f}<extra></extra>",
    )
    for row in (1, 2):
        fig.add_vrect(
            x0=pd.Timestamp(first_date) - pd.Timedelta(days=3),
            x1=pd.Timestamp(last_date) + pd.Timedelta(days=3),
            fillcolor="rgba(214,39,40,0.08)",
            line_width=0,
            row=row,
            col=1,
        )
    fig.update_layout(
        height=560,
        margin=dict(l=10, r=10, t=40, b=10),
        font=dict(family=FONT),
        plot_bgcolor="white",
        legend=dict(orientation="h", y=-0.08),
        hovermode="x unified",
        bargap=0.1,
    )
    fig.update_yaxes(gridcolor="#eeeeee")
    fig.update_xaxes(showgrid=False, tickformat="%Y-%m")
    return fig
