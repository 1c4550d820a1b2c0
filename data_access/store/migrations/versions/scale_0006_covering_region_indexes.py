"""the rollups' indexes by origin county (and the buyer rollup's by buyer region) cover their rows

A region drill reads a few thousand to tens of thousands of rows of a monthly rollup through its
(origin_code, month) index. Through a plain index each row is a visit to a heap page of its month,
scattered over the table; from a cold disk that was ~3,000 page reads (~270 ms) for the largest
county's year in the full rollup at 10M purchases. An index that carries the row's other columns
answers the same read from ~400 consecutive index pages (index-only scan; ~16 ms cold).
PostgreSQL keeps the other columns as INCLUDE columns; SQLite, which has no INCLUDE, as trailing
key columns (it uses any index holding every column it needs as a covering index).

Revision ID: scale_0006
Revises: scale_0005
"""

from alembic import op

revision = "scale_0006"
down_revision = "scale_0005"
branch_labels = None
depends_on = None

MEASURES = ["amount", "quantity", "n"]
# (rollup, its key columns in primary-key order, the index's leading columns) — as
# data_access.store.schema, frozen here.
INDEXES = [
    (
        "purchase_rollup",
        ["month", "buyer_unit_id", "origin_code", "channel", "purpose", "category"],
        ["origin_code", "month"],
    ),
    (
        "purchase_rollup_origin",
        ["month", "origin_code", "channel", "purpose", "category", "buyer_kind"],
        ["origin_code", "month"],
    ),
    (
        "purchase_rollup_buyer",
        ["month", "buyer_region_code", "buyer_kind", "channel", "purpose", "category"],
        ["buyer_region_code", "month"],
    ),
    ("purchase_rollup_unit_origin", ["month", "buyer_unit_id", "origin_code"], ["origin_code", "month"]),
    ("purchase_rollup_product", ["month", "product_id", "origin_code", "channel", "purpose"], ["origin_code", "month"]),
    ("purchase_rollup_outlet_origin", ["month", "outlet_id", "origin_code"], ["origin_code", "month"]),
]


def _name(table: str, lead: list[str]) -> str:
    return f"ix_{table}_{'_'.join(lead)}"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, dims, lead in INDEXES:
        rest = [d for d in dims if d not in lead] + MEASURES
        op.drop_index(_name(table, lead), table_name=table)
        if postgres:
            op.create_index(_name(table, lead), table, lead, postgresql_include=rest)
        else:
            op.create_index(_name(table, lead), table, lead + rest)


def downgrade() -> None:
    for table, _dims, lead in reversed(INDEXES):
        op.drop_index(_name(table, lead), table_name=table)
        op.create_index(_name(table, lead), table, lead)
