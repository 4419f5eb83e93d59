"""The broker behind the simulated Outlook's Nested App Authentication bridge: the host page
forwards each `NestedAppAuthRequest` the add-in's msal-browser sends and gets back the
`NestedAppAuthResponse` envelope to hand to it (protocol in docs/sandbox.md, "Simulated Outlook").

Tokens are what Entra would give Outlook's broker for the host's signed-in user: an access token
for the requested scope and an ID token for the add-in's client id, built by the identity
endpoint's own claim builders and signed with the sandbox key. `token=expired` and
`token=forged` on the host page ask for tokens a server must refuse.
"""

from __future__ import annotations

import functools
import time
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, jsonify, request

from ..microsoft import claims as minted
from ..microsoft.identity import AadError, api_registration, check_authority, issuer, member_groups
from ..microsoft.state import state
from .guard import same_origin_only

bp = Blueprint("outlook_naa", __name__, url_prefix="/outlook/api/users/<upn>")
bp.before_request(same_origin_only)
TOKEN_MODES = ("expired", "forged")
ID_TOKEN_LIFETIME_S = 3600
SDK = {"sdkName": "Mailferry simulated Outlook", "sdkVersion": "1.0.0"}


def _failure(request_id: str, status: str, code: str, description: str) -> dict:
    # msal-browser maps `status` (its BridgeStatusCode) to the error it throws.
    return {"messageType": "NestedAppAuthResponse", "requestId": request_id, "success": False,
            "error": {"status": status, "code": code, "description": description}}


@bp.post("/naa")
def bridge(upn):
    """Body: `{"request": <NestedAppAuthRequest>, "token": null | "expired" | "forged"}`."""
    payload = request.get_json(silent=True) or {}
    message, mode = payload.get("request"), payload.get("token")
    if not isinstance(message, dict) or message.get("messageType") != "NestedAppAuthRequest":
        return jsonify({"error": "a NestedAppAuthRequest is required"}), 400
    request_id = str(message.get("requestId", ""))
    user = state().store.user(upn)
    if user is None:
        return jsonify(_failure(request_id, "ACCOUNT_UNAVAILABLE", "no_account", f"No user '{upn}'."))
    method = message.get("method")
    if method == "GetInitContext":
        return jsonify({"messageType": "NestedAppAuthResponse", "requestId": request_id, "success": True,
                        "initContext": {**SDK, "capabilities": {"queryAccount": False},
                                        "accountContext": _account_context(user)}})
    if method not in ("GetToken", "GetTokenPopup"):
        return jsonify(_failure(request_id, "PERSISTENT_ERROR", "unsupported_method",
                                f"The bridge does not support '{method}'."))
    return jsonify(_token_response(request_id, user, message.get("tokenParams") or {},
                                   mode if mode in TOKEN_MODES else None))


def _environment() -> str:
    return urlsplit(state().settings.microsoft_url).netloc


def _account_context(user) -> dict:
    tid = state().store.tenant_id
    return {"homeAccountId": f"{user.oid}.{tid}", "environment": _environment(), "tenantId": tid}


def _token_response(request_id: str, user, params: dict, mode: str | None) -> dict:
    sandbox = state()
    client_id = str(params.get("clientId", ""))
    app = sandbox.apps.get(client_id)
    if app is None:  # as Entra answers the broker for an unregistered app (AADSTS700016)
        return _failure(request_id, "PERSISTENT_ERROR", "unauthorized_client",
                        f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                        f"directory '{sandbox.store.tenant_name}'.")
    tenant = urlsplit(str(params.get("authority") or "")).path.strip("/").split("/", 1)[0]
    try:
        check_authority(app, tenant)  # the broker asks Entra with the add-in's authority
    except AadError as err:
        return _failure(request_id, "PERSISTENT_ERROR", err.error, f"AADSTS{err.code}: {err.text}")
    scopes = str(params.get("scope", "")).split()
    try:
        resource, resource_scopes = minted.split_scopes(scopes)
    except minted.ScopeError as exc:
        return _failure(request_id, "PERSISTENT_ERROR", "invalid_scope", str(exc))
    lifetime, tid = sandbox.tunables.access_token_lifetime_s, sandbox.store.tenant_id
    groups = member_groups(user.oid)
    access = minted.user_access_claims(issuer(), tid, user, app, resource, resource_scopes, lifetime,
                                       api_registration(resource, app), groups)
    if mode == "expired":  # expired ten minutes ago; expires_in still says an hour, so msal caches it
        past = int(time.time()) - 600
        access.update(iat=past - lifetime, nbf=past - lifetime, exp=past)
    access_token = _forge(access, sandbox.key.kid) if mode == "forged" else sandbox.key.mint(access)
    id_claims = minted.id_token_claims(issuer(), tid, user, app, None, ID_TOKEN_LIFETIME_S, groups)
    return {
        "messageType": "NestedAppAuthResponse", "requestId": request_id, "success": True,
        "token": {"access_token": access_token, "id_token": sandbox.key.mint(id_claims),
                  "expires_in": lifetime if mode != "expired" else 3600, "scope": " ".join(scopes),
                  "token_type": "Bearer"},
        "account": {**_account_context(user), "username": user.upn, "localAccountId": user.oid,
                    "name": user.display_name, "loginHint": user.upn, "idTokenClaims": id_claims},
    }


@functools.cache
def _forger_pem() -> bytes:
    """A key that is not the sandbox's: one per process, made on first use (RSA keygen is slow)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _forge(claims: dict, kid: str) -> str:
    """Signed by another key under the sandbox key's `kid`: only a signature check catches it."""
    return jwt.encode(claims, _forger_pem(), algorithm="RS256", headers={"kid": kid, "typ": "JWT"})
