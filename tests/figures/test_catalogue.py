"""产品名库: every catalogue figure recomputed with plain SQL, on both backends."""

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import text

from data_access.figures.catalogue import (
    product_catalogue,
    product_detail,
    product_monthly_amounts,
    product_outlets,
    product_series,
    product_warnings,
    season_by_category,
    season_calendar,
    season_list,
)
from data_access.query.filters import Filters

YEAR = Filters(start=date(2026, 1, 1), end=date(2026, 10, 31))


def test_whole_catalogue_matches_the_product_table(demo_engine):
    cat = product_catalogue(demo_engine, YEAR)
    with demo_engine.connect() as conn:
        n, people, certified = conn.execute(
            text("SELECT COUNT(*), SUM(beneficiaries), SUM(CASE WHEN certified THEN 1 ELSE 0 END) FROM product")
        ).one()
        spent = dict(
            conn.execute(
                text(
                    "SELECT product_id, SUM(amount) FROM purchase WHERE "
                    "purchase_date BETWEEN :s AND :e GROUP BY product_id"
                ),
                {"s": YEAR.start, "e": YEAR.end},
            ).all()
        )
    assert len(cat) == n
    assert cat.beneficiaries.sum() == people
    assert cat.certified.sum() == certified
    by_id = cat.set_index("id").amount
    for pid, amount in list(spent.items())[:50]:
        assert by_id[pid] == pytest.approx(float(amount), abs=0.01)
    assert cat.amount.is_monotonic_decreasing
    assert cat.season.str.len().eq(12).all()


@pytest.mark.parametrize(
    "kwargs, sql",
    [
        (dict(statuses=("exit_proposed", "exited")), "status IN ('exit_proposed', 'exited')"),
        (dict(certified=True), "certified"),
        (dict(certified=False), "NOT certified"),
    ],
)
def test_status_and_certification_filters(demo_engine, kwargs, sql):
    cat = product_catalogue(demo_engine, YEAR, **kwargs)
    with demo_engine.connect() as conn:
        ids = {r[0] for r in conn.execute(text(f"SELECT id FROM product WHERE {sql}"))}
    assert set(cat.id) == ids and ids


def test_category_region_and_season_filters(demo_engine):
    f = Filters(start=YEAR.start, end=YEAR.end, region_code="520000", categories=("fruit", "tea_drink"))
    cat = product_catalogue(demo_engine, f, in_season=4)
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, season_months FROM product WHERE origin_code LIKE '52%' "
                "AND category IN ('fruit', 'tea_drink')"
            )
        ).all()
    expected = {pid for pid, months in rows if 4 in season_list(months)}
    assert set(cat.id) == expected and expected
    assert cat.season.str[3].eq("■").all()


def test_search_matches_product_origin_or_supplier_and_treats_wildcards_as_text(demo_engine):
    cat = product_catalogue(demo_engine, YEAR, search="茶")
    assert len(cat)
    assert (
        cat.name.str.contains("茶")
        | cat.origin_name.str.contains("茶")
        | cat.supplier_name.fillna("").str.contains("茶")
    ).all()
    county = cat.origin_name.iloc[0]
    assert (product_catalogue(demo_engine, YEAR, search=county).origin_name == county).any()
    assert product_catalogue(demo_engine, YEAR, search="%").empty
    assert product_catalogue(demo_engine, YEAR, search="'; DROP TABLE product; --").empty
    assert len(product_catalogue(demo_engine, YEAR)) > 0


def test_sort_keys(demo_engine):
    cat = product_catalogue(demo_engine, YEAR, sort="beneficiaries")
    assert cat.beneficiaries.is_monotonic_decreasing
    assert product_catalogue(demo_engine, YEAR, sort="no_such_key").amount.is_monotonic_decreasing


def test_latest_price_is_the_newest_observation(demo_engine):
    cat = product_catalogue(demo_engine, YEAR).set_index("id")
    pid = int(cat.index[0])
    series = product_series(demo_engine, pid)
    last = series[series.obs_date == series.obs_date.max()]
    assert cat.at[pid, "latest_price"] == pytest.approx(last.price.mean(), abs=0.01)
    assert series.obs_date.is_monotonic_increasing


