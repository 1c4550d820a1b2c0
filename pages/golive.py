"""上线准备 — for admins: per register, what the pages need and what the store holds (N of M where
there is a whole), with the way to load what is missing and its template."""

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.desks.ingest import ALL_FORMS
from data_access.figures.readiness import COMPLETE, MISSING, PARTIAL, readiness
from pages import registry
from pages.common import tables, ui

BADGE_COLORS = {COMPLETE: "green", PARTIAL: "orange", MISSING: "red"}
STATUS_COLUMN = st.column_config.MultiselectColumn(
    "状态", options=[COMPLETE, PARTIAL, MISSING], color=["#2ca02c", "#d4a017", "#d62728"], width=60
)


def _page_titles(pages: tuple[str, ...]) -> str:
    """The registry titles of the pages that read an item."""
    return "、".join(registry.BY_URL[p].title for p in pages if p in registry.BY_URL) or "登录与权限"


def _summary(items: list[dict]) -> None:
    counts = {s: sum(i["status"] == s for i in items) for s in (COMPLETE, PARTIAL, MISSING)}
    c = st.columns(3)
    for col, (status, n) in zip(c, counts.items(), strict=True):
        with col:
            st.badge(status, color=BADGE_COLORS[status])
            st.metric(status, f"{n} 项", label_visibility="collapsed")


def _table(items: list[dict]) -> None:
    """The checklist as one table (and its download)."""
    table = pd.DataFrame(
        {
            "状态": [i["status"] for i in items],
            "项目": [i["label"] for i in items],
            "现有": [i["count"] for i in items],
            "覆盖": [f"{i['covered'][0]:,} / {i['covered'][1]:,}" if i["covered"] else "—" for i in items],
            "说明": [i["detail"] for i in items],
            "用到它的页面": [_page_titles(i["pages"]) for i in items],
            "导入方式": [i["how"] for i in items],
        }
    )
    st.dataframe(
        table.assign(状态=[[v] for v in table["状态"]]),
        hide_index=True,
        width="stretch",
        height=35 * (len(table) + 1) + 3,  # every item in view, no inner scroll
        column_config={
            "状态": STATUS_COLUMN,
            "现有": st.column_config.NumberColumn(format="localized", width=70),
            "说明": st.column_config.TextColumn(width=320),
            "导入方式": st.column_config.TextColumn(width=320),
        },
    )
    tables.download_buttons(table, "上线准备清单", key="golive_list")


def _todo(item: dict) -> None:
    """One item still missing or partial: what it is, who needs it, the link and template to load it."""
    with st.container(border=True):
        st.badge(f"{item['status']} · {item['label']}", color=BADGE_COLORS[item["status"]])
        st.markdown(f"{item['detail']}。用到它的页面：{_page_titles(item['pages'])}。")
        form = item["form"] if item["form"] in ALL_FORMS else None
        if item["load_page"] is None or form is None:
            st.caption(f"导入方式：{item['how']}")
        c1, c2, c3 = st.columns([2.2, 1, 1], vertical_alignment="center")
        with c1:
            ui.load_link(item["load_page"], form)
        if form is not None:
            tables.template_buttons(form, ALL_FORMS[form].title, f"golive_tpl_{item['key']}", [c2, c3])


def render() -> None:
    """上线准备: the checklist, then one card per item that is missing or partial."""
    f = ui.current_filters()
    st.title("上线准备")
    st.caption(
        f"每一页要用到的基础数据与采购数据，库里现有多少（{f.year} 年度）。缺失或不全的项目下方给出导入入口与模板；"
        "在数据到齐之前，相关页面的卡片与结论显示“暂无数据”，不显示“正常”。"
    )
    items = cache.query(readiness, f.year)
    _summary(items)
    _table(items)
    todo = [i for i in items if i["status"] != COMPLETE]
    if not todo:
        st.success("各项基础数据均已齐备。", icon=":material/task_alt:")
        return
    st.subheader(f"待补充（{len(todo)} 项）")
    for item in todo:
        _todo(item)


render()
