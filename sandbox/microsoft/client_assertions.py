"""Certificate credentials at the token endpoint: the client assertion an app signs with the
private key of a certificate in its `keyCredentials` (reference wave2.md §7.5, §9.7;
microsoft.md §2.4), checked as Entra checks it.

- `client_assertion_type` must be `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
- The header names the key: `PS256` with `x5t#S256` (SHA-256 of the DER certificate, what
  MSAL Python ≥ 1.30 sends when given the certificate) or `RS256` with `x5t` (SHA-1, MSAL's
  thumbprint variant); an unknown key is AADSTS700027 "The key was not found." with the
  thumbprint (the text quoted in Azure/azure-sdk-for-net#29007, keycloak/keycloak#19425).
- The signature must verify with that certificate's public key: else AADSTS700027 "The
  provided signature value did not match the expected signature value." (as Entra words it,
  Azure/azure-sdk-for-java#25109, AzureAD/passport-azure-ad#453).
- `exp`/`nbf` must hold now: else AADSTS700024 "Client assertion is not within its valid time
  range. …" (AzureAD/microsoft-authentication-library-for-java#984); an assertion living more
  than 10 minutes (MSAL makes 10) is refused the same way [unconfirmed: Entra's limit].
- `aud` must be this token endpoint: else AADSTS700023 [text unconfirmed].
- `iss` and `sub` must both be the client id: else AADSTS700021 [text unconfirmed].
- `jti` must be present: else AADSTS50027 "JWT token is invalid or malformed." [unconfirmed].
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .apps import AppRegistration

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME_S = 600
SKEW_S = 300  # Entra tolerates five minutes of clock difference
_ALGORITHMS = {"PS256": ("x5t#S256", hashlib.sha256), "RS256": ("x5t", hashlib.sha1)}
_DER = Encoding.DER
_MALFORMED = (50027, "JWT token is invalid or malformed.")


class AssertionRefused(Exception):
    """Entra's refusal of a client assertion: an AADSTS code and its text (invalid_client)."""

    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code, self.text = code, text


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_credential(certificate_pem: bytes, key_id: str) -> dict:
    """The manifest's `keyCredentials` entry for a PEM certificate (what the portal's
    "Upload certificate" adds)."""
    der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(_DER)
    return {"customKeyIdentifier": base64.b64encode(hashlib.sha1(der).digest()).decode(), "keyId": key_id,
            "type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode()}


def check(app: AppRegistration, form, token_endpoint: str) -> None:
    """Raise AssertionRefused unless `form`'s client assertion proves `app`."""
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise AssertionRefused(7000218, "The request body must contain the following parameter: "
                               "'client_assertion_type'.")
    assertion = form.get("client_assertion", "")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AssertionRefused(*_MALFORMED) from None
    algorithm = header.get("alg")
    if algorithm not in _ALGORITHMS or not header.get(_ALGORITHMS[algorithm][0]):
        raise AssertionRefused(5000811, "Unable to verify token signature. The signing key identifier does not "
                               "match any valid registered keys.")
    certificate = _registered_certificate(app, header[_ALGORITHMS[algorithm][0]], _ALGORITHMS[algorithm][1])
    thumbprint = _thumbprint(header, certificate)
    if certificate is None:
        raise AssertionRefused(700027, "Client assertion contains an invalid signature. [Reason - The key was not "
                               f"found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure "
                               "Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id "
                               f"'{app.client_id}'.]")
    try:
        jwt.decode(assertion, certificate.public_key(), algorithms=[algorithm],
                   options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise AssertionRefused(700027, "Client assertion contains an invalid signature. [Reason - The provided "
                               "signature value did not match the expected signature value., Thumbprint of key "
                               f"used by client: '{thumbprint}', Found key 'Start="
                               f"{certificate.not_valid_before_utc:%m/%d/%Y %H:%M:%S}, End="
                               f"{certificate.not_valid_after_utc:%m/%d/%Y %H:%M:%S}']") from None
    except jwt.PyJWTError:
        raise AssertionRefused(*_MALFORMED) from None
    _check_claims(app, claims, token_endpoint)


def _check_claims(app: AppRegistration, claims: dict, token_endpoint: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)) or not claims.get("jti"):
        raise AssertionRefused(*_MALFORMED)
    if exp + SKEW_S < now or nbf - SKEW_S > now or exp - nbf > MAX_LIFETIME_S:
        raise AssertionRefused(700024, f"Client assertion is not within its valid time range. Current time: "
                               f"{_iso(now)}, assertion valid from {_iso(nbf)}, expiry time of assertion {_iso(exp)}. "
                               "Review the documentation at "
                               "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
    if claims.get("aud") != token_endpoint:
        raise AssertionRefused(700023, "Client assertion audience claim does not match Realm issuer. Review the "
                               "documentation at https://learn.microsoft.com/entra/identity-platform/"
                               "certificate-credentials .")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise AssertionRefused(700021, "Client assertion application identifier doesn't match 'client_id' "
                               "parameter. Review the documentation at "
                               "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")


def _registered_certificate(app: AppRegistration, thumbprint: str, digest) -> x509.Certificate | None:
    for credential in app.key_credentials:
        der = base64.b64decode(credential.get("key", ""))
        # base64url of the digest; MSAL keeps the padding, RFC 7515 leaves it off: either is read.
        if credential.get("usage", "Verify") == "Verify" and b64url(digest(der).digest()) == thumbprint.rstrip("="):
            return x509.load_der_x509_certificate(der)
    return None


def _thumbprint(header: dict, certificate: x509.Certificate | None) -> str:
    """The SHA-1 thumbprint in hex that Entra's messages name: the certificate's, or that of
    the chain the client sent (`x5c`), or what its header says."""
    if certificate is not None:
        return hashlib.sha1(certificate.public_bytes(_DER)).hexdigest().upper()
    try:
        if header.get("x5c"):
            return hashlib.sha1(base64.b64decode(header["x5c"][0])).hexdigest().upper()
        named = header.get("x5t") or header.get("x5t#S256") or ""
        return base64.urlsafe_b64decode(named + "=" * (-len(named) % 4)).hex().upper()
    except (ValueError, TypeError, IndexError):
        return ""


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")

