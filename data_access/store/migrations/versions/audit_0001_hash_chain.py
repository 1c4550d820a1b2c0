"""audit log hash chain (prev_hash, row_hash) and append-only triggers

Existing rows are chained in id order. UPDATE is refused on ``audit_log``; DELETE only inside a
purge (PostgreSQL: ``SET LOCAL bangfu.audit_purge = 'on'``; SQLite: ``store_meta.audit_purge``
= 'on' in the purge's transaction). A DBA with DDL rights can still drop the triggers and edit
rows by hand — ``python -m data_access audit verify`` detects that.

Revision ID: audit_0001
Revises: prices_0001
"""

import sqlalchemy as sa
from alembic import op

from data_access.store.audit_chain import chain_existing

revision = "audit_0001"
down_revision = "prices_0001"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('bangfu.audit_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused (审计日志只能追加)', TG_OP;
END
$$
"""

SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused (审计日志只能追加)'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    WHEN coalesce((SELECT value FROM store_meta WHERE key = 'audit_purge'), 'off') <> 'on'
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused (审计日志只能追加)'); END""",
]


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True, comment="上一条的哈希"))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True, comment="本条哈希"))
    bind = op.get_bind()
    chain_existing(bind)
    if bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.execute("DELETE FROM store_meta WHERE key IN ('audit_head', 'audit_anchor', 'audit_purge')")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
