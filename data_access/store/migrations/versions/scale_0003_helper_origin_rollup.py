"""purchase rollup by helper jurisdiction × origin county (pairing flows), filled from the facts

Revision ID: scale_0003
Revises: scale_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "scale_0003"
down_revision = "scale_0002"
branch_labels = None
depends_on = None

NAME = "purchase_rollup_helper_origin"
DIMS = ["month", "buyer_jurisdiction", "origin_code"]


def upgrade() -> None:
    op.create_table(
        NAME,
        sa.Column("month", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("buyer_jurisdiction", sa.String(length=24), nullable=False),
        sa.Column("origin_code", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False, comment="金额合计（元）"),
        sa.Column("quantity", sa.Float(), nullable=True, comment="数量合计"),
        sa.Column("n", sa.Integer(), nullable=False, comment="采购笔数"),
        sa.PrimaryKeyConstraint(*DIMS, name=f"pk_{NAME}"),
    )
    # Filled now, so the store's rollup watermark stays true for every rollup.
    op.execute(
        f"INSERT INTO {NAME} ({', '.join(DIMS)}, amount, quantity, n) "
        "SELECT p.month, u.jurisdiction_code, p.origin_code, SUM(p.amount), SUM(p.quantity), COUNT(*) "
        "FROM purchase p JOIN buyer_unit u ON u.id = p.buyer_unit_id GROUP BY 1, 2, 3"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ANALYZE {NAME}")


def downgrade() -> None:
    op.drop_table(NAME)
