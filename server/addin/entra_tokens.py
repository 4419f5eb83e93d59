"""Checking the Entra access tokens the add-in sends (Nested App Authentication, SPEC section 7).

Entra issues an API's access tokens in the version its app registration asks for
(`api.requestedAccessTokenVersion` in the manifest, `accessTokenAcceptedVersion` in the old
one: null or 1 → v1.0, 2 → v2.0), whichever endpoint the client used (reference wave2.md
§7.2). Both are accepted, each checked by its own rules. A token is accepted only when all of
these hold (reference microsoft.md §2.5, §3.6, wave2.md §7.2):
- its RS256 signature verifies with a key from Entra's published JWKS (fetched over HTTPS
  from the configured authority host, cached, fetched again when an unknown `kid` appears:
  Entra rolls its keys); no other algorithm is accepted, so a token "signed" with the public
  key as an HMAC secret, or not signed at all, is refused;
- `ver` is "1.0" or "2.0", and `iss` is that version's issuer for the tenant the token names:
  v2.0 `<authority>/<tid>/v2.0`, v1.0 `https://sts.windows.net/<tid>/`; so a token of one
  tenant cannot claim another, nor one version pass as the other;
- `aud` is Mailferry's API: v2.0 tokens name it by its client id; v1.0 tokens by what the
  client asked for, the App ID URI (`api://<add-in host>/<client id>`) or the client id;
- the app that asked for it (v2.0 `azp`, v1.0 `appid`) is Mailferry's own registration too:
  the add-in uses the same app, so another app a user consented to cannot spend its tokens here;
- it has not expired (60 s of clock skew allowed) and is a delegated user token (`scp`
  holds `access_as_user`; app-only tokens carry `roles` and are refused);
- it names the user (`oid`) and tenant (`tid`) by which Mailferry keys its users.

ID tokens are refused by the scope check: their `aud` is the client id but they carry no `scp`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import jwt
import requests

log = logging.getLogger(__name__)
API_SCOPE = "access_as_user"
CLOCK_SKEW_SECONDS = 60
#: How long fetched keys are trusted before they are fetched again.
KEYS_TTL_SECONDS = 3600
#: After a fetch (or a failed one), the next happens no sooner than this: an unknown `kid`
#: in a forged token cannot make us hammer Entra, and an outage is retried soon.
REFETCH_AFTER_SECONDS = 60
#: The issuer of v1.0 access tokens (Entra's global cloud), whatever host issued them
#: (reference wave2.md §7.2).
V1_ISSUER = "https://sts.windows.net/{tid}/"


class TokenRejected(Exception):
    """The token is not one Mailferry accepts; the message says why (logged, not shown)."""


class KeysUnavailable(Exception):
    """Entra's signing keys could not be fetched and none are cached: nothing can be checked."""


@dataclass(frozen=True)
class TokenIdentity:
    tid: str
    oid: str


class EntraTokenValidator:
    def __init__(self, authority_host: str, client_id: str, session: requests.Session,
                 app_id_uris: tuple[str, ...] = ()):
        self.authority_host = authority_host.rstrip("/")
        self.client_id = client_id
        #: What else a v1.0 token's `aud` may name: the API's App ID URIs.
        self.app_id_uris = tuple(app_id_uris)
        self._session = session
        self._fetch_lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}  # replaced whole, never changed in place
        self._fresh_until = 0.0  # monotonic time after which the keys are fetched again
        self._next_fetch = 0.0  # no fetch before this (monotonic)

    @property
    def jwks_uri(self) -> str:
        # "common" publishes the signing keys of every tenant.
        return f"{self.authority_host}/common/discovery/v2.0/keys"

    def identity(self, token: str) -> TokenIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenRejected(f"not a JWT: {error}") from error
        if header.get("alg") != "RS256":
            raise TokenRejected(f"algorithm {header.get('alg')!r} is not RS256")
        key = self._key(header.get("kid") or "")
        try:
            # The audience is checked below, per version (a v1.0 token may name the App ID URI).
            claims = jwt.decode(
                token, key.key, algorithms=["RS256"], leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud", "tid", "oid", "ver"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise TokenRejected(str(error)) from error
        tid, version = str(claims["tid"]), str(claims["ver"])
        if version == "2.0":
            issuer, audiences, caller = f"{self.authority_host}/{tid}/v2.0", (self.client_id,), "azp"
        elif version == "1.0":
            issuer, audiences, caller = V1_ISSUER.format(tid=tid), (self.client_id, *self.app_id_uris), "appid"
        else:
            raise TokenRejected(f"token version {version!r} is neither 1.0 nor 2.0")
        if claims["iss"] != issuer:
            raise TokenRejected(f"issuer {claims['iss']!r} is not tenant {tid}'s for a v{version} token")
        if claims["aud"] not in audiences:
            raise TokenRejected(f"audience {claims['aud']!r} is not Mailferry's API")
        if claims.get(caller) != self.client_id:
            raise TokenRejected(f"issued to another app ({caller}={claims.get(caller)!r})")
        if API_SCOPE not in str(claims.get("scp", "")).split():
            raise TokenRejected(f"scope {API_SCOPE} missing (scp={claims.get('scp')!r})")
        return TokenIdentity(tid, str(claims["oid"]))

    def _key(self, kid: str) -> jwt.PyJWK:
        keys = self._keys
        now = time.monotonic()
        if (now > self._fresh_until or kid not in keys) and now >= self._next_fetch:
            keys = self._refresh()
        if not keys:
            raise KeysUnavailable(f"Entra's signing keys could not be fetched from {self.jwks_uri}")
        key = keys.get(kid)
        if key is None:
            raise TokenRejected(f"signing key {kid!r} is not one of Entra's")
        return key

    def _refresh(self) -> dict[str, jwt.PyJWK]:
        """Fetch the keys (one thread at a time; the others keep using the keys they have, or
        wait for the first ones). A failed fetch keeps the old keys: a brief outage must not
        sign everyone out."""
        if not self._fetch_lock.acquire(blocking=not self._keys):
            return self._keys
        if self._keys and time.monotonic() < self._next_fetch:
            self._fetch_lock.release()  # another thread fetched while this one waited
            return self._keys
        try:
            self._next_fetch = time.monotonic() + REFETCH_AFTER_SECONDS
            response = self._session.get(self.jwks_uri, timeout=10)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
            self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
            self._fresh_until = time.monotonic() + KEYS_TTL_SECONDS
        except (requests.RequestException, ValueError, jwt.PyJWTError) as error:
            log.warning("Entra's signing keys could not be fetched from %s: %s", self.jwks_uri, error)
        finally:
            self._fetch_lock.release()
        return self._keys
