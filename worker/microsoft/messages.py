"""Graph message JSON → `GraphMessage`, tolerant of anything Graph (or a hostile sender) sends.

A missing From, empty or odd recipients, a null subject, an unparseable date: each becomes
None or empty rather than an exception, so one strange email never fails a delta page.
Addresses are kept as sent (trimmed); comparing and validating them is the core's job
(`mailferry.addresses`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, NamedTuple

# The message properties the pipeline needs; `$select` keeps delta pages small.
SELECT_FIELDS = (
    "internetMessageId", "conversationId", "subject", "from", "sender",
    "toRecipients", "ccRecipients", "bccRecipients", "receivedDateTime", "sentDateTime",
    "categories", "parentFolderId", "isDraft", "body", "lastModifiedDateTime",
)


class EmailAddress(NamedTuple):
    """A participant as Graph gives it: display name (may be empty) and address."""

    name: str
    address: str


@dataclass(frozen=True)
class GraphMessage:
    id: str
    internet_message_id: str | None
    conversation_id: str | None
    subject: str
    from_: EmailAddress | None  # the From header (the mailbox it was sent for)
    sender: EmailAddress | None  # who actually sent it (differs for delegates and shared mailboxes)
    to: tuple[EmailAddress, ...]
    cc: tuple[EmailAddress, ...]
    bcc: tuple[EmailAddress, ...]
    received_at: datetime | None
    sent_at: datetime | None
    categories: tuple[str, ...]
    parent_folder_id: str | None
    is_draft: bool
    body_text: str | None  # None when the payload carried no body (e.g. a partial update)
    # When Graph last changed it: tells a run whether a notification is overdue (worker.subscriptions).
    modified_at: datetime | None = None

    @property
    def originator(self) -> EmailAddress | None:
        """The From participant: `from`, else `sender` (Graph sets both for ordinary mail)."""
        return self.from_ or self.sender


def parse_message(item: dict[str, Any]) -> GraphMessage:
    """A `GraphMessage` from one message object of a Graph answer; never raises on bad fields."""
    return GraphMessage(
        id=_text(item.get("id")) or "",
        internet_message_id=_text(item.get("internetMessageId")) or None,
        conversation_id=_text(item.get("conversationId")) or None,
        subject=_text(item.get("subject")),
        from_=_recipient(item.get("from")),
        sender=_recipient(item.get("sender")),
        to=_recipients(item.get("toRecipients")),
        cc=_recipients(item.get("ccRecipients")),
        bcc=_recipients(item.get("bccRecipients")),
        received_at=parse_datetime(item.get("receivedDateTime")),
        sent_at=parse_datetime(item.get("sentDateTime")),
        categories=_strings(item.get("categories")),
        parent_folder_id=_text(item.get("parentFolderId")) or None,
        is_draft=item.get("isDraft") is True,
        body_text=_body_text(item.get("body")),
        modified_at=parse_datetime(item.get("lastModifiedDateTime")),
    )


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from Graph's ISO 8601 text (up to 7 fraction digits), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python accepts at most 6 fraction digits; Graph sometimes sends 7.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # Graph's dates are UTC even when the offset is missing
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(entry for entry in value if isinstance(entry, str))


def _recipient(value: Any) -> EmailAddress | None:
    """`{"emailAddress": {"name", "address"}}` → EmailAddress; None when there is no address."""
    if not isinstance(value, dict):
        return None
    inner = value.get("emailAddress")
    if not isinstance(inner, dict):
        return None
    address = _text(inner.get("address")).strip()
    if not address:
        return None
    return EmailAddress(_text(inner.get("name")).strip(), address)


def _recipients(value: Any) -> tuple[EmailAddress, ...]:
    if not isinstance(value, list):
        return ()
    found = (_recipient(entry) for entry in value)
    return tuple(entry for entry in found if entry is not None)


def _body_text(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    content = _text(value.get("content"))
    if str(value.get("contentType", "")).lower() == "html":
        # We ask for text (`Prefer: outlook.body-content-type="text"`); this only runs if a
        # server ignored the preference.
        return _html_to_text(content)
    return content


class _TextOnly(HTMLParser):
    _SKIP = {"script", "style", "head", "title"}
    _BREAKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def _html_to_text(content: str) -> str:
    parser = _TextOnly()
    try:
        parser.feed(content)
        parser.close()
    except Exception:  # a broken document still yields its text, tags removed crudely
        return html.unescape(re.sub(r"<[^>]*>", " ", content))
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()
