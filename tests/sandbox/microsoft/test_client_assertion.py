"""Certificate credentials at the sandbox's token endpoint, with real msal and hand-made
assertions for each refusal (reference wave2.md §7.5, §9.7; microsoft.md §2.4)."""

from __future__ import annotations

import time
import uuid

import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from sandbox.microsoft.client_assertions import ASSERTION_TYPE, b64url
from tests.client_certificate import registration, write_client_certificate
from tests.sandbox.microsoft.tenant import TENANT

CLIENT_ID = "c3e7f1a0-0000-4000-8000-0000000ce47a"
GRAPH = ["https://graph.microsoft.com/.default"]


@pytest.fixture
def certificate(tmp_path, microsoft_url, client_session):
    path = write_client_certificate(tmp_path / "app.pem")
    client_session.post(f"{microsoft_url}/_sandbox/apps", json=registration(CLIENT_ID, path)).raise_for_status()
    return path


def _parts(path):
    pem = path.read_bytes()
    return pem, x509.load_pem_x509_certificate(pem), serialization.load_pem_private_key(pem, password=None)


def _app(url, session, credential):
    return msal.ConfidentialClientApplication(CLIENT_ID, client_credential=credential, authority=f"{url}/{TENANT}",
                                              instance_discovery=False, azure_region=False, http_client=session)


def test_msal_with_the_certificate_signs_ps256_and_gets_an_app_token(microsoft_url, client_session, certificate):
    pem, cert, _ = _parts(certificate)
    result = _app(microsoft_url, client_session, {"private_key": pem.decode(), "public_certificate": cert.public_bytes(
        serialization.Encoding.PEM).decode()}).acquire_token_for_client(GRAPH)
    assert "access_token" in result, result
    assert "Mail.ReadWrite" in jwt.decode(result["access_token"], options={"verify_signature": False})["roles"]


def test_msal_with_a_sha1_thumbprint_signs_rs256_and_gets_an_app_token(microsoft_url, client_session, certificate):
    pem, cert, _ = _parts(certificate)
    result = _app(microsoft_url, client_session, {"private_key": pem.decode(),
                                                  "thumbprint": cert.fingerprint(hashes.SHA1()).hex()}
                  ).acquire_token_for_client(GRAPH)
    assert "access_token" in result, result


def test_a_certificate_the_app_does_not_have_is_refused_as_key_not_found(microsoft_url, client_session, certificate,
                                                                          tmp_path):
    other = write_client_certificate(tmp_path / "other.pem")
    pem, cert, _ = _parts(other)
    result = _app(microsoft_url, client_session, {"private_key": pem.decode(), "public_certificate": cert.public_bytes(
        serialization.Encoding.PEM).decode()}).acquire_token_for_client(GRAPH)
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    assert "[Reason - The key was not found., Thumbprint of key used by client: " \
           f"'{cert.fingerprint(hashes.SHA1()).hex().upper()}'" in result["error_description"]


def _assertion(path, *, key=None, alg="PS256", token_url, **claims) -> str:
    _, cert, own_key = _parts(path)
    now = int(time.time())
    body = {"aud": token_url, "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": str(uuid.uuid4()), "nbf": now,
            "iat": now, "exp": now + 600, **claims}
    body = {name: value for name, value in body.items() if value is not None}
    der = cert.public_bytes(serialization.Encoding.DER)
    header = {"x5t#S256": b64url(cert.fingerprint(hashes.SHA256()))} if alg == "PS256" else \
        {"x5t": b64url(cert.fingerprint(hashes.SHA1()))} if alg == "RS256" else {}
    assert der
    signing_key = key or own_key
    if alg == "HS256":
        signing_key = "not-a-certificate-key-at-least-32-bytes-long"
    return jwt.encode(body, signing_key, algorithm=alg, headers=header)


def _post(client_session, microsoft_url, assertion, assertion_type=ASSERTION_TYPE):
    return client_session.post(f"{microsoft_url}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": GRAPH[0],
        "client_assertion_type": assertion_type, "client_assertion": assertion})


@pytest.mark.parametrize("case, code, text", [
    ("signed by another key", 700027, "[Reason - The provided signature value did not match the expected signature"),
    ("expired", 700024, "Client assertion is not within its valid time range. Current time: "),
    ("living more than ten minutes", 700024, "Client assertion is not within its valid time range."),
    ("for another audience", 700023, "Client assertion audience claim does not match"),
    ("issued by another app", 700021, "Client assertion application identifier doesn't match 'client_id'"),
    ("without a jti", 50027, "JWT token is invalid or malformed."),
    ("signed with a shared secret", 5000811, "Unable to verify token signature."),
    ("without the assertion type", 7000218, "'client_assertion_type'"),
])
def test_each_flaw_of_an_assertion_is_refused_with_entras_code(microsoft_url, client_session, certificate, tmp_path,
                                                              case, code, text):
    token_url = f"{microsoft_url}/{TENANT}/oauth2/v2.0/token"
    now = int(time.time())
    made = {
        "signed by another key": lambda: _assertion(certificate, token_url=token_url,
                                                    key=_parts(write_client_certificate(tmp_path / "o.pem"))[2]),
        "expired": lambda: _assertion(certificate, token_url=token_url, nbf=now - 3600, iat=now - 3600,
                                      exp=now - 1800),
        "living more than ten minutes": lambda: _assertion(certificate, token_url=token_url, exp=now + 3600),
        "for another audience": lambda: _assertion(certificate, token_url="https://login.microsoftonline.com/x/token"),
        "issued by another app": lambda: _assertion(certificate, token_url=token_url, iss="someone-else"),
        "without a jti": lambda: _assertion(certificate, token_url=token_url, jti=None),
        "signed with a shared secret": lambda: _assertion(certificate, token_url=token_url, alg="HS256"),
        "without the assertion type": lambda: _assertion(certificate, token_url=token_url),
    }[case]()
    answer = _post(client_session, microsoft_url, made, "" if case == "without the assertion type" else ASSERTION_TYPE)
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert (body["error"], body["error_codes"]) == ("invalid_client", [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ") and text in body["error_description"]


def test_a_well_made_rs256_assertion_with_an_unpadded_x5t_is_accepted(microsoft_url, client_session, certificate):
    answer = _post(client_session, microsoft_url, _assertion(
        certificate, alg="RS256", token_url=f"{microsoft_url}/{TENANT}/oauth2/v2.0/token"))
    assert answer.status_code == 200, answer.text
