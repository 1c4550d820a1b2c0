"""产品名库 — the searchable catalogue; a product opens its price/volume series and its warnings."""

from datetime import timedelta
from functools import partial

import streamlit as st

from data_access import cache
from data_access.figures.catalogue import (
    SORT_KEYS,
    product_catalogue,
    product_detail,
    product_monthly_amounts,
    product_outlets,
    product_series,
    product_warnings,
    season_by_category,
)
from data_access.figures.readiness import missing
from data_access.query.export import csv_bytes, xlsx_bytes
from data_access.query.text import CSV_MIME, XLSX_MIME
from data_access.reference.labels import (
    CATEGORIES,
    PRODUCT_STATUSES,
    WARNING_LEVELS,
    WARNING_STATUSES,
)
from pages.common import charts, tables, ui

CERTIFIED = {"all": "全部", "yes": "已认定", "no": "未认定"}
MONTHS = [0] + list(range(1, 13))


def _month_label(m: int) -> str:
    return "全年" if m == 0 else f"{m}月"


def _product_label(names: dict, i: int | None) -> str:
    return "（在表中点选或在此选择）" if i is None else f"{i} {names.get(i, '')}"


def _filters(qp):
    """搜索, 名库状态, 重点产品认定, 上市月份 and 排序, read from and kept in the URL."""
    c = st.columns([3, 2, 1.3, 1.3, 1.6])
    search = c[0].text_input("搜索", value=qp.get("q", ""), placeholder="产品、产地或供应商名称", max_chars=40)
    status_default = [s for s in qp.get("pstatus", "").split(",") if s in PRODUCT_STATUSES]
    statuses = c[1].multiselect(
        "名库状态",
        list(PRODUCT_STATUSES),
        default=status_default,
        format_func=PRODUCT_STATUSES.get,
        placeholder="全部状态",
    )
    cert = qp.get("cert", "all")
    cert = c[2].selectbox(
        "重点产品认定",
        list(CERTIFIED),
        index=list(CERTIFIED).index(cert) if cert in CERTIFIED else 0,
        format_func=CERTIFIED.get,
    )
    month = qp.get("month", "0")
    month = int(month) if month.isdigit() and int(month) in MONTHS else 0
    month = c[3].selectbox("上市月份", MONTHS, index=MONTHS.index(month), format_func=_month_label)
    sort = qp.get("sort", "amount")
    sort = c[4].selectbox(
        "排序",
        list(SORT_KEYS),
        index=list(SORT_KEYS).index(sort) if sort in SORT_KEYS else 0,
        format_func=SORT_KEYS.get,
    )
    for key, value, default in (
        ("q", search.strip(), ""),
        ("pstatus", ",".join(statuses), ""),
        ("cert", cert, "all"),
        ("month", str(month), "0"),
        ("sort", sort, "amount"),
    ):
        if value != default:
            qp[key] = value
        elif key in qp:
            del qp[key]
    return search, statuses, cert, month, sort


def _kpis(cat) -> None:
    m = st.columns(5)
    m[0].metric("产品数", f"{len(cat):,}")
    m[1].metric("已认定重点产品", f"{int(cat.certified.sum()):,}", help="帮扶重点产品认定（product.certified）")
    m[2].metric("带贫人数合计", f"{int(cat.beneficiaries.fillna(0).sum()):,}", help="名库登记的带贫人数（带贫能力）")
    m[3].metric(
        "拟退出 / 已退出",
        f"{int((cat.status == 'exit_proposed').sum())} / {int((cat.status == 'exited').sum())}",
        help="动态退出机制：质量、价格、诚信或带贫效果不达标的产品",
    )
    m[4].metric("有未关闭预警的产品", f"{int((cat.open_warnings > 0).sum()):,}")


