"""Salesforce's error codes in the worker's neutral kinds (mailferry/provider_errors.py), in one table.

Used for whole calls (the session wrapper) and for the per-item results of Collections,
where one record can fail while its neighbours succeed (reference 2.5, 2.8).
"""

from __future__ import annotations

from dataclasses import dataclass

from mailferry.provider_errors import ErrorKind

EXTERNAL_ID_FIELD = "Mailferry_Key__c"
#: The field is created as Text(80): the key is 68 characters, and a later key version has room.
FIELD_LENGTH = 80
#: The Salesforce limit is a rolling 24 hours: usage frees up gradually, so an hour's pause
#: is a fair first wait (the budget governor may know a better time).
LIMIT_BACKOFF_SECONDS = 3600.0
#: REQUEST_LIMIT_EXCEEDED also means too many long-running requests at once (25 of 20 s or
#: more, 5 in Developer orgs; reference wave2 8.1): over as soon as one of them ends, so the
#: emails wait a short while, as for any temporary failure.
CONCURRENT_BACKOFF_SECONDS = 60.0

#: What the admin does when the key field is missing (also in docs/salesforce-setup.md).
CREATE_FIELD = (
    f"In Salesforce Setup → Object Manager → Activity → Fields & Relationships → New: Data Type "
    f"Text, Field Label 'Mailferry Key', Length {FIELD_LENGTH}, Field Name '{EXTERNAL_ID_FIELD[:-3]}' "
    f"(API name {EXTERNAL_ID_FIELD}); tick 'Unique' (case insensitive) and 'External ID'; make it "
    "visible and editable for the profiles of every user who syncs email; no page layout needed. "
    "Then press 'Check again' in Mailferry's admin page. See docs/salesforce-setup.md."
)

# Codes a later attempt can get past without anyone changing anything.
_TEMPORARY = {
    "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "QUERY_TIMEOUT",
    "REQUEST_RUNNING_TOO_LONG", "TXN_SECURITY_METERING_ERROR", "PROCESSING_HALTED",
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
}
# A matched record changed between the lookup and the write (a lead converted, a contact
# deleted or merged): the same email succeeds once it is looked up again, so these are
# retryable; the pipeline should drop the email's addresses from the match cache first.
STALE_MATCH = {"CANNOT_UPDATE_CONVERTED_LEAD", "INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED"}
# Codes an admin must fix in the org (permissions, missing objects or fields).
_SETUP = {
    "INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", "INSUFFICIENT_ACCESS_OR_READONLY",
    "API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED", "FUNCTIONALITY_NOT_ENABLED",
}


@dataclass(frozen=True)
class Classified:
    kind: ErrorKind
    retryable: bool


def is_concurrent_limit(message: str, usage: tuple[int, int] | None = None,
                        bursting: bool = False) -> bool:
    """Whether a REQUEST_LIMIT_EXCEEDED is the concurrent long-running requests limit rather
    than the daily total (reference wave2 8.1): the message names it
    ("ConcurrentPerOrgLongTxn Limit exceeded.", help 000389067's "ConcurrentRequests
    (Concurrent API Requests) Limit exceeded", Marketo's "ConcurrentRequest"), "TotalRequests
    Limit exceeded." names the daily one. A message naming neither is read from the answer's
    `Sforce-Limit-Info`: usage under the allowance cannot be the daily limit; at or past it
    (or unknown) it is taken as the daily limit, the safe reading."""
    text = (message or "").lower()
    if "concurrent" in text:
        return True
    if "totalrequests" in text:
        return False
    if usage is None:
        return False
    used, allowance = usage
    return used < allowance and not bursting


def classify(code: str, message: str = "", fields: list | tuple = (), status: int | None = None) -> Classified:
    """What a Salesforce error means for the pipeline.

    `retryable` says whether the same write may succeed later unchanged (a lock, an outage,
    the daily limit); a validation rule or a bad value will fail again until someone acts.
    REQUEST_LIMIT_EXCEEDED is the daily limit (BUDGET) unless its message names the
    concurrent-requests limit (TEMPORARY); `worker.salesforce.session.provider_error` also
    reads the answer's usage header for a message naming neither.
    """
    code = (code or "").upper()
    text = f"{message} {' '.join(map(str, fields or ()))}"
    if code == "REQUEST_LIMIT_EXCEEDED":
        if is_concurrent_limit(message):
            return Classified(ErrorKind.TEMPORARY, True)
        return Classified(ErrorKind.BUDGET, True)
    if code in _TEMPORARY or (status is not None and (status >= 500 or status == 429)):
        return Classified(ErrorKind.TEMPORARY, True)
    if code in STALE_MATCH:
        return Classified(ErrorKind.TEMPORARY, True)
    if code == "INVALID_SESSION_ID":
        return Classified(ErrorKind.AUTH, False)
    key_field_named = EXTERNAL_ID_FIELD.lower() in text.lower()
    if code in ("INVALID_FIELD", "NOT_FOUND", "INVALID_FIELD_FOR_INSERT_UPDATE") and key_field_named:
        return Classified(ErrorKind.SETUP, False)
    if code == "NOT_FOUND" and "external id field" in message.lower():
        return Classified(ErrorKind.SETUP, False)
    if code in ("INVALID_TYPE", "NOT_FOUND") and "taskrelation" in text.lower():
        # Shared Activities was turned off since the setup check: check again.
        return Classified(ErrorKind.SETUP, False)
    if code in _SETUP:
        return Classified(ErrorKind.SETUP, False)
    if code == "NOT_FOUND":
        return Classified(ErrorKind.NOT_FOUND, False)
    return Classified(ErrorKind.UNKNOWN, False)


def first_error(body) -> tuple[str, str, list]:
    """(errorCode, message, fields) of a REST error array (reference 2.8) or a collection
    item's `errors` (which says `statusCode` instead of `errorCode`, reference 2.5)."""
    if isinstance(body, dict):
        body = body.get("errors") or [body]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        item = body[0]
        return (str(item.get("errorCode") or item.get("statusCode") or ""), str(item.get("message") or ""),
                list(item.get("fields") or []))
    return "", str(body)[:500] if body else "", []


def setup_fix(code: str, message: str) -> str:
    """The fix for an error that means the org is not set up (the session's mapping uses it)."""
    text = f"{code} {message}".lower()
    if EXTERNAL_ID_FIELD.lower() in text or "external id" in text:
        return CREATE_FIELD
    if "taskrelation" in text:
        return ("TaskRelation is missing: Shared Activities is off in this org. Mailferry checks the org "
                "again and records each email on its first contact only until it is turned on.")
    if "api_disabled" in text:
        return "API access is off for this org or user: the user needs the 'API Enabled' permission."
    return ("The connected Salesforce user lacks a permission Mailferry needs: see 'Permissions' in "
            "docs/salesforce-setup.md.")
