"""Authorization codes and refresh tokens the identity endpoints have issued.

Codes are single-use and live 10 minutes (Entra's documented lifetime); refresh tokens are
opaque random strings that stay valid until revoked (`/_sandbox/users/<upn>/revoke`) or the
world is reset. Each remembers who and what it was issued for.
"""

from __future__ import annotations

import pickle
import secrets
import threading
import time
from dataclasses import dataclass, field

CODE_LIFETIME_S = 600


@dataclass
class AuthCode:
    client_id: str
    oid: str
    redirect_uri: str
    scopes: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    issued_at: float = field(default_factory=time.time)
    redeemed: bool = False


@dataclass
class RefreshGrant:
    client_id: str
    oid: str
    scopes: list[str]
    revoked: bool = False


class GrantStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.codes: dict[str, AuthCode] = {}
        self.refresh: dict[str, RefreshGrant] = {}

    def reset(self) -> None:
        with self._lock:
            self.codes.clear()
            self.refresh.clear()

    def dump(self) -> bytes:
        with self._lock:
            return pickle.dumps((self.codes, self.refresh))

    def restore(self, saved: bytes) -> None:
        with self._lock:
            self.codes, self.refresh = pickle.loads(saved)

    def issue_code(self, code: AuthCode) -> str:
        value = "0.A" + secrets.token_urlsafe(48)
        with self._lock:
            self.codes[value] = code
        return value

    def redeem_code(self, value: str) -> tuple[AuthCode | None, str]:
        """The code's grant and "" — or None and why: unknown, expired or redeemed."""
        with self._lock:
            code = self.codes.get(value)
            if code is None:
                return None, "unknown"
            if code.redeemed:
                return None, "redeemed"
            if time.time() - code.issued_at > CODE_LIFETIME_S:
                return None, "expired"
            code.redeemed = True
            return code, ""

    def issue_refresh(self, grant: RefreshGrant) -> str:
        value = "1.A" + secrets.token_urlsafe(64)
        with self._lock:
            self.refresh[value] = grant
        return value

    def find_refresh(self, value: str) -> RefreshGrant | None:
        return self.refresh.get(value)

    def revoke_user(self, oid: str) -> int:
        with self._lock:
            hits = [g for g in self.refresh.values() if g.oid == oid and not g.revoked]
            for grant in hits:
                grant.revoked = True
            return len(hits)
