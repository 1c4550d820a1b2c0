"""上线准备 on both stores: an initialised store holds only what init loads (the seeds' pairings and
rules), so everything an office must load is 缺失; registers loaded through the front door show up
with their counts and N of M; on the demo store every count equals a plain SQL count."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from data_access.desks.imports import commit_upload
from data_access.desks.ingest import parse_upload
from data_access.figures.overview import data_as_of
from data_access.figures.readiness import COMPLETE, MISSING, NEEDS, PARTIAL, missing, readiness
from data_access.reference.setup import init_store
from data_access.trust import auth
from pages import registry
from tests import ingest_corpus as corpus
from tests.desks.test_registers import (
    BUDGETS,
    MEETINGS,
    OUTLETS,
    PRODUCTS,
    SUPPLIERS,
    _csv_gbk,
    budgets_gbk,
    load,
    units_xlsx,
)
from tests.principals import ADMIN

YEAR = 2026


@pytest.fixture
def store(fresh_engine):
    init_store(fresh_engine)
    return fresh_engine


def _by_key(engine, year: int = YEAR) -> dict[str, dict]:
    return {i["key"]: i for i in readiness(engine, year)}


def test_an_initialised_store_is_missing_everything_an_office_loads(store):
    items = _by_key(store)
    assert list(items) == [n.key for n in NEEDS]
    loaded_by_init = {"pairings", "rules"}
    assert {k for k, i in items.items() if i["status"] == MISSING} == set(items) - loaded_by_init
    assert all(i["count"] == 0 for k, i in items.items() if k not in loaded_by_init)
    assert items["budgets"]["detail"] == "尚无在册的预算单位或工会：先导入单位名录"
    assert items["prices"]["detail"] == "未监测任何价格序列" and items["prices"]["load_page"] == "reporting"
    assert items["rules"]["count"] == 13 and "尚无在册单位可评价" in items["rules"]["detail"]
    assert missing(store, YEAR) == {k: k not in loaded_by_init for k in items}


def test_every_item_names_real_pages_and_a_way_to_load_it(store):
    for item in readiness(store, YEAR):
        assert set(item["pages"]) <= set(registry.BY_URL), item["key"]
        assert item["load_page"] in (None, *registry.BY_URL) and item["how"], item["key"]


def test_registers_loaded_through_the_front_door_are_counted(store):
    load(store, "units", units_xlsx(), "单位名录.xlsx")
    items = _by_key(store)
    assert items["units"]["status"] == COMPLETE and items["units"]["count"] == 4
    # Four budget units and unions, none with this year's budget yet; three under a rule in force:
    # the fourth names 益阳市 as its 帮扶辖区, and no rule of the seeds covers 益阳市 (大通湖区's do not).
    assert items["budgets"]["status"] == MISSING and items["budgets"]["covered"] == (0, 4)
    assert items["rules"]["status"] == PARTIAL and items["rules"]["covered"] == (3, 4)

    load(store, "budgets", budgets_gbk(BUDGETS), "预算.csv")
    items = _by_key(store)
    assert items["budgets"]["status"] == PARTIAL and items["budgets"]["covered"] == (3, 4)
    assert items["budgets"]["detail"].startswith("2026年已填报 3 / 4 个")
    assert _by_key(store, YEAR + 1)["budgets"]["covered"] == (0, 4)  # next year's budgets are not this year's

    load(store, "suppliers", _csv_gbk(SUPPLIERS), "suppliers.csv")
    load(store, "products", _csv_gbk(PRODUCTS), "products.csv")
    load(store, "outlets", _csv_gbk(OUTLETS), "outlets.csv")
    load(store, "meetings", _csv_gbk(MEETINGS), "meetings.csv")
    items = _by_key(store)
    assert [items[k]["count"] for k in ("suppliers", "products", "outlets", "meetings")] == [2, 2, 2, 2]
    assert all(items[k]["status"] == COMPLETE for k in ("suppliers", "products", "outlets", "meetings"))
    assert "运营 1，暂停 1" in items["outlets"]["detail"] and "2026-06-18" in items["meetings"]["detail"]
    assert items["purchases"]["status"] == MISSING and items["users"]["status"] == MISSING

    row = corpus._ledger_row(交易日期="2026-03-05", 采购单位="珠海一中", 凭证号="RD1")
    result = parse_upload(corpus.csv_bytes([corpus.LEDGER_HEADER, row]), "purchases", "ledger.csv", date(2026, 6, 30))
    assert commit_upload(store, result, principal=ADMIN).committed
    auth.add_user(store, ADMIN, "admin1", "pass-for-tests-1", "admin")
    items = _by_key(store)
    assert items["purchases"]["count"] == 1 and items["purchases"]["covered"] == (1, 4)
    assert items["purchases"]["status"] == PARTIAL  # three units have reported nothing this year
    assert _by_key(store, 2025)["purchases"]["status"] == MISSING
    assert items["users"]["status"] == COMPLETE and items["users"]["detail"] == "启用 管理员 1"


def _sql(engine, statement: str, **params) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(statement), params).scalar())


def test_demo_store_counts_equal_plain_sql(demo_engine):
    year = data_as_of(demo_engine).year
    items = _by_key(demo_engine, year)
    active = "SELECT count(*) FROM buyer_unit WHERE active"
    assert items["units"]["count"] == _sql(demo_engine, active)
    subjects = _sql(demo_engine, active + " AND kind IN ('budget_unit', 'union')")
    budgeted = _sql(
        demo_engine,
        "SELECT count(DISTINCT b.unit_id) FROM unit_budget b JOIN buyer_unit u ON u.id = b.unit_id "
        "WHERE b.year = :y AND u.active AND u.kind IN ('budget_unit', 'union')",
        y=year,
    )
    assert items["budgets"]["covered"] == (budgeted, subjects) and subjects > 0
    assert items["suppliers"]["count"] == _sql(demo_engine, "SELECT count(*) FROM supplier")
    assert items["outlets"]["count"] == _sql(demo_engine, "SELECT count(*) FROM outlet WHERE status <> 'exited'")
    assert items["products"]["count"] == _sql(demo_engine, "SELECT count(*) FROM product WHERE status <> 'exited'")
    assert items["prices"]["count"] == _sql(demo_engine, "SELECT count(*) FROM price_series") > 0
    in_force = "(year_from IS NULL OR year_from <= :y) AND (year_to IS NULL OR year_to >= :y)"
    assert items["rules"]["count"] == _sql(demo_engine, f"SELECT count(*) FROM policy_rule WHERE {in_force}", y=year)
    pairs = _sql(
        demo_engine,
        "SELECT count(*) FROM pairing WHERE (since_year IS NULL OR since_year <= :y) "
        "AND (until_year IS NULL OR until_year >= :y)",
        y=year,
    )
    assert items["pairings"]["count"] == pairs
    assert items["meetings"]["count"] == _sql(demo_engine, "SELECT count(*) FROM meeting")
    bounds = dict(lo=year * 100 + 1, hi=year * 100 + 12)
    assert items["purchases"]["count"] == _sql(
        demo_engine, "SELECT count(*) FROM purchase WHERE month BETWEEN :lo AND :hi", **bounds
    )
    buyers = _sql(
        demo_engine, "SELECT count(DISTINCT buyer_unit_id) FROM purchase WHERE month BETWEEN :lo AND :hi", **bounds
    )
    assert items["purchases"]["covered"] == (buyers, items["units"]["count"])
    assert all(i["status"] != MISSING for k, i in items.items() if k != "users")
