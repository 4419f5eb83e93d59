"""Few API calls for many operations: SOQL `IN (…)` lists chunked under the URI limit,
and queries or collections packed into Composite requests (reference 2.3, 2.5, 2.6).

A statement goes out as `GET query?q=…` only when that URI is at most 2,000 characters, the
length Salesforce recommends (help 000386264); a longer one travels in a Composite body, as
the same article advises (the Composite call costs one API call, like the GET). Statements
are still chunked under the 16,384-byte hard limit, so the same chunks fit either way.

A Composite request counts as one API call and may hold at most 25 subrequests, of which
at most 5 are queries or sObject Collections; a collection holds at most 200 records.
"""

from __future__ import annotations

from typing import Iterator, Sequence
from urllib.parse import quote_plus

from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceGeneralError

from worker.salesforce.session import MAX_GET_URI_CHARS, MAX_REQUEST_BYTES, SalesforceSession, provider_error

MAX_SUBREQUESTS = 25
MAX_HEAVY_SUBREQUESTS = 5  # queries and collections per Composite
COLLECTION_SIZE = 200
#: Room left for anything a proxy or a retry adds to the request line and headers.
SAFETY_BYTES = 512


def header_bytes(sf: SalesforceSession) -> int:
    """The bytes our request headers take, measured on what the session really sends
    (Salesforce's 16,384-byte limit counts the URI and the headers together)."""
    headers = {**sf.http.headers, **sf.sf.headers, "Host": sf.sf.sf_instance}
    return sum(len(k) + len(str(v)) + 4 for k, v in headers.items())


def in_list_queries(sf: SalesforceSession, template: str, values: Sequence[str]) -> list[str]:
    """SOQL statements `template.format(IN-list)` covering `values`, each small enough that
    `GET query?q=…` stays under the URI limit.

    `template` has exactly one `{}` where the parenthesised list goes, e.g.
    "SELECT Id FROM Contact WHERE Email IN {}". Values are quoted only by simple-salesforce's
    `format_soql` (never concatenated raw). An empty `values` gives no statement: `IN ()` is
    invalid SOQL.
    """
    if not values:
        return []
    budget = MAX_REQUEST_BYTES - header_bytes(sf) - SAFETY_BYTES
    # The URI grows by exactly each value's encoded literal plus an encoded comma, because
    # URL encoding works character by character; the result is checked again below.
    base = sf.query_uri_bytes(format_soql(template, []))
    comma = len(quote_plus(","))
    chunks: list[list[str]] = []
    current: list[str] = []
    size = base
    for value in values:
        cost = len(quote_plus(format_soql("{}", value))) + (comma if current else 0)
        if current and size + cost > budget:
            chunks.append(current)
            current, size = [], base
            cost -= comma
        current.append(value)
        size += cost
    if current:
        chunks.append(current)
    statements: list[str] = []
    for chunk in chunks:
        statements.extend(_fitting(sf, template, chunk, budget))
    return statements


def _fitting(sf: SalesforceSession, template: str, chunk: list[str], budget: int) -> Iterator[str]:
    """The measured check: a chunk whose real URI is too long is split in two."""
    soql = format_soql(template, chunk)
    if sf.query_uri_bytes(soql) <= budget or len(chunk) == 1:
        yield soql
        return
    middle = len(chunk) // 2
    yield from _fitting(sf, template, chunk[:middle], budget)
    yield from _fitting(sf, template, chunk[middle:], budget)


def run_queries(sf: SalesforceSession, statements: Sequence[str]) -> list[list[dict]]:
    """Every record of every statement, in order; one statement whose GET URL is at most
    MAX_GET_URI_CHARS long is one GET, anything else is packed five to a Composite call. Later
    pages are followed with query_more (their nextRecordsUrl is short).

    A query that fails inside a Composite raises the same ProviderError a direct call would.
    """
    if not statements:
        return []
    if len(statements) == 1 and sf.query_url_chars(statements[0]) <= MAX_GET_URI_CHARS:
        return [sf.query_all(statements[0])]
    results: list[list[dict]] = []
    for start in range(0, len(statements), MAX_HEAVY_SUBREQUESTS):
        batch = statements[start:start + MAX_HEAVY_SUBREQUESTS]
        subrequests = [{"method": "GET", "url": sf.query_url(soql), "referenceId": f"q{i}"}
                       for i, soql in enumerate(batch)]
        for answer in sf.composite(subrequests):
            raise_for_subresponse(answer)
            results.append(sf.rest_of_pages(answer.get("body") or {}))
    return results


def raise_for_subresponse(answer: dict) -> None:
    """A failed Composite subrequest, raised like the same call made on its own."""
    status = int(answer.get("httpStatusCode") or 0)
    if status < 300:
        return
    raise provider_error(SalesforceGeneralError(answer.get("referenceId", ""), status, "composite",
                                                answer.get("body")))


def packed(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
