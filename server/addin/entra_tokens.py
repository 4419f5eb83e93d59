"""Checking the Entra access tokens the add-in sends (Nested App Authentication, SPEC section 7).

A token is accepted only when all of these hold (reference microsoft.md §2.5, §3.6):
- its RS256 signature verifies with a key from Entra's published JWKS (fetched over HTTPS
  from the configured authority host, cached, fetched again when an unknown `kid` appears:
  Entra rolls its keys);
- `iss` is the v2.0 issuer of the tenant the token names (`<authority>/<tid>/v2.0`), so a
  token of one tenant cannot claim another;
- `aud` is Mailferry's API (its client id, as v2.0 tokens carry it, or its App ID URI);
- it has not expired (60 s of clock skew allowed) and is a delegated user token (`scp`
  holds `access_as_user`; app-only tokens carry `roles` and are refused);
- it names the user (`oid`) and tenant (`tid`) by which Mailferry keys its users.

ID tokens are refused by the audience and scope checks: their `aud` is the client id but
they carry no `scp`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import jwt
import requests

API_SCOPE = "access_as_user"
CLOCK_SKEW_SECONDS = 60
#: How long fetched keys are trusted before they are fetched again.
KEYS_TTL_SECONDS = 3600
#: An unknown `kid` triggers a fetch at most this often (a forged token cannot make us
#: hammer Entra).
REFETCH_AFTER_SECONDS = 60


class TokenRejected(Exception):
    """The token is not one Mailferry accepts; the message says why (logged, not shown)."""


class KeysUnavailable(Exception):
    """Entra's signing keys could not be fetched and none are cached: nothing can be checked."""


@dataclass(frozen=True)
class TokenIdentity:
    tid: str
    oid: str
    username: str
    name: str


class EntraTokenValidator:
    def __init__(self, authority_host: str, client_id: str, session: requests.Session):
        self.authority_host = authority_host.rstrip("/")
        self.client_id = client_id
        self.audiences = [client_id]
        self._session = session
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0

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
            claims = jwt.decode(
                token, key.key, algorithms=["RS256"], audience=self.audiences, leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud", "tid", "oid"]},
            )
        except jwt.PyJWTError as error:
            raise TokenRejected(str(error)) from error
        tid = str(claims["tid"])
        if claims["iss"] != f"{self.authority_host}/{tid}/v2.0":
            raise TokenRejected(f"issuer {claims['iss']!r} is not tenant {tid}'s")
        if API_SCOPE not in str(claims.get("scp", "")).split():
            raise TokenRejected(f"scope {API_SCOPE} missing (scp={claims.get('scp')!r})")
        username = claims.get("preferred_username") or claims.get("upn") or ""
        if not username:
            raise TokenRejected("no preferred_username or upn")
        return TokenIdentity(tid, str(claims["oid"]), username, claims.get("name") or username)

    def _key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age > KEYS_TTL_SECONDS or (kid not in self._keys and age > REFETCH_AFTER_SECONDS):
                try:
                    self._fetch()
                except KeysUnavailable:
                    if not self._keys:
                        raise
                    # Keep the keys we had: a brief outage must not sign everyone out.
            if not self._keys:
                raise KeysUnavailable(f"Entra's signing keys could not be fetched from {self.jwks_uri}")
            key = self._keys.get(kid)
        if key is None:
            raise TokenRejected(f"signing key {kid!r} is not one of Entra's")
        return key

    def _fetch(self) -> None:
        try:
            response = self._session.get(self.jwks_uri, timeout=10)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (requests.RequestException, ValueError, jwt.PyJWTError) as error:
            self._fetched_at = time.monotonic()  # try again after REFETCH_AFTER_SECONDS, not per request
            raise KeysUnavailable(f"Entra's signing keys could not be fetched from {self.jwks_uri}: {error}") from error
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = time.monotonic()
