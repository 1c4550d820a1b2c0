"""accounts: password age and history, server-side sessions, TOTP second factor

Revision ID: auth_0001
Revises: audit_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "auth_0001"
down_revision = "audit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("password_changed_at", sa.DateTime(), nullable=True, comment="密码最近修改时间（到期须更换）")
        )
        batch.add_column(
            sa.Column(
                "must_change_password",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="下次登录须修改密码",
            )
        )
        batch.add_column(sa.Column("totp_secret", sa.Text(), nullable=True, comment="动态口令密钥（加密保存）"))
        batch.add_column(
            sa.Column(
                "totp_last_step", sa.BigInteger(), nullable=True, comment="最近一次已用动态口令的时间步（防重放）"
            )
        )
    # Existing passwords count as set now: nobody is forced to change on the day of the upgrade.
    op.execute(sa.text("UPDATE app_user SET password_changed_at = CURRENT_TIMESTAMP"))
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_password_history_user_id_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_password_history"),
    )
    op.create_index("ix_password_history_user_id", "password_history", ["user_id"])
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column(
            "end_reason", sa.String(length=16), nullable=True, comment="logout | idle | lifetime | admin | disabled"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_session"),
        sa.UniqueConstraint("token_hash", name="uq_user_session_token_hash"),
    )
    op.create_index("ix_user_session_username", "user_session", ["username"])


def downgrade() -> None:
    op.drop_index("ix_user_session_username", table_name="user_session")
    op.drop_table("user_session")
    op.drop_index("ix_password_history_user_id", table_name="password_history")
    op.drop_table("password_history")
    op.execute(sa.text("DELETE FROM store_meta WHERE key = 'setup_token'"))
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
        batch.drop_column("must_change_password")
        batch.drop_column("password_changed_at")
