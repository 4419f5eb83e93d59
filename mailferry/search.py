"""Search across the Sync History: the SQL condition that finds rows by partial terms.

Messages and unmatched addresses carry a lower-cased `search_text` (subject, addresses,
names). The initial migration indexes it for substring search on each database:

- PostgreSQL: a pg_trgm GIN index, which serves ``search_text LIKE '%term%'``.
- SQLite: an FTS5 table with the trigram tokenizer (``<table>_search``, kept in sync by
  triggers), queried with a quoted phrase, which matches any substring of 3+ characters.
  Trigrams cannot serve shorter terms, so those fall back to LIKE on the rows the other
  conditions (user, tab) already narrowed down.

A query is split on whitespace; a row must contain every term. User input is always
bound as a parameter and escaped, so quotes, backslashes, % and _ match themselves.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, column, literal, select, table, true

from mailferry.models import Message, UnmatchedAddress

SEARCHABLE = (Message, UnmatchedAddress)
#: Shortest term the SQLite trigram index can look up.
TRIGRAM_LENGTH = 3


def search_terms(query: str) -> list[str]:
    """The lower-cased terms of a search box entry."""
    return query.lower().split()


def search_condition(
    model: type[Message] | type[UnmatchedAddress], query: str, dialect_name: str,
    within_user: bool = False,
) -> ColumnElement[bool]:
    """A WHERE condition matching rows of `model` that contain every term of `query`.

    `dialect_name` is the session's database (``session.get_bind().dialect.name``).
    An empty query matches everything.

    `within_user=True` when the query is already narrowed to one user (the Sync History):
    the terms are then matched on that user's rows only, never through the whole table's
    trigram/FTS index, which answers for every user at once: a term common across the
    table (a big customer's domain in 5% of two million rows) cost about a second on
    SQLite and 50 ms on PostgreSQL intersecting 80,000 matches with the user's 8,000 rows,
    where reading the user's rows costs 3-25 ms (`mailferry bench history`). On SQLite the
    user's search text is read from the per-user indexes of migration 0002.
    """
    if model not in SEARCHABLE:
        raise ValueError(f"{model.__name__} has no search index")
    use_fts = not within_user
    conditions = [_term_condition(model, term, dialect_name, use_fts) for term in search_terms(query)]
    return and_(true(), *conditions)


def _term_condition(model, term: str, dialect_name: str, use_fts: bool = True) -> ColumnElement[bool]:
    if not use_fts and dialect_name == "postgresql":
        # `search_text || ''` is not what the trigram index covers, so PostgreSQL reads the
        # user's index range and filters it, instead of a bitmap of every user's matches.
        text = model.search_text.op("||")(literal(""))
        return text.like(f"%{_escape_like(term)}%", escape="\\")
    if dialect_name == "sqlite" and use_fts and len(term) >= TRIGRAM_LENGTH:
        index = table(f"{model.__tablename__}_search", column("rowid"), column("search_text"))
        phrase = '"' + term.replace('"', '""') + '"'
        matching_rows = select(index.c.rowid).where(index.c.search_text.op("MATCH")(phrase))
        return model.id.in_(matching_rows)
    return model.search_text.like(f"%{_escape_like(term)}%", escape="\\")


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
