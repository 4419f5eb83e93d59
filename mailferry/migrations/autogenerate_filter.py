"""What Alembic autogenerate compares: the models, minus the hand-written search objects.

The initial migration creates search structures that are not models: SQLite FTS5 tables
(plus the shadow tables FTS5 makes for them) and PostgreSQL trigram indexes; 0002 adds
Sync History indexes that models cannot declare (SQLite-only and expression indexes).
Autogenerate must neither drop them nor report them as differences; env.py and the schema
tests both use `include_object` from here.
"""

from __future__ import annotations

SEARCH_TABLE_PREFIXES = ("messages_search", "unmatched_addresses_search")
SEARCH_INDEXES = frozenset({"ix_messages_search_trgm", "ix_unmatched_addresses_search_trgm"})
#: Sync History indexes of migration 0002 that models cannot declare: SQLite-only ones and
#: expression indexes.
HAND_WRITTEN_INDEXES = frozenset({
    "ix_messages_user_search", "ix_unmatched_addresses_user_search",
    "ix_messages_history_to_cc", "ix_unmatched_addresses_last_subject",
})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table" and name and name.startswith(SEARCH_TABLE_PREFIXES):
        return False
    if type_ == "index" and (name in SEARCH_INDEXES or name in HAND_WRITTEN_INDEXES):
        return False
    return True
