"""The demo data set (演示数据): deterministic for a seed, built on the seeds' geography.

Helper jurisdictions (珠海, 广州, 大通湖区, 山东, 上海, 云南, 重庆) buy from the regions the
seeds pair them with, through the channels the seeds name, at the rates the rules ask for —
some units ahead and some behind, so every page has something to say. Weekly price/volume
series per product carry injected 滞销 episodes whose labels are kept in ``series_episode``.

The demo's 基础数据 registers (单位名录 with aliases, 年度预算与预留份额, 供应商名录, 产品名库, 网点名录,
结对关系, 联席会议) go in through the front door: they are written as a 协作办 keeps them (XLSX with a
merged title row, GBK CSV with header synonyms, 万元 amounts and full-width digits) and loaded by
``ingest.parse_upload`` + ``registers.commit_register`` as an administrator, so every first start runs
the path a real office uses. The facts (purchases, price series, batches, beneficiaries) are bulk
loaded; the large bench (``front_door=False``) bulk loads the registers too.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Engine, ForeignKeyConstraint, bindparam, delete, select, text, update
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from data_access.desks.imports import _norm
from data_access.desks.ingest import REGISTERS, SUPPLIER_KINDS, parse_upload
from data_access.desks.ledger import add_meeting, sync_ledger, update_item
from data_access.desks.registers import commit_register
from data_access.desks.warnings import apply_action, refresh_warnings
from data_access.figures.ledger import ledger_items
from data_access.query.filters import region_prefix
from data_access.reference import labels
from data_access.reference.seeds import (
    CHONGQING_TOWNSHIP_COUNTIES,
    DATONGHU_CODE,
    GUANGZHOU,
    PAIRINGS,
    ZHUHAI,
)
from data_access.reference.setup import ensure_store, init_store
from data_access.store import rollup
from data_access.store import schema as s
from data_access.store.bulk import bulk_insert
from data_access.store.db import frame
from data_access.store.meta import store_is_empty
from data_access.trust.auth import Principal
from data_access.trust.personal import (
    encrypt_pii,
    fictional_id_number,
    id_hash,
    mask_id_number,
    mask_phone,
    pii_hash_key,
    pii_key,
)

DEFAULT_SEED = 2026
DEFAULT_SCALE = 120_000
# The demo's data run to the end of the last full reporting month before its release; a fixed
# date keeps the data set identical for a seed whenever it is generated.
DEFAULT_UNTIL = date(2026, 10, 31)
FIRST_YEAR = 2023
SERIES_START = date(2021, 1, 4)

# (jurisdiction code, display prefix, unit-location county codes, helped-region prefixes, east-west prefixes)
JURISDICTIONS = [
    (
        ZHUHAI,
        "珠海市",
        ["440402", "440403", "440404"],
        ["5203", "540481", "500237", "4417", "4409", "5333", "513337", "513334", "52"],
        ["52"],
    ),
    (
        GUANGZHOU,
        "广州市",
        ["440103", "440104", "440105", "440106", "440111", "440112", "440113"],
        ["5205", "5227"],
        ["5205", "5227"],
    ),
    (DATONGHU_CODE, "大通湖区", [DATONGHU_CODE], [DATONGHU_CODE, "4331", "4309"], []),
    (
        "370000",
        "山东省",
        ["370102", "370103", "370202", "370203", "370602"],
        CHONGQING_TOWNSHIP_COUNTIES + ["5002"],
        ["50"],
    ),
    (
        "310000",
        "上海市",
        ["310101", "310104", "310105", "310106", "310115"],
        ["5333", "5331", "5325", "5326", "5308"],
        ["53"],
    ),
    (
        "530000",
        "云南省",
        ["530102", "530103", "530111", "530112"],
        ["5333", "5331", "5325", "5326", "5308", "5334"],
        [],
    ),
    ("500000", "重庆市", ["500103", "500104", "500106", "500107", "500108", "500113"], CHONGQING_TOWNSHIP_COUNTIES, []),
]

DEPARTMENTS = [
    "教育局",
    "卫生健康局",
    "财政局",
    "农业农村局",
    "乡村振兴局",
    "商务局",
    "市场监督管理局",
    "公安局",
    "人力资源和社会保障局",
    "交通运输局",
    "住房和城乡建设局",
    "自然资源局",
    "文化广电旅游局",
    "生态环境局",
    "水务局",
    "统计局",
    "机关事务管理局",
    "第一中学",
    "人民医院",
    "中医院",
    "职业技术学院",
    "妇幼保健院",
    "实验小学",
    "疾病预防控制中心",
]
UNION_HOSTS = ["机关工会", "教育工会", "卫生系统工会", "总工会", "交通工会", "金融工会", "商贸工会", "建设工会"]
STATE_FIRMS = [
    "城市建设投资集团",
    "交通集团",
    "农业控股集团",
    "水务集团",
    "供销集团",
    "港务集团",
    "文旅集团",
    "能源集团",
]
PRIVATE_FIRMS = [
    "华粤实业有限公司",
    "鸿泰商贸有限公司",
    "丰禾食品有限公司",
    "联众科技有限公司",
    "海川物流有限公司",
    "嘉禾餐饮管理有限公司",
    "瑞丰超市有限公司",
    "同心电子商务有限公司",
]
SOCIAL_ORGS = ["慈善会", "商会", "青年企业家协会", "志愿者协会", "餐饮行业协会"]

# (product, category, season months, reference price yuan/kg, province prefixes where grown)
PRODUCTS = [
    ("大米", "grain_oil", [9, 10, 11], 7.5, ["52", "43", "50", "53", "44"]),
    ("菜籽油", "grain_oil", [5, 6, 7], 24.0, ["52", "50", "53", "43"]),
    ("青稞", "grain_oil", [8, 9], 9.0, ["54", "51"]),
    ("荞麦", "grain_oil", [9, 10], 8.0, ["52", "53", "51"]),
    ("朝天椒", "vegetable", [7, 8, 9, 10], 18.0, ["52", "50"]),
    ("马铃薯", "vegetable", [6, 7, 8, 9], 3.2, ["52", "53", "50", "51", "54"]),
    ("高山白菜", "vegetable", [7, 8, 9, 10], 2.4, ["52", "50", "53"]),
    ("榨菜", "vegetable", [1, 2, 3], 6.0, ["50"]),
    ("猕猴桃", "fruit", [9, 10, 11], 12.0, ["52", "50", "51"]),
    ("脐橙", "fruit", [11, 12, 1, 2], 8.0, ["50", "44", "43"]),
    ("脆李", "fruit", [6, 7, 8], 10.0, ["50", "52"]),
    ("芒果", "fruit", [6, 7, 8], 11.0, ["53", "44"]),
    ("荔枝", "fruit", [5, 6, 7], 16.0, ["44"]),
    ("龙眼", "fruit", [7, 8], 13.0, ["44"]),
    ("刺梨", "fruit", [8, 9, 10], 6.0, ["52"]),
    ("苹果", "fruit", [9, 10, 11], 7.0, ["54", "51", "53"]),
    ("绿茶", "tea_drink", [3, 4, 5], 260.0, ["52", "50", "53", "43"]),
    ("普洱茶", "tea_drink", [3, 4, 5, 6], 320.0, ["53"]),
    ("小粒咖啡", "tea_drink", [11, 12, 1, 2], 80.0, ["53"]),
    ("牦牛肉", "meat_poultry", [9, 10, 11, 12], 110.0, ["54", "51"]),
    ("藏香猪肉", "meat_poultry", [10, 11, 12, 1], 90.0, ["54", "51"]),
    ("腊肉", "meat_poultry", [11, 12, 1, 2], 75.0, ["52", "50", "43"]),
    ("土鸡蛋", "meat_poultry", list(range(1, 13)), 22.0, ["52", "50", "43", "53", "44"]),
    ("生态鱼", "aquatic", [9, 10, 11, 12], 26.0, ["43", "44"]),
    ("大闸蟹", "aquatic", [9, 10, 11], 120.0, ["43"]),
    ("生蚝", "aquatic", [11, 12, 1, 2, 3], 30.0, ["44"]),
    ("松茸", "specialty", [7, 8, 9], 400.0, ["54", "51", "53"]),
    ("天麻", "specialty", [10, 11, 12], 150.0, ["52", "53"]),
    ("核桃", "specialty", [9, 10], 30.0, ["53", "52", "51"]),
    ("蜂蜜", "specialty", [6, 7, 8, 9], 70.0, ["52", "50", "53", "54", "43"]),
    ("莲子", "specialty", [8, 9], 60.0, ["43"]),
    ("化橘红", "specialty", [10, 11, 12], 180.0, ["44"]),
    ("红油豆腐干", "processed", list(range(1, 13)), 28.0, ["52", "50", "43"]),
    ("米粉", "processed", list(range(1, 13)), 12.0, ["52", "43", "53"]),
]

SUPPLIER_SUFFIX = ["农民专业合作社", "生态农业有限公司", "家庭农场", "农产品开发有限公司", "种养殖专业合作社"]
SUPPLIER_WORDS = [
    "山泉",
    "丰源",
    "绿源",
    "禾丰",
    "云岭",
    "高原",
    "金穗",
    "青山",
    "润田",
    "红岩",
    "清溪",
    "百花",
    "雪域",
    "林海",
    "富民",
    "兴农",
    "嘉禾",
    "翠谷",
    "乌江",
    "长江",
]

OUTLET_KINDS = ["counter", "hall", "zone", "train", "station", "demo"]
OUTLET_KIND_NAMES = {
    "counter": "专柜",
    "hall": "专馆",
    "zone": "专区",
    "train": "专列",
    "station": "专站",
    "demo": "示范点",
}
OUTLET_SITES = [
    "火车站",
    "市民中心",
    "中心公园",
    "万达广场",
    "机关大院",
    "人民医院",
    "大学城",
    "高铁站",
    "商业步行街",
    "农贸市场",
    "体育中心",
    "会展中心",
    "地铁换乘站",
    "社区服务中心",
    "国际机场",
]

HOLIDAY_MONTHS = np.array([1, 2, 6, 9, 10, 12])  # 春节、端午、中秋、国庆、元旦前


@dataclass(frozen=True)
class DemoSummary:
    purchases: int
    units: int
    products: int
    outlets: int
    series: int
    observations: int
    episodes: int
    seconds: float


def _month_int(d: np.ndarray) -> np.ndarray:
    ym = d.astype("datetime64[M]").astype(int)
    return (ym // 12 + 1970) * 100 + ym % 12 + 1


def _regions(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return frame(
            conn.execute(
                select(
                    s.region.c.code,
                    s.region.c.name,
                    s.region.c.level,
                    s.region.c.province_code,
                    s.region.c.lng,
                    s.region.c.lat,
                )
            ).all(),
            columns=["code", "name", "level", "province_code", "lng", "lat"],
        )


def _counties_matching(regions: pd.DataFrame, prefixes: list[str]) -> list[str]:
    counties = regions[regions.level == "county"]
    picked = []
    for p in prefixes:
        if p in set(counties.code):
            picked.append(p)
        else:
            picked.extend(counties[counties.code.str.startswith(p) & counties.code.str.isdigit()].code.tolist())
    return list(dict.fromkeys(picked))


def build_demo_frames(
    regions: pd.DataFrame, seed: int = DEFAULT_SEED, scale: int = DEFAULT_SCALE, until: date = DEFAULT_UNTIL
) -> dict[str, pd.DataFrame]:
    """Every demo table as a DataFrame (no database). Deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    names = dict(zip(regions.code, regions.name, strict=True))
    coords = regions.set_index("code")[["lng", "lat"]]
    years = list(range(FIRST_YEAR, until.year + 1))
    unit_factor = max(1.0, (scale / DEFAULT_SCALE) ** 0.5)

    # Origins, suppliers and products -------------------------------------------------------
    origin_sets = {j[0]: _counties_matching(regions, j[3]) for j in JURISDICTIONS}
    eastwest_sets = {j[0]: set(_counties_matching(regions, j[4])) for j in JURISDICTIONS}
    all_origins = sorted({c for v in origin_sets.values() for c in v})
    suppliers, products = [], []
    for county in all_origins:
        prov = county[:2]
        cands = [p for p in PRODUCTS if prov in p[4]] or PRODUCTS[:4]
        n_sup = int(rng.integers(1, 3))
        sup_ids = []
        for _ in range(n_sup):
            sid = len(suppliers) + 1
            word = SUPPLIER_WORDS[int(rng.integers(len(SUPPLIER_WORDS)))]
            suffix = SUPPLIER_SUFFIX[int(rng.integers(len(SUPPLIER_SUFFIX)))]
            suppliers.append(
                dict(
                    id=sid,
                    name=f"{names[county]}{word}{suffix}（演示{sid}）",
                    region_code=county,
                    kind="cooperative" if "合作社" in suffix else "farm" if "农场" in suffix else "firm",
                )
            )
            sup_ids.append(sid)
        k = int(min(len(cands), rng.integers(2, 5)))
        for idx in rng.choice(len(cands), size=k, replace=False):
            name, cat, season, price, _ = cands[int(idx)]
            pid = len(products) + 1
            status = rng.choice(["listed", "watch", "exit_proposed", "exited"], p=[0.86, 0.08, 0.04, 0.02])
            certified = bool(rng.random() < 0.55)
            products.append(
                dict(
                    id=pid,
                    name=f"{names[county].rstrip('县区市')}{name}",
                    category=cat,
                    origin_code=county,
                    supplier_id=sup_ids[int(rng.integers(len(sup_ids)))],
                    unit="kg",
                    season_months=",".join(map(str, season)),
                    reference_price=round(price * float(rng.uniform(0.85, 1.2)), 2),
                    supply_volume=round(float(rng.lognormal(11.0, 0.8)), 0),
                    beneficiaries=int(rng.lognormal(4.5, 0.9)),
                    certified=certified,
                    certified_on=date(int(rng.integers(2021, 2026)), int(rng.integers(1, 13)), 1)
                    if certified
                    else None,
                    status=str(status),
                )
            )
    products_df = pd.DataFrame(products)
    prod_by_origin = products_df.groupby("origin_code").id.apply(np.array).to_dict()

    # Buyer units and their budgets ----------------------------------------------------------
    units, budgets = [], []
    kinds = [("budget_unit", 14), ("union", 8), ("state_firm", 4), ("private_firm", 4), ("social_org", 2)]
    for jcode, jname, locations, *_ in JURISDICTIONS:
        for kind, base_n in kinds:
            n = int(round(base_n * unit_factor))
            for i in range(n):
                loc = locations[i % len(locations)]
                place = jname if i < len(locations) or loc == jcode else names.get(loc, jname)
                if kind == "budget_unit":
                    label = f"{place}{DEPARTMENTS[i % len(DEPARTMENTS)]}"
                elif kind == "union":
                    label = f"{place}{UNION_HOSTS[i % len(UNION_HOSTS)]}"
                elif kind == "state_firm":
                    label = f"{jname}{STATE_FIRMS[i % len(STATE_FIRMS)]}"
                elif kind == "private_firm":
                    label = f"{jname}{PRIVATE_FIRMS[i % len(PRIVATE_FIRMS)]}"
                else:
                    label = f"{jname}{SOCIAL_ORGS[i % len(SOCIAL_ORGS)]}"
                if i >= len(DEPARTMENTS if kind == "budget_unit" else UNION_HOSTS if kind == "union" else STATE_FIRMS):
                    label += f"第{i // 8 + 1}分部"
                uid = len(units) + 1
                units.append(
                    dict(
                        id=uid,
                        name=label,
                        kind=kind,
                        region_code=loc,
                        jurisdiction_code=jcode,
                        parent_id=None,
                        contact=None,
                    )
                )
    units_df = pd.DataFrame(units).drop_duplicates("name")
    units_df["id"] = np.arange(1, len(units_df) + 1)
    # Each unit has a temperament: how well it keeps to its rules (some are chronically behind).
    diligence = rng.normal(1.05, 0.28, len(units_df)).clip(0.25, 1.9)
    growth = rng.normal(1.06, 0.12, len(units_df)).clip(0.7, 1.5)
    size = rng.lognormal(0.0, 0.6, len(units_df))
    for row, dil, gr, sz in zip(units_df.itertuples(), diligence, growth, size, strict=True):
        for y in years:
            yf = gr ** (y - FIRST_YEAR)
            year_dil = float(np.clip(dil * rng.normal(1.0, 0.1), 0.2, 2.0))
            b = dict(
                unit_id=row.id,
                year=y,
                canteen_food_budget=None,
                reserved_share=None,
                reserved_amount=None,
                union_members=None,
                gift_budget=None,
                welfare_budget=None,
                plan_amount=None,
                diligence_=year_dil,
            )
            if row.kind == "budget_unit":
                canteen = round(1_200_000 * sz * yf, -3)
                rule_share = {"530000": 0.10, ZHUHAI: 0.30}.get(row.jurisdiction_code, 0.15)
                share = float(np.clip(rule_share * rng.normal(1.05, 0.15), 0.0, 0.6))
                if rng.random() < 0.04:
                    share = None  # not filed: the 填报 rule flags it
                b.update(
                    canteen_food_budget=canteen,
                    reserved_share=None if share is None else round(share, 3),
                    reserved_amount=None if share is None else round(canteen * share, 2),
                    plan_amount=round(canteen * (share or rule_share), -2),
                )
            elif row.kind == "union":
                members = int(120 * sz * 3) + 30
                gift = round(members * rng.uniform(900, 1600), -2)
                welfare = round(members * rng.uniform(500, 1200), -2)
                b.update(
                    union_members=members,
                    gift_budget=gift,
                    welfare_budget=welfare,
                    plan_amount=round(gift * 0.45 + welfare * 0.5, -2),
                )
            else:
                b.update(plan_amount=round(400_000 * sz * yf, -3))
            budgets.append(b)
    budgets_df = pd.DataFrame(budgets)

    # Purchase buckets: unit × year × purpose with an expected total ---------------------------
    ydays = {y: (min(until, date(y, 12, 31)) - date(y, 1, 1)).days + 1 for y in years}
    bucket_rows = []
    kinds_by_id = units_df.set_index("id").kind
    for b in budgets_df.itertuples():
        kind = kinds_by_id[b.unit_id]
        frac = ydays[b.year] / (366 if b.year % 4 == 0 else 365)
        # Late reporters: in the current year some units lag the time progress.
        lag = float(rng.uniform(0.55, 1.0)) if b.year == until.year and rng.random() < 0.3 else 1.0
        dil = b.diligence_ * lag
        if kind == "budget_unit":
            bucket_rows.append(
                (b.unit_id, b.year, "canteen", b.canteen_food_budget * (b.reserved_share or 0.12) * dil * frac)
            )
        elif kind == "union":
            bucket_rows.append((b.unit_id, b.year, "holiday_gift", b.gift_budget * 0.45 * dil * frac))
            bucket_rows.append(
                (b.unit_id, b.year, "welfare", b.welfare_budget * 0.85 * dil * frac)
            )  # most of the 额度 on assistance products
        else:
            bucket_rows.append((b.unit_id, b.year, "other", b.plan_amount * dil * frac))
    buckets = pd.DataFrame(bucket_rows, columns=["unit_id", "year", "purpose", "total"])
    buckets = buckets[buckets.total > 0].reset_index(drop=True)
    counts = np.maximum(1, np.floor(buckets.total / buckets.total.sum() * scale)).astype(int)
    # Trim or pad so the total is exactly ``scale``.
    diff = int(scale - counts.sum())
    order = np.argsort(-buckets.total.to_numpy())
    while diff:
        step = int(np.sign(diff))
        take = order[: min(abs(diff), len(order))]
        take = take[counts[take] + step >= 1]
        counts[take] += step
        diff -= step * len(take)
    buckets["count"] = counts

    # Outlets in helper cities; outlet channels point at one in the buyer's jurisdiction.
    outlets = []
    for _jcode, jname, locations, *_ in JURISDICTIONS:
        n_out = int(round(18 * unit_factor))
        for i in range(n_out):
            loc = locations[i % len(locations)]
            kind = OUTLET_KINDS[int(rng.choice(6, p=[0.32, 0.18, 0.25, 0.05, 0.08, 0.12]))]
            lng, lat = coords.loc[loc, "lng"], coords.loc[loc, "lat"]
            site = OUTLET_SITES[i % len(OUTLET_SITES)]
            opened = date(int(rng.integers(2019, 2026)), int(rng.integers(1, 13)), int(rng.integers(1, 28)))
            status = str(rng.choice(["operating", "suspended", "exit_proposed", "exited"], p=[0.84, 0.06, 0.06, 0.04]))
            oid = len(outlets) + 1
            outlets.append(
                dict(
                    id=oid,
                    name=f"{names.get(loc, jname)}{site}消费帮扶{OUTLET_KIND_NAMES[kind]}（{oid:03d}）",
                    kind=kind,
                    operator=f"{jname}{['供销集团', '消费帮扶联盟', '农业控股集团', '商贸有限公司'][i % 4]}",
                    region_code=loc,
                    lng=round(float(lng) + float(rng.normal(0, 0.025)), 6),
                    lat=round(float(lat) + float(rng.normal(0, 0.02)), 6),
                    address=f"{names.get(loc, jname)}{site}",
                    opened_on=opened,
                    status=status,
                    status_reason="连续多月销售额偏低" if status == "exit_proposed" else None,
                )
            )
    outlets_df, outlet_history = _outlet_history(pd.DataFrame(outlets), until)

    max_unit = int(units_df.id.max()) + 1
    ew_rate = np.zeros(max_unit)
    ew_rate[units_df.id] = rng.normal(0.58, 0.15, len(units_df)).clip(0.1, 0.95)
    welfare_rate = np.zeros(max_unit)
    welfare_rate[units_df.id] = rng.normal(0.6, 0.2, len(units_df)).clip(0.05, 1.0)
    jur_of_unit = np.empty(max_unit, dtype=object)
    jur_of_unit[units_df.id] = units_df.jurisdiction_code.to_numpy()
    origin_pools = {}
    for jcode, pool in origin_sets.items():
        weights = rng.lognormal(0, 1.0, len(pool))
        origin_pools[jcode] = (np.array(pool), weights / weights.sum())
    outlet_pools = {}
    for jcode, _, locations, *_ in JURISDICTIONS:
        ids = outlets_df[outlets_df.region_code.isin(locations)].id.to_numpy()
        if len(ids):
            weights = rng.lognormal(0, 1.2, len(ids))
            outlet_pools[jcode] = (ids, weights / weights.sum())
    ctx = PurchaseContext(
        seed=seed,
        ydays=ydays,
        jur_of_unit=jur_of_unit,
        ew_rate=ew_rate,
        welfare_rate=welfare_rate,
        origin_pools=origin_pools,
        eastwest=eastwest_sets,
        prod_by_origin=prod_by_origin,
        supplier_of=products_df.set_index("id").supplier_id,
        price_of=products_df.set_index("id").reference_price,
        outlet_pools=outlet_pools,
    )

    series, obs, episodes = _price_series(rng, products_df, until)
    batches = _report_batches(rng, units_df, until)
    people, benefits = _beneficiaries(rng, products_df, units_df, max(200, min(scale // 60, 50_000)), until)
    return dict(
        supplier=pd.DataFrame(suppliers),
        product=products_df,
        buyer_unit=units_df,
        unit_budget=budgets_df.drop(columns=["diligence_"]),
        outlet=outlets_df,
        outlet_status_change=outlet_history,
        price_series=series,
        price_observation=obs,
        series_episode=episodes,
        report_batch=batches,
        beneficiary_plain=people,
        benefit=benefits,
        buckets_=buckets,
        context_=ctx,
    )


@dataclass
class PurchaseContext:
    """What the purchase generator needs from the dimensions, drawn once per data set."""

    seed: int
    ydays: dict
    jur_of_unit: np.ndarray
    ew_rate: np.ndarray
    welfare_rate: np.ndarray
    origin_pools: dict
    eastwest: dict
    prod_by_origin: dict
    supplier_of: pd.Series
    price_of: pd.Series
    outlet_pools: dict


# The demo's outlet history (动态退出): why an outlet left 运营中, step by step; exited ones were proposed first.
DEMO_STATUS_STEPS = {
    "suspended": [("operating", "suspended", "网点装修改造，暂停营业")],
    "exit_proposed": [("operating", "exit_proposed", "连续多月销售额偏低")],
    "exited": [
        ("operating", "exit_proposed", "连续多月销售额偏低"),
        ("exit_proposed", "exited", "经专班评估，带贫效果不达标，予以退出"),
    ],
}


def _outlet_history(outlets: pd.DataFrame, until: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outlets with ``status_reason``/``status_since`` filled, and their ``outlet_status_change`` rows.

    Dates follow from the outlet's id (no draw from the generator: the rest of the demo stays as it was);
    every change falls after the outlet opened and on or before ``until``."""
    rows, reasons, since = [], [], []
    for o in outlets.itertuples():
        steps = DEMO_STATUS_STEPS.get(o.status, [])
        first = max(o.opened_on, until - timedelta(days=300))
        span = max((until - first).days, 1)
        day = first + timedelta(days=(o.id * 37) % span)
        for k, (frm, to, why) in enumerate(steps):
            on = min(day + timedelta(days=45 * k), until)
            rows.append(
                dict(
                    outlet_id=o.id,
                    from_status=frm,
                    to_status=to,
                    reason=why,
                    effective_on=on,
                    changed_by="demo-desk",
                    changed_at=datetime.combine(on, datetime.min.time()).replace(hour=10),
                )
            )
        reasons.append(rows[-1]["reason"] if steps else None)
        since.append(rows[-1]["effective_on"] if steps else None)
    history = pd.DataFrame(
        rows, columns=["outlet_id", "from_status", "to_status", "reason", "effective_on", "changed_by", "changed_at"]
    )
    history.insert(0, "id", np.arange(1, len(history) + 1))
    return outlets.assign(status_reason=reasons, status_since=since), history


def purchase_chunks(frames: dict, chunk_rows: int = 1_000_000):
    """Yield the purchases as DataFrames of at most about ``chunk_rows`` rows, ids running on.

    Each chunk has its own random stream (seed, chunk number), so memory stays bounded at any
    scale and the data set is the same for a seed however it is consumed.
    """
    buckets, ctx = frames["buckets_"], frames["context_"]
    bounds = np.searchsorted(
        np.cumsum(buckets["count"].to_numpy()),
        np.arange(chunk_rows, int(buckets["count"].sum()) + chunk_rows, chunk_rows),
    )
    first_id, lo = 1, 0
    for k, hi in enumerate(dict.fromkeys(int(b) + 1 for b in bounds)):
        part = buckets.iloc[lo:hi]
        lo = hi
        if part.empty:
            continue
        df = _purchase_chunk(ctx, part, np.random.default_rng([ctx.seed, k]), first_id)
        first_id += len(df)
        yield df


def _purchase_chunk(ctx: PurchaseContext, buckets: pd.DataFrame, rng, first_id: int) -> pd.DataFrame:
    counts = buckets["count"].to_numpy()
    n = int(counts.sum())
    idx = np.repeat(np.arange(len(buckets)), counts)
    unit_ids = buckets.unit_id.to_numpy()[idx]
    years_arr = buckets.year.to_numpy()[idx]
    purpose = buckets.purpose.to_numpy()[idx]
    share = rng.lognormal(0.0, 0.7, n)
    share_sum = np.bincount(idx, weights=share)
    amount = np.round(buckets.total.to_numpy()[idx] * share / share_sum[idx], 2)

    # Dates: canteen and firms through the year; gifts cluster before holidays.
    start = (years_arr - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    span = np.array([ctx.ydays[y] for y in buckets.year])[idx]
    day = (rng.random(n) * span).astype(int)
    gift_mask = purpose == "holiday_gift"
    if gift_mask.any():
        hm = rng.choice(HOLIDAY_MONTHS, size=int(gift_mask.sum()))
        gmonth = ((years_arr[gift_mask] - 1970) * 12 + hm - 1).astype("datetime64[M]").astype("datetime64[D]")
        gdate = gmonth + rng.integers(0, 25, hm.size)
        day[gift_mask] = (gdate - start[gift_mask]).astype(int)
        day = np.minimum(day, span - 1)
    dates = start + day.astype("timedelta64[D]")

    # Origins: from the jurisdiction's helped regions; Zhuhai unions pick east-west by their own rate.
    jur = ctx.jur_of_unit[unit_ids]
    origin = np.empty(n, dtype=object)
    for jcode, (pool, weights) in ctx.origin_pools.items():
        m = jur == jcode
        if not m.any():
            continue
        o = rng.choice(pool, size=int(m.sum()), p=weights)
        ew = np.array(sorted(ctx.eastwest[jcode]))
        if len(ew) and jcode == ZHUHAI:
            non_ew = np.array([c for c in pool if c not in ctx.eastwest[jcode]]) if len(pool) > len(ew) else ew
            pick_ew = rng.random(int(m.sum())) < ctx.ew_rate[unit_ids[m]]
            o = np.where(pick_ew, rng.choice(ew, size=o.size), rng.choice(non_ew, size=o.size))
        origin[m] = o
    # Product of that origin.
    prod = np.zeros(n, dtype=np.int64)
    origin_s = pd.Series(origin)
    for code, pos in origin_s.groupby(origin_s).indices.items():
        choices = ctx.prod_by_origin.get(code)
        if choices is not None:
            prod[pos] = rng.choice(choices, size=len(pos))

    # Channels by purpose.
    u = rng.random(n)
    channel = np.full(n, "other", dtype=object)
    can = purpose == "canteen"
    channel[can] = np.where(u[can] < 0.78, "p832", "canteen")
    g = purpose == "holiday_gift"
    channel[g] = np.select(
        [u[g] < 0.45, u[g] < 0.65, u[g] < 0.8, u[g] < 0.92], ["p832", "hall", "zone", "ecommerce"], "counter"
    )
    w = purpose == "welfare"
    wr = ctx.welfare_rate[unit_ids[w]]
    channel[w] = np.where(
        u[w] < wr, np.where(u[w] < wr / 2, "hall", "zone"), np.where(u[w] < (1 + wr) / 2, "p832", "counter")
    )
    o_ = purpose == "other"
    channel[o_] = np.select(
        [u[o_] < 0.3, u[o_] < 0.55, u[o_] < 0.75, u[o_] < 0.9], ["fair", "ecommerce", "p832", "hall"], "counter"
    )

    outlet_id = np.zeros(n, dtype=np.int64)
    at_outlet = np.isin(channel, ["hall", "zone", "counter"])
    for jcode, (ids, weights) in ctx.outlet_pools.items():
        m = at_outlet & (jur == jcode)
        if m.any():
            outlet_id[m] = rng.choice(ids, size=int(m.sum()), p=weights)

    price = ctx.price_of.reindex(prod).to_numpy() * rng.normal(1.0, 0.08, n).clip(0.6, 1.5)
    quantity = np.round(amount / np.maximum(price, 0.1), 1)
    df = (
        pd.DataFrame(
            {
                "purchase_date": dates,
                "month": _month_int(dates),
                "buyer_unit_id": unit_ids,
                "supplier_id": ctx.supplier_of.reindex(prod).to_numpy(),
                "product_id": prod,
                "origin_code": origin,
                "channel": channel,
                "purpose": purpose,
                "outlet_id": pd.array(np.where(outlet_id > 0, outlet_id, 0), dtype="Int64"),
                "quantity": quantity,
                "amount": amount,
                "year_": years_arr,
            }
        )
        .sort_values("purchase_date", kind="stable")
        .reset_index(drop=True)
    )
    df.loc[df.outlet_id == 0, "outlet_id"] = pd.NA
    df.insert(0, "id", np.arange(first_id, first_id + n))
    df["voucher_no"] = "PZ" + df.pop("year_").astype(str) + df.id.astype(str).str.zfill(9)
    return df


def demo_purchases(frames: dict) -> pd.DataFrame:
    """All demo purchases in one frame (tests and small scales)."""
    return pd.concat(list(purchase_chunks(frames)), ignore_index=True)


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"


def _beneficiaries(rng, products_df: pd.DataFrame, units_df: pd.DataFrame, n: int, until: date):
    """Beneficiaries with clearly fictional names and valid-format ID numbers, and their benefits."""

    official = products_df[products_df.origin_code.str.isdigit()]
    picks = official.sample(n=n, replace=True, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    births = rng.integers(np.datetime64("1950-01-01").astype(int), np.datetime64("2002-12-31").astype(int), n)
    people = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "name": [f"{SURNAMES[int(rng.integers(len(SURNAMES)))]}演示{i:04d}" for i in range(1, n + 1)],
            "id_number": [
                fictional_id_number(rng, code, pd.Timestamp(int(b), unit="D").date())
                for code, b in zip(picks.origin_code, births, strict=True)
            ],
            "phone": [f"1{int(rng.choice([38, 39, 58, 87])):02d}{int(rng.integers(0, 10**8)):08d}" for _ in range(n)],
            "region_code": picks.origin_code.to_numpy(),
            "product_id": picks.id.to_numpy(),
        }
    )
    months = pd.period_range(f"{FIRST_YEAR}-01", pd.Period(until, "M"), freq="M").astype(str).to_numpy()
    per = rng.integers(1, 7, n)
    idx = np.repeat(np.arange(n), per)
    buyers = units_df.id.to_numpy()
    benefits = pd.DataFrame(
        {
            "id": np.arange(1, len(idx) + 1),
            "beneficiary_id": people.id.to_numpy()[idx],
            "unit_id": rng.choice(buyers, size=len(idx)),
            "product_id": people.product_id.to_numpy()[idx],
            "period": rng.choice(months, size=len(idx)),
            "amount": np.round(rng.lognormal(6.3, 0.6, len(idx)), 2),
        }
    )
    return people, benefits


def _protected_beneficiaries(people: pd.DataFrame) -> pd.DataFrame:
    """The store's form of beneficiaries: ID and phone encrypted, hashed and masked, never plain."""

    key = pii_key()
    hkey = pii_hash_key(key)
    return pd.DataFrame(
        {
            "id": people.id,
            "name": people.name,
            "id_hash": [id_hash(x, hkey) for x in people.id_number],
            "id_masked": people.id_number.map(mask_id_number),
            "id_encrypted": [encrypt_pii(x, key) for x in people.id_number],
            "phone_masked": people.phone.map(mask_phone),
            "phone_encrypted": [encrypt_pii(x, key) for x in people.phone],
            "region_code": people.region_code,
        }
    )


def _price_series(rng, products_df: pd.DataFrame, until: date):
    """Weekly price/volume per product at its origin, with seasons, noise and injected 滞销."""
    weeks = pd.date_range(SERIES_START, until, freq="W-MON")
    t = np.arange(len(weeks))
    month = weeks.month.to_numpy()
    series, frames, episodes = [], [], []
    for p in products_df.itertuples():
        sid = len(series) + 1
        series.append(
            dict(id=sid, product_id=p.id, region_code=p.origin_code, market=f"{p.name}产地监测点", frequency="week")
        )
        season = np.isin(month, [int(x) for x in p.season_months.split(",")])
        phase = rng.uniform(0, 2 * np.pi)
        log_p = (
            np.log(p.reference_price)
            + 0.08 * np.sin(2 * np.pi * t / 52.18 + phase)
            - 0.06 * season
            + 0.0006 * t
            + np.cumsum(rng.normal(0, 0.008, len(t))) * 0.5
        )
        log_p += rng.normal(0, 0.025, len(t))
        vol = p.supply_volume / 52 * (1 + 1.2 * season) * np.exp(rng.normal(0, 0.12, len(t)))
        # Inject a 滞销 episode in about one series in five, in or near the selling season.
        if rng.random() < 0.22 and len(t) > 160:
            season_starts = np.flatnonzero(season[120:-8]) + 120
            onset = int(rng.choice(season_starts)) if len(season_starts) else int(rng.integers(120, len(t) - 8))
            kind = str(rng.choice(["fast_fall", "slow_decline", "volume_collapse"], p=[0.45, 0.35, 0.2]))
            length = {"fast_fall": 4, "slow_decline": 9, "volume_collapse": 5}[kind]
            worst = min(onset + length, len(t) - 1)
            depth = rng.uniform(0.3, 0.5)
            ramp = np.clip((t - onset) / max(1, worst - onset), 0, 1) * (t <= worst + 3)
            recover = np.clip(1 - (t - worst - 3) / 6, 0, 1) * (t > worst + 3)
            shape = ramp + recover
            if kind != "volume_collapse":
                log_p += np.log(1 - depth * shape)
            vol *= 1 - 0.6 * shape
            episodes.append(
                dict(
                    series_id=sid,
                    kind=kind,
                    onset_date=weeks[onset].date(),
                    worst_date=weeks[worst].date(),
                    end_date=weeks[min(worst + 9, len(t) - 1)].date(),
                )
            )
        keep = rng.random(len(t)) > 0.03  # a few missing weeks, as real monitoring has
        frames.append(
            pd.DataFrame(
                {
                    "series_id": sid,
                    "obs_date": weeks.date[keep],
                    "price": np.round(np.exp(log_p[keep]), 2),
                    "volume": np.round(vol[keep], 0),
                    "stock": None,
                }
            )
        )
    eps = pd.DataFrame(episodes, columns=["series_id", "kind", "onset_date", "worst_date", "end_date"])
    eps.insert(0, "id", np.arange(1, len(eps) + 1))
    return pd.DataFrame(series), pd.concat(frames, ignore_index=True), eps


def _report_batches(rng, units_df: pd.DataFrame, until: date) -> pd.DataFrame:
    """Monthly report batches (Datonghu: by the 29th), quarterly for Guangzhou; some late or missing."""
    rows = []
    months = pd.period_range(f"{FIRST_YEAR}-01", pd.Period(until, "M"), freq="M")
    for u in units_df.itertuples():
        quarterly = u.jurisdiction_code == GUANGZHOU
        reliability = rng.uniform(0.75, 1.0)
        for m in months:
            if quarterly and m.month % 3:
                continue
            if rng.random() > reliability:
                continue  # missing
            period = f"{m.year}-Q{(m.month - 1) // 3 + 1}" if quarterly else f"{m.year}-{m.month:02d}"
            due = (
                (m + 1).to_timestamp() + pd.Timedelta(days=14)
                if quarterly
                else m.to_timestamp() + pd.Timedelta(days=28)
            )
            at = due - pd.Timedelta(days=int(rng.integers(0, 12))) + pd.Timedelta(hours=int(rng.integers(8, 18)))
            if rng.random() < 0.12:
                at += pd.Timedelta(days=int(rng.integers(1, 20)))  # late
            if at.date() > until:
                continue
            h = hashlib.sha256(f"demo:{u.id}:{period}".encode()).hexdigest()
            rows.append(
                dict(
                    form="proofs",
                    unit_id=u.id,
                    period=period,
                    submitted_at=at.to_pydatetime(),
                    submitted_by="演示数据",
                    file_name=f"{period}消费扶贫证明材料.xlsx",
                    file_hash=h,
                    row_count=int(rng.integers(5, 80)),
                    status="committed",
                )
            )
    df = pd.DataFrame(rows)
    df.insert(0, "id", np.arange(1, len(df) + 1))
    return df


DEMO_TABLES = [
    "supervision_event",
    "supervision_item",
    "meeting",
    "purchase",
    "series_episode",
    "warning_action",
    "warning",
    "price_observation",
    "price_series",
    "benefit",
    "beneficiary",
    "report_batch",
    "unit_budget",
    "outlet_status_change",
    "outlet",
    "product",
    "supplier",
    "unit_alias",
    "buyer_unit",
]
# The registers: loaded from office files (``front_door``) or, for the large bench, bulk inserted.
REGISTER_TABLES = ["supplier", "product", "buyer_unit", "unit_budget", "outlet"]
INSERT_ORDER = [
    "supplier",
    "product",
    "buyer_unit",
    "unit_budget",
    "outlet",
    "outlet_status_change",
    "report_batch",
    "price_series",
    "price_observation",
    "series_episode",
    "beneficiary",
    "benefit",
]


@contextmanager
def _without_purchase_indexes(conn):
    """Drop the fact table's indexes (and on PostgreSQL its foreign keys) around a bulk load.

    Building them once over the loaded rows is far cheaper than maintaining them row by row.
    """
    indexes = list(s.purchase.indexes)
    fks = (
        [c for c in s.purchase.constraints if isinstance(c, ForeignKeyConstraint)]
        if conn.dialect.name == "postgresql"
        else []
    )
    for fk in fks:
        conn.execute(DropConstraint(fk))
    for ix in indexes:
        conn.execute(DropIndex(ix, if_exists=True))
    yield
    for ix in indexes:
        conn.execute(CreateIndex(ix))
    for fk in fks:
        conn.execute(AddConstraint(fk))


def _reset_sequences(conn) -> None:
    if conn.dialect.name != "postgresql":
        return
    for name in INSERT_ORDER + ["purchase", "warning", "warning_action"]:
        table = s.metadata.tables[name]
        if "id" in table.c:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
                )
            )


def generate_demo(
    engine: Engine,
    seed: int = DEFAULT_SEED,
    scale: int = DEFAULT_SCALE,
    until: date = DEFAULT_UNTIL,
    progress=None,
    *,
    front_door: bool = True,
) -> DemoSummary:
    """Replace the store's facts with the demo data set.

    With ``front_door`` (the default demo) the registers are written as office files and loaded by
    the 基础数据 imports, each file in its own transaction, then the facts are bulk loaded in one
    transaction. Without it (the large bench) everything is bulk loaded in one transaction."""
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if progress:
            progress(f"[{time.perf_counter() - t0:5.1f}s] {msg}")

    say("生成演示数据…")
    regions = _regions(engine)
    frames = build_demo_frames(regions, seed=seed, scale=scale, until=until)
    frames["beneficiary"] = _protected_beneficiaries(frames.pop("beneficiary_plain"))
    # The store numbers the batches (register imports take numbers too).
    frames["report_batch"] = frames["report_batch"].drop(columns=["id"])
    with engine.begin() as conn:
        for name in DEMO_TABLES:
            conn.execute(delete(s.metadata.tables[name]))
    remap = None
    if front_door:
        for form, name, data in demo_register_files(frames, regions, until):
            say(f"导入基础数据「{REGISTERS[form].title}」（{name}）")
            load_register_file(engine, form, name, data, today=max(date.today(), until))
        remap = _register_ids(engine, frames)
        _apply_ids(frames, remap)
        _outlet_status_since(engine, frames["outlet"], remap)
    with engine.begin() as conn:
        for name in INSERT_ORDER:
            if front_door and name in REGISTER_TABLES:
                continue
            say(f"写入 {name}（{len(frames[name]):,} 行）")
            bulk_insert(conn, s.metadata.tables[name], frames[name])
        n_purchases = 0
        with _without_purchase_indexes(conn):
            for chunk in purchase_chunks(frames):
                if remap is not None:
                    _apply_purchase_ids(chunk, remap)
                bulk_insert(conn, s.purchase, chunk)
                n_purchases += len(chunk)
                say(f"写入 purchase（累计 {n_purchases:,} / {scale:,} 行）")
            say("重建采购明细索引…")
        _reset_sequences(conn)
        say("重建采购汇总表…")
        rollup.rebuild(conn, progress=say)
        conn.execute(delete(s.store_meta).where(s.store_meta.c.key.like("demo_%")))
        conn.execute(
            s.store_meta.insert(),
            [
                dict(key="demo_seed", value=str(seed)),
                dict(key="demo_scale", value=str(scale)),
                dict(key="demo_until", value=until.isoformat()),
                dict(key="demo_generated_at", value=datetime.now().isoformat(timespec="seconds")),
            ],
        )
    if not front_door:
        for n, day in enumerate(meeting_days(until), start=1):
            add_meeting(engine, DEMO_DESK, day, meeting_title(n))
    say("运行滞销预警引擎并回放专班处置…")
    demo_warnings(engine, seed=seed, until=until)
    if engine.dialect.name == "postgresql":
        rollup.settle(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    _demo_ledger(engine, until)
    return DemoSummary(
        purchases=n_purchases,
        units=len(frames["buyer_unit"]),
        products=len(frames["product"]),
        outlets=len(frames["outlet"]),
        series=len(frames["price_series"]),
        observations=len(frames["price_observation"]),
        episodes=len(frames["series_episode"]),
        seconds=time.perf_counter() - t0,
    )


# The administrator the demo's registers are loaded as (checked and audited as any other import).
DEMO_ADMIN = Principal(username="demo-admin", role="admin", display_name="协作办管理员（演示）", demo=True)


class RegisterFile(NamedTuple):
    """One register as an office keeps it: the form, a file name, the file's bytes."""

    form: str
    name: str
    data: bytes


def load_register_file(engine: Engine, form: str, name: str, data: bytes, *, today: date | None = None):
    """Parse and commit one register file as ``DEMO_ADMIN``; a refused file raises with its first errors."""
    parsed = parse_upload(data, form, name, today)
    outcome = commit_register(engine, DEMO_ADMIN, parsed)
    if outcome.errors:
        shown = "；".join(e.message for e in outcome.errors[:5])
        raise RuntimeError(f"演示数据「{name}」未能导入：{outcome.message} {shown}")
    return outcome


_FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def _full_width(text: str) -> str:
    """Digits as some office software types them (full-width); the import reads them as plain digits."""
    return text.translate(_FULL_WIDTH)


def _number(v: float) -> str:
    """A number as a person writes it: no trailing zeros, no exponent."""
    return f"{v:.4f}".rstrip("0").rstrip(".")


def office_xlsx(title: str, headers: list[str], rows: list[list], *, sheet: str = "Sheet1") -> bytes:
    """An XLSX as an office makes one: a bold title merged across the columns, the header, the rows."""
    # Deferred: openpyxl (~0.2 s to import) is needed only when a demo is built, not on every start.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def office_csv(title: str, headers: list[str], rows: list[list]) -> bytes:
    """A CSV as Excel saves one on a Chinese Windows: GBK, a title line, the header, the rows.

    A name GBK cannot hold is written in GB 18030 (its superset; the import reads both)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([title] + [""] * (len(headers) - 1))
    writer.writerow(headers)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    text_ = buf.getvalue()
    try:
        return codecs.encode(text_, "gbk")
    except UnicodeEncodeError:
        return codecs.encode(text_, "gb18030")


def _place_names(regions: pd.DataFrame):
    """code → what an office writes for the place: its name where that name is unique, else the code."""
    counts = regions.name.value_counts()
    names = dict(zip(regions.code, regions.name, strict=True))

    def place(code: str) -> str:
        name = names.get(code)
        return name if name is not None and counts.get(name, 0) == 1 else code

    return place


def _unit_alias(name: str, taken: set[str]) -> str | None:
    """The short name an office uses for a city's bureau (珠海市教育局 → 珠海教育局), when it is free."""
    for _jcode, jname, *_ in JURISDICTIONS:
        if jname.endswith("市") and name.startswith(jname) and len(name) > len(jname) + 1:
            alias = jname[:-1] + name[len(jname) :]
            return alias if alias not in taken else None
    return None


def meeting_days(until: date) -> list[date]:
    """The demo's three joint meetings: on the 18th, seven, four and one month(s) before ``until``."""
    end = pd.Period(until, "M")
    return [(end - k).to_timestamp().date().replace(day=18) for k in (7, 4, 1)]


def meeting_title(n: int) -> str:
    """The title of the demo's ``n``-th joint meeting."""
    return f"消费帮扶工作联席会议第{n}次会议（演示）"


def demo_register_files(frames: dict, regions: pd.DataFrame, until: date) -> list[RegisterFile]:
    """The demo's registers as a 协作办 keeps them, in the order they are loaded.

    Mixed as real offices mix them: XLSX with a merged title row and GBK CSV; header synonyms
    (单位全称, 单位性质, 所属辖区…); places by name where the name is unique, by code otherwise;
    budgets in 万元 under the header or in the cell; every fifth row's digits full-width."""
    place = _place_names(regions)
    files: list[RegisterFile] = []

    units = frames["buyer_unit"]
    taken = set(units.name)
    unit_rows = []
    for i, u in enumerate(units.itertuples()):
        alias = _unit_alias(u.name, taken) if u.kind in ("budget_unit", "union") else None
        if alias:
            taken.add(alias)
        region = place(u.region_code)
        region = _full_width(region) if i % 5 == 4 else region
        unit_rows.append([u.name, labels.BUYER_KINDS[u.kind], region, place(u.jurisdiction_code), None, alias])
    files.append(
        RegisterFile(
            "units",
            "单位名录.xlsx",
            office_xlsx(
                f"消费帮扶责任单位名录（截至{until:%Y年%m月}）",
                ["单位全称", "单位性质", "所在区县", "所属辖区", "上级单位", "简称"],
                unit_rows,
                sheet="单位名录",
            ),
        )
    )

    name_of = units.set_index("id").name
    budget_rows = []
    for i, b in enumerate(frames["unit_budget"].itertuples()):
        fw = _full_width if i % 5 == 2 else str

        def money(v, unit: str = "", _fw=fw) -> str | None:
            return None if v is None or pd.isna(v) else _fw(_number(float(v))) + unit

        budget_rows.append(
            [
                name_of[b.unit_id],
                f"{b.year}年" if i % 3 == 0 else str(b.year),
                money(None if pd.isna(b.canteen_food_budget) else b.canteen_food_budget / 1e4),
                None if pd.isna(b.reserved_share) else fw(_number(b.reserved_share * 100)) + "%",
                money(b.reserved_amount),
                None if pd.isna(b.union_members) else fw(str(int(b.union_members))),
                money(b.gift_budget),
                money(b.welfare_budget),
                money(b.plan_amount / 1e4, "万元") if i % 2 else money(b.plan_amount),
            ]
        )
    files.append(
        RegisterFile(
            "budgets",
            "年度预算与预留份额.csv",
            office_csv(
                "各单位年度预算与预留份额汇总表",
                [
                    "单位名称",
                    "预算年度",
                    "食堂食材采购预算（万元）",
                    "预留份额比例",
                    "预留份额金额",
                    "会员人数",
                    "节日慰问经费",
                    "集体福利经费",
                    "年度采购计划",
                ],
                budget_rows,
            ),
        )
    )

    sup = frames["supplier"]
    files.append(
        RegisterFile(
            "suppliers",
            "供应商名录.csv",
            office_csv(
                "消费帮扶供应商名录",
                ["供应商名称", "所在县区", "主体类型"],
                [[r.name, place(r.region_code), SUPPLIER_KINDS[r.kind]] for r in sup.itertuples()],
            ),
        )
    )

    supplier_name = sup.set_index("id").name
    product_rows = []
    for i, p in enumerate(frames["product"].itertuples()):
        months = [int(m) for m in p.season_months.split(",")]
        season = "全年" if len(months) == 12 else "、".join(map(str, months)) + "月"
        volume = f"{_number(p.supply_volume / 1000)}吨" if i % 2 else f"{int(p.supply_volume)}公斤"
        product_rows.append(
            [
                p.name,
                labels.CATEGORIES[p.category],
                place(p.origin_code),
                supplier_name[p.supplier_id],
                season,
                volume,
                p.reference_price,
                p.certified_on.isoformat() if p.certified_on is not None and not pd.isna(p.certified_on) else None,
                labels.PRODUCT_STATUSES[p.status],
                int(p.beneficiaries),
            ]
        )
    files.append(
        RegisterFile(
            "products",
            "产品名库.xlsx",
            office_xlsx(
                "消费帮扶产品名库（认定目录）",
                ["品名", "产品类别", "产地", "供应商名称", "上市时间", "年供应量", "参考价格", "认定日期", "产品状态"]
                + ["带贫人数"],
                product_rows,
                sheet="产品名库",
            ),
        )
    )

    outlet_rows = [
        [
            o.name,
            labels.OUTLET_KINDS[o.kind],
            o.address,
            place(o.region_code),
            o.lng,
            o.lat,
            o.operator,
            o.opened_on.isoformat(),
            labels.OUTLET_STATUSES[o.status],
            o.status_reason if isinstance(o.status_reason, str) else None,
        ]
        for o in frames["outlet"].itertuples()
    ]
    files.append(
        RegisterFile(
            "outlets",
            "五专网点名录.xlsx",
            office_xlsx(
                "消费帮扶专柜、专馆、专区名录",
                ["网点名称", "网点类型", "详细地址", "所在区县", "经度", "纬度", "运营主体", "开设日期", "运营状态"]
                + ["状态说明"],
                outlet_rows,
                sheet="网点名录",
            ),
        )
    )

    helpers = {j[0] for j in JURISDICTIONS}
    pairing_rows = [
        [place(h), place(d), labels.PAIRING_KINDS[k], f"{y}年"] for h, d, k, y, _source in PAIRINGS if h in helpers
    ]
    files.append(
        RegisterFile(
            "pairings",
            "结对关系.csv",
            office_csv("东西部协作与对口帮扶结对关系", ["帮扶方", "受援地区", "结对类型", "起始年份"], pairing_rows),
        )
    )

    meeting_rows = [
        [f"{day.year}年{day.month}月{day.day}日", meeting_title(n), "通报各单位消费帮扶进度，部署下一阶段工作"]
        for n, day in enumerate(meeting_days(until), start=1)
    ]
    files.append(
        RegisterFile(
            "meetings",
            "联席会议.xlsx",
            office_xlsx("消费帮扶工作联席会议记录", ["会议日期", "会议名称", "会议议题"], meeting_rows),
        )
    )
    return files


def _register_ids(engine: Engine, frames: dict) -> dict[str, np.ndarray]:
    """The generator's ids → the store's ids, per register (the imports number the rows)."""
    with engine.connect() as conn:
        unit_id = {_norm(n): i for i, n in conn.execute(select(s.buyer_unit.c.id, s.buyer_unit.c.name))}
        supplier_id = {_norm(n): i for i, n in conn.execute(select(s.supplier.c.id, s.supplier.c.name))}
        product_id = {
            (_norm(n), o): i
            for i, n, o in conn.execute(select(s.product.c.id, s.product.c.name, s.product.c.origin_code))
        }
        outlet_id = {_norm(n): i for i, n in conn.execute(select(s.outlet.c.id, s.outlet.c.name))}

    def table(df: pd.DataFrame, key) -> np.ndarray:
        out = np.zeros(int(df.id.max()) + 1, dtype=np.int64)
        out[df.id.to_numpy()] = [key(r) for r in df.itertuples()]
        return out

    return {
        "unit": table(frames["buyer_unit"], lambda r: unit_id[_norm(r.name)]),
        "supplier": table(frames["supplier"], lambda r: supplier_id[_norm(r.name)]),
        "product": table(frames["product"], lambda r: product_id[(_norm(r.name), r.origin_code)]),
        "outlet": table(frames["outlet"], lambda r: outlet_id[_norm(r.name)]),
    }


def _apply_ids(frames: dict, ids: dict[str, np.ndarray]) -> None:
    """The facts' references to registers, as the store numbered the registers."""
    frames["price_series"]["product_id"] = ids["product"][frames["price_series"].product_id.to_numpy()]
    frames["report_batch"]["unit_id"] = ids["unit"][frames["report_batch"].unit_id.to_numpy()]
    frames["benefit"]["unit_id"] = ids["unit"][frames["benefit"].unit_id.to_numpy()]
    frames["benefit"]["product_id"] = ids["product"][frames["benefit"].product_id.to_numpy()]
    history = frames["outlet_status_change"]
    history["outlet_id"] = ids["outlet"][history.outlet_id.to_numpy()]
    # The import reads text as offices type it (full-width punctuation to half-width): the history says the same.
    history["reason"] = history["reason"].map(lambda t: unicodedata.normalize("NFKC", t))


def _outlet_status_since(engine: Engine, outlets: pd.DataFrame, ids: dict[str, np.ndarray]) -> None:
    """The date each outlet's current status began (the register file has no such column): from its history."""
    since = outlets[outlets.status_since.notna()]
    if since.empty:
        return
    o = s.outlet
    rows = [{"oid": int(ids["outlet"][i]), "since": d} for i, d in zip(since.id, since.status_since, strict=True)]
    with engine.begin() as conn:
        conn.execute(update(o).where(o.c.id == bindparam("oid")).values(status_since=bindparam("since")), rows)


def _apply_purchase_ids(chunk: pd.DataFrame, ids: dict[str, np.ndarray]) -> None:
    chunk["buyer_unit_id"] = ids["unit"][chunk.buyer_unit_id.to_numpy()]
    chunk["supplier_id"] = ids["supplier"][chunk.supplier_id.to_numpy()]
    chunk["product_id"] = ids["product"][chunk.product_id.to_numpy()]
    outlet = chunk.outlet_id
    known = outlet.notna()
    chunk["outlet_id"] = pd.array(
        np.where(known, ids["outlet"][outlet.fillna(0).to_numpy(dtype=np.int64)], 0), dtype="Int64"
    )
    chunk.loc[~known, "outlet_id"] = pd.NA


def demo_warnings(engine: Engine, seed: int = DEFAULT_SEED, until: date = DEFAULT_UNTIL) -> int:
    """Warnings from the engine over the demo series, and a replayed desk history for them.

    Each warning is created the morning after its first alert; most that ended more than six
    weeks before ``until`` were acknowledged, assigned, absorbed by paired units and closed,
    recent ones are at every stage. Returns the number of warnings.
    """
    refresh_warnings(engine, DEMO_DESK, now=datetime.combine(until, datetime.min.time()), backdate=True)
    rng = np.random.default_rng(seed + 404)
    with engine.connect() as conn:
        warnings = conn.execute(
            select(
                s.warning.c.id,
                s.warning.c.region_code,
                s.warning.c.last_date,
                s.warning.c.created_at,
                s.product.c.supply_volume,
            )
            .join(s.product, s.product.c.id == s.warning.c.product_id)
            .order_by(s.warning.c.id)
        ).all()
        units = frame(
            conn.execute(select(s.buyer_unit.c.id, s.buyer_unit.c.jurisdiction_code).order_by(s.buyer_unit.c.id)).all(),
            columns=["id", "jurisdiction_code"],
        )
        pairs = conn.execute(select(s.pairing.c.helper_code, s.pairing.c.helped_code)).all()
    end = datetime.combine(until, datetime.min.time()).replace(hour=18)
    for w in warnings:
        helpers = {h for h, helped in pairs if w.region_code.startswith(region_prefix(helped))}
        paired = units[units.jurisdiction_code.isin(helpers)].id.tolist() or units.id.tolist()
        ended = pd.Timestamp(w.last_date).date() < until - pd.Timedelta(weeks=6)
        r = rng.random()
        stage = 3 if ended and r < 0.7 else 2 if r < 0.35 else 1 if r < 0.7 else 0
        at = pd.Timestamp(w.created_at).to_pydatetime()
        version = 1
        steps = []
        if stage >= 1:
            steps += [
                ("acknowledge", {}),
                ("assign", dict(owner_group=str(rng.choice(["distribution", "cooperation"])))),
            ]
        if stage >= 2:
            for _ in range(int(rng.integers(1, 4))):
                volume = round(float(w.supply_volume or 50_000) / 52 * float(rng.uniform(0.2, 0.8)), 0)
                steps.append(
                    (
                        "absorb",
                        dict(
                            absorbed_volume=volume,
                            buyer_unit_id=int(rng.choice(paired)),
                            note="组织结对单位食堂与工会集中采购",
                        ),
                    )
                )
        if stage == 3:
            steps.append(("close", dict(note="价格与销量回到季节常态，消纳完成")))
        for action, kwargs in steps:
            at += pd.Timedelta(hours=int(rng.integers(4, 72))).to_pytimedelta()
            if action == "close":
                at = max(
                    at,
                    datetime.combine(pd.Timestamp(w.last_date).date(), datetime.min.time())
                    + pd.Timedelta(days=int(rng.integers(7, 21))).to_pytimedelta(),
                )
            if at > end:
                break
            version = apply_action(engine, DEMO_DESK, w.id, version, action, now=at, **kwargs)
    return len(warnings)


# The desk officer the demo's replayed history is written as (a desk: its writes are checked as any other).
DEMO_DESK = Principal(username="demo-desk", role="desk", display_name="流通销售渠道专班值班员（演示）", demo=True)
LEDGER_ACTIONS = [
    ("in_progress", "已函告单位，限期整改", 45),
    ("closed", "已整改到位，销号", 0),
    (None, "已约谈，延期一个月", 30),
]


def _demo_ledger(engine: Engine, until: date) -> None:
    """The ledger synced on the last of the three joint meetings before ``until`` (the desks then act
    on some items, deterministically by item id) and again on ``until``."""
    last = meeting_days(until)[-1]
    sync_ledger(engine, DEMO_DESK, last, now=datetime.combine(last, datetime.min.time()).replace(hour=9))
    for item in ledger_items(engine, last).itertuples():
        pick = item.id % 5
        if pick < len(LEDGER_ACTIONS):
            status, note, days = LEDGER_ACTIONS[pick]
            acted = last + pd.Timedelta(days=int(item.id % 9) + 1).to_pytimedelta()
            officer = replace(DEMO_DESK, username=f"demo-{item.owner_group}", display_name=f"演示：{item.owner_name}")
            update_item(
                engine,
                officer,
                item.id,
                item.version,
                acted,
                status=status,
                note=note,
                due_date=item.due_date + pd.Timedelta(days=days).to_pytimedelta() if days else None,
                now=datetime.combine(acted, datetime.min.time()).replace(hour=16),
            )
    sync_ledger(engine, DEMO_DESK, until, now=datetime.combine(until, datetime.min.time()).replace(hour=9))


def prepare_store(engine: Engine, *, demo_if_empty: bool = True) -> bool:
    """Make a usable store: schema current and reference data in, and the demo data when it is empty
    and ``demo_if_empty``. Returns True when demo data was generated now."""
    ensure_store(engine)
    if demo_if_empty and store_is_empty(engine):
        init_store(engine)
        generate_demo(engine)
        return True
    return False
