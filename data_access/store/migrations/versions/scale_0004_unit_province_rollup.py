"""purchase rollup by unit × channel × purpose × origin province (rule evaluation drilled to a province)

Revision ID: scale_0004
Revises: scale_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "scale_0004"
down_revision = "scale_0003"
branch_labels = None
depends_on = None

NAME = "purchase_rollup_unit_province"
DIMS = ["month", "buyer_unit_id", "channel", "purpose", "origin_province"]


def upgrade() -> None:
    op.create_table(
        NAME,
        sa.Column("month", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("buyer_unit_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("origin_province", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False, comment="金额合计（元）"),
        sa.Column("quantity", sa.Float(), nullable=True, comment="数量合计"),
        sa.Column("n", sa.Integer(), nullable=False, comment="采购笔数"),
        sa.PrimaryKeyConstraint(*DIMS, name=f"pk_{NAME}"),
    )
    # Filled now, so the store's rollup watermark stays true for every rollup.
    op.execute(
        f"INSERT INTO {NAME} ({', '.join(DIMS)}, amount, quantity, n) "
        "SELECT month, buyer_unit_id, channel, purpose, substr(origin_code, 1, 2), "
        "SUM(amount), SUM(quantity), COUNT(*) FROM purchase GROUP BY 1, 2, 3, 4, 5"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ANALYZE {NAME}")


def downgrade() -> None:
    op.drop_table(NAME)
