"""the supplier and pairing registers: a supplier's credit code, 带贫人数 and row version; a pairing's
end year and row version

Revision ID: registers_0002
Revises: registers_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "registers_0002"
down_revision = "registers_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE … ADD COLUMN on both backends (see registers_0001).
    op.add_column(
        "supplier",
        sa.Column(
            "credit_code", sa.String(length=18), nullable=True, comment="统一社会信用代码（GB 32100，校验位已核验）"
        ),
    )
    op.add_column("supplier", sa.Column("beneficiaries", sa.Integer(), nullable=True, comment="带贫人数"))
    op.add_column(
        "supplier", sa.Column("version", sa.Integer(), nullable=False, server_default="1", comment="每次修改加一")
    )
    op.create_index("ix_supplier_credit_code", "supplier", ["credit_code"], unique=True)
    op.add_column("pairing", sa.Column("until_year", sa.Integer(), nullable=True, comment="终止年度（空：仍在结对）"))
    op.add_column(
        "pairing", sa.Column("version", sa.Integer(), nullable=False, server_default="1", comment="每次修改加一")
    )


def downgrade() -> None:
    for column in ("version", "until_year"):
        op.drop_column("pairing", column)
    op.drop_index("ix_supplier_credit_code", table_name="supplier")
    for column in ("version", "beneficiaries", "credit_code"):
        op.drop_column("supplier", column)
