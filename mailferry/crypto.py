"""Encryption at rest for secrets kept in the database (OAuth tokens, MSAL token caches,
subscription client states) and for email bodies held until their final write.

A `SecretBox` seals JSON-serialisable values with Fernet (AES-128-CBC + HMAC-SHA256). It takes
several keys, newest first: it always encrypts with the first and decrypts with any, so keys
can be rotated by prepending a new one and re-sealing (`reseal`; `mailferry secrets rotate`
does it for every stored secret, mailferry/secret_rotation.py).

Bodies live in a Text column, so they are sealed to text (`seal_text`): the Fernet token,
which is ASCII (url-safe base64).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# Every Fernet token starts with this version byte (the Fernet spec,
# https://github.com/fernet/spec/blob/master/Spec.md): what tells a sealed body from a
# plain one written before bodies were sealed.
_FERNET_VERSION = 0x80
# version (1) + timestamp (8) + IV (16) + at least one AES block (16) + HMAC (32)
_FERNET_SHORTEST = 73


class SecretUnreadable(Exception):
    """The ciphertext was made with a key we no longer have, or was altered."""


class SecretBox:
    def __init__(self, keys: Iterable[str]):
        self.keys = tuple(keys)
        if not self.keys:
            raise ValueError("SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in self.keys])
        self._newest = Fernet(self.keys[0])

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

    def seal_text(self, text: str) -> str:
        """`text` sealed, as text (for a Text column)."""
        return self.seal(text).decode("ascii")

    def open_text(self, sealed: str) -> str:
        """The text `seal_text` sealed; SecretUnreadable when no key opens it."""
        return self.open(sealed.encode("ascii", "replace"))

    def reseal(self, ciphertext: bytes) -> bytes:
        """The same secret sealed with the newest key (for key rotation)."""
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise SecretUnreadable("a stored secret cannot be decrypted for re-sealing") from None

    def sealed_with_newest(self, ciphertext: bytes) -> bool:
        """Whether the newest key alone opens `ciphertext` (nothing to re-seal)."""
        try:
            self._newest.decrypt(bytes(ciphertext))
        except InvalidToken:
            return False
        return True


def looks_sealed(value: str) -> bool:
    """Whether a stored text has the shape of a Fernet token (whichever key made it). Email
    bodies written before they were sealed do not: decoded, they do not start with the
    version byte, or are not url-safe base64 at all."""
    if len(value) < 100 or not value.isascii():  # 73 bytes are 100 base64 characters
        return False
    try:
        raw = base64.urlsafe_b64decode(value)
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= _FERNET_SHORTEST and raw[0] == _FERNET_VERSION


def key_fingerprint(key: str) -> str:
    """A short name for a key that gives nothing of it away (for messages to operators)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]
