"""督办台账: meetings, supervision items and their append-only history

Revision ID: ledger_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ledger_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False, comment="联席会议召开日期"),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
        sa.UniqueConstraint("held_on", name=op.f("uq_meeting_held_on")),
    )
    op.create_table(
        "supervision_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("owner_group", sa.String(length=32), nullable=False, comment="责任专班"),
        sa.Column("due_date", sa.Date(), nullable=False, comment="办结时限"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_reason", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_group"], ["task_group.code"], name=op.f("fk_supervision_item_owner_group_task_group")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_item")),
        sa.UniqueConstraint("source_kind", "source_key", name=op.f("uq_supervision_item_source_kind_source_key")),
    )
    op.create_index("ix_supervision_item_owner_status", "supervision_item", ["owner_group", "status"])
    op.create_index("ix_supervision_item_due_date", "supervision_item", ["due_date"])
    op.create_index("ix_supervision_item_opened_on", "supervision_item", ["opened_on"])
    op.create_index("ix_supervision_item_closed_on", "supervision_item", ["closed_on"])
    op.create_table(
        "supervision_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["supervision_item.id"], name=op.f("fk_supervision_event_item_id_supervision_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_event")),
    )
    op.create_index(op.f("ix_supervision_event_item_id"), "supervision_event", ["item_id"])


def downgrade() -> None:
    op.drop_table("supervision_event")
    op.drop_table("supervision_item")
    op.drop_table("meeting")
