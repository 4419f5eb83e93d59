"""A small Microsoft Graph v1.0 mail client: folders, per-folder delta, one message,
categories, master categories, subscriptions and `$batch`.

Mailboxes are always addressed as `/users/{id or UPN}` (works for delegated and app-only
tokens alike). Every request asks for immutable ids, so a message keeps its id when moved
between folders, in delta pages and in notifications alike. Every failure is raised as a
`ProviderError` (`graph_errors`); a 401 is retried once with a token the provider is asked
for again. `calls` counts HTTP requests sent, for the benchmark's "Graph calls per 1,000
emails".
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote, urlencode, urlsplit

import requests

from mailferry import metrics
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.microsoft.graph_errors import PROVIDER, classify, error_from_exception, error_from_response
from worker.microsoft.messages import SELECT_FIELDS, GraphMessage, parse_datetime, parse_message

# Graph keeps a message's id across folder moves only when every call asks for it.
IMMUTABLE_IDS = 'IdType="ImmutableId"'
TEXT_BODY = 'outlook.body-content-type="text"'
BATCH_LIMIT = 20  # Graph refuses a `$batch` of more
# "Applying $filter in a delta query returns only up to 5,000 messages" (docs-contrib
# concepts/delta-query-messages.md; reference §1.7): a first round with our date filter
# that brings this many may have left messages out.
FILTERED_DELTA_LIMIT = 5000
LIST_PAGE_LIMIT = 1000  # the largest $top Graph takes for a message list
GROUP_PAGE_LIMIT = 999  # the largest $top for directory objects (reference wave2.md §7.6)
ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}
# Connect quickly; allow a slow page. Subscription creation waits for Graph's validation
# call to our webhook (up to 10 s), so it gets longer.
TIMEOUT = (10, 60)
CHANGE_TYPES = "created,updated,deleted"
# Graph's documented maximum for message subscriptions is 4,230 minutes in older pages and
# national clouds and 10,080 in newer ones (reference §1.8); staying under the shorter one
# works everywhere. A cloud that allows less still says so (`lifetime_limit`).
SUBSCRIPTION_LIFETIME = timedelta(minutes=4200)
# Graph's refusal of a too-long expiration: 400 ExtensionError "Subscription expiration can
# only be 4230 minutes in the future." (microsoftgraph/microsoft-graph-docs-contrib #7726).
_LIFETIME_REFUSAL = re.compile(r"expiration can only be (\d+) minutes", re.I)


def new_client_state() -> str:
    """A fresh secret for a subscription's `clientState` (Graph allows 128 characters).

    Store it sealed (`SecretBox.seal(state)`, a JSON string) in `Subscription.sealed_client_state`:
    the webhook opens it and compares.
    """
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class DeltaPage:
    """One page of a folder's delta round.

    Exactly one of `next_link` (more pages in this round) and `delta_link` (round complete:
    store it as the folder's cursor) is set.
    """

    messages: tuple[GraphMessage, ...]
    removed_ids: tuple[str, ...]
    next_link: str | None
    delta_link: str | None


@dataclass(frozen=True)
class MasterCategory:
    id: str
    display_name: str
    color: str


@dataclass(frozen=True)
class GraphSubscription:
    id: str
    resource: str
    expires_at: datetime | None


@dataclass(frozen=True)
class BatchPart:
    """One request inside `$batch`: `url` is relative to the version root, e.g. `/users/x/messages/y`."""

    method: str
    url: str
    body: dict | None = None
    prefer: tuple[str, ...] = ()  # Prefer values for this request (page size, body type)


@dataclass(frozen=True)
class DeltaRequest:
    """One folder's next delta page: `link` None starts a round (see `GraphClient.delta`)."""

    folder_id: str
    link: str | None
    received_since: datetime | None = None


@dataclass(frozen=True)
class SubscriptionRequest:
    folder_id: str
    notification_url: str
    lifecycle_url: str | None
    client_state: str
    expires_at: datetime


@dataclass(frozen=True)
class BatchResult:
    status: int
    body: Any
    error: ProviderError | None  # set when this part failed; its neighbours may still succeed


class GraphClient:
    def __init__(self, session: requests.Session, graph_url: str, token_provider: Callable[[], str]):
        self._session = session
        self._graph_url = graph_url.rstrip("/")
        self._origin = _origin(self._graph_url)
        self._token_provider = token_provider
        self._token: str | None = None
        self.calls = 0

    # -- folders and messages ------------------------------------------------------------------
    def folder(self, user: str, well_known_name: str) -> dict:
        """The mailFolder JSON (`id`, `displayName`, ...) of a well-known folder, e.g. `inbox`."""
        return self._json("GET", f"{self._user(user)}/mailFolders/{quote(well_known_name, safe='')}")

    def message(self, user: str, message_id: str) -> GraphMessage:
        answer = self._json("GET", f"{self._user(user)}/messages/{_id(message_id)}",
                            params={"$select": ",".join(SELECT_FIELDS)}, prefer=(TEXT_BODY,))
        return parse_message(answer)

    def delta(
        self,
        user: str,
        folder_id: str,
        link: str | None,
        *,
        received_since: datetime | None = None,
        page_size: int = 100,
    ) -> DeltaPage:
        """One delta page of a folder.

        `link` None starts a new round (the folder's current content, limited to mail
        received since `received_since` for the backfill window); otherwise `link` is the
        stored nextLink or deltaLink, followed exactly: it already encodes every option.
        An expired link raises CURSOR: start again with `link=None`.
        """
        prefer = (f"odata.maxpagesize={page_size}", TEXT_BODY)
        url = self._delta_url(user, DeltaRequest(folder_id, link, received_since))
        return _delta_page(self._json("GET", self._graph_url + url, prefer=prefer, absolute=True))

    def delta_many(self, user: str, wanted: list[DeltaRequest], *, page_size: int = 100) -> list[DeltaPage | ProviderError]:
        """The next delta page of several folders in one `$batch` call (a backfill of Inbox
        and Sent Items costs one request per round, not two); each folder gets its page or
        its own error, in order."""
        prefer = (f"odata.maxpagesize={page_size}", TEXT_BODY)
        answers: list[DeltaPage | ProviderError] = []
        for start in range(0, len(wanted), BATCH_LIMIT):
            chunk = wanted[start:start + BATCH_LIMIT]
            parts = [BatchPart("GET", self._delta_url(user, request), prefer=prefer) for request in chunk]
            for result in self.batch(parts):
                answers.append(result.error or _delta_page(result.body if isinstance(result.body, dict) else {}))
        return answers

    def locate(self, user: str, message_ids: list[str]) -> tuple[str, dict[str, str | None]]:
        """Where these messages are now: the Deleted Items folder's id and, per message, its
        `parentFolderId`, or None once Graph no longer has it (404). One `$batch` per 19
        messages. With immutable ids a message keeps its id across folders (reference §1.2
        `id`; learn "Get immutable identifiers for Outlook resources"), so a delta
        `@removed` can be told apart from a move out of the folder."""
        deleted_items, where = "", {}
        for start in range(0, len(message_ids), BATCH_LIMIT - 1):
            chunk = message_ids[start:start + BATCH_LIMIT - 1]
            parts = [BatchPart("GET", f"{self._user(user)}/mailFolders/deleteditems?$select=id")]
            parts += [BatchPart("GET", f"{self._user(user)}/messages/{_id(m)}?$select=id,parentFolderId")
                      for m in chunk]
            folder, *found = self.batch(parts)
            if folder.error:
                raise folder.error
            deleted_items = str(folder.body.get("id", "")) if isinstance(folder.body, dict) else ""
            for message_id, result in zip(chunk, found):
                if result.error is not None and result.error.kind is ErrorKind.NOT_FOUND:
                    where[message_id] = None
                elif result.error is not None:
                    raise result.error  # cannot tell: the run stops before its cursor moves on
                else:
                    body = result.body if isinstance(result.body, dict) else {}
                    where[message_id] = str(body.get("parentFolderId") or "")
        return deleted_items, where

    def messages_received_since(self, user: str, folder_id: str, since: datetime, *,
                                page_size: int = LIST_PAGE_LIMIT) -> Iterator[DeltaPage]:
        """Every message of a folder received since `since`, a page at a time (the list
        endpoint, not delta: no removals, no cursor). For what a filtered delta round left
        out (`FILTERED_DELTA_LIMIT`)."""
        query = {"$select": ",".join(SELECT_FIELDS), "$filter": f"receivedDateTime ge {_graph_time(since)}",
                 "$top": str(page_size)}
        url: str | None = (f"{self._graph_url}{self._user(user)}/mailFolders/{_id(folder_id)}/messages?"
                           + urlencode(query))
        while url:
            answer = self._json("GET", url, prefer=(TEXT_BODY,), absolute=True)
            page = _delta_page(answer)
            url = page.next_link
            if url and (_origin(url) != self._origin or not url.startswith(self._graph_url + "/")):
                raise ProviderError(ErrorKind.TEMPORARY, PROVIDER, "Graph's nextLink is not on the Graph host",
                                    code="ForeignNextLink")
            yield DeltaPage(page.messages, (), url, None)

    def _delta_url(self, user: str, request: DeltaRequest) -> str:
        """The request path under the version root: a new round's query, or the stored link
        (which already encodes every option) made relative."""
        if request.link is None:
            query = {"$select": ",".join(SELECT_FIELDS)}
            if request.received_since is not None:
                query["$filter"] = f"receivedDateTime ge {_graph_time(request.received_since)}"
            return f"{self._user(user)}/mailFolders/{_id(request.folder_id)}/messages/delta?{urlencode(query)}"
        if _origin(request.link) != self._origin or not request.link.startswith(self._graph_url + "/"):
            # Never send the bearer token elsewhere; a link we cannot trust is a lost cursor.
            raise ProviderError(ErrorKind.CURSOR, PROVIDER, "stored delta link is not on the Graph host",
                                code="ForeignDeltaLink")
        return request.link[len(self._graph_url):]

    def set_categories(self, user: str, message_id: str, categories: Iterable[str]) -> None:
        """Replace the message's categories (Graph has no add-one: send the whole list)."""
        self._json("PATCH", f"{self._user(user)}/messages/{_id(message_id)}",
                   body={"categories": list(categories)}, params={"$select": "categories"})

    # -- master categories ---------------------------------------------------------------------
    def master_categories(self, user: str) -> list[MasterCategory]:
        answer = self._json("GET", f"{self._user(user)}/outlook/masterCategories")
        return [_category(c) for c in answer.get("value", []) if isinstance(c, dict)]

    def add_master_category(self, user: str, name: str, color: str = "preset0") -> MasterCategory:
        """Create the category in the user's master list; if it exists already, return it."""
        try:
            answer = self._json("POST", f"{self._user(user)}/outlook/masterCategories",
                                body={"displayName": name, "color": color})
        except ProviderError as error:
            if error.status != 409:
                raise
            existing = [c for c in self.master_categories(user) if c.display_name.lower() == name.lower()]
            if not existing:
                raise
            return existing[0]
        return _category(answer)

    # -- subscriptions -------------------------------------------------------------------------
    def create_subscription(
        self,
        user: str,
        folder_id: str,
        notification_url: str,
        lifecycle_url: str | None,
        client_state: str,
        expires_at: datetime,
    ) -> GraphSubscription:
        """Subscribe to created/updated/deleted messages of one folder.

        Graph calls `notification_url` (and `lifecycle_url`) with a validationToken before it
        answers, so our webhook must be reachable over HTTPS at that moment.
        """
        body = self._subscription_body(user, SubscriptionRequest(
            folder_id, notification_url, lifecycle_url, client_state, expires_at))
        return _subscription(self._json("POST", "/subscriptions", body=body))

    def create_subscriptions(self, user: str, wanted: list[SubscriptionRequest]) -> list[GraphSubscription | ProviderError]:
        """Several subscriptions in one `$batch` call (one per synced folder of a mailbox)."""
        parts = [BatchPart("POST", "/subscriptions", body=self._subscription_body(user, request)) for request in wanted]
        return [result.error or _subscription(result.body if isinstance(result.body, dict) else {})
                for result in self.batch(parts)]

    def _subscription_body(self, user: str, request: SubscriptionRequest) -> dict:
        body = {
            "changeType": CHANGE_TYPES,
            "notificationUrl": request.notification_url,
            "resource": f"users/{quote(user, safe='@')}/mailFolders/{_id(request.folder_id)}/messages",
            "expirationDateTime": _graph_time(request.expires_at),
            "clientState": request.client_state,
        }
        if request.lifecycle_url:
            body["lifecycleNotificationUrl"] = request.lifecycle_url
        return body

    def subscription(self, subscription_id: str) -> GraphSubscription:
        """Graph's view of one subscription; NOT_FOUND once Graph no longer knows it."""
        return _subscription(self._json("GET", f"/subscriptions/{_id(subscription_id)}"))

    def renew_subscription(self, subscription_id: str, expires_at: datetime) -> GraphSubscription:
        """Extend the expiry (this also answers a reauthorizationRequired lifecycle event)."""
        return _subscription(self._json("PATCH", f"/subscriptions/{_id(subscription_id)}",
                                        body={"expirationDateTime": _graph_time(expires_at)}))

    def delete_subscription(self, subscription_id: str) -> bool:
        """Delete it; False when Graph no longer knew it (expired or removed), which is fine."""
        try:
            self._json("DELETE", f"/subscriptions/{_id(subscription_id)}")
        except ProviderError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return False
            raise
        return True

    # -- $batch --------------------------------------------------------------------------------
    def batch(self, parts: list[BatchPart]) -> list[BatchResult]:
        """Up to 20 requests in one call; results in the order of `parts`, each with its own error."""
        if not 0 < len(parts) <= BATCH_LIMIT:
            raise ValueError(f"a Graph $batch holds 1 to {BATCH_LIMIT} requests, not {len(parts)}")
        requests_ = []
        for number, part in enumerate(parts, 1):
            entry: dict[str, Any] = {"id": str(number), "method": part.method, "url": part.url,
                                     "headers": {"Prefer": ", ".join((*part.prefer, IMMUTABLE_IDS))}}
            if part.body is not None:
                entry["body"] = part.body
                entry["headers"]["Content-Type"] = "application/json"
            requests_.append(entry)
        answer = self._json("POST", "/$batch", body={"requests": requests_})
        by_id = {str(r.get("id")): r for r in answer.get("responses", []) if isinstance(r, dict)}
        results = []
        for number in range(1, len(parts) + 1):
            reply = by_id.get(str(number), {"status": 500, "body": None})
            status = int(reply.get("status", 500))
            body = reply.get("body")
            error = None
            if status >= 400:
                error_body = body.get("error", {}) if isinstance(body, dict) else {}
                headers = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
                error = classify(status, str(error_body.get("code", "")), str(error_body.get("message", "")),
                                 headers.get("retry-after"))
            results.append(BatchResult(status, body, error))
        return results

    # -- groups (app-only onboarding) ---------------------------------------------------------
    def group(self, group_id: str) -> dict:
        """The group's `id` and `displayName` (needs GroupMember.Read.All or more)."""
        return self._json("GET", f"/groups/{quote(group_id, safe='')}", params={"$select": "id,displayName"})

    def group_users(self, group_id: str) -> Iterator[dict]:
        """Every user in the group, nested groups included (`id`, `userPrincipalName`, `mail`,
        `displayName`), 999 a page. The cast is an advanced query: `ConsistencyLevel: eventual`
        on every page, since the next link does not carry it (reference wave2.md §7.6)."""
        url = f"{self._graph_url}/groups/{quote(group_id, safe='')}/transitiveMembers/microsoft.graph.user"
        params = {"$select": "id,userPrincipalName,mail,displayName", "$top": str(GROUP_PAGE_LIMIT)}
        while url:
            page = self._json("GET", url, params=params, absolute=True, headers=ADVANCED_QUERY)
            yield from page.get("value") or []
            url, params = page.get("@odata.nextLink"), None

    # -- plumbing ------------------------------------------------------------------------------
    def _user(self, user: str) -> str:
        return f"/users/{quote(user, safe='@')}"

    def _json(self, method: str, path: str, *, params=None, body=None, prefer=(), absolute=False,
              headers=None) -> dict:
        response = self._send(method, path if absolute else self._graph_url + path, params, body, prefer, headers)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            answer = response.json()
        except ValueError:
            raise ProviderError(ErrorKind.TEMPORARY, PROVIDER, "Graph answered with a body that is not JSON",
                                status=response.status_code) from None
        return answer if isinstance(answer, dict) else {}

    def _send(self, method, url, params, body, prefer, extra_headers=None) -> requests.Response:
        for attempt in (1, 2):
            if self._token is None:
                try:
                    self._token = self._token_provider()
                except ProviderError:
                    metrics.token_refresh_failed("microsoft")
                    raise
            headers = {"Authorization": f"Bearer {self._token}", "Prefer": ", ".join((*prefer, IMMUTABLE_IDS)),
                       **(extra_headers or {})}
            try:
                self.calls += 1
                metrics.graph_call()
                response = self._session.request(method, url, params=params, json=body, headers=headers,
                                                 timeout=TIMEOUT)
            except requests.RequestException as error:
                raise error_from_exception(error) from None
            if response.status_code == 401 and attempt == 1:
                # The token may have been revoked or expired early: ask for a fresh one once.
                self._token = None
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            return response
        raise AssertionError("unreachable")


def lifetime_limit(error: ProviderError) -> timedelta | None:
    """The longest lifetime Graph accepts, when `error` is its refusal of a too-long
    subscription expiration (on create or renew); None for any other error."""
    if error.status != 400:
        return None
    match = _LIFETIME_REFUSAL.search(error.message)
    if match is None:
        return None
    return timedelta(minutes=int(match[1]))


def _delta_page(answer: dict) -> DeltaPage:
    messages, removed = [], []
    for item in answer.get("value", []):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        if "@removed" in item:
            removed.append(item["id"])
        else:
            messages.append(parse_message(item))
    return DeltaPage(tuple(messages), tuple(removed),
                     answer.get("@odata.nextLink"), answer.get("@odata.deltaLink"))


def _category(item: dict) -> MasterCategory:
    return MasterCategory(str(item.get("id", "")), str(item.get("displayName", "")), str(item.get("color", "none")))


def _subscription(item: dict) -> GraphSubscription:
    return GraphSubscription(str(item.get("id", "")), str(item.get("resource", "")),
                             parse_datetime(item.get("expirationDateTime")))


def _graph_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Graph times must be aware datetimes")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(value: str) -> str:
    # Graph ids are base64-like; keep `=` readable, escape `/` and `+`.
    return quote(value, safe="=-_")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
