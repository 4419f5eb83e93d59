"""Salesforce sign-in: the OAuth 2.0 web server flow with PKCE, refresh, revoke and the
identity URL (reference 1), with plain `requests` over `mailferry.tls.https_session`.

simple-salesforce has no authorization-code or refresh support (reference 4.2), so this
module does those steps itself and hands back plain dicts the caller seals with `SecretBox`
(`Connection.sealed_secrets`). It lives in the shared core because both the web app's
"Connect Salesforce" and the worker's transparent refresh use it.

Every failure is a `mailferry.provider_errors.ProviderError` (kind `auth`, `setup`,
`temporary` or `unknown`) whose `message` says the fix; the web app shows it as is, so a
message never carries a body a server sent (only its status and a short error code).

The consumer secret is only ever posted to a login host `SalesforceHosts` allows, a token
response must carry a valid `signature`, and its `instance_url` and `id` must be on
Salesforce's hosts too: the identity URL is the one URL taken from a reply that we fetch, and
it is fetched only after these checks (`mailferry.salesforce_domains`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Mapping
from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit

import requests

from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.salesforce_domains import SalesforceHosts, identity_ids


PRODUCTION_LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"
#: `api` for REST calls, `refresh_token` for the worker to keep going while nobody is signed
#: in, `id` for the identity URL that tells us the user and the org.
DEFAULT_SCOPE = "api refresh_token id"
#: Seconds before a call to the login host gives up (a stuck sign-in must not hang a worker).
TIMEOUT_SECONDS = 30
#: Redirects of the identity URL we follow, each to a Salesforce host again.
MAX_IDENTITY_REDIRECTS = 3
# What of a server's error answer may appear in a message: a short code, nothing else.
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_DESCRIPTION = re.compile(r"^[A-Za-z0-9 _.,:;'()/-]{1,160}$")

RECONNECT_FIX = (
    "Reconnect Salesforce: My Settings → Connections → Salesforce → Connect, and sign in again. "
    "If this keeps happening, ask your Salesforce admin to check that your user is active and that "
    "the connected app's refresh token policy is 'Refresh token is valid until revoked'."
)


def login_url_for(kind: str, my_domain: str | None = None) -> str:
    """The authorization host for a login kind: `production`, `sandbox` or `my_domain`.

    `my_domain` is the My Domain name (`acme`, `acme--uat.sandbox`) or a full https host;
    orgs that block login.salesforce.com need it (reference 1.1).
    """
    if kind == "production":
        return PRODUCTION_LOGIN_URL
    if kind == "sandbox":
        return SANDBOX_LOGIN_URL
    if kind != "my_domain" or not my_domain or not my_domain.strip():
        raise ValueError("login kind is production, sandbox or my_domain (with the My Domain name)")
    value = my_domain.strip().rstrip("/")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"a My Domain login URL must be https://<host>, not {my_domain!r}")
        return f"https://{parts.netloc}"
    if not all(part.replace("-", "").isalnum() for part in value.split(".")):
        raise ValueError(f"{my_domain!r} is not a My Domain name (letters, digits and hyphens)")
    return f"https://{value}.my.salesforce.com"


@dataclass(frozen=True)
class Pkce:
    """A PKCE pair (RFC 7636): keep `verifier` server-side, send `challenge` to authorize."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        # 64 random bytes → 86 characters of [A-Za-z0-9-_], inside the 43–128 RFC range.
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def authorize_url(
    login_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    *,
    scope: str = DEFAULT_SCOPE,
    login_hint: str | None = None,
    prompt: str | None = None,
) -> str:
    """Where to send the browser to start the web server flow (reference 1.2)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    if prompt:
        params["prompt"] = prompt
    return f"{login_url.rstrip('/')}/services/oauth2/authorize?{urlencode(params)}"


def code_from_callback(params: Mapping[str, str], expected_state: str) -> str:
    """The authorization code from the callback's query, after checking `state` (it ties
    the callback to the sign-in this browser started, against login CSRF).

    Salesforce reports a refusal as `error=access_denied` (its Help page spells it
    `access-denied`, reference 1.2); every failure is an ProviderError(AUTH) saying what to do.
    """
    state = params.get("state") or ""
    if not expected_state or not hmac.compare_digest(state, expected_state):
        raise ProviderError(ErrorKind.AUTH, "salesforce",
                         "This Salesforce sign-in was not started from this browser (or took too long). "
                         "Start again from My Settings → Connections → Salesforce → Connect.", code="state_mismatch")
    error = params.get("error")
    if error:
        # Both come from a URL anyone can craft: shown only when they look like Salesforce's.
        error = error if _ERROR_CODE.match(error) else "error"
        description = _said(params, "error_description", _DESCRIPTION)
        if error in ("access_denied", "access-denied"):
            message = ("Salesforce access was not allowed, so nothing was connected. To connect, start again "
                       "and choose Allow.")
        else:
            message = f"Salesforce refused the sign-in ({error}: {description or 'no description'}). {RECONNECT_FIX}"
        raise ProviderError(ErrorKind.AUTH, "salesforce", message, code=error)
    code = params.get("code")
    if not code:
        raise ProviderError(ErrorKind.AUTH, "salesforce", "Salesforce sent no authorization code. " + RECONNECT_FIX,
                         code="no_code")
    return code


class SalesforceOAuth:
    """The token, revoke and identity calls for one connected app on one login host.

    `hosts` says which hosts are Salesforce (`Config.salesforce_hosts`); without it, the
    built-in Salesforce domains and `login_url`'s own origin (the caller vouches for it).
    """

    def __init__(self, login_url: str, client_id: str, client_secret: str, redirect_uri: str,
                 session: requests.Session, *, hosts: SalesforceHosts | None = None):
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.session = session
        self.hosts = hosts if hosts is not None else SalesforceHosts.trusting(login_url)

    def exchange_code(self, code: str, code_verifier: str) -> dict:
        """The callback's `code` → tokens (reference 1.3, 1.4), as `token_set` shapes them."""
        answer = self._token_call({
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": code_verifier,
            "redirect_uri": self.redirect_uri,
        })
        return token_set(answer, self.client_secret, hosts=self.hosts)

    def refresh(self, tokens: dict) -> dict:
        """New access token for `tokens` (a `token_set`); the refresh token is kept unless
        the app rotates it (reference 1.5). invalid_grant → AUTH with the fix."""
        refresh_token = tokens.get("refresh_token")
        if not refresh_token:
            raise ProviderError(ErrorKind.AUTH, "salesforce",
                                "The Salesforce connection has no refresh token (the `refresh_token` scope "
                                "was not granted). " + RECONNECT_FIX, code="no_refresh_token")
        answer = self._token_call({"grant_type": "refresh_token", "refresh_token": refresh_token})
        return token_set(answer, self.client_secret, previous=tokens, hosts=self.hosts)

    def revoke(self, token: str) -> bool:
        """Revoke a refresh or access token (reference 1.6). True when revoked, False when
        Salesforce no longer knew it (already revoked or expired): both end the connection."""
        response = self._post("revoke", {"token": token})
        if response.status_code == 200:
            return True
        if response.status_code == 400:
            return False
        raise _http_failure(response, "revoke")

    def identity(self, tokens: dict) -> dict:
        """Who signed in, from the identity URL (reference 1.7): user, org, username…

        Only an identity URL on a Salesforce host is fetched (redirects too), and its answer
        must name the org and user the signed URL names."""
        url = self.hosts.identity_url(tokens.get("id"))
        if url is None:
            raise _not_salesforce("identity URL")
        response = self._get_identity(url, tokens["access_token"])
        if response.status_code in (401, 403):
            # Salesforce answers a plain-text word here (Bad_OAuth_Token); the body is not
            # repeated: whatever a server says stays out of what people are shown.
            raise ProviderError(ErrorKind.AUTH, "salesforce",
                                f"Salesforce refused the identity call (HTTP {response.status_code}). " + RECONNECT_FIX,
                                code="Bad_OAuth_Token", status=response.status_code)
        if response.status_code != 200:
            raise _http_failure(response, "identity")
        try:
            body = response.json()
        except ValueError:
            body = None
        org_id, user_id = identity_ids(url) or (None, None)
        if not isinstance(body, dict) or body.get("user_id") != user_id or body.get("organization_id") != org_id:
            raise ProviderError(ErrorKind.UNKNOWN, "salesforce",
                                "Salesforce's identity answer does not describe the user who signed in, so nothing "
                                "was connected. " + RECONNECT_FIX, code="identity_mismatch")
        return {
            "user_id": body["user_id"],
            "org_id": body["organization_id"],
            "username": body.get("username"),
            "email": body.get("email"),
            "display_name": body.get("display_name"),
            "active": body.get("active", True),
        }

    def _get_identity(self, url: str, access_token: str) -> requests.Response:
        for _ in range(MAX_IDENTITY_REDIRECTS + 1):
            try:
                response = self.session.get(url, params={"version": "latest"}, allow_redirects=False,
                                            headers={"Authorization": f"Bearer {access_token}"},
                                            timeout=TIMEOUT_SECONDS)
            except requests.RequestException as error:
                raise ProviderError(ErrorKind.TEMPORARY, "salesforce", "Salesforce's identity URL could not be "
                                    f"reached ({type(error).__name__}); try again in a minute.",
                                    code="network") from error
            if not response.is_redirect:
                return response
            url = self.hosts.identity_url(response.headers.get("Location", "").split("?", 1)[0])
            if url is None:
                raise _not_salesforce("identity URL's redirect")
        raise ProviderError(ErrorKind.UNKNOWN, "salesforce", "Salesforce's identity URL kept redirecting. "
                            + RECONNECT_FIX, code="identity_redirects")

    def _token_call(self, form: dict) -> dict:
        form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        response = self._post("token", form)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return body
        if response.status_code >= 500 or response.status_code == 429:
            raise _http_failure(response, "token")
        error = _said(body, "error", _ERROR_CODE) or str(response.status_code)
        description = _said(body, "error_description", _DESCRIPTION)
        raise ProviderError(_token_error_kind(error), "salesforce",
                         _token_error_message(error, description, self.redirect_uri),
                         code=error, status=response.status_code)

    def _post(self, endpoint: str, form: dict) -> requests.Response:
        """POST to the login host's /services/oauth2/<endpoint>, after checking that the
        host is Salesforce's (the form carries the consumer secret or a token); redirects
        are not followed, so the form never goes anywhere else."""
        login_url = self.hosts.login_url(self.login_url)
        if login_url is None:
            raise ProviderError(ErrorKind.AUTH, "salesforce",  # the connection must be made again
                                "The saved Salesforce login host is not a Salesforce domain, so Mailferry did not "
                                "contact it. Reconnect Salesforce and choose production, sandbox or your My Domain; "
                                "an admin can allow another host in SALESFORCE_ALLOWED_HOSTS "
                                "(docs/salesforce-setup.md).", code="login_host_not_allowed")
        try:
            return self.session.post(f"{login_url}/services/oauth2/{endpoint}", data=form, allow_redirects=False,
                                     headers={"Accept": "application/json"}, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise ProviderError(ErrorKind.TEMPORARY, "salesforce", "The Salesforce login host could not be reached "
                                f"({type(error).__name__}); try again in a minute.", code="network") from error


def token_set(answer: dict, client_secret: str | None = None, previous: dict | None = None, *,
              hosts: SalesforceHosts | None = None) -> dict:
    """The fields of a token response worth sealing (reference 1.4), as a plain dict.

    There is no `expires_in`: an access token lives until a call answers 401. `issued_at` is
    a string of milliseconds; it is kept, and also given as an ISO time for people. A refresh
    answer has no `refresh_token` (unless the app rotates it), so the previous one is kept.

    With `client_secret`, the response must carry `signature`: the Base64 HMAC-SHA256 of `id`
    + `issued_at` keyed with the consumer secret, which Salesforce sends with every web
    server flow and refresh answer (reference 1.4; Salesforce's REST API guides: "Base64-encoded
    HMAC-SHA256 signature signed with the consumer's private key containing the concatenated
    ID and issued_at value"; see sandbox/salesforce/oauth.py for the sources), so a response
    from anyone without the secret is refused. With
    `hosts`, `instance_url` and `id` must be on its Salesforce hosts.
    """
    if client_secret:
        _check_signature(answer, client_secret)
    if hosts is not None:
        _check_hosts(answer, hosts)
    issued_ms = str(answer.get("issued_at") or "")
    issued_iso = None
    if issued_ms.isdigit():
        issued_iso = datetime.fromtimestamp(int(issued_ms) / 1000, timezone.utc).isoformat()
    refresh_token = answer.get("refresh_token") or (previous or {}).get("refresh_token")
    identity_url = answer.get("id") or (previous or {}).get("id")
    org_id, user_id = _ids_from_identity_url(identity_url)
    return {
        "access_token": answer["access_token"],
        "refresh_token": refresh_token,
        "instance_url": answer.get("instance_url") or (previous or {}).get("instance_url"),
        "id": identity_url,
        "org_id": org_id,
        "user_id": user_id,
        "issued_at": issued_ms,
        "issued_at_iso": issued_iso,
        "scope": answer.get("scope") or (previous or {}).get("scope"),
        "token_type": answer.get("token_type", "Bearer"),
    }


def _check_signature(answer: dict, client_secret: str) -> None:
    signature, identity_url, issued_at = answer.get("signature"), answer.get("id"), answer.get("issued_at")
    if not all(isinstance(value, str) and value for value in (signature, identity_url, issued_at)):
        raise ProviderError(ErrorKind.AUTH, "salesforce",
                            "The token response was not signed the way Salesforce signs it (no signature, id or "
                            "issued_at), so it was refused. " + RECONNECT_FIX, code="unsigned_token_response")
    expected = base64.b64encode(hmac.new(client_secret.encode(), (identity_url + issued_at).encode(),
                                         hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise ProviderError(ErrorKind.AUTH, "salesforce",
                            "The Salesforce token response failed its signature check: the consumer secret "
                            "(SALESFORCE_CLIENT_SECRET) does not match the connected app. " + RECONNECT_FIX,
                            code="bad_signature")


def _check_hosts(answer: dict, hosts: SalesforceHosts) -> None:
    identity_url, instance_url = answer.get("id"), answer.get("instance_url")
    if identity_url is not None and hosts.identity_url(identity_url) is None:
        raise _not_salesforce("identity URL (id)")
    if instance_url is not None and hosts.service_url(instance_url) is None:
        raise _not_salesforce("instance URL (instance_url)")


def _not_salesforce(what: str) -> ProviderError:
    return ProviderError(ErrorKind.AUTH, "salesforce",
                         f"The token response's {what} is not on a Salesforce domain, so Mailferry did not use it "
                         "and nothing was connected. If your org is served from another host, an admin can allow "
                         "it in SALESFORCE_ALLOWED_HOSTS (docs/salesforce-setup.md).", code="not_salesforce_host")


def _said(body, key: str, shape: re.Pattern) -> str:
    """`body[key]` when it is a short plain string of `shape`, else "" (never a raw body)."""
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) and shape.match(value) else ""


def _ids_from_identity_url(url: str | None) -> tuple[str | None, str | None]:
    """`https://host/id/<orgId>/<userId>` → (orgId, userId); the path is documented (ref 1.4)."""
    if not url:
        return None, None
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 3 and parts[-3] == "id":
        return parts[-2], parts[-1]
    return None, None


_AUTH_ERRORS = {"invalid_grant", "inactive_user", "inactive_org", "invalid_client_id", "invalid_client",
                "redirect_uri_mismatch", "invalid_request", "access_denied", "invalid_scope"}


def _token_error_kind(error: str) -> ErrorKind:
    if error in ("invalid_client_id", "invalid_client", "redirect_uri_mismatch", "unsupported_grant_type"):
        return ErrorKind.SETUP
    if error in _AUTH_ERRORS:
        return ErrorKind.AUTH
    return ErrorKind.UNKNOWN


def _token_error_message(error: str, description: str, redirect_uri: str) -> str:
    said = f"Salesforce refused the sign-in ({error}: {description or 'no description'})."
    if error == "invalid_grant":
        return f"{said} The saved Salesforce sign-in was revoked or has expired. {RECONNECT_FIX}"
    if error in ("inactive_user", "inactive_org"):
        return (f"{said} The Salesforce user or org is inactive: ask your Salesforce admin to reactivate it. "
                f"Then: {RECONNECT_FIX}")
    if error in ("invalid_client_id", "invalid_client"):
        return (f"{said} Mailferry's SALESFORCE_CLIENT_ID / SALESFORCE_CLIENT_SECRET do not match a connected app "
                "in this org: see docs/salesforce-setup.md.")
    if error == "redirect_uri_mismatch":
        return (f"{said} The connected app's callback URL must be exactly {redirect_uri} "
                "(MAILFERRY_BASE_URL + /connections/salesforce/callback): see docs/salesforce-setup.md.")
    return f"{said} {RECONNECT_FIX}"


def _http_failure(response: requests.Response, what: str) -> ProviderError:
    kind = ErrorKind.TEMPORARY if response.status_code >= 500 or response.status_code == 429 else ErrorKind.UNKNOWN
    return ProviderError(kind, "salesforce", f"Salesforce's {what} call answered HTTP {response.status_code}; "
                         "try again later.", code=str(response.status_code), status=response.status_code)
