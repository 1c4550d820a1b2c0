"""rollups by buyer kind × channel × purpose × category, alone and by origin province, and by
outlet × origin county; cumulative (year-to-date) twins of the first and of the buyer, unit,
unit × origin city, unit × origin province and product rollups; a covering index for the
reporting rules

Revision ID: scale_0005
Revises: scale_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "scale_0005"
down_revision = "scale_0004"
branch_labels = None
depends_on = None

# Cumulative twins: (table, dimensions, the monthly rollup it is carried forward from) — as
# data_access.store.schema, frozen here.
KIND_DIMS = ["month", "buyer_kind", "channel", "purpose", "category"]
ROLLUPS = [
    ("purchase_rollup_kind_ytd", KIND_DIMS, "purchase_rollup_kind"),
    (
        "purchase_rollup_buyer_ytd",
        ["month", "buyer_region_code", "buyer_kind", "channel", "purpose", "category"],
        "purchase_rollup_buyer",
    ),
    ("purchase_rollup_unit_ytd", ["month", "buyer_unit_id", "channel", "purpose"], "purchase_rollup_unit"),
    (
        "purchase_rollup_unit_city_ytd",
        ["month", "buyer_unit_id", "purpose", "origin_city"],
        "purchase_rollup_unit_city",
    ),
    (
        "purchase_rollup_unit_province_ytd",
        ["month", "buyer_unit_id", "channel", "purpose", "origin_province"],
        "purchase_rollup_unit_province",
    ),
    (
        "purchase_rollup_product_ytd",
        ["month", "product_id", "origin_code", "channel", "purpose"],
        "purchase_rollup_product",
    ),
]
INTEGER_DIMS = {"month", "buyer_unit_id", "product_id", "outlet_id"}
MONTHS = " UNION ALL ".join(f"SELECT {m} AS m" for m in range(1, 13))


def _create(name: str, dims: list[str]) -> None:
    op.create_table(
        name,
        *(
            sa.Column(
                d, sa.Integer() if d in INTEGER_DIMS else sa.String(length=24), nullable=False, autoincrement=False
            )
            for d in dims
        ),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False, comment="金额合计（元）"),
        sa.Column("quantity", sa.Float(), nullable=True, comment="数量合计"),
        sa.Column("n", sa.Integer(), nullable=False, comment="采购笔数"),
        sa.PrimaryKeyConstraint(*dims, name=f"pk_{name}"),
    )


def upgrade() -> None:
    # Filled now (from the rollups already there, as current as they are), so the store's rollup
    # watermark stays true for every rollup.
    _create("purchase_rollup_kind", KIND_DIMS)
    keys = ", ".join(KIND_DIMS)
    op.execute(
        f"INSERT INTO purchase_rollup_kind ({keys}, amount, quantity, n) "
        f"SELECT {keys}, SUM(amount), SUM(quantity), SUM(n) FROM purchase_rollup_buyer "
        f"GROUP BY {keys} ORDER BY {keys}"
    )
    province_dims = ["month", "origin_province", "buyer_kind", "channel", "purpose", "category"]
    _create("purchase_rollup_kind_province", province_dims)
    op.execute(
        f"INSERT INTO purchase_rollup_kind_province ({', '.join(province_dims)}, amount, quantity, n) "
        "SELECT month, substr(origin_code, 1, 2), buyer_kind, channel, purpose, category, SUM(amount), "
        "SUM(quantity), SUM(n) FROM purchase_rollup_origin GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6"
    )
    _create("purchase_rollup_outlet_origin", ["month", "outlet_id", "origin_code"])
    op.execute(
        "INSERT INTO purchase_rollup_outlet_origin (month, outlet_id, origin_code, amount, quantity, n) "
        "SELECT month, COALESCE(outlet_id, 0), origin_code, SUM(amount), SUM(quantity), COUNT(*) "
        "FROM purchase GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    op.create_index(
        "ix_purchase_rollup_outlet_origin_origin_code_month", "purchase_rollup_outlet_origin", ["origin_code", "month"]
    )
    if op.get_bind().dialect.name == "postgresql":
        for name in ("purchase_rollup_kind", "purchase_rollup_kind_province", "purchase_rollup_outlet_origin"):
            op.execute(f"ANALYZE {name}")
    for name, dims, base in ROLLUPS:
        _create(name, dims)
        # Each month's sums of the monthly twin carried into every later month of its year up to
        # the last month the twin holds in that year, in key order so that one month's rows sit
        # together on disk.
        rest = [d for d in dims if d != "month"]
        keys = ", ".join(f"b.{d}" for d in rest)
        op.execute(
            f"INSERT INTO {name} ({', '.join(dims)}, amount, quantity, n) "
            f"SELECT b.month - b.month % 100 + k.m, {keys}, SUM(b.amount), SUM(b.quantity), SUM(b.n) "
            f"FROM {base} b "
            f"JOIN (SELECT month - month % 100 AS y, MAX(month) % 100 AS last FROM {base} "
            f"GROUP BY month - month % 100) e ON e.y = b.month - b.month % 100 "
            f"JOIN ({MONTHS}) k ON k.m >= b.month % 100 AND k.m <= e.last "
            f"GROUP BY b.month - b.month % 100 + k.m, {keys} "
            f"ORDER BY {', '.join(str(i + 1) for i in range(len(dims)))}"
        )
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"ANALYZE {name}")
    op.create_index("ix_report_batch_unit_period", "report_batch", ["unit_id", "period", "status", "submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_report_batch_unit_period", table_name="report_batch")
    for name, _dims, _base in reversed(ROLLUPS):
        op.drop_table(name)
    op.drop_index("ix_purchase_rollup_outlet_origin_origin_code_month", table_name="purchase_rollup_outlet_origin")
    op.drop_table("purchase_rollup_outlet_origin")
    op.drop_table("purchase_rollup_kind_province")
    op.drop_table("purchase_rollup_kind")
