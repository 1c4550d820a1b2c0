"""Pure chart builders of the drilldown: clickable region bars and the pairing-flow Sankey."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from data_access.query.text import pct_text
from data_access.reference.labels import PAIRING_KINDS
from pages.common.charts import FONT, PALETTE, memo_built


@memo_built
def region_bars(children: pd.DataFrame, limit: int = 25) -> go.Figure:
    """Horizontal bars of the largest ``limit`` child regions (万元), each bar carrying its region
    code in ``customdata`` so a click can drill into it."""
    d = children[children.amount > 0].head(limit).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            y=d.name,
            x=d.amount / 1e4,
            orientation="h",
            marker_color=PALETTE[1],
            customdata=d[["code"]].to_numpy(),
            text=[pct_text(s) for s in d.share],
            textposition="outside",
            hovertemplate="%{y}: %{x:,.1f}万元（点击下钻）<extra></extra>",
        )
    )
    fig.update_traces(cliponaxis=False)
    # The top margin keeps Plotly's toolbar above the bars: a click on the largest region must
    # drill into it, not hit 「下载图片」.
    fig.update_layout(
        height=max(260, 26 * len(d) + 110),
        margin=dict(l=10, r=50, t=40, b=10),
        font=dict(family=FONT),
        plot_bgcolor="white",
        hovermode="closest",
        clickmode="event+select",
        dragmode=False,
    )
    fig.update_xaxes(title_text="万元", gridcolor="#eeeeee", tickformat=",.0f")
    return fig


@memo_built
def flows_sankey(flows: pd.DataFrame) -> go.Figure:
    """Helper jurisdictions (left) to origin regions (right), link width = amount, red links
    covered by a pairing relation, grey ones not."""
    helpers = list(dict.fromkeys(flows.helper_name))
    origins = list(dict.fromkeys(flows.origin_name))
    labels = [f"{h}（帮扶方）" for h in helpers] + origins
    index = {("h", h): i for i, h in enumerate(helpers)} | {("o", o): len(helpers) + i for i, o in enumerate(origins)}
    kinds = [PAIRING_KINDS.get(k, k) if isinstance(k, str) else "非结对采购" for k in flows.pairing_kind]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node=dict(
                label=labels, pad=12, thickness=14, color=[PALETTE[0]] * len(helpers) + [PALETTE[1]] * len(origins)
            ),
            link=dict(
                source=[index[("h", h)] for h in flows.helper_name],
                target=[index[("o", o)] for o in flows.origin_name],
                value=(flows.amount / 1e4).round(2).tolist(),
                customdata=kinds,
                color=["rgba(192,57,43,0.35)" if p else "rgba(127,140,141,0.35)" for p in flows.paired],
                hovertemplate="%{source.label} → %{target.label}<br>%{value:,.1f}万元 ｜ %{customdata}<extra></extra>",
            ),
        )
    )
    fig.update_layout(
        height=max(320, 22 * max(len(helpers), len(origins)) + 60),
        margin=dict(l=10, r=10, t=10, b=10),
        font=dict(family=FONT, size=12),
    )
    return fig
