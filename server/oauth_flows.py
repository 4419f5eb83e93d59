"""OAuth flows in progress (Microsoft sign-in, Connect Salesforce), kept server-side.

A flow holds its PKCE verifier (and, for Microsoft, the nonce): secrets that must not travel
in a cookie, even a signed one (Flask's session cookie is signed, not encrypted). So a flow
is stored in Redis under its `state` value, sealed with the app's SecretBox (Redis is often
reachable by more than this app), for ten minutes, and taken exactly once: a replayed
callback finds nothing. The caller binds the flow to the browser that started it (the
Microsoft sign-in with a cookie, Connect Salesforce with the signed-in user's id) and checks
that binding when the flow comes back.
"""

from __future__ import annotations

import hashlib

import redis

from mailferry.crypto import SecretBox, SecretUnreadable
from server.extensions import config, redis_client

#: Seconds a person has to finish signing in at Microsoft or Salesforce.
FLOW_TTL_SECONDS = 600
_PREFIX = "mailferry:oauth-flow"


def _key(purpose: str, state: str) -> str:
    # The state is the lookup key; hashing it keeps the raw value out of Redis key listings.
    return f"{_PREFIX}:{purpose}:{hashlib.sha256(state.encode()).hexdigest()}"


def _box() -> SecretBox:
    return SecretBox(config().encryption_keys)


def keep(purpose: str, state: str, flow: dict) -> None:
    """Store `flow` until its callback (raises redis.RedisError when Redis is down)."""
    redis_client().set(_key(purpose, state), _box().seal(flow), ex=FLOW_TTL_SECONDS)


def take(purpose: str, state: str | None) -> dict | None:
    """The flow stored under `state`, removed so it can be used once; None when unknown,
    expired, already used or unreadable."""
    if not state:
        return None
    key = _key(purpose, state)
    try:
        with redis_client().pipeline(transaction=True) as pipe:
            sealed, _ = pipe.get(key).delete(key).execute()
    except redis.RedisError:
        return None
    if sealed is None:
        return None
    try:
        return _box().open(sealed)
    except SecretUnreadable:
        return None
