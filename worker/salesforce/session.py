"""One user's Salesforce API session: simple-salesforce over our HTTPS session, with a
transparent token refresh, call counting, `Sforce-Limit-Info` recording and errors mapped to
the worker's neutral kinds.

    sf = SalesforceSession(tokens, ca_file=config.tls_ca_file, oauth=oauth,
                           on_tokens=reseal_and_store, on_limit_info=governor_observe)
    sf.query_all("SELECT Id FROM Contact WHERE …")      # → list of records
    sf.composite([...subrequests...])                  # → list of subresponses

`tokens` is a `mailferry.salesforce_identity.token_set` dict (access_token, refresh_token,
instance_url, …). Nothing here knows whether it talks to Salesforce or the sandbox.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable
from urllib.parse import quote_plus, urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from mailferry import metrics
from mailferry.salesforce_identity import SalesforceOAuth
from mailferry.tls import https_session
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.salesforce.errors import (
    CONCURRENT_BACKOFF_SECONDS,
    LIMIT_BACKOFF_SECONDS,
    classify,
    first_error,
    is_concurrent_limit,
    setup_fix,
)

#: The REST version we speak: 59.0 is simple-salesforce's default and has everything we use
#: (Collections upsert ≥ 46.0, created flags on upsert ≥ 46.0).
API_VERSION = "59.0"
#: Seconds a single call may take before it counts as a temporary failure.
TIMEOUT_SECONDS = 60.0
#: Salesforce refuses a request whose URI plus headers pass 16,384 bytes (reference 2.3).
MAX_REQUEST_BYTES = 16_384
#: But recommends URIs of at most about 2,000 characters (help 000386264: "the maximum query
#: length is likely to be smaller than allowed URI limit…; it's recommended to limit URI
#: length to 2000 characters"; browsers and load balancers can lower the limit): a query
#: whose GET URI would be longer goes in a Composite body instead (worker/salesforce/batching.py).
MAX_GET_URI_CHARS = 2_000
# "Limit Info Header": `api-usage=110018/100000; api-bursts=1/750` (used may pass the max
# while the org bursts; reference 2.1, wave2 8.1).
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_BURSTS = re.compile(r"api-bursts=(\d+)/(\d+)")

TokensCallback = Callable[[dict], None]
#: on_limit_info(used, allowance); the header's api-bursts part is `last_bursts`, set first.
LimitCallback = Callable[[int, int], None]


class _DefaultTimeout(HTTPAdapter):
    """Gives every request a timeout: simple-salesforce's SFType calls pass none, and a
    request without one can hang a worker forever on a half-open connection."""

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class SalesforceSession:
    """simple-salesforce for one connection, refreshing once on INVALID_SESSION_ID.

    `calls` counts every REST call sent to /services/data (what the org's allowance counts,
    plus the few refused ones); `last_usage` is the latest (used, allowance) seen, and
    `last_bursts` the latest api-bursts (bursts, entitlement) or None when the header had none.
    """

    def __init__(
        self,
        tokens: dict,
        *,
        ca_file: str | os.PathLike | None,
        oauth: SalesforceOAuth | None = None,
        on_tokens: TokensCallback | None = None,
        on_limit_info: LimitCallback | None = None,
        version: str = API_VERSION,
        timeout: float = TIMEOUT_SECONDS,
    ):
        self.tokens = dict(tokens)
        self.oauth = oauth
        self.on_tokens = on_tokens
        self.on_limit_info = on_limit_info
        self.version = version
        self.calls = 0
        self.refreshes = 0
        self.last_usage: tuple[int, int] | None = None
        self.last_bursts: tuple[int, int] | None = None
        self.last_retry_after: float | None = None
        self.http = https_session(ca_file)
        self.http.mount("https://", _DefaultTimeout(timeout))
        # A response hook sees every answer, errors included: simple-salesforce only reads
        # Sforce-Limit-Info on success (reference 4.7), and the budget needs all of them.
        self.http.hooks["response"].append(self._observe)
        self.sf = self._client()

    # ----- what callers use ---------------------------------------------------------------

    @property
    def org_id(self) -> str | None:
        """The org's id, from the tokens (`token_set` reads it from the identity URL)."""
        if self.tokens.get("org_id"):
            return self.tokens["org_id"]
        parts = [p for p in urlsplit(self.tokens.get("id") or "").path.split("/") if p]
        return parts[-2] if len(parts) >= 3 and parts[-3] == "id" else None

    @property
    def data_path(self) -> str:
        """`/services/data/vNN.N/`, the prefix Composite subrequest URLs need."""
        return f"/services/data/v{self.version}/"

    def query(self, soql: str, **kwargs) -> dict:
        """The first page of a query (`records`, `done`, `nextRecordsUrl`)."""
        return self._call(lambda: self.sf.query(soql, **kwargs))

    def query_more(self, next_records_url: str) -> dict:
        return self._call(lambda: self.sf.query_more(next_records_url, identifier_is_url=True))

    def query_all(self, soql: str) -> list[dict]:
        """Every record of a query, following `nextRecordsUrl` page by page."""
        page = self.query(soql)
        return self.rest_of_pages(page)

    def rest_of_pages(self, page: dict) -> list[dict]:
        """The records of `page` and of every page after it (also for Composite query results)."""
        records = list(page.get("records") or [])
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self.query_more(page["nextRecordsUrl"])
            records.extend(page.get("records") or [])
        return records

    def restful(self, path: str, method: str = "GET", params: dict | None = None, json: Any = None) -> Any:
        """A REST call under /services/data/vNN.N/ (`None` for 204 or an empty body)."""
        kwargs = {"json": json} if json is not None else {}
        return self._call(lambda: self.sf.restful(path, params=params, method=method, **kwargs))

    def composite(self, subrequests: list[dict], all_or_none: bool = False) -> list[dict]:
        """One Composite call (≤ 25 subrequests, ≤ 5 queries or collections; reference 2.6);
        the subresponses in order. `collateSubrequests` is off so they run in that order."""
        body = {"allOrNone": all_or_none, "collateSubrequests": False, "compositeRequest": subrequests}
        answer = self.restful("composite", method="POST", json=body)
        return list((answer or {}).get("compositeResponse") or [])

    def query_url(self, soql: str) -> str:
        """The path of a GET query, as a Composite subrequest names it."""
        return f"{self.data_path}query?q={quote_plus(soql)}"

    def query_uri_bytes(self, soql: str) -> int:
        """The length in bytes of the full request URI of `GET query?q=soql`, measured on the
        request `requests` would really send (the 16 KB limit counts the encoded URI)."""
        prepared = requests.Request("GET", self.sf.base_url + "query/", params={"q": soql}).prepare()
        parts = urlsplit(prepared.url)
        return len(f"{parts.path}?{parts.query}".encode("ascii"))

    def query_url_chars(self, soql: str) -> int:
        """The length of the whole URL of `GET query?q=soql`, scheme and host included (what
        the ~2,000-character recommendation and browsers' and proxies' limits count)."""
        parts = urlsplit(self.sf.base_url)
        return len(f"{parts.scheme}://{parts.netloc}") + self.query_uri_bytes(soql)

    def refresh(self) -> None:
        """Get a new access token now (the wrapper also does it by itself on a 401)."""
        try:
            if self.oauth is None:
                raise ProviderError(ErrorKind.AUTH, "salesforce",
                                    "The Salesforce session expired and this connection cannot refresh it.",
                                    code="INVALID_SESSION_ID", status=401)
            fresh = self.oauth.refresh(self.tokens)
        except ProviderError:
            metrics.token_refresh_failed("salesforce")
            raise
        self.refreshes += 1
        instance_changed = fresh.get("instance_url") != self.tokens.get("instance_url")
        self.tokens = fresh
        if instance_changed:
            self.sf = self._client()
        else:
            # With a direct session_id the library never refreshes; both the attribute and
            # the prepared headers hold the token (reference 4.6).
            self.sf.session_id = fresh["access_token"]
            self.sf.headers["Authorization"] = "Bearer " + fresh["access_token"]
        if self.on_tokens:
            self.on_tokens(dict(fresh))

    def close(self) -> None:
        self.http.close()

    # ----- inside ---------------------------------------------------------------------------

    def _client(self) -> Salesforce:
        return Salesforce(instance_url=self.tokens["instance_url"], session_id=self.tokens["access_token"],
                          session=self.http, version=self.version)

    def _observe(self, response: requests.Response, *args, **kwargs) -> None:
        if "/services/data/" not in response.url:
            return
        self.calls += 1
        metrics.salesforce_call()
        retry_after = response.headers.get("Retry-After", "")
        self.last_retry_after = float(retry_after) if retry_after.isdigit() else None
        header = response.headers.get("Sforce-Limit-Info", "")
        match = _LIMIT_INFO.search(header)
        if match:
            self.last_usage = (int(match.group(1)), int(match.group(2)))
            bursts = _BURSTS.search(header)
            self.last_bursts = (int(bursts.group(1)), int(bursts.group(2))) if bursts else None
            if self.on_limit_info:
                self.on_limit_info(*self.last_usage)

    def _call(self, do: Callable[[], Any]) -> Any:
        try:
            try:
                return do()
            except SalesforceExpiredSession as expired:
                if first_error(expired.content)[0] not in ("INVALID_SESSION_ID", ""):
                    raise
                self.refresh()
                return do()  # once: a second 401 means the new token is refused too
        except SalesforceError as error:
            raise provider_error(error, self.last_retry_after, self.last_usage,
                                 self.last_bursts is not None) from error
        except requests.RequestException as error:
            raise ProviderError(ErrorKind.TEMPORARY, "salesforce", f"Salesforce unreachable: {error}",
                                code="timeout" if isinstance(error, requests.Timeout) else "network") from error


