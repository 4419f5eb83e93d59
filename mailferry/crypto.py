"""Encryption at rest for secrets kept in the database (OAuth tokens, MSAL token caches,
subscription client states).

A `SecretBox` seals JSON-serialisable values with Fernet (AES-128-CBC + HMAC-SHA256). It takes
several keys, newest first: it always encrypts with the first and decrypts with any, so keys
can be rotated by prepending a new one and re-sealing (`reseal`).
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretUnreadable(Exception):
    """The ciphertext was made with a key we no longer have, or was altered."""


class SecretBox:
    def __init__(self, keys: Iterable[str]):
        fernets = [Fernet(key) for key in keys]
        if not fernets:
            raise ValueError("SecretBox needs at least one key")
        self._fernet = MultiFernet(fernets)

    def seal(self, value: Any) -> bytes:
        """Ciphertext of `value` (anything `json.dumps` takes)."""
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def open(self, ciphertext: bytes) -> Any:
        """The value sealed in `ciphertext`; SecretUnreadable when no key opens it."""
        try:
            return json.loads(self._fernet.decrypt(bytes(ciphertext)))
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with MAILFERRY_ENCRYPTION_KEYS: the key that "
                "sealed it was removed, or the data was altered; add the old key back after the new one"
            ) from None

    def reseal(self, ciphertext: bytes) -> bytes:
        """The same secret sealed with the newest key (for key rotation)."""
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise SecretUnreadable("a stored secret cannot be decrypted for re-sealing") from None
