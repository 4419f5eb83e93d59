"""The signing key, the JWKS that publishes it, and minting and checking RS256 JWTs.

One RSA key per process: tokens stay valid across `/_sandbox/reset`, so a product holding a
token does not break when a test resets the world. Verified tokens are cached by their text
because Graph calls repeat the same bearer thousands of times and an RSA check per call would
dominate a delta page's cost.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import pickle
import threading
import time
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_AUDIENCES = ("https://graph.microsoft.com", GRAPH_APP_ID)
_CACHE_LIMIT = 20_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class TokenError(Exception):
    """A token failed validation; `reason` is one of expired, audience, signature, malformed."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason


class SigningKey:
    """The tenant's token-signing key and its certificate: new, or those of a saved world
    (`saved`, from `dump`), so tokens issued before a restart keep their kid and still verify."""

    def __init__(self, saved: bytes | None = None) -> None:
        pem, der = pickle.loads(saved) if saved else (None, None)
        self._private = (serialization.load_pem_private_key(pem, password=None) if pem
                         else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.public = self._private.public_key()
        self._pem = self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        der = der or self._self_signed_cert().public_bytes(serialization.Encoding.DER)
        self._der = der
        # Entra's JWKS carries the certificate (x5c) and its SHA-1 thumbprint as kid and x5t.
        self.kid = b64url(hashlib.sha1(der).digest())
        numbers = self.public.public_numbers()
        self.jwk = {
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": _int_b64(numbers.n), "e": _int_b64(numbers.e),
            "x5c": [base64.b64encode(der).decode("ascii")],
        }
        self._verified: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _self_signed_cert(self) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.sandbox.mailferry")])
        now = dt.datetime.now(dt.timezone.utc)
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.public).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=730))
                .sign(self._private, hashes.SHA256()))

    def dump(self) -> bytes:
        return pickle.dumps((self._pem, self._der))

    def mint(self, claims: dict) -> str:
        return jwt.encode(claims, self._pem, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def verify(self, token: str, audiences: tuple[str, ...] | None = None, now: float | None = None) -> dict:
        """The claims of a token this key signed; raises TokenError. Audience checked when given."""
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = jwt.decode(token, self.public, algorithms=["RS256"],
                                    options={"verify_exp": False, "verify_nbf": False,
                                             "verify_aud": False, "verify_iat": False})
            except jwt.InvalidSignatureError as exc:
                raise TokenError("signature", str(exc)) from exc
            except jwt.PyJWTError as exc:
                raise TokenError("malformed", str(exc)) from exc
            with self._lock:
                if len(self._verified) >= _CACHE_LIMIT:
                    self._verified.clear()
                self._verified[token] = claims
        # Lifetime and audience are checked on every call: a cached token can still expire.
        now = time.time() if now is None else now
        if claims.get("exp", 0) <= now or claims.get("nbf", 0) > now + 1:
            raise TokenError("expired")
        if audiences is not None and claims.get("aud") not in audiences:
            raise TokenError("audience")
        return claims


def new_guid() -> str:
    return str(uuid.uuid4())


def stable_guid(*parts: str) -> str:
    """A GUID derived from its inputs: the same app or user gets the same id on every run."""
    return str(uuid.UUID(bytes=hashlib.sha256("|".join(parts).encode()).digest()[:16], version=4))
