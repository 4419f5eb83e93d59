"""What the token endpoint puts in access tokens, ID tokens and its JSON answer (reference §2.5,
§2.6, §2.7): which resource a scope list is for, and the claims Entra v2.0 tokens carry."""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from .apps import AppRegistration
from .tokens import GRAPH_APP_ID, b64url, stable_guid

OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_PREFIXES = (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/")
# What `.default` grants delegated callers of the demo app (its configured permissions).
DELEGATED_DEFAULT = ["Mail.ReadWrite", "MailboxSettings.ReadWrite", "User.Read"]


class ScopeError(ValueError):
    pass


def split_scopes(scopes: list[str]) -> tuple[str, list[str]]:
    """(resource, resource scopes without prefix) for a requested scope list.

    Bare names (`Mail.Read`) mean Graph, as on Entra. A request naming two resources is
    refused, like Entra's AADSTS28000.
    """
    resources: dict[str, list[str]] = {}
    for scope in scopes:
        if scope in OIDC_SCOPES:
            continue
        if scope.startswith(GRAPH_PREFIXES):
            resource, name = GRAPH_RESOURCE, scope.split("/", 3)[-1]
        elif "/" in scope:
            resource, name = scope.rsplit("/", 1)
        else:
            resource, name = GRAPH_RESOURCE, scope
        resources.setdefault(resource, []).append(name)
    if len(resources) > 1:
        raise ScopeError("AADSTS28000: Provided value for the input parameter scope is not valid "
                         "because it contains more than one resource.")
    if not resources:  # only OIDC scopes: Entra issues a Graph token for User.Read
        return GRAPH_RESOURCE, ["User.Read"]
    return next(iter(resources.items()))


def pairwise_sub(oid: str, client_id: str) -> str:
    return b64url(hashlib.sha256(f"{oid}|{client_id}".encode()).digest())[:43]


def service_principal_oid(client_id: str) -> str:
    return stable_guid("service-principal", client_id)


def _base(issuer: str, tid: str, aud: str, lifetime: int) -> dict:
    now = int(time.time())
    return {"aud": aud, "iss": issuer, "iat": now, "nbf": now, "exp": now + lifetime, "tid": tid,
            "uti": secrets.token_urlsafe(16), "ver": "2.0"}


def user_access_claims(issuer: str, tid: str, user, app: AppRegistration, resource: str,
                       scopes: list[str], lifetime: int) -> dict:
    if resource == GRAPH_RESOURCE and ".default" in scopes:
        scopes = DELEGATED_DEFAULT
    aud = GRAPH_RESOURCE if resource == GRAPH_RESOURCE else _api_audience(resource, app)
    claims = _base(issuer, tid, aud, lifetime)
    claims.update({
        "appid": app.client_id, "azp": app.client_id, "azpacr": "1", "idtyp": "user",
        "name": user.display_name, "oid": user.oid, "preferred_username": user.upn,
        "upn": user.upn, "scp": " ".join(scopes), "sub": pairwise_sub(user.oid, app.client_id),
        "given_name": user.given_name, "family_name": user.surname,
    })
    return claims


def _api_audience(resource: str, app: AppRegistration) -> str:
    # v2.0 tokens for a custom API carry the API's client id as aud; the App ID URI ends with it.
    last = resource.rstrip("/").rsplit("/", 1)[-1]
    return last if resource.startswith("api://") and len(last) == 36 else resource


def app_access_claims(issuer: str, tid: str, app: AppRegistration, lifetime: int) -> dict:
    sp = service_principal_oid(app.client_id)
    claims = _base(issuer, tid, GRAPH_RESOURCE, lifetime)
    claims.update({"appid": app.client_id, "azp": app.client_id, "azpacr": "1", "idtyp": "app",
                   "oid": sp, "sub": sp, "roles": list(app.app_roles)})
    return claims


def id_token_claims(issuer: str, tid: str, user, client_id: str, nonce: str | None,
                    lifetime: int) -> dict:
    claims = _base(issuer, tid, client_id, lifetime)
    claims.pop("uti")
    claims.update({"name": user.display_name, "oid": user.oid, "preferred_username": user.upn,
                   "sub": pairwise_sub(user.oid, client_id)})
    if nonce:
        claims["nonce"] = nonce
    return claims


def client_info(oid: str, tid: str) -> str:
    return b64url(json.dumps({"uid": oid, "utid": tid}, separators=(",", ":")).encode())
