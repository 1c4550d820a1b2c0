"""reversible merges of duplicate units and products: the merge record, and a product's merged_into

Revision ID: registers_0006
Revises: registers_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "registers_0006"
down_revision = "registers_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_merge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="unit 单位 | product 产品"),
        sa.Column("from_id", sa.Integer(), nullable=False, comment="被合并（停用）的单位或产品"),
        sa.Column("into_id", sa.Integer(), nullable=False, comment="保留的单位或产品"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moved", sa.Text(), nullable=False, comment="移动的行：表.列 → 主键列表（JSON），撤销时按此移回"),
        sa.Column("merged_by", sa.String(length=64), nullable=False),
        sa.Column("merged_at", sa.DateTime(), nullable=False),
        sa.Column("undone_by", sa.String(length=64), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_merge")),
    )
    op.create_index("ix_register_merge_kind_from", "register_merge", ["kind", "from_id"], unique=False)
    op.add_column(
        "product",
        sa.Column(
            "merged_into",
            sa.Integer(),
            nullable=True,
            comment="已合并到的产品 id（重复产品合并后，导入按名称找到的是合并后的产品）",
        ),
    )


def downgrade() -> None:
    op.drop_column("product", "merged_into")
    op.drop_index("ix_register_merge_kind_from", table_name="register_merge")
    op.drop_table("register_merge")
