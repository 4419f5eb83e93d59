"""Microsoft Entra ID sign-in and tokens through msal, for the web app and the worker.

The web app signs a user in with the authorization-code flow (PKCE) and stores the resulting
msal token cache, sealed, on the user's Microsoft connection. The worker opens that sealed
state, asks msal for an access token silently (msal refreshes with the refresh token when
the access token is near expiry) and re-seals the cache only when msal changed it. Tenants
that granted app-only access get client-credentials tokens, cached in this process.

Every failure becomes a `ProviderError`, so the pipeline decides in one place what to do:
a refresh token that no longer works is `AUTH` with the exact fix for the user; throttling
and outages are `TEMPORARY` with the wait Entra asked for. Tokens never reach a log line or
an exception message.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import msal
import msal.exceptions
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailferry.config import Config
from mailferry.crypto import SecretBox
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.tls import https_session

PROVIDER = "microsoft"
# Delegated permissions Mailferry asks for. msal adds openid, profile and offline_access
# (offline_access is what brings the refresh token) itself and refuses them in this list.
DELEGATED_SCOPES = ("Mail.ReadWrite", "User.Read")
# What the worker needs from a delegated token: reading mail and setting categories.
MAIL_SCOPES = ("Mail.ReadWrite",)
# Client credentials always ask for the resource's `.default` (the app roles an admin granted).
APP_SCOPES = ("https://graph.microsoft.com/.default",)
# The authority's tenant segment for signing in is `config.microsoft_tenant` (MICROSOFT_TENANT):
# `organizations` (any work account) for a multi-tenant registration, the tenant itself for a
# single-tenant one, which Entra refuses on /organizations and /common (AADSTS50194).

# Hosts msal knows; for any other host (the sandbox) msal must not call Microsoft's
# instance-discovery endpoint, which would fail offline and leak the host name.
MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
    "login.microsoftonline.us", "login-us.microsoftonline.com", "login.chinacloudapi.cn",
})

RECONNECT_FIX = (
    "Mailferry can no longer read this mailbox: the Microsoft 365 sign-in expired or was "
    "revoked (password change, admin revocation, or consent withdrawn). Open Mailferry → "
    "My Settings → Connections and choose \"Sign in with Microsoft\" again."
)
APP_ONLY_FIX = (
    "Mailferry's app-only access to this tenant failed: an administrator must check the app "
    "registration's credential (the certificate of MICROSOFT_CLIENT_CERTIFICATE_FILE, uploaded "
    "under Certificates & secrets, or the client secret MICROSOFT_CLIENT_SECRET) and that admin "
    "consent for the Mail.ReadWrite application permission is granted, then retry."
)

# Entra `error` values that only a person signing in again can fix.
_NEEDS_SIGN_IN = frozenset({"invalid_grant", "interaction_required", "consent_required", "login_required"})
# Errors of the app registration itself (wrong secret, unknown app): an admin must fix them.
_APP_MISCONFIGURED = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "invalid_resource"})


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, and the token state to seal onto their Microsoft connection."""

    oid: str
    tid: str
    username: str
    name: str
    scopes: tuple[str, ...]
    token_state: dict = field(repr=False)  # holds refresh and access tokens: seal it, never log it
    roles: tuple[str, ...] = ()  # the ID token's app roles (`Mailferry.Admin` makes an admin)

    def sealed(self, box: SecretBox) -> bytes:
        return box.seal(self.token_state)


# -- the msal application ----------------------------------------------------------------------
def authority_url(config: Config, tenant: str) -> str:
    # No trailing slash: msal would ask for `/<tenant>//v2.0/...`.
    return f"{config.microsoft_authority_host.rstrip('/')}/{tenant}"


def build_app(config: Config, tenant: str, cache: msal.TokenCache | None = None) -> msal.ConfidentialClientApplication:
    """An msal confidential client for `tenant`, talking HTTPS only through our verified session."""
    return _connect(config, tenant, cache)[0]


