import io
import unicodedata

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select, text

from data_access.desks.ingest import REGISTERS, parse_upload
from data_access.reference.seeds import region_rows
from data_access.store.schema import audit_log, purchase, report_batch, series_episode, unit_alias, unit_budget
from data_access.tools.demo import (
    DEFAULT_UNTIL,
    _regions,
    build_demo_frames,
    demo_purchases,
    demo_register_files,
    purchase_chunks,
)
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


def test_demo_registers_are_office_files(regions):
    frames = build_demo_frames(regions, seed=4, scale=2000)
    files = demo_register_files(frames, regions, DEFAULT_UNTIL)
    assert [f.form for f in files] == ["units", "budgets", "suppliers", "products", "outlets", "pairings", "meetings"]
    expected_rows = {
        "units": len(frames["buyer_unit"]),
        "budgets": len(frames["unit_budget"]),
        "suppliers": len(frames["supplier"]),
        "products": len(frames["product"]),
        "outlets": len(frames["outlet"]),
        "meetings": 3,
    }
    for f in files:
        if f.name.endswith(".xlsx"):
            ws = openpyxl.load_workbook(io.BytesIO(f.data)).active
            assert any(str(r).startswith("A1:") for r in ws.merged_cells.ranges), f.name  # the title row
        else:
            f.data.decode("gbk")  # as Excel saves a CSV on a Chinese Windows
        parsed = parse_upload(f.data, f.form, f.name, DEFAULT_UNTIL)
        assert parsed.ok and parsed.header_row == 2, (f.name, [e.message for e in parsed.errors[:3]])
        if f.form in expected_rows:
            assert len(parsed.rows) == expected_rows[f.form], f.name
    budgets = next(f for f in files if f.form == "budgets")
    assert "万元" in budgets.data.decode("gbk") and "０" in budgets.data.decode("gbk")


def test_demo_registers_came_in_through_the_front_door(demo_engine):
    with demo_engine.connect() as conn:
        forms = dict(
            conn.execute(
                select(report_batch.c.form, func.count())
                .where(report_batch.c.form.in_(list(REGISTERS)))
                .group_by(report_batch.c.form)
            ).all()
        )
        audited = conn.execute(
            select(func.count()).where(audit_log.c.username == "demo-admin", audit_log.c.action == "register_change")
        ).scalar()
        aliases = conn.execute(select(func.count()).select_from(unit_alias)).scalar()
    # Every register but the rules (the seeds' rules come with init) came as one office file.
    assert forms == {form: 1 for form in REGISTERS if form != "rules"}
    assert audited >= 6 and aliases > 0


def test_demo_store_holds_what_the_generator_made(demo_engine):
    """The imports number the registers; every fact still points at the unit, product and outlet it was made for."""
    with demo_engine.connect() as conn:
        scale = int(conn.execute(text("SELECT value FROM store_meta WHERE key = 'demo_scale'")).scalar())
    frames = build_demo_frames(_regions(demo_engine), scale=scale)
    p = demo_purchases(frames)
    unit_name = frames["buyer_unit"].set_index("id").name
    product = frames["product"].set_index("id")
    outlet_name = frames["outlet"].set_index("id").name.map(_nfkc)
    with demo_engine.connect() as conn:
        by_unit = dict(
            conn.execute(
                text(
                    "SELECT u.name, SUM(p.amount) FROM purchase p JOIN buyer_unit u ON u.id = p.buyer_unit_id"
                    " GROUP BY u.name"
                )
            ).all()
        )
        by_product = {
            (n, o): float(a)
            for n, o, a in conn.execute(
                text(
                    "SELECT r.name, r.origin_code, SUM(p.amount) FROM purchase p JOIN product r ON r.id = p.product_id"
                    " GROUP BY r.name, r.origin_code"
                )
            )
        }
        by_outlet = dict(
            conn.execute(
                text("SELECT o.name, SUM(p.amount) FROM purchase p JOIN outlet o ON o.id = p.outlet_id GROUP BY o.name")
            ).all()
        )
        plans = {
            (n, y): float(a)
            for n, y, a in conn.execute(
                text("SELECT u.name, b.year, b.plan_amount FROM unit_budget b JOIN buyer_unit u ON u.id = b.unit_id")
            )
        }
    expected = p.groupby(p.buyer_unit_id.map(unit_name)).amount.sum()
    assert {n: float(a) for n, a in by_unit.items()} == pytest.approx(expected.to_dict())
    expected = p.groupby([p.product_id.map(product.name), p.product_id.map(product.origin_code)]).amount.sum()
    assert by_product == pytest.approx(expected.to_dict())
    expected = p[p.outlet_id.notna()].groupby(p.outlet_id.dropna().astype(int).map(outlet_name)).amount.sum()
    assert {n: float(a) for n, a in by_outlet.items()} == pytest.approx(expected.to_dict())
    b = frames["unit_budget"]
    assert plans == pytest.approx(
        dict(zip(zip(b.unit_id.map(unit_name), b.year, strict=True), b.plan_amount, strict=True))
    )


def _nfkc(name: str) -> str:
    return unicodedata.normalize("NFKC", name)