def provider_error(error: SalesforceError, retry_after: float | None = None,
                   usage: tuple[int, int] | None = None, bursting: bool = False) -> ProviderError:
    """A simple-salesforce exception (any status ≥ 300) as a ProviderError; `retry_after`
    is the answer's Retry-After header, when it had one; `usage` its Sforce-Limit-Info
    (used, allowance) and `bursting` whether that had an api-bursts part."""
    status = getattr(error, "status", None)
    code, message, fields = first_error(error.content)
    if code.upper() == "REQUEST_LIMIT_EXCEEDED" and is_concurrent_limit(message, usage, bursting):
        # Too many long-running requests at once: a short wait, not the daily pause.
        return ProviderError(ErrorKind.TEMPORARY, "salesforce",
                             f"{message or 'Concurrent requests limit exceeded.'} Salesforce is running too many "
                             "long requests for this org at once; Mailferry tries again shortly.",
                             code=code, status=status, retry_after=retry_after or CONCURRENT_BACKOFF_SECONDS)
    if status == 401:
        return ProviderError(ErrorKind.AUTH, "salesforce",
                             "Salesforce refused the session even after a refresh. Reconnect Salesforce: "
                             "My Settings → Connections → Salesforce → Connect.", code=code or "INVALID_SESSION_ID",
                             status=401)
    verdict = classify(code, message, fields, status)
    if verdict.kind == ErrorKind.BUDGET and retry_after is None:
        retry_after = LIMIT_BACKOFF_SECONDS
    if verdict.kind == ErrorKind.SETUP:
        message = f"{message} {setup_fix(code, message)}".strip()
    return ProviderError(verdict.kind, "salesforce", message or f"Salesforce answered {status}",
                         code=code or str(status), status=status, retry_after=retry_after)
