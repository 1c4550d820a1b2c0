import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access.reference.seeds import region_rows
from data_access.store.schema import purchase, series_episode, unit_budget
from data_access.tools.demo import build_demo_frames, demo_purchases, purchase_chunks
from data_access.trust.personal import id_number_valid


@pytest.fixture(scope="module")
def regions():
    return pd.DataFrame(region_rows())


def test_same_seed_same_data(regions):
    a = build_demo_frames(regions, seed=7, scale=3000)
    b = build_demo_frames(regions, seed=7, scale=3000)
    c = build_demo_frames(regions, seed=8, scale=3000)
    for name in a:
        if isinstance(a[name], pd.DataFrame):
            pd.testing.assert_frame_equal(a[name], b[name])
    pa, pb, pc = demo_purchases(a), demo_purchases(b), demo_purchases(c)
    pd.testing.assert_frame_equal(pa, pb)
    assert not pa.amount.equals(pc.amount)
    assert len(pa) == 3000


def test_chunks_bound_memory_and_keep_ids_running(regions):
    frames = build_demo_frames(regions, seed=5, scale=4000)
    chunks = list(purchase_chunks(frames, chunk_rows=1000))
    assert len(chunks) >= 4 and max(len(c) for c in chunks) < 1500
    ids = pd.concat([c.id for c in chunks])
    assert ids.tolist() == list(range(1, 4001))


def test_demo_is_built_on_the_seeds(regions):
    frames = build_demo_frames(regions, seed=1, scale=5000)
    p = demo_purchases(frames)
    assert set(p.channel) >= {"p832", "hall", "zone", "counter", "canteen", "fair", "ecommerce"}
    assert p.purchase_date.min() <= pd.Timestamp("2023-01-31") and p.purchase_date.dt.year.nunique() >= 3
    # Zhuhai buys from Zunyi, Mainling and Wushan; the Datonghu management zone is an origin too.
    origins = set(p.origin_code)
    assert any(o.startswith("5203") for o in origins) and "540481" in origins and "500237" in origins
    units = frames["buyer_unit"]
    assert set(units.kind) == {"budget_unit", "union", "state_firm", "private_firm", "social_org"}
    assert frames["series_episode"].shape[0] > 0
    assert (p.amount > 0).all()


def test_demo_beneficiaries_have_valid_fictional_ids(regions):
    frames = build_demo_frames(regions, seed=3, scale=2000)
    b = frames["beneficiary_plain"]
    assert len(b) > 0 and b.id_number.map(id_number_valid).all()
    assert b.name.str.contains("演示").all()


def test_demo_in_store(demo_engine):
    with demo_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(purchase)).scalar() == 20_000
        assert conn.execute(select(func.count()).select_from(unit_budget)).scalar() > 100
        assert conn.execute(select(func.count()).select_from(series_episode)).scalar() > 0
