"""Who is in Salesforce: Contacts and open Leads by email address, and whether the records
named by smart addresses exist (SPEC section 2 rule 8, section 3 rule 4).

One call answers many addresses: an `IN (…)` list per object, chunked under the URI limit,
and the statements packed five to a Composite call (`batching`). `MatchCache` keeps recent
answers (matches and misses) for a minute, so a burst of mail to the same people costs
nothing more.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable

from mailferry.addresses import comparison_key
from worker.salesforce.batching import in_list_queries, run_queries
from worker.salesforce.session import SalesforceSession

#: Contact.Email and Lead.Email hold at most 80 characters (reference 3.4): a longer address
#: cannot match, so it is not sent.
EMAIL_FIELD_LENGTH = 80
CONTACT_QUERY = "SELECT Id, Name, Email, CreatedDate, AccountId FROM Contact WHERE Email IN {}"
# Converted leads are read-only and can't carry an activity (reference 3.4; SPEC rule 8).
LEAD_QUERY = "SELECT Id, Name, Email, CreatedDate FROM Lead WHERE IsConverted = false AND Email IN {}"
RELATED_TYPES = {"001": "Account", "006": "Opportunity", "500": "Case"}
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


@dataclass(frozen=True)
class Person:
    """A Contact or an open Lead whose Email matched a requested address."""

    sobject_type: str  # "Contact" | "Lead"
    id: str
    name: str
    email: str
    created_date: str | None
    account_id: str | None


def find_people(sf: SalesforceSession, addresses: Iterable[str]) -> dict[str, list[Person]]:
    """Contacts and open Leads for every address, matched case-insensitively.

    The answer has a key for every address asked (spelled as asked; `[]` when nobody
    matched), Contacts before Leads, oldest first. Addresses that cannot be an Email value
    (empty, over 80 characters, control characters) get `[]` without being sent.
    """
    wanted = _unique(addresses)
    answer: dict[str, list[Person]] = {address: [] for address in wanted}
    by_key: dict[str, list[str]] = {}
    for address in wanted:
        if _queryable(address):
            by_key.setdefault(_key(address), []).append(address)
    values = [spellings[0].strip() for spellings in by_key.values()]
    contact_sql = in_list_queries(sf, CONTACT_QUERY, values)
    lead_sql = in_list_queries(sf, LEAD_QUERY, values)
    results = run_queries(sf, contact_sql + lead_sql)
    for kind, records in zip(["Contact"] * len(contact_sql) + ["Lead"] * len(lead_sql), results):
        for record in records:
            person = person_of(kind, record)
            for address in by_key.get(_key(person.email), ()):
                answer[address].append(person)
    for people in answer.values():
        people.sort(key=lambda p: (p.sobject_type != "Contact", p.created_date or "~", p.id))
    return answer


def find_related(sf: SalesforceSession, record_ids: Iterable[str]) -> dict[str, str]:
    """Which Account / Opportunity / Case ids exist: {id as asked: sObject type}.

    Ids of other types or malformed ones are left out (never sent to a query).
    """
    by_type: dict[str, list[str]] = {}
    for record_id in _unique(record_ids):
        kind = RELATED_TYPES.get(record_id[:3])
        if kind and _ID.match(record_id):
            by_type.setdefault(kind, []).append(record_id)
    statements: list[tuple[str, str]] = []
    for kind, ids in by_type.items():
        statements += [(kind, soql) for soql in in_list_queries(sf, f"SELECT Id FROM {kind} WHERE Id IN {{}}", ids)]
    results = run_queries(sf, [soql for _, soql in statements])
    # Salesforce answers with 18-character ids; the first 15 characters are the id itself.
    found = {record["Id"][:15] for records in results for record in records}
    return {record_id: kind for kind, ids in by_type.items() for record_id in ids if record_id[:15] in found}


class MatchCache:
    """Recent `find_people` answers per org and address, misses included, for `ttl` seconds.

    In-process and short-lived on purpose: a Contact created in Salesforce shows up within
    a minute, and nothing needs invalidating across workers.
    """

    def __init__(self, ttl: float = 60.0, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, tuple[Person, ...]]] = {}
        self._lock = threading.Lock()

    def get(self, org_id: str, addresses: Iterable[str]) -> tuple[dict[str, list[Person]], list[str]]:
        """(answers still fresh, addresses to look up)."""
        now = self._clock()
        hits: dict[str, list[Person]] = {}
        misses: list[str] = []
        with self._lock:
            for address in _unique(addresses):
                entry = self._entries.get((org_id, _key(address)))
                if entry and entry[0] > now:
                    hits[address] = list(entry[1])
                else:
                    misses.append(address)
        return hits, misses

    def put(self, org_id: str, answers: dict[str, list[Person]]) -> None:
        expires = self._clock() + self.ttl
        with self._lock:
            if len(self._entries) + len(answers) > self.max_entries:
                self._evict()
            for address, people in answers.items():
                self._entries[(org_id, _key(address))] = (expires, tuple(people))

    def _evict(self) -> None:
        now = self._clock()
        self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        if len(self._entries) >= self.max_entries:  # still full of fresh entries: start over
            self._entries.clear()


def find_people_cached(sf: SalesforceSession, addresses: Iterable[str], cache: MatchCache,
                       org_id: str | None = None) -> dict[str, list[Person]]:
    """`find_people` through `cache`: only the addresses it doesn't know cost a call.

    The cache is keyed by org: without an org id (from the tokens) nothing is cached,
    rather than risk one org's Contacts answering for another's.
    """
    org = org_id or sf.org_id
    if not org:
        return find_people(sf, addresses)
    hits, misses = cache.get(org, addresses)
    if misses:
        fresh = find_people(sf, misses)
        cache.put(org, fresh)
        hits.update(fresh)
    return hits


def person_of(kind: str, record: dict) -> Person:
    """A Contact or Lead record (with the fields of CONTACT_QUERY / LEAD_QUERY) as a Person."""
    return Person(sobject_type=kind, id=record["Id"], name=record.get("Name") or "",
                  email=record.get("Email") or "", created_date=record.get("CreatedDate"),
                  account_id=record.get("AccountId"))


def _key(address: str) -> str:
    # Salesforce compares Email case-insensitively; rows are matched back to the candidates
    # (canonical keys) by the same key.
    return comparison_key(address)


def _queryable(address: str) -> bool:
    text = address.strip()
    return 0 < len(text) <= EMAIL_FIELD_LENGTH and not any(unicodedata.category(c) == "Cc" for c in text)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if isinstance(v, str)))
