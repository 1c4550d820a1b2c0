"""small purchase rollups (by county, by outlet) and by unit × purpose × origin city, filled from the facts

Revision ID: scale_0002
Revises: scale_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "scale_0002"
down_revision = "scale_0001"
branch_labels = None
depends_on = None

# (table, dimensions, the SELECT list that computes them from purchase) — frozen here.
ROLLUPS = [
    ("purchase_rollup_county", ["month", "origin_code"], "month, origin_code"),
    ("purchase_rollup_outlet_month", ["month", "outlet_id"], "month, COALESCE(outlet_id, 0)"),
    (
        "purchase_rollup_outlet",
        ["month", "outlet_id", "channel", "origin_city"],
        "month, COALESCE(outlet_id, 0), channel, substr(origin_code, 1, 4)",
    ),
    (
        "purchase_rollup_unit_city",
        ["month", "buyer_unit_id", "purpose", "origin_city"],
        "month, buyer_unit_id, purpose, substr(origin_code, 1, 4)",
    ),
]
INTEGER_DIMS = {"month", "buyer_unit_id", "outlet_id"}


def upgrade() -> None:
    for name, dims, select_list in ROLLUPS:
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
        # Filled now, so the store's rollup watermark stays true for every rollup.
        op.execute(
            f"INSERT INTO {name} ({', '.join(dims)}, amount, quantity, n) "
            f"SELECT {select_list}, SUM(amount), SUM(quantity), COUNT(*) FROM purchase "
            f"GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))}"
        )
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"ANALYZE {name}")


def downgrade() -> None:
    for name, _dims, _select in reversed(ROLLUPS):
        op.execute(f"DROP TABLE IF EXISTS {name}")
