"""purchase rollups (汇总表) at several monthly grains

Revision ID: scale_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "scale_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

# (table, dimensions, extra indexes) — the same as data_access.store.schema, frozen here.
ROLLUPS = [
    (
        "purchase_rollup",
        ["month", "buyer_unit_id", "origin_code", "channel", "purpose", "category"],
        [["buyer_unit_id", "month"], ["origin_code", "month"]],
    ),
    (
        "purchase_rollup_origin",
        ["month", "origin_code", "channel", "purpose", "category", "buyer_kind"],
        [["origin_code", "month"]],
    ),
    (
        "purchase_rollup_buyer",
        ["month", "buyer_region_code", "buyer_kind", "channel", "purpose", "category"],
        [["buyer_region_code", "month"]],
    ),
    ("purchase_rollup_unit", ["month", "buyer_unit_id", "channel", "purpose"], [["buyer_unit_id", "month"]]),
    (
        "purchase_rollup_unit_origin",
        ["month", "buyer_unit_id", "origin_code"],
        [["origin_code", "month"], ["buyer_unit_id", "month"]],
    ),
    (
        "purchase_rollup_product",
        ["month", "product_id", "origin_code", "channel", "purpose"],
        [["product_id", "month"], ["origin_code", "month"]],
    ),
]
INTEGER_DIMS = {"month", "buyer_unit_id", "product_id"}


def upgrade() -> None:
    for name, dims, indexes in ROLLUPS:
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
        for cols in indexes:
            op.create_index(f"ix_{name}_{'_'.join(cols)}", name, cols)


def downgrade() -> None:
    for name, _dims, indexes in reversed(ROLLUPS):
        for cols in indexes:
            op.drop_index(f"ix_{name}_{'_'.join(cols)}", table_name=name)
        op.drop_table(name)
