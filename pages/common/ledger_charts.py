"""督办台账's chart builder: reporting compliance per period (pure: DataFrame in, Figure out)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from data_access.figures.compliance import COMPLIANCE_STATUSES
from pages.common.charts import _layout, memo_built

STATUS_COLORS = {"on_time": "#2ca02c", "late": "#e6c229", "missing": "#d62728", "not_due": "#bbbbbb"}


@memo_built
def compliance_figure(summary: pd.DataFrame) -> go.Figure:
    """Stacked unit counts by status for each jurisdiction and reporting period."""
    x = [f"{j} {p}" for j, p in zip(summary.jurisdiction_name, summary.period, strict=True)]
    fig = go.Figure()
    for status, label in COMPLIANCE_STATUSES.items():
        if status in summary and summary[status].sum():
            fig.add_bar(
                x=x,
                y=summary[status],
                name=label,
                marker_color=STATUS_COLORS[status],
                hovertemplate=f"%{{x}} {label}：%{{y}} 个单位<extra></extra>",
            )
    fig = _layout(fig, height=340)
    fig.update_layout(barmode="stack", hovermode="closest")
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text="单位数")
    return fig
