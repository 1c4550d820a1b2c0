from sqlalchemy import func, inspect, select

from data_access.reference.setup import init_store, schema_is_current
from data_access.store.config import describe_url, normalise_url
from data_access.store.schema import metadata, policy_rule, region


def _counts(engine):
    with engine.connect() as conn:
        return {
            t: conn.execute(select(func.count()).select_from(metadata.tables[t])).scalar()
            for t in ("region", "policy_rule", "pairing", "task_group")
        }


def test_init_creates_every_table_and_is_idempotent(fresh_engine):
    init_store(fresh_engine)
    first = _counts(fresh_engine)
    init_store(fresh_engine)
    assert _counts(fresh_engine) == first
    assert schema_is_current(fresh_engine)
    tables = set(inspect(fresh_engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_every_page_filter_has_an_index(fresh_engine):
    init_store(fresh_engine)
    indexed = {tuple(ix["column_names"]) for ix in inspect(fresh_engine).get_indexes("purchase")}
    for cols in [("month", "channel"), ("buyer_unit_id", "month"), ("origin_code", "month"), ("purchase_date",)]:
        assert cols in indexed


def test_url_shown_to_users_never_carries_the_password():
    shown = describe_url("postgresql+psycopg://bangfu:s3cret@db.example.internal:5433/bangfu")
    assert "s3cret" not in shown and "db.example.internal:5433" in shown
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"


def test_rules_and_regions_survive_a_second_init(fresh_engine):
    init_store(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(policy_rule.update().where(policy_rule.c.code == "zh_reserve_share").values(threshold=0.99))
    init_store(fresh_engine)
    with fresh_engine.connect() as conn:
        assert (
            conn.execute(select(policy_rule.c.threshold).where(policy_rule.c.code == "zh_reserve_share")).scalar()
            == 0.30
        )
        assert conn.execute(select(func.count()).select_from(region)).scalar() > 3400
