"""the product catalogue register: cost price, certification batch or document number, row version

Revision ID: registers_0004
Revises: registers_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "registers_0004"
down_revision = "registers_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("product", sa.Column("cost_price", sa.Float(), nullable=True, comment="成本价（元/单位）"))
    op.add_column(
        "product", sa.Column("certification_no", sa.String(length=64), nullable=True, comment="认定批次或文号")
    )
    op.add_column(
        "product", sa.Column("version", sa.Integer(), nullable=False, server_default="1", comment="每次修改加一")
    )


def downgrade() -> None:
    for column in ("version", "certification_no", "cost_price"):
        op.drop_column("product", column)