def test_product_detail_series_warnings_and_purchases(demo_engine):
    with demo_engine.connect() as conn:
        pid, name, months = conn.execute(text("SELECT id, name, season_months FROM product ORDER BY id")).first()
        n_obs = conn.execute(
            text(
                "SELECT COUNT(*) FROM price_observation o JOIN price_series s ON s.id = o.series_id "
                "WHERE s.product_id = :p"
            ),
            {"p": pid},
        ).scalar()
        n_warn = conn.execute(text("SELECT COUNT(*) FROM warning WHERE product_id = :p"), {"p": pid}).scalar()
        spent = conn.execute(
            text(
                "SELECT COALESCE(SUM(amount), 0) FROM purchase WHERE product_id = :p "
                "AND purchase_date BETWEEN :s AND :e"
            ),
            {"p": pid, "s": YEAR.start, "e": YEAR.end},
        ).scalar()
    detail = product_detail(demo_engine, pid)
    assert detail["name"] == name and detail["season"] == season_list(months)
    assert len(product_series(demo_engine, pid)) == n_obs > 0
    assert len(product_series(demo_engine, pid, since=date(2026, 1, 1))) < n_obs
    assert len(product_warnings(demo_engine, pid)) == n_warn
    assert product_monthly_amounts(demo_engine, YEAR, pid).amount.sum() == pytest.approx(float(spent), abs=0.01)
    assert product_detail(demo_engine, 10**9) is None


def test_season_calendar_and_counts():
    assert season_calendar("11,12,1") == "■□□□□□□□□□■■"
    assert season_calendar(None) == "□" * 12
    assert season_list("6, 7,x,13,8") == [6, 7, 8]
    cat = pd.DataFrame({"category": ["fruit", "fruit", "tea_drink"], "season_months": ["6,7", "7", "3"]})
    counts = season_by_category(cat).set_index(["category", "month"]).products
    assert counts[("fruit", 7)] == 2 and counts[("fruit", 6)] == 1 and counts[("tea_drink", 3)] == 1
    assert counts.sum() == 4 and len(counts) == 24


def test_product_outlets_are_the_outlets_that_sold_it_with_their_status(demo_engine):
    with demo_engine.connect() as conn:
        product_id, n = conn.execute(
            text(
                "SELECT p.product_id, COUNT(DISTINCT p.outlet_id) FROM purchase p JOIN outlet o ON o.id = p.outlet_id "
                "WHERE p.purchase_date BETWEEN :s AND :e AND o.status = 'exit_proposed' "
                "GROUP BY p.product_id ORDER BY 2 DESC, 1 LIMIT 1"
            ),
            {"s": YEAR.start, "e": YEAR.end},
        ).one()
        want = {
            r[0]: (float(r[1]), r[2], r[3], r[4], r[5])
            for r in conn.execute(
                text(
                    "SELECT p.outlet_id, SUM(p.amount), COUNT(*), o.status, o.status_reason, o.status_since "
                    "FROM purchase p JOIN outlet o ON o.id = p.outlet_id WHERE p.product_id = :p "
                    "AND p.purchase_date BETWEEN :s AND :e GROUP BY p.outlet_id, o.status, o.status_reason, "
                    "o.status_since"
                ),
                {"p": product_id, "s": YEAR.start, "e": YEAR.end},
            ).all()
        }
    sold = product_outlets(demo_engine, YEAR, product_id)
    assert n > 0 and len(sold) == len(want) and sold.sales_yuan.is_monotonic_decreasing
    for r in sold.itertuples():
        amount, purchases, status, reason, since = want[r.id]
        assert r.sales_yuan == pytest.approx(amount) and r.purchases == purchases and r.status == status
    leaving = sold[sold.status == "exit_proposed"].iloc[0]
    _, _, _, reason, since = want[leaving.id]
    # 拟退出 with its date and reason, as the map and the ledger say it.
    assert leaving.status_text == f"拟退出（{str(since)[:10]}起：{reason}）"
    assert product_outlets(demo_engine, YEAR, -1).empty
