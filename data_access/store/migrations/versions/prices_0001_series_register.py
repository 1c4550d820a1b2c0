"""the price series register: a series' source unit, source and last receipt; re-reported prices kept

Revision ID: prices_0001
Revises: outlets_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "prices_0001"
down_revision = "outlets_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "price_series",
        sa.Column("source_unit", sa.String(length=16), nullable=True, comment="报送时的价格单位，如 元/斤"),
    )
    op.add_column("price_series", sa.Column("source", sa.String(length=64), nullable=True, comment="来源"))
    op.add_column(
        "price_series", sa.Column("received_at", sa.DateTime(), nullable=True, comment="最近一次收到数据的时间")
    )
    op.create_table(
        "price_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_date", sa.Date(), nullable=False),
        sa.Column("old_price", sa.Float(), nullable=False, comment="元/kg"),
        sa.Column("new_price", sa.Float(), nullable=False, comment="元/kg"),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"], ["price_series.id"], name=op.f("fk_price_revision_series_id_price_series")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["report_batch.id"], name=op.f("fk_price_revision_batch_id_report_batch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_revision")),
    )
    op.create_index("ix_price_revision_series_id", "price_revision", ["series_id", "obs_date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_price_revision_series_id", table_name="price_revision")
    op.drop_table("price_revision")
    op.drop_column("price_series", "received_at")
    op.drop_column("price_series", "source")
    op.drop_column("price_series", "source_unit")
