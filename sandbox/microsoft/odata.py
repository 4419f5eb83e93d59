"""The OData query options the sandbox understands for messages (reference §1.4, §1.7):
`$select`, `$top`, `$skip`, `$orderby` and the `$filter` subset Mailferry needs, with Graph's
400 answers for everything else."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable

from .errors import GraphError
from .mailstore import Message
from .render import MESSAGE_PROPERTIES

DEFAULT_PAGE = 10
MAX_PAGE = 1000
_DATE = r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))"
_COMPARE = re.compile(rf"^(receivedDateTime|sentDateTime|lastModifiedDateTime|createdDateTime)\s+"
                      rf"(eq|ne|gt|ge|lt|le)\s+{_DATE}$", re.I)
_BOOL = re.compile(r"^(isRead|hasAttachments|isDraft)\s+eq\s+(true|false)$", re.I)
_CATEGORY = re.compile(r"^categories/any\(\s*(\w+)\s*:\s*\1\s+eq\s+'((?:[^']|'')*)'\s*\)$", re.I)
_FROM = re.compile(r"^(from|sender)/emailAddress/address\s+eq\s+'((?:[^']|'')*)'$", re.I)
_OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_DATE_ATTR = {"receiveddatetime": "received", "sentdatetime": "received",
              "lastmodifieddatetime": "modified", "createddatetime": "created"}
ORDERABLE = {"receiveddatetime": "receivedDateTime", "sentdatetime": "sentDateTime",
             "lastmodifieddatetime": "lastModifiedDateTime", "createddatetime": "createdDateTime",
             "subject": "subject"}


def invalid_filter() -> GraphError:
    return GraphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")


@dataclass
class Query:
    select: list[str] | None = None
    top: int | None = None
    skip: int = 0
    filter_text: str = ""
    predicates: list[Callable[[Message], bool]] = field(default_factory=list)
    filter_fields: list[str] = field(default_factory=list)  # properties in $filter, in order
    orderby: tuple[str, bool] | None = None  # (property, descending)

    def matches(self, message: Message) -> bool:
        return all(predicate(message) for predicate in self.predicates)


def parse_select(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    for name in names:
        if name != "id" and name not in MESSAGE_PROPERTIES:
            raise GraphError(400, "RequestBroker--ParseUri",
                             f"Could not find a property named '{name}' on type 'microsoft.graph.message'.")
    return [name for name in names if name != "id"]


def parse_top(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for $top: expected 1 to {MAX_PAGE}.")
    return int(raw)


def _date(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_filter(raw: str, query: Query) -> None:
    """`and`-joined comparisons only; `or`, `not` and parentheses are refused like other
    unsupported shapes (Graph supports more; Mailferry needs none of it)."""
    query.filter_text = raw
    for term in re.split(r"\s+and\s+", raw.strip(), flags=re.I):
        term = term.strip()
        if match := _COMPARE.match(term):
            attr, op, value = _DATE_ATTR[match[1].lower()], _OPS[match[2].lower()], _date(match[3])
            query.predicates.append(lambda m, a=attr, o=op, v=value: o(getattr(m, a), v))
            query.filter_fields.append(match[1].lower())
        elif match := _BOOL.match(term):
            attr = {"isread": "is_read", "hasattachments": "has_attachments", "isdraft": "is_draft"}[match[1].lower()]
            want = match[2].lower() == "true"
            query.predicates.append(lambda m, a=attr, w=want: getattr(m, a) is w)
            query.filter_fields.append(match[1].lower())
        elif match := _CATEGORY.match(term):
            name = match[2].replace("''", "'").lower()
            query.predicates.append(lambda m, n=name: any(c.lower() == n for c in m.categories))
            query.filter_fields.append("categories")
        elif match := _FROM.match(term):
            address = match[2].replace("''", "'").lower()
            query.predicates.append(lambda m, a=address: bool(m.sender) and m.sender.address.lower() == a)
            query.filter_fields.append("from")
        else:
            raise invalid_filter()


def parse_orderby(raw: str, query: Query) -> None:
    parts = raw.strip().split()
    if not parts or len(parts) > 2 or parts[0].lower() not in ORDERABLE or (
            len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise GraphError(400, "BadRequest", f"Invalid $orderby '{raw}'.")
    prop = parts[0].lower()
    # Graph's rule (§1.4): an ordered property must also be the first one filtered on.
    if query.filter_fields and query.filter_fields[0] != prop:
        raise GraphError(400, "InefficientFilter", "The restriction or sort order is too complex for this operation.")
    query.orderby = (prop, len(parts) == 2 and parts[1].lower() == "desc")


def parse_list_query(args) -> Query:
    if "$search" in args:
        raise GraphError(400, "BadRequest", "$search is not supported by the Mailferry sandbox.")
    query = Query(select=parse_select(args.get("$select")), top=parse_top(args.get("$top")))
    skip = args.get("$skip", "0")
    if not skip.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{skip}' for $skip.")
    query.skip = int(skip)
    if args.get("$filter"):
        parse_filter(args["$filter"], query)
    if args.get("$orderby"):
        parse_orderby(args["$orderby"], query)
    return query


def sort_key(prop: str) -> Callable[[Message], object]:
    if prop == "subject":
        return lambda m: (m.subject.lower(), m.id)
    attr = _DATE_ATTR[prop]
    return lambda m: (getattr(m, attr), m.id)
