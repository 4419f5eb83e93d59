"""What every Graph call passes before its handler: bearer-token validation (reference §1.12,
§1.11 401 shape), `/me` versus app tokens (§1.1), the mailbox the URL addresses, and Outlook's
limit of concurrent requests per mailbox (§1.10, 429 `ApplicationThrottled` / MailboxConcurrency).

Registered ahead of the shared fault control, so a mailbox slot is held while an injected
latency sleeps: that is how a test makes real concurrency overflow the limit.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from flask import Flask, g, request

from .errors import GraphError, graph_error_response
from .state import state
from .tokens import GRAPH_AUDIENCES, TokenError

GRAPH_PREFIX = "/v1.0/"
_SLOT = "mailferry.sandbox.mailbox_slot"
_TOKEN_MESSAGES = {
    "expired": "Lifetime validation failed, the token is expired.",
    "audience": "Access token validation failure. Invalid audience.",
    "signature": "Access token validation failure.",
    "malformed": "IDX14100: JWT is not well formed.",
}
# Which scopes (delegated) or app roles satisfy each kind of access.
_DELEGATED = {
    "read": {"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"},
    "write": {"Mail.ReadWrite"},
    "settings.read": {"MailboxSettings.Read", "MailboxSettings.ReadWrite"},
    "settings.write": {"MailboxSettings.ReadWrite"},
}
_APP = {
    "read": {"Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"},
    "write": {"Mail.ReadWrite"},
    "settings.read": {"MailboxSettings.Read", "MailboxSettings.ReadWrite"},
    "settings.write": {"MailboxSettings.ReadWrite"},
}


@dataclass(frozen=True)
class Caller:
    claims: dict
    delegated: bool
    oid: str
    client_id: str
    permissions: frozenset[str]


class ConcurrencyLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}

    def acquire(self, key: str, limit: int) -> bool:
        with self._lock:
            if self._active.get(key, 0) >= limit:
                return False
            self._active[key] = self._active.get(key, 0) + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._active[key] -= 1


def authenticate() -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    sandbox = state()
    try:
        claims = sandbox.key.verify(token.strip(), GRAPH_AUDIENCES)
    except TokenError as exc:
        raise GraphError(401, "InvalidAuthenticationToken", _TOKEN_MESSAGES[exc.reason]) from exc
    if claims.get("tid") != sandbox.store.tenant_id:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.")
    delegated = "scp" in claims
    permissions = frozenset(claims["scp"].split() if delegated else claims.get("roles", []))
    return Caller(claims, delegated, claims.get("oid", ""), claims.get("appid", ""), permissions)


def require(kind: str) -> None:
    """403 unless the caller's token carries a scope or role allowing `kind` of access."""
    caller: Caller = g.caller
    table = _DELEGATED if caller.delegated else _APP
    if not caller.permissions & table[kind]:
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def resolve_mailbox(caller: Caller):
    """The mailbox the URL names, or None for calls not about one mailbox."""
    path = request.path[len(GRAPH_PREFIX) - 1:]
    store = state().store
    if path == "/me" or path.startswith("/me/"):
        if not caller.delegated:
            raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        ref = caller.oid
    elif (request.view_args or {}).get("user_ref"):
        ref = request.view_args["user_ref"]
    else:
        return None
    mailbox = store.mailbox(ref)
    if mailbox is None:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
    if caller.delegated and mailbox.user.oid != caller.oid:
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    return mailbox


# Exchange Online's refusal of app-only access outside an application access policy's
# scope (reference wave2 §7.7, observed body; RBAC for Applications' denial body is
# unconfirmed there, so the sandbox answers the same for both).
POLICY_DENIED = "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."


def check_app_access_policy(caller: Caller, mailbox) -> None:
    """403 when an application access policy (`New-ApplicationAccessPolicy -AccessRight
    RestrictAccess | DenyAccess`) keeps this app-only caller out of the mailbox. Delegated
    tokens are not subject to it (the policies scope application permissions only)."""
    if caller.delegated or mailbox is None:
        return
    policy = state().store.app_access_policies.get(caller.client_id)
    if policy is None:
        return
    right, scope = policy
    inside = mailbox.user.oid in scope
    if (right == "RestrictAccess" and not inside) or (right == "DenyAccess" and inside):
        raise GraphError(403, "ErrorAccessDenied", POLICY_DENIED)


def _before() -> object:
    if not request.path.startswith(GRAPH_PREFIX) or request.method == "OPTIONS":
        return None  # CORS preflights carry no token
    sandbox = state()
    try:
        g.caller = authenticate()
        g.mailbox = resolve_mailbox(g.caller)
        check_app_access_policy(g.caller, g.mailbox)
        if g.mailbox is not None:
            key = f"{g.caller.client_id}|{g.mailbox.user.oid}"
            if not sandbox.limiter.acquire(key, sandbox.tunables.mailbox_concurrency):
                raise GraphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                                 {"Retry-After": str(sandbox.tunables.retry_after_s)})
            # Kept in the WSGI environ, not `g`: $batch parts run as nested requests that share
            # the outer request's app context (and so its `g`).
            request.environ[_SLOT] = key
    except GraphError as error:
        # The shared control never sees calls refused here; count them the way it would.
        template = request.url_rule.rule if request.url_rule else "<unrouted>"
        sandbox.control.count(f"{request.method} {template}")
        return graph_error_response(error)
    return None


def _teardown(_exc) -> None:
    key = request.environ.pop(_SLOT, None)
    if key is not None:
        state().limiter.release(key)


def _correlate(response):
    # Graph answers every call with its own request-id and echoes the caller's client-request-id;
    # it also allows cross-origin calls from browsers.
    if request.path.startswith(GRAPH_PREFIX):
        headers = response.headers
        headers["request-id"] = str(uuid.uuid4())
        headers["client-request-id"] = request.headers.get("client-request-id") or headers["request-id"]
        if request.headers.get("Origin"):
            headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
            headers["Access-Control-Expose-Headers"] = "request-id, client-request-id, Retry-After, Preference-Applied"
            if request.method == "OPTIONS":
                headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
                headers["Access-Control-Allow-Headers"] = request.headers.get(
                    "Access-Control-Request-Headers", "Authorization, Content-Type")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_correlate)
    app.teardown_request(_teardown)