def _catalogue_table(cat):
    """The catalogue table (a row opens the product) and its downloads; returns the table's event."""
    shown = cat.assign(
        category=cat.category.map(CATEGORIES), status=cat.status.map(PRODUCT_STATUSES), amount=cat.amount / 1e4
    )
    table = shown.rename(
        columns={
            "name": "产品",
            "category": "品类",
            "origin_name": "产地县",
            "province_name": "省份",
            "supplier_name": "供应商",
            "reference_price": "参考价（元）",
            "latest_price": "最新监测价（元）",
            "latest_price_date": "监测日期",
            "supply_volume": "年供货量（kg）",
            "season": "上市周期（1–12月）",
            "beneficiaries": "带贫人数",
            "certified": "重点产品认定",
            "certified_on": "认定日期",
            "status": "名库状态",
            "open_warnings": "未关闭预警",
            "amount": "采购额（万元）",
            "id": "编号",
        }
    )
    columns = [
        "编号",
        "产品",
        "品类",
        "产地县",
        "上市周期（1–12月）",
        "名库状态",
        "重点产品认定",
        "带贫人数",
        "参考价（元）",
        "最新监测价（元）",
        "年供货量（kg）",
        "未关闭预警",
        "采购额（万元）",
        "省份",
        "供应商",
        "认定日期",
        "监测日期",
    ]
    st.caption("点选一行查看该产品的价格、销量与预警；表头可排序。上市周期：■ 上市月份，□ 非上市月份（1月至12月）。")
    event = st.dataframe(
        table[columns],
        hide_index=True,
        width="stretch",
        height=420,
        on_select="rerun",
        selection_mode="single-row",
        key="catalogue_table",
        column_config={
            "编号": st.column_config.NumberColumn(width="small"),
            "参考价（元）": st.column_config.NumberColumn(format="%.2f"),
            "最新监测价（元）": st.column_config.NumberColumn(format="%.2f"),
            "年供货量（kg）": st.column_config.NumberColumn(format="localized"),
            "采购额（万元）": st.column_config.NumberColumn(format="%.1f"),
            "上市周期（1–12月）": st.column_config.TextColumn(help="1月至12月，■ 为上市月份"),
            "重点产品认定": st.column_config.CheckboxColumn(),
        },
    )
    export = table[columns].assign(**{"采购额（万元）": table["采购额（万元）"].round(2)})
    d = st.columns(2)
    d[0].download_button(
        "下载名库 CSV",
        tables.audited(partial(csv_bytes, export), "产品名库.csv", len(export), tables.filters_words()),
        file_name="产品名库.csv",
        mime=CSV_MIME,
        width="stretch",
        on_click="ignore",
    )
    d[1].download_button(
        "下载名库 XLSX",
        tables.audited(partial(xlsx_bytes, {"产品名库": export}), "产品名库.xlsx", len(export), tables.filters_words()),
        file_name="产品名库.xlsx",
        width="stretch",
        mime=XLSX_MIME,
        on_click="ignore",
    )
    return event


def _season(cat) -> None:
    st.subheader("上市日历")
    season = season_by_category(cat)
    season_table = (
        season.assign(category=season.category.map(CATEGORIES))
        .pivot(index="category", columns="month", values="products")
        .rename(columns=lambda mm: f"{mm}月")
        .reset_index()
    )
    tables.chart_and_table(
        charts.season_heatmap(season, CATEGORIES),
        season_table.rename(columns={"category": "品类"}),
        "上市日历（各月上市产品数）",
        key="catalogue_season",
    )


def _pick_product(cat, event, qp) -> int | None:
    """The product to open: the table's row, else the URL's ``product``, through the 查看产品 picker."""
    rows = event.selection.rows if event and event.selection else []
    if rows:
        qp["product"] = str(int(cat.id.iloc[rows[0]]))
    raw = qp.get("product", "")
    product_id = int(raw) if raw.isdigit() else None
    options = [None] + cat.id.tolist()
    if product_id is not None and product_id not in options:
        options.append(product_id)
    names = dict(zip(cat.id, cat.name, strict=True))
    product_id = st.selectbox(
        "查看产品", options, index=options.index(product_id), format_func=partial(_product_label, names)
    )
    if product_id is None:
        qp.pop("product", None)
        return None
    qp["product"] = str(product_id)
    return product_id


def _product_header(p: dict) -> None:
    st.subheader(f"{p['name']}（{CATEGORIES.get(p['category'], p['category'])}，{p['origin_name']}）")
    k = st.columns(5)
    k[0].metric("名库状态", PRODUCT_STATUSES.get(p["status"], p["status"]))
    k[1].metric(
        "重点产品认定",
        f"已认定（{p['certified_on']:%Y年%m月}）"
        if p["certified"] and p["certified_on"]
        else "已认定"
        if p["certified"]
        else "未认定",
    )
    k[2].metric("参考价", f"{p['reference_price']:.2f}元/{p['unit']}" if p["reference_price"] else "—")
    k[3].metric("年供货量", f"{p['supply_volume']:,.0f} {p['unit']}" if p["supply_volume"] else "—")
    k[4].metric("带贫人数", f"{p['beneficiaries']:,}" if p["beneficiaries"] is not None else "—")
    st.caption(
        f"供应商：{p['supplier_name'] or '—'} ｜ 上市周期："
        + " ".join(f"**{mm}月**" if mm in p["season"] else f"{mm}月" for mm in range(1, 13))
    )


