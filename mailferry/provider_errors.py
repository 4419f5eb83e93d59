"""Provider errors mapped to a few neutral kinds, so one place decides what each means.

They live in the shared core because the worker and the sign-in code of the core
(`mailferry.microsoft_identity`, `mailferry.salesforce_identity`) both raise them.

Graph and Salesforce fail in many ways; the pipeline only needs to know what to do next:

| kind        | examples                                                        | what the pipeline does |
|-------------|-----------------------------------------------------------------|------------------------|
| temporary   | 429, 503, 5xx, timeouts, MailboxConcurrency, UNABLE_TO_LOCK_ROW | back off (honouring `retry_after`) and retry |
| budget      | REQUEST_LIMIT_EXCEEDED, our own share of the daily allowance    | pause Salesforce writes for the tenant until `retry_after` |
| auth        | refresh token revoked or expired, consent withdrawn             | the connection shows "reconnect"; stop calling |
| not_found   | mailbox, folder, message or record gone                         | treat the item as removed |
| cursor      | expired delta token (410 SyncStateNotFound)                     | resync the folder from scratch, without duplicates |
| setup       | missing Mailferry_Key__c field, insufficient access             | show the admin the exact fix; stop writing |
| unknown     | anything else                                                   | back off as temporary, and log it |
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TEMPORARY = "temporary"
    BUDGET = "budget"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    CURSOR = "cursor"
    SETUP = "setup"
    UNKNOWN = "unknown"


class ProviderError(Exception):
    """A failed call to Graph, Entra ID or Salesforce, in neutral terms."""

    def __init__(
        self,
        kind: ErrorKind,
        provider: str,
        message: str,
        *,
        code: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.provider = provider  # "microsoft" or "salesforce"
        self.message = message
        self.code = code  # the provider's own error code, e.g. "MailboxConcurrency"
        self.status = status  # HTTP status when there was an answer
        self.retry_after = retry_after  # seconds the provider asked us to wait

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.kind}, {self.provider}, {self.code or self.status}, "
            f"{self.message!r}, retry_after={self.retry_after})"
        )
