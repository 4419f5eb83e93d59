"""What the token endpoint puts in access tokens, ID tokens and its JSON answer (reference §2.5,
§2.6, §2.7): which resource a scope list is for, and the claims Entra's tokens carry.

An access token for a custom API comes in the version the API's app registration asks for,
`requestedAccessTokenVersion` (null or 1 → v1.0, 2 → v2.0), whichever endpoint the client
called (reference wave2.md §7.2, from Entra's access-token claims reference): v1.0 tokens carry
`iss https://sts.windows.net/<tid>/`, `aud` as requested (the App ID URI or the client id),
`appid`/`appidacr` and `unique_name`, `ver 1.0`; v2.0 tokens `iss <authority>/<tid>/v2.0`,
`aud` the API's client id, `azp`/`azpacr` and `preferred_username`, `ver 2.0`."""

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


#: The issuer of v1.0 tokens in Entra's global cloud (reference wave2.md §7.2).
V1_ISSUER = "https://sts.windows.net/{tid}/"


def _base(issuer: str, tid: str, aud: str, lifetime: int, version: str = "2.0") -> dict:
    now = int(time.time())
    return {"aud": aud, "iss": issuer, "iat": now, "nbf": now, "exp": now + lifetime, "tid": tid,
            "uti": secrets.token_urlsafe(16), "ver": version}


def user_access_claims(issuer: str, tid: str, user, app: AppRegistration, resource: str,
                       scopes: list[str], lifetime: int, api: AppRegistration | None = None,
                       groups: frozenset[str] = frozenset()) -> dict:
    """A delegated access token's claims. `issuer` is the v2.0 issuer; `api` is the app
    registration of a custom API `resource` (the calling app when not given), whose
    `requested_access_token_version` picks the token's version; `groups` are the user's
    (for app roles assigned to a group)."""
    base = {"idtyp": "user", "name": user.display_name, "oid": user.oid, "upn": user.upn,
            "sub": pairwise_sub(user.oid, app.client_id), "given_name": user.given_name,
            "family_name": user.surname}
    if resource == GRAPH_RESOURCE:
        # Graph's tokens: unchanged here (both caller claims), Graph checks only aud and lifetime.
        claims = _base(issuer, tid, GRAPH_RESOURCE, lifetime)
        claims.update(base, appid=app.client_id, azp=app.client_id, azpacr="1", preferred_username=user.upn,
                      scp=" ".join(DELEGATED_DEFAULT if ".default" in scopes else scopes))
        return claims
    api = api or app
    # The API's own app roles assigned to the user (reference wave2.md §7.3): in tokens for
    # the API that defines them, never in Graph's.
    roles = api.roles_of(user.oid, groups)
    if roles:
        base["roles"] = roles
    if api.access_token_version() == "1.0":
        # aud is the resource as the client named it: the App ID URI, or the client id.
        claims = _base(V1_ISSUER.format(tid=tid), tid, resource, lifetime, "1.0")
        claims.update(base, appid=app.client_id, appidacr="1", unique_name=user.upn,
                      amr=["pwd"], acr="1", scp=" ".join(scopes))
    else:
        claims = _base(issuer, tid, api.client_id, lifetime, "2.0")
        claims.update(base, azp=app.client_id, azpacr="1", preferred_username=user.upn, scp=" ".join(scopes))
    return claims


def app_access_claims(issuer: str, tid: str, app: AppRegistration, lifetime: int) -> dict:
    sp = service_principal_oid(app.client_id)
    claims = _base(issuer, tid, GRAPH_RESOURCE, lifetime)
    claims.update({"appid": app.client_id, "azp": app.client_id, "azpacr": "1", "idtyp": "app",
                   "oid": sp, "sub": sp, "roles": list(app.app_roles)})
    return claims


def id_token_claims(issuer: str, tid: str, user, app: AppRegistration, nonce: str | None,
                    lifetime: int, groups: frozenset[str] = frozenset()) -> dict:
    claims = _base(issuer, tid, app.client_id, lifetime)
    claims.pop("uti")
    claims.update({"name": user.display_name, "oid": user.oid, "preferred_username": user.upn,
                   "sub": pairwise_sub(user.oid, app.client_id)})
    roles = app.roles_of(user.oid, groups)  # the signing-in app's roles (reference wave2.md §7.3)
    if roles:
        claims["roles"] = roles
    if nonce:
        claims["nonce"] = nonce
    return claims


def client_info(oid: str, tid: str) -> str:
    return b64url(json.dumps({"uid": oid, "utid": tid}, separators=(",", ":")).encode())