def client_credential(config: Config) -> str | dict:
    """How the app proves itself to Entra: the certificate of MICROSOFT_CLIENT_CERTIFICATE_FILE
    when set (a client assertion signed with its private key), else the client secret.

    msal gets the certificate itself, not a thumbprint: it then signs with PS256 and names the
    key by its SHA-256 thumbprint (`x5t#S256`), as Entra recommends, and sends the chain
    (`x5c`) for subject-name/issuer authentication (reference wave2.md §7.5, microsoft.md §2.4).
    """
    path = config.microsoft_client_certificate_file
    if path is None:
        return config.microsoft_client_secret
    return _certificate_credential(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _certificate_credential(path: str, _mtime_ns: int) -> dict:
    # Read once per file version (config validated it holds a certificate and its key); a
    # renewed certificate written over the file is picked up by its new mtime.
    pem = Path(path).read_bytes()
    certificate = x509.load_pem_x509_certificate(pem)
    key = serialization.load_pem_private_key(pem, password=None)
    return {
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }


def _connect(config: Config, tenant: str, cache: msal.TokenCache | None = None):
    """The msal app and the wire under it (which remembers Entra's last error status)."""
    host = urlsplit(config.microsoft_authority_host).hostname or ""
    # Our session (REQUESTS_CA_BUNDLE cannot replace its CA) behind a discovery cache, so
    # building an app per connection does not re-fetch the OpenID configuration.
    wire = _Wire(_session(config))
    try:
        app = msal.ConfidentialClientApplication(
            config.microsoft_client_id,
            client_credential=client_credential(config),
            authority=authority_url(config, tenant),
            # None = msal's default (validate against Microsoft's list) on real hosts only.
            instance_discovery=None if host in MICROSOFT_AUTHORITY_HOSTS else False,
            # False, not None: MSAL_FORCE_REGION in the environment would otherwise rewrite
            # the token host to `<region>.<host>`.
            azure_region=False,
            http_client=wire,
            token_cache=cache,
        )
    except (requests.RequestException, msal.exceptions.MsalServiceError, ValueError, OSError) as error:
        # Discovery happens in the constructor: the authority is down, unreachable or wrong.
        raise _network_error(error, wire, "reading the Entra ID OpenID configuration") from None
    return app, wire


# -- delegated: sign-in ----------------------------------------------------------------------
def start_sign_in(
    config: Config,
    redirect_uri: str,
    *,
    scopes: tuple[str, ...] = DELEGATED_SCOPES,
    tenant: str | None = None,
    login_hint: str | None = None,
) -> dict:
    """Begin the authorization-code flow with PKCE.

    Returns msal's flow dict: send the browser to `flow["auth_uri"]`, and keep the whole
    dict server-side (or sealed) until the callback; it holds the PKCE verifier and nonce.
    `tenant` defaults to the configured one (MICROSOFT_TENANT).
    """
    app = build_app(config, tenant or config.microsoft_tenant)
    return app.initiate_auth_code_flow(
        list(scopes), redirect_uri=redirect_uri, login_hint=login_hint, response_mode="form_post"
    )


def finish_sign_in(config: Config, flow: dict, auth_response: Mapping[str, str]) -> SignedIn:
    """Redeem the code the browser brought back (`auth_response`: the callback's form or query).

    msal checks `state`, sends the PKCE verifier and checks the ID token's nonce. The
    returned token state holds the whole msal cache (refresh token included).
    """
    tenant = _flow_tenant(flow, config)
    cache = msal.SerializableTokenCache()
    app, wire = _connect(config, tenant, cache)
    try:
        result = app.acquire_token_by_auth_code_flow(flow, dict(auth_response))
    except ValueError as error:  # state mismatch or missing: a replayed or forged callback
        raise ProviderError(ErrorKind.AUTH, PROVIDER, f"sign-in callback rejected: {error}",
                            code="state_mismatch") from None
    except (requests.RequestException, msal.exceptions.MsalServiceError) as error:
        raise _network_error(error, wire, "redeeming the sign-in code") from None
    _raise_for_result(result, wire, RECONNECT_FIX)
    claims = result.get("id_token_claims") or {}
    accounts = app.get_accounts()
    if not accounts:
        raise ProviderError(ErrorKind.UNKNOWN, PROVIDER, "Entra ID returned no account for the sign-in")
    state = {
        "version": 1,
        "authority_tenant": tenant,
        "home_account_id": accounts[0]["home_account_id"],
        "msal_cache": cache.serialize(),
    }
    return SignedIn(
        oid=str(claims.get("oid", "")),
        tid=str(claims.get("tid", "")),
        username=str(claims.get("preferred_username", "")),
        name=str(claims.get("name", "")),
        scopes=tuple(str(result.get("scope", "")).split()),
        token_state=state,
        roles=tuple(str(role) for role in claims.get("roles") or ()),
    )


# -- delegated: the worker's silent token ----------------------------------------------------
def acquire_delegated_token(
    config: Config,
    sealed_state: bytes,
    box: SecretBox,
    *,
    scopes: tuple[str, ...] = MAIL_SCOPES,
    force_refresh: bool = False,
) -> tuple[str, bytes | None]:
    """An access token for the connection whose sealed token state is `sealed_state`.

    Returns `(access_token, new_sealed_state)`; `new_sealed_state` is None when msal did not
    change the cache (a cached access token was still good), so the caller writes the
    database only after a refresh. `force_refresh` skips the cached access token (after
    Graph refused it).

    A state that `box` cannot open raises `SecretUnreadable`, never an AUTH ProviderError:
    it almost always means this process lacks the newest key (a host missed a rotation), and
    the user must not be asked to reconnect for that. A worker checks its run's secrets first
    and stops (worker/sealed.py); offboarding leaves the subscriptions to expire. A state no
    key anywhere opens (truly corrupt: every worker stops on that mailbox) is named by
    `mailferry secrets rotate`'s check; the user then signs in with Microsoft again, which
    stores a new state.
    """
    state = box.open(sealed_state)  # SecretUnreadable propagates: see the docstring
    cache = msal.SerializableTokenCache()
    cache.deserialize(state["msal_cache"])
    app, wire = _connect(config, state["authority_tenant"], cache)
    account = next((a for a in app.get_accounts() if a["home_account_id"] == state["home_account_id"]), None)
    if account is None:
        raise ProviderError(ErrorKind.AUTH, PROVIDER, RECONNECT_FIX, code="no_account")
    try:
        result = app.acquire_token_silent_with_error(list(scopes), account, force_refresh=force_refresh)
    except (requests.RequestException, msal.exceptions.MsalServiceError) as error:
        raise _network_error(error, wire, "refreshing the Microsoft token") from None
    if result is None:  # msal found no usable refresh token in the cache
        raise ProviderError(ErrorKind.AUTH, PROVIDER, RECONNECT_FIX, code="no_refresh_token")
    _raise_for_result(result, wire, RECONNECT_FIX)
    new_state = None
    if cache.has_state_changed:
        new_state = box.seal({**state, "msal_cache": cache.serialize()})
    return result["access_token"], new_state


def delegated_token_provider(
    config: Config,
    sealed_state: bytes,
    box: SecretBox,
    on_new_state: Callable[[bytes], None],
) -> Callable[[], str]:
    """A token provider for `GraphClient`: the first call may use the cached access token;
    any later call (the client calls again only after Graph answered 401) forces a refresh.
    `on_new_state` receives the re-sealed cache whenever it changed: store it."""
    current = {"sealed": sealed_state, "calls": 0}

    def provide() -> str:
        current["calls"] += 1
        token, new_state = acquire_delegated_token(
            config, current["sealed"], box, force_refresh=current["calls"] > 1
        )
        if new_state is not None:
            current["sealed"] = new_state
            on_new_state(new_state)
        return token

    return provide


# -- app-only ----------------------------------------------------------------------------------
_app_clients: dict[tuple, tuple[msal.ConfidentialClientApplication, "_Wire"]] = {}
_app_clients_lock = threading.Lock()


def acquire_app_token(config: Config, tenant_id: str) -> str:
    """A client-credentials (app-only) Graph token for `tenant_id`.

    One msal application per tenant is kept for the life of the process; msal caches the
    token in it and asks Entra again only near expiry.
    """
    key = (config.microsoft_authority_host, config.microsoft_client_id, str(config.client_ca_file), tenant_id)
    with _app_clients_lock:
        client = _app_clients.get(key)
        if client is None:
            client = _app_clients[key] = _connect(config, tenant_id)
    app, wire = client
    try:
        result = app.acquire_token_for_client(list(APP_SCOPES))
    except (requests.RequestException, msal.exceptions.MsalServiceError) as error:
        raise _network_error(error, wire, "getting an app-only Microsoft token") from None
    _raise_for_result(result, wire, APP_ONLY_FIX)
    return result["access_token"]


def forget_app_tokens() -> None:
    """Drop the per-tenant app-only clients (after a secret rotation, and between tests)."""
    with _app_clients_lock:
        _app_clients.clear()


# -- errors ------------------------------------------------------------------------------------
def _raise_for_result(result: dict, wire: "_Wire", auth_fix: str) -> None:
    """Turn msal's error dict (msal returns Entra's JSON rather than raising) into ProviderError."""
    if "access_token" in result:
        return
    status, retry_after = wire.last_failure
    error = result.get("error")
    error = error if isinstance(error, str) else "unknown_error"
    codes = result.get("error_codes") or []
    # Entra's description starts with "AADSTS<n>: <text>" and then trace ids: keep the first line.
    description = str(result.get("error_description", "")).splitlines()[:1]
    detail = f"{error}: {description[0]}" if description else error
    code = f"{error} (AADSTS{codes[0]})" if codes else error
    if status == 429 or (status or 0) >= 500 or error in ("temporarily_unavailable", "server_error"):
        # Throttled or down (msal hands 429 bodies back as results): try again later.
        raise ProviderError(ErrorKind.TEMPORARY, PROVIDER, f"Entra ID is throttling or unavailable ({detail})",
                            code=code, status=status, retry_after=retry_after)
    if error in _NEEDS_SIGN_IN:
        raise ProviderError(ErrorKind.AUTH, PROVIDER, auth_fix, code=code, status=status)
    if error in _APP_MISCONFIGURED:
        raise ProviderError(ErrorKind.AUTH, PROVIDER, f"{APP_ONLY_FIX} ({detail})", code=code, status=status)
    raise ProviderError(ErrorKind.UNKNOWN, PROVIDER, detail, code=code, status=status)


def _network_error(error: Exception, wire: "_Wire", doing: str) -> ProviderError:
    """Entra answered 5xx (msal raises for those), timed out, or could not be reached."""
    status, retry_after = wire.last_failure
    if status is not None and status != 429 and status < 500:
        return ProviderError(ErrorKind.UNKNOWN, PROVIDER, f"{doing}: HTTP {status}", status=status)
    suffix = f" (HTTP {status})" if status else f" ({type(error).__name__})"
    return ProviderError(ErrorKind.TEMPORARY, PROVIDER, f"{doing} failed{suffix}", status=status,
                         retry_after=retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _flow_tenant(flow: dict, config: Config) -> str:
    """The tenant segment the flow's authorize URL used (the code must be redeemed there)."""
    path = urlsplit(flow.get("auth_uri", "")).path
    authority_path = urlsplit(config.microsoft_authority_host).path.rstrip("/")
    rest = path[len(authority_path):].lstrip("/") if path.startswith(authority_path) else path.lstrip("/")
    return rest.split("/", 1)[0] or config.microsoft_tenant


# -- HTTP plumbing -----------------------------------------------------------------------------
_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def _session(config: Config) -> requests.Session:
    # One keep-alive session per CA file and process; requests sessions tolerate threads for
    # this use (independent requests, no shared cookies that matter). Entra is verified with
    # the CA Graph and Salesforce are (config.client_ca_file: the development CA only in the
    # demo, MAILFERRY_CLIENT_CA_FILE or certifi's public CAs in production).
    key = str(config.client_ca_file)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = https_session(config.client_ca_file)
        return session


_DISCOVERY_TTL_S = 3600
_discovery: dict[str, tuple[float, Any]] = {}
_discovery_lock = threading.Lock()


class _Wire:
    """The http_client msal calls, over our verified session.

    Successful GETs of OpenID configuration documents are remembered for an hour,
    process-wide (msal's own cache lives and dies with each application object). The
    status and Retry-After of the last failed answer are kept, because msal raises a bare
    MsalServiceError for a 5xx and returns a 429's body without its headers.
    """

    def __init__(self, session: requests.Session):
        self._session = session
        self.last_failure: tuple[int | None, float | None] = (None, None)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        kwargs.setdefault("timeout", 30)
        return self._note(self._session.post(url, params=params, data=data, headers=headers, **kwargs))

    def get(self, url, params=None, headers=None, **kwargs):
        kwargs.setdefault("timeout", 30)
        if "openid-configuration" not in url:
            return self._note(self._session.get(url, params=params, headers=headers, **kwargs))
        # Per trust setting too: a document fetched through one CA bundle must not answer a
        # client that would not have verified the server.
        key = f"{self._session.verify} {url}?{sorted((params or {}).items())}"
        now = time.monotonic()
        with _discovery_lock:
            hit = _discovery.get(key)
        if hit and now - hit[0] < _DISCOVERY_TTL_S:
            return hit[1]
        response = self._note(self._session.get(url, params=params, headers=headers, **kwargs))
        if response.status_code == 200:
            with _discovery_lock:
                _discovery[key] = (now, response)
        return response

    def _note(self, response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            self.last_failure = (response.status_code, parse_retry_after(response.headers.get("Retry-After")))
        else:
            self.last_failure = (None, None)
        return response

    def close(self):  # msal may close its client; the shared session stays open
        pass
