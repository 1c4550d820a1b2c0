"""the policy rule register: a row version on policy_rule (a rule changed in the app is not reset by init)

Revision ID: registers_0005
Revises: registers_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "registers_0005"
down_revision = "registers_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "policy_rule",
        sa.Column(
            "version",
            sa.Integer(),
            nullable=False,
            server_default="1",
            comment="每次修改加一；大于1即在系统中改过，初始化不再按种子覆盖",
        ),
    )


def downgrade() -> None:
    op.drop_column("policy_rule", "version")
