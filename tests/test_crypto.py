"""Secrets are encrypted at rest: round trip, key rotation, and tampering detected."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from mailferry.crypto import SecretBox, SecretUnreadable

TOKENS = {"access_token": "eyJ0eXAi.secret-access", "refresh_token": "0.AAAA-refresh", "expires_in": 3599}


def test_sealed_value_opens_to_the_same_value():
    box = SecretBox([Fernet.generate_key().decode()])
    assert box.open(box.seal(TOKENS)) == TOKENS


def test_ciphertext_does_not_contain_the_plaintext():
    box = SecretBox([Fernet.generate_key().decode()])
    sealed = box.seal(TOKENS)
    for secret in ("secret-access", "refresh", "access_token"):
        assert secret.encode() not in sealed


def test_an_old_key_still_opens_and_reseal_moves_to_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = SecretBox([old]).seal(TOKENS)
    rotated = SecretBox([new, old])
    assert rotated.open(sealed_with_old) == TOKENS
    resealed = rotated.reseal(sealed_with_old)
    assert SecretBox([new]).open(resealed) == TOKENS


def test_a_missing_key_or_altered_ciphertext_is_reported_not_returned():
    sealed = SecretBox([Fernet.generate_key().decode()]).seal(TOKENS)
    with pytest.raises(SecretUnreadable, match="MAILFERRY_ENCRYPTION_KEYS"):
        SecretBox([Fernet.generate_key().decode()]).open(sealed)
    box = SecretBox([Fernet.generate_key().decode()])
    altered = bytearray(box.seal(TOKENS))
    altered[40] ^= 1
    with pytest.raises(SecretUnreadable):
        box.open(bytes(altered))
