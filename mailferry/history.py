"""The Sync History as queries (SPEC section 5): its tabs, their counts, one page of a tab,
and the rows of a tab for a CSV export. Pure database reads, no web framework, so the web
app, the add-in's task pane and the benchmark all run the same queries.

Every function takes the user's id and reads only that user's rows.

Paging is by offset (``page`` in the URL), not by keyset. A tab holds one user's rows of
the retention window (30 days: thousands, tens of thousands at most), and every sortable
column has an index led by (user, tab) and ended by ``id`` (`docs/database.md`), so even
the last page walks one bounded index range. In exchange, pages have numbers people can
share and bookmark, "page 3" survives rows leaving the list, and the URL stays readable.
``id`` breaks ties in the same direction as the sort, so no row appears on two pages.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, func, literal, literal_column, select, type_coerce, union_all
from sqlalchemy.orm import Session, defer, selectinload

from mailferry.addresses import comparison_key
from mailferry.models import Message, UnmatchedAddress
from mailferry.search import search_condition

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: Longest search box entry taken into account (a pasted essay must not become a query).
MAX_QUERY_LENGTH = 200
#: Participants of one email looked at for Ignore Address / Ignore Domain (hostile mail
#: may carry thousands; nobody ticks boxes past the first few dozen).
MAX_PARTICIPANTS_SHOWN = 50
ASCENDING, DESCENDING = "asc", "desc"


@dataclass(frozen=True)
class Column:
    """One column of a tab: its URL name, its header, and what it sorts on (None: not
    sortable, e.g. the list of recorded records)."""

    key: str
    label: str
    sort: Any = None

    @property
    def sortable(self) -> bool:
        return self.sort is not None


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    model: type
    status: str | None  # the message status the tab shows; None for Unmatched
    columns: tuple[Column, ...]
    default_sort: str
    default_direction: str
    empty_text: str

    def column(self, key: str | None) -> Column | None:
        return next((c for c in self.columns if c.key == key and c.sortable), None)


def _first_characters(text_column):
    """What an unbounded text sorts on: its first 128 characters, written with literal
    numbers so it is the very expression the indexes of migration 0002 hold."""
    return func.substr(text_column, literal_column("1"), literal_column("128"))


_DATE = Column("date", "Date", Message.sent_at)
_DIRECTION = Column("direction", "Direction", Message.direction)
_SUBJECT = Column("subject", "Subject", Message.subject_sort)
_FROM = Column("from", "From", Message.from_address)
_TO_CC = Column("to_cc", "To / Cc", _first_characters(Message.to_cc))

TABS: dict[str, Tab] = {
    tab.key: tab
    for tab in (
        Tab(
            "unresolved", "Unresolved Emails", Message, "unresolved",
            (
                _DATE, _DIRECTION, _SUBJECT, _FROM, _TO_CC,
                Column("reason", "Reason", Message.reason),
                Column("first_seen", "First seen", Message.first_seen_at),
                Column("attempts", "Attempts", Message.attempts),
                Column("next_retry", "Next retry", Message.next_attempt_at),
                Column("expires", "Expires", Message.expires_at),
            ),
            "date", DESCENDING,
            "No unresolved emails. Emails that find no Contact or Lead in Salesforce, or whose "
            "write fails, appear here with what to do about them.",
        ),
        Tab(
            "synced", "Synced Emails", Message, "synced",
            (_DATE, _DIRECTION, _SUBJECT, _FROM, _TO_CC, Column("records", "Salesforce records")),
            "date", DESCENDING,
            "No synced emails yet. Emails to and from your Salesforce Contacts and Leads appear "
            "here once they are recorded.",
        ),
        Tab(
            "excluded", "Excluded Emails", Message, "excluded",
            (_DATE, _SUBJECT, _FROM, _TO_CC, Column("rule", "Excluded by", Message.reason)),
            "date", DESCENDING,
            "No excluded emails. Emails with the DoNotSync category or the Do Not Record "
            "address (and, in the Attempt modes, emails with no match) appear here.",
        ),
        Tab(
            "unmatched", "Unmatched Contacts/Leads", UnmatchedAddress, None,
            (
                Column("address", "Address", UnmatchedAddress.address),
                Column("name", "Display name", UnmatchedAddress.display_name_sort),
                Column("domain", "Domain", UnmatchedAddress.domain),
                Column("emails", "Emails", UnmatchedAddress.emails_count),
                Column("last_subject", "Last subject", _first_characters(UnmatchedAddress.last_subject)),
                Column("first_seen", "First seen", UnmatchedAddress.first_seen_at),
                Column("last_seen", "Last seen", UnmatchedAddress.last_seen_at),
            ),
            "last_seen", DESCENDING,
            "No unmatched addresses. Addresses of your email that match no Contact or Lead "
            "appear here, so you can create the record or ignore them.",
        ),
    )
}
DEFAULT_TAB = "unresolved"

#: Outcome and allowance reason codes, in words (Excluded "rule", Unresolved "reason",
#: Synced "not recorded because").
REASONS = {
    "no_match": "No matching Contact or Lead in Salesforce",
    "system_error": "Salesforce refused the write",
    "donotsync_category": "DoNotSync category",
    "do_not_record_address": "Do Not Record address",
    "mixed_leads_and_contacts": "Salesforce cannot relate one activity to Leads and Contacts "
                                "together; it was recorded on the Contacts",
    "contact_limit": "Salesforce relates one activity to at most 50 Contacts",
    "one_lead_per_activity": "Salesforce relates one activity to one Lead only",
    "single_who_org": "Your Salesforce org (without Shared Activities) relates an activity "
                      "to one person only",
    "lead_cannot_have_what": "An activity on a Lead cannot be related to an Account, "
                             "Opportunity or Case",
}


def reason_text(code: str | None) -> str:
    if not code:
        return ""
    return REASONS.get(code, code.replace("_", " ").capitalize())


@dataclass(frozen=True)
class View:
    """What a page of a tab shows: the URL state, checked and clamped."""

    tab: Tab
    sort: str
    direction: str
    query: str = ""
    page: int = 1
    page_size: int = PAGE_SIZE

    @classmethod
    def of(cls, tab_key: str, sort: str | None = None, direction: str | None = None,
           query: str | None = None, page: int | str | None = None,
           page_size: int | str | None = None) -> "View":
        """The view for these URL values; anything unknown falls back to the default, so a
        tampered or stale URL still shows a page. Raises KeyError for an unknown tab."""
        tab = TABS[tab_key]
        column = tab.column(sort)
        sort_key = column.key if column else tab.default_sort
        if direction not in (ASCENDING, DESCENDING):
            direction = tab.default_direction if column is None or sort_key == tab.default_sort else ASCENDING
        return cls(tab, sort_key, direction, (query or "").strip()[:MAX_QUERY_LENGTH],
                   _positive(page, 1, 10**6), _positive(page_size, PAGE_SIZE, MAX_PAGE_SIZE))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def _positive(value, default: int, highest: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, 1), highest)


@dataclass
class Page:
    view: View
    rows: list
    has_next: bool
    #: Unresolved tab: per message id, its participants that are unmatched addresses
    #: ({address, name, domain}), for Ignore Address / Ignore Domain and Create links.
    unmatched: dict[int, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def first_number(self) -> int:
        return self.view.offset + 1 if self.rows else 0

    @property
    def last_number(self) -> int:
        return self.view.offset + len(self.rows)


def tab_counts(session: Session, user_id: int) -> dict[str, int]:
    """Rows per tab for the user, in one query (each part an index-only count)."""
    statuses = [tab.status for tab in TABS.values() if tab.status]
    by_status = (
        select(type_coerce(Message.status, String).label("tab"), func.count().label("n"))
        .where(Message.user_id == user_id, Message.status.in_(statuses))
        .group_by(Message.status)
    )
    unmatched = select(literal("unmatched", String).label("tab"), func.count().label("n")).where(
        UnmatchedAddress.user_id == user_id
    )
    counts = {key: 0 for key in TABS}
    for tab, n in session.execute(union_all(by_status, unmatched)):
        counts[tab] = n
    return counts


def _filtered(session: Session, user_id: int, view: View):
    tab = view.tab
    model = tab.model
    query = select(model).where(model.user_id == user_id)
    if tab.status:
        query = query.where(model.status == tab.status).options(
            defer(Message.body_text), defer(Message.search_text)
        )
        if tab.key == "synced":
            query = query.options(selectinload(Message.records))
    else:
        query = query.options(defer(UnmatchedAddress.search_text))
    if view.query:
        query = query.where(search_condition(model, view.query, session.get_bind().dialect.name, within_user=True))
    return query


def _ordered(query, view: View):
    sort = view.tab.column(view.sort).sort
    tie = view.tab.model.id
    if view.direction == DESCENDING:
        return query.order_by(sort.desc(), tie.desc())
    return query.order_by(sort.asc(), tie.asc())


def page_query(session: Session, user_id: int, view: View) -> Page:
    """One page of a tab: `view.page_size` rows (one more is read to know if a next page
    exists), sorted, searched, scoped to the user."""
    query = _ordered(_filtered(session, user_id, view), view).offset(view.offset).limit(view.page_size + 1)
    rows = list(session.execute(query).scalars())
    page = Page(view, rows[: view.page_size], len(rows) > view.page_size)
    if view.tab.key == "unresolved":
        page.unmatched = unmatched_participants(session, user_id, page.rows)
    return page


def unmatched_participants(session: Session, user_id: int, messages: list[Message]) -> dict[int, list[dict[str, str]]]:
    """For each message, its participants that sit in the user's Unmatched Contacts/Leads
    (so never their own addresses, nor ones already ignored), in participant order."""
    wanted: dict[int, list[dict[str, str]]] = {}
    addresses: set[str] = set()
    for message in messages:
        seen, people = set(), []
        for participant in (message.participants or [])[:MAX_PARTICIPANTS_SHOWN]:
            address = comparison_key(participant.get("address"))  # the key Unmatched rows are stored by
            if address and address not in seen:
                seen.add(address)
                people.append({"address": address, "name": participant.get("name") or ""})
        wanted[message.id] = people
        addresses |= seen
    if not addresses:
        return {message.id: [] for message in messages}
    domains = dict(
        session.execute(
            select(UnmatchedAddress.address, UnmatchedAddress.domain).where(
                UnmatchedAddress.user_id == user_id, UnmatchedAddress.address.in_(sorted(addresses))
            )
        ).all()
    )
    return {
        message_id: [dict(p, domain=domains[p["address"]]) for p in people if p["address"] in domains]
        for message_id, people in wanted.items()
    }


# --- CSV export -----------------------------------------------------------------------------

#: Rows read from the database at a time while streaming an export.
CSV_CHUNK = 1000
#: A cell starting with one of these is read as a formula by spreadsheet programs; such cells
#: get a leading apostrophe (OWASP "CSV injection"). Spreadsheets also skip leading spaces
#: before a formula and read full-width and small forms (＝＋－＠, ﹦﹢﹣﹫) as the ASCII signs,
#: so the first character after any leading whitespace is compared in its NFKC form.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_header(tab: Tab) -> list[str]:
    if tab.key == "unresolved":
        return ["Date", "Direction", "Subject", "From", "From name", "To / Cc", "Reason",
                "Salesforce error code", "Salesforce error message", "First seen", "Attempts",
                "Next retry", "Expires"]
    if tab.key == "synced":
        return ["Date", "Direction", "Subject", "From", "From name", "To / Cc", "Synced at",
                "Salesforce Task Id", "Recorded on", "Matched but not recorded"]
    if tab.key == "excluded":
        return ["Date", "Subject", "From", "From name", "To / Cc", "Excluded by"]
    return ["Address", "Display name", "Domain", "Emails", "Last subject", "First seen", "Last seen"]


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _records(records, recorded: bool) -> str:
    parts = []
    for record in records:
        if record.recorded != recorded:
            continue
        text = f"{record.sobject_type} {record.name or ''} ({record.record_id})".replace("  ", " ")
        if not recorded:
            text += f": {reason_text(record.reason)}"
        parts.append(text)
    return "; ".join(parts)


def csv_values(tab: Tab, row) -> list:
    if tab.key == "unresolved":
        return [_when(row.sent_at), row.direction, row.subject, row.from_address, row.from_name, row.to_cc,
                reason_text(row.reason), row.error_code, row.error_message, _when(row.first_seen_at),
                row.attempts, _when(row.next_attempt_at), _when(row.expires_at)]
    if tab.key == "synced":
        return [_when(row.sent_at), row.direction, row.subject, row.from_address, row.from_name, row.to_cc,
                _when(row.synced_at), row.salesforce_task_id, _records(row.records, True),
                _records(row.records, False)]
    if tab.key == "excluded":
        return [_when(row.sent_at), row.subject, row.from_address, row.from_name, row.to_cc,
                reason_text(row.reason)]
    return [row.address, row.display_name, row.domain, row.emails_count, row.last_subject,
            _when(row.first_seen_at), _when(row.last_seen_at)]


def spreadsheet_safe_cell(value) -> str:
    """`value` as CSV text a spreadsheet shows as text, never runs: text starting like a
    formula (=, +, -, @, a tab or line break; also after leading spaces or in a full-width
    form) gets a leading quote."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    first = text.lstrip()[:1]
    return "'" + text if first and unicodedata.normalize("NFKC", first).startswith(_FORMULA_STARTS) else text


def csv_rows(open_session: Callable[[], ContextManager[Session]], user_id: int, view: View) -> Iterator[list[str]]:
    """The header, then every row of the tab under the view's search and sort (all pages).

    Rows are read `CSV_CHUNK` at a time, each chunk in its own short session: a slow
    download must not hold a transaction open (on SQLite every transaction takes the write
    lock, which would stall the workers). A row changing tab mid-export may therefore be
    missed or repeated, as when paging by hand."""
    tab = view.tab
    yield csv_header(tab)
    offset = 0
    while True:
        with open_session() as session:
            query = _ordered(_filtered(session, user_id, view), view).offset(offset).limit(CSV_CHUNK)
            chunk = [[spreadsheet_safe_cell(value) for value in csv_values(tab, row)]
                     for row in session.execute(query).scalars()]
        yield from chunk
        if len(chunk) < CSV_CHUNK:
            return
        offset += CSV_CHUNK


def csv_text(rows: Iterator[list[str]]) -> Iterator[str]:
    """CSV lines (RFC 4180: comma-separated, CRLF, quoted where needed) a chunk at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for number, row in enumerate(rows, 1):
        writer.writerow(row)
        if number % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