def _series(p: dict, product_id: int) -> None:
    series = cache.query(product_series, product_id)
    if series.empty:
        st.info("该产品暂无价格/销量监测数据。")
        return
    since = series.obs_date.max() - timedelta(days=3 * 365)
    recent = series[series.obs_date >= since]
    st.markdown("**价格与销量（近三年，周度；橙色底为上市月份）**")
    tables.chart_and_table(
        charts.price_volume(recent, p["reference_price"], p["season"]),
        recent.assign(obs_date=recent.obs_date.dt.date).rename(
            columns={
                "obs_date": "日期",
                "market": "监测点",
                "price": "价格（元/kg）",
                "volume": "销量（kg）",
                "stock": "库存（kg）",
            }
        ),
        f"{p['name']}价格销量",
        key="catalogue_series",
    )


def _warnings(p: dict, product_id: int) -> None:
    st.markdown("**滞销预警**")
    warns = cache.query(product_warnings, product_id)
    if warns.empty:
        st.caption("该产品没有滞销预警记录。")
        return
    ui.page_link("warnings", "到滞销预警页处置", icon=":material/warning:")
    wt = warns.assign(level=warns.level.map(WARNING_LEVELS), status=warns.status.map(WARNING_STATUSES)).rename(
        columns={
            "id": "编号",
            "first_date": "首次预警",
            "last_date": "最近预警",
            "level": "等级",
            "score": "分值",
            "reason": "触发原因",
            "status": "状态",
            "owner_group": "责任专班",
            "absorbed_volume": "已消纳（kg）",
        }
    )
    st.dataframe(wt, hide_index=True, width="stretch")
    tables.download_buttons(wt, f"{p['name']}滞销预警", key="catalogue_warnings")


def _monthly(f, p: dict, product_id: int) -> None:
    monthly = cache.query(product_monthly_amounts, f, product_id)
    if monthly.empty:
        return
    st.markdown("**所选期间采购（按月）**")
    monthly_table = monthly.rename(columns={"month": "月份", "amount": "金额（元）", "quantity": "数量（kg）"})
    st.dataframe(monthly_table, hide_index=True, width="stretch")
    tables.download_buttons(monthly_table, f"{p['name']}月度采购", key="catalogue_monthly")


def _outlets(f, p: dict, product_id: int) -> None:
    """The outlets that sold the product in the period, each with its status (动态退出: 拟退出 with reason and date)."""
    sold = cache.query(product_outlets, f, product_id)
    if sold.empty:
        return
    st.markdown("**销售网点**（所选期间经五专网点的采购；状态含原因与日期）")
    leaving = sold[sold.status.isin(["exit_proposed", "suspended", "exited"])]
    if len(leaving):
        st.caption(
            f"其中 {len(leaving)} 个网点已暂停、拟退出或已退出："
            + "、".join(leaving.name.head(5))
            + ("等" if len(leaving) > 5 else "")
        )
    shown = sold.rename(
        columns={
            "name": "网点",
            "kind_label": "类型",
            "status_text": "状态",
            "sales_yuan": "销售额（元）",
            "purchases": "笔数",
        }
    )[["网点", "类型", "状态", "销售额（元）", "笔数"]]
    st.dataframe(shown, hide_index=True, width="stretch")
    tables.download_buttons(shown, f"{p['name']}销售网点", key="catalogue_outlets")
    ui.page_link("outlet_map", "到网点地图查看或变更网点状态", icon=":material/storefront:")


def render() -> None:
    f = ui.current_filters()
    st.title("产品名库")
    ui.freshness("产品名库（product）；采购额取采购明细（purchase）；最新价取价格监测（price_observation）")
    st.caption(ui.describe_filters(f) + " ｜ 地区按产地筛选；采购额为所选期间、所选渠道")
    if cache.query(missing, f.year)["products"]:
        ui.no_data("产品名库为空。", (("registers", "products"), ("registers", "suppliers")))

    qp = st.query_params
    search, statuses, cert, month, sort = _filters(qp)
    cat = cache.query(
        product_catalogue,
        f,
        search.strip(),
        tuple(statuses),
        {"all": None, "yes": True, "no": False}[cert],
        month or None,
        sort,
    )
    _kpis(cat)
    event = _catalogue_table(cat)
    if not cat.empty:
        _season(cat)

    product_id = _pick_product(cat, event, qp)
    if product_id is None:
        return
    p = cache.query(product_detail, product_id)
    if p is None:
        st.warning("名库中没有这个产品编号。")
        return
    _product_header(p)
    _series(p, product_id)
    _warnings(p, product_id)
    _monthly(f, p, product_id)
    _outlets(f, p, product_id)


render()
