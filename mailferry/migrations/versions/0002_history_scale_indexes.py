"""Sync History at scale (`mailferry bench history`: one user's 20,000 rows among
2,000,000): indexes for the columns that were sorted in memory, and on SQLite for
searching one user's rows.

Both databases: `(user_id, status, <column>, id)` for direction, reason and attempts, like
the other history sort indexes (0001), so every sortable column walks an index.

SQLite only (named in `autogenerate_filter.HAND_WRITTEN_INDEXES`: models cannot declare an
index for one database):

- `ix_messages_user_search` `(user_id, status, search_text)` and
  `ix_unmatched_addresses_user_search` `(user_id, search_text)`. The FTS5 trigram index
  answers a term for the whole table, so a term common across all users (a big
  customer's domain in 5% of two million rows) made SQLite collect 100,000 row ids before
  keeping the user's 50: about a second. `search_text LIKE '%term%'` on these indexes
  reads just that user's tab, never the table: a few milliseconds.
Both databases, written by hand (expression indexes; named in
`autogenerate_filter.HAND_WRITTEN_INDEXES`): `ix_messages_history_to_cc`
`(user_id, status, substr(to_cc, 1, 128), id)` and `ix_unmatched_addresses_last_subject`
`(user_id, substr(last_subject, 1, 128), id)`. Those columns are unbounded texts (a
hostile To line may be 100,000 characters, more than a btree entry holds), so the tabs
sort on their first 128 characters, like `subject_sort`, and the index gives that order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORT_INDEXES = ("direction", "reason", "attempts")
SQLITE_INDEXES = (
    ("ix_messages_user_search", "messages", "user_id, status, search_text"),
    ("ix_unmatched_addresses_user_search", "unmatched_addresses", "user_id, search_text"),
)
#: The same text as `mailferry.history` sorts on, so the index gives the order.
EXPRESSION_INDEXES = (
    ("ix_messages_history_to_cc", "messages", "user_id, status, substr(to_cc, 1, 128), id"),
    ("ix_unmatched_addresses_last_subject", "unmatched_addresses", "user_id, substr(last_subject, 1, 128), id"),
)


def upgrade() -> None:
    for column in SORT_INDEXES:
        op.create_index(f"ix_messages_history_{column}", "messages", ["user_id", "status", column, "id"])
    for name, table, columns in EXPRESSION_INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
    if op.get_bind().dialect.name == "sqlite":
        for name, table, columns in SQLITE_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
        _analyze_if_analyzed([f"ix_messages_history_{c}" for c in SORT_INDEXES]
                             + [n for n, _, _ in SQLITE_INDEXES + EXPRESSION_INDEXES])


def _analyze_if_analyzed(names: list[str]) -> None:
    """In a database someone has ANALYZEd, SQLite takes an index without statistics for a
    very selective one and picks these new indexes for every per-user query (then sorts:
    50 ms instead of 2 ms at scale). Give them statistics too; a database never analyzed
    stays so (SQLite's defaults then choose the index that gives the order)."""
    if op.get_bind().execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
        for name in names:
            op.execute(f"ANALYZE {name}")


def downgrade() -> None:
    for name, _, _ in SQLITE_INDEXES + EXPRESSION_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for column in reversed(SORT_INDEXES):
        op.drop_index(f"ix_messages_history_{column}", table_name="messages")
