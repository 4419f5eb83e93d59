"""Which Contacts and open Leads were created or changed since a moment: the org's change
feed (SPEC 15), one Composite call holding both queries.

`SystemModstamp` is platform-indexed and moves on every write, system ones included
(reference wave2.md 8.2), so `WHERE SystemModstamp >= <datetime>` over Contact and Lead is
the cheapest correct "what changed" an HTTP-only client has. The records carry the same
fields as the matcher's lookup (`lookup.CONTACT_QUERY` / `LEAD_QUERY`), so a change that
matches an unmatched address is known without asking again. Long answers are paged with
nextRecordsUrl (`SalesforceSession.rest_of_pages`, one call a page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from worker.salesforce.batching import raise_for_subresponse
from worker.salesforce.lookup import Person, person_of
from worker.salesforce.session import SalesforceSession

# Only records with an address can match; converted leads never do (SPEC rule 8).
CONTACT_FEED = ("SELECT Id, Name, Email, CreatedDate, AccountId, SystemModstamp FROM Contact "
                "WHERE SystemModstamp >= {since} AND Email != null ORDER BY SystemModstamp, Id")
LEAD_FEED = ("SELECT Id, Name, Email, CreatedDate, SystemModstamp FROM Lead "
             "WHERE SystemModstamp >= {since} AND IsConverted = false AND Email != null ORDER BY SystemModstamp, Id")


@dataclass(frozen=True)
class Change:
    """A Contact or open Lead written at `stamp` (its SystemModstamp, as Salesforce wrote it)."""

    person: Person
    stamp: str


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal: unquoted, UTC, whole seconds, `Z` (reference salesforce.md 2.3;
    the documented form, so no fractional seconds). Truncating moves it earlier, never later:
    nothing is missed, at worst a record is seen again."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def changes_since(sf: SalesforceSession, since: datetime) -> list[Change]:
    """Every Contact and open Lead with an Email whose SystemModstamp is at or after `since`,
    oldest change first. One Composite call, plus one per further page of either answer."""
    literal = soql_datetime(since)
    subrequests = [{"method": "GET", "url": sf.query_url(template.format(since=literal)), "referenceId": kind}
                   for kind, template in (("Contact", CONTACT_FEED), ("Lead", LEAD_FEED))]
    changes = []
    for kind, answer in zip(("Contact", "Lead"), sf.composite(subrequests)):
        raise_for_subresponse(answer)
        for record in sf.rest_of_pages(answer.get("body") or {}):
            changes.append(Change(person_of(kind, record), record.get("SystemModstamp") or ""))
    changes.sort(key=lambda change: change.stamp)
    return changes
