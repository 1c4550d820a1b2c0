"""the unit register: credit code, active flag and row version on buyer_unit, unit aliases, a row
version on unit_budget

Revision ID: registers_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "registers_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE … ADD COLUMN on both backends: a SQLite batch (copy and rename) would have to
    # drop buyer_unit under the foreign keys of every purchase.
    op.add_column(
        "buyer_unit",
        sa.Column(
            "credit_code", sa.String(length=18), nullable=True, comment="统一社会信用代码（GB 32100，校验位已核验）"
        ),
    )
    op.add_column(
        "buyer_unit",
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true(), comment="停用而不删除"),
    )
    op.add_column(
        "buyer_unit",
        sa.Column(
            "version", sa.Integer(), nullable=False, server_default="1", comment="每次修改加一（防止覆盖他人修改）"
        ),
    )
    op.create_index("ix_buyer_unit_credit_code", "buyer_unit", ["credit_code"], unique=True)
    op.add_column(
        "unit_budget",
        sa.Column("version", sa.Integer(), nullable=False, server_default="1", comment="每次修改加一"),
    )
    op.create_table(
        "unit_alias",
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["buyer_unit.id"], name=op.f("fk_unit_alias_unit_id_buyer_unit")),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_unit_alias")),
    )
    op.create_index(op.f("ix_unit_alias_unit_id"), "unit_alias", ["unit_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_unit_alias_unit_id"), table_name="unit_alias")
    op.drop_table("unit_alias")
    op.drop_column("unit_budget", "version")
    op.drop_index("ix_buyer_unit_credit_code", table_name="buyer_unit")
    for column in ("version", "active", "credit_code"):
        op.drop_column("buyer_unit", column)
