"""the outlet register: where an outlet's position came from (given, or its county's centre) and a row version

Revision ID: registers_0003
Revises: registers_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "registers_0003"
down_revision = "registers_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "outlet",
        sa.Column(
            "coord_source", sa.String(length=16), nullable=True, comment="given 登记的经纬度 | county 位置为区县中心"
        ),
    )
    op.add_column(
        "outlet", sa.Column("version", sa.Integer(), nullable=False, server_default="1", comment="每次修改加一")
    )


def downgrade() -> None:
    for column in ("version", "coord_source"):
        op.drop_column("outlet", column)
