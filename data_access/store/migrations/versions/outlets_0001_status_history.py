"""outlet status history (动态退出): the date the current status holds from, and every change with its reason

Revision ID: outlets_0001
Revises: registers_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "outlets_0001"
down_revision = "registers_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outlet", sa.Column("status_since", sa.Date(), nullable=True, comment="当前状态的生效日期"))
    op.create_table(
        "outlet_status_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("outlet_id", sa.Integer(), sa.ForeignKey("outlet.id"), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, comment="变更原因"),
        sa.Column("effective_on", sa.Date(), nullable=False, comment="生效日期"),
        sa.Column("changed_by", sa.String(length=64), nullable=False, comment="操作人"),
        sa.Column("changed_at", sa.DateTime(), nullable=False, comment="记录时间"),
    )
    op.create_index("ix_outlet_status_change_outlet", "outlet_status_change", ["outlet_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_outlet_status_change_outlet", table_name="outlet_status_change")
    op.drop_table("outlet_status_change")
    op.drop_column("outlet", "status_since")
