"""Entra ID v2.0 endpoints for any tenant segment (reference §2.1, §2.4–§2.7): OpenID
discovery, JWKS, the authorize page (pick a demo user) and the token endpoint for
authorization_code (+PKCE), refresh_token, client_credentials and on-behalf-of.

Error answers follow Entra's shape — `error`, `error_description` starting with the AADSTS
code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri` — with 400 for
everything except client authentication failures (401 invalid_client).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import uuid
from urllib.parse import urlencode

from flask import Blueprint, Response, g, redirect, request

from . import claims as minted
from . import client_assertions
from .apps import AppRegistration
from .grants import AuthCode, RefreshGrant
from .state import state
from . import tenants
from .tenants import MULTI_TENANT_SEGMENTS, Tenant, authority_tenant, is_foreign, member, not_a_member
from .tokens import TokenError

bp = Blueprint("identity", __name__)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_AUTHORIZE_FIELDS = ("client_id", "response_type", "redirect_uri", "scope", "state", "nonce",
                     "code_challenge", "code_challenge_method", "response_mode", "prompt",
                     "login_hint", "client_info")


class AadError(Exception):
    def __init__(self, error: str, code: int, text: str, status: int = 400, suberror: str | None = None):
        super().__init__(text)
        self.error, self.code, self.text, self.status, self.suberror = error, code, text, status, suberror


def aad_response(err: AadError) -> Response:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id = str(uuid.uuid4())
    correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
    body = {
        "error": err.error,
        "error_description": f"AADSTS{err.code}: {err.text}\r\nTrace ID: {trace_id}\r\n"
                             f"Correlation ID: {correlation_id}\r\nTimestamp: {now}",
        "error_codes": [err.code], "timestamp": now, "trace_id": trace_id,
        "correlation_id": correlation_id, "error_uri": f"{root()}/error?code={err.code}",
    }
    if err.suberror:
        body["suberror"] = err.suberror
    return Response(json.dumps(body), status=err.status, mimetype="application/json")


def check_authority(app: AppRegistration, tenant: str) -> None:
    """A single-tenant registration (`signInAudience` AzureADMyOrg) on `/common` or
    `/organizations`: Entra answers `invalid_request` AADSTS50194, 400 at the token endpoint,
    a redirect with the error from authorize (reference wave2.md §7.1; the error as quoted in
    microsoftgraph/aspnetcore-connect-sample#65, wangziyingwen/AutoApi#15). The message
    names /common whichever of the two was used; /organizations being refused too is marked
    unconfirmed in the reference, and the sandbox refuses both — before anyone signs in, so
    another organization's user meets AADSTS50194 there too, as the message is about the app.
    On another organization's own authority (`tenants.py`) a single-tenant registration is
    unknown: AADSTS700016, on Entra's error page at authorize (`front_channel_app`)."""
    if not app.is_multi_tenant() and tenant.lower() in MULTI_TENANT_SEGMENTS:
        raise AadError("invalid_request", 50194, f"Application '{app.client_id}'({app.display_name}) is not "
                       "configured as a multi-tenant application. Usage of the /common endpoint is not "
                       "supported for such applications created after '10/15/2018'. Use a tenant-specific "
                       "endpoint or configure the application to be multi-tenant.")
    named = authority_tenant(tenant)
    if not app.is_multi_tenant() and is_foreign(named):
        # A single-tenant registration has no service principal in another organization's tenant.
        raise not_in_directory(app, named)


def not_in_directory(app: AppRegistration, tenant: Tenant) -> AadError:
    return AadError("unauthorized_client", 700016, tenants.not_in_directory(app, tenant))


def api_registration(resource: str, caller: AppRegistration) -> AppRegistration:
    """The app registration of the custom API `resource` names (an App ID URI, which for
    Nested App Authentication ends with the client id, or the client id itself); the
    calling app when the tenant has none by that name."""
    apps = state().apps
    last = resource.rstrip("/").rsplit("/", 1)[-1]
    found = apps.get(resource) or next((a for a in apps.all() if resource in a.identifier_uris), None)
    if found is None and resource.startswith("api://"):
        found = apps.get(last)
    return found or caller


def member_groups(oid: str) -> frozenset[str]:
    """The groups the user `oid` is a member of, directly or through nested groups: what
    app roles assigned to a group reach (reference wave2.md §7.3)."""
    store = state().groups
    with store.lock:
        return frozenset(g.id for g in store.groups.values() if oid in store.user_members(g))


def root() -> str:
    return state().settings.microsoft_url.rstrip("/")


def issuer(tid: str | None = None) -> str:
    """The v2.0 issuer of the tenant `tid` (the sandbox's own when not given)."""
    return f"{root()}/{tid or state().store.tenant_id}/v2.0"


@bp.after_request
def _cors(response: Response) -> Response:
    # Browsers (msal-browser in the add-in) call discovery, keys and token cross-origin.
    if request.endpoint in ("identity.openid_configuration", "identity.jwks", "identity.token"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "Content-Type")
            response.headers["Access-Control-Max-Age"] = "86400"
    return response


# -- discovery and keys -------------------------------------------------------------------------
@bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
@bp.get("/<tenant>/.well-known/openid-configuration")
def openid_configuration(tenant):
    base = f"{root()}/{tenant}"
    named = state().tenants.named(tenant)  # another organization's tenant names its own issuer
    doc = {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer(named.tenant_id if named else None),
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "nonce", "oid",
                             "preferred_username", "tid", "ver"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "localhost",
        "cloud_graph_host_name": "localhost",
        "msgraph_host": root().split("://", 1)[1],
        "code_challenge_methods_supported": ["S256", "plain"],
    }
    response = Response(json.dumps(doc), mimetype="application/json")
    response.headers["Cache-Control"] = "max-age=86400, private"
    return response


@bp.get("/<tenant>/discovery/v2.0/keys")
@bp.get("/<tenant>/discovery/keys")
def jwks(tenant):
    response = Response(json.dumps({"keys": [state().key.jwk]}), mimetype="application/json")
    response.headers["Cache-Control"] = "max-age=86400, private"
    return response


# -- authorize ----------------------------------------------------------------------------------
def _error_page(code: int, text: str) -> Response:
    page = (f"<!doctype html><title>Sign in - error</title><h1>Sorry, but we’re having trouble "
            f"signing you in.</h1><p>AADSTS{code}: {html.escape(text)}</p>")
    return Response(page, status=400, mimetype="text/html")


def _redirect_back(params: dict, values: dict) -> Response:
    uri = params["redirect_uri"]
    if params.get("state"):
        values["state"] = params["state"]
    if params.get("response_mode") == "form_post":
        fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in values.items())
        page = (f'<!doctype html><html><body onload="document.forms[0].submit()">'
                f'<form method="post" action="{html.escape(uri)}">{fields}'
                f'<noscript><button>Continue</button></noscript></form></body></html>')
        return Response(page, mimetype="text/html")
    if params.get("response_mode") == "fragment":  # single-page apps (msal-browser)
        return redirect(f"{uri}#{urlencode(values)}", 302)
    return redirect(uri + ("&" if "?" in uri else "?") + urlencode(values), 302)


def front_channel_app(params: dict, tenant: str) -> tuple[AppRegistration | None, Response | None]:
    """The app a browser request (authorize, adminconsent) names, or the answer refusing it:
    an unknown app or redirect URI is an error page (nothing proves the URI is the app's), a
    single-tenant app on a multi-tenant authority a redirect with the error."""
    app = state().apps.get(params["client_id"])
    if app is None:
        return None, _error_page(700016, f"Application with identifier '{params['client_id']}' was not found "
                                         f"in the directory '{tenant}'.")
    if not params["redirect_uri"] or not app.accepts_redirect(params["redirect_uri"]):
        return None, _error_page(50011, f"The redirect URI '{params['redirect_uri']}' specified in the request "
                                        "does not match the redirect URIs configured for the application "
                                        f"'{app.client_id}'.")
    try:
        check_authority(app, tenant)
    except AadError as err:
        if err.code == 700016:  # as for an unknown app: Entra's page, nothing proves the URI is the app's
            return None, _error_page(err.code, err.text)
        return None, _redirect_back(params, {"error": err.error,
                                             "error_description": f"AADSTS{err.code}: {err.text}"})
    return app, None


@bp.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
def authorize(tenant):
    source = request.form if request.method == "POST" else request.args
    params = {k: source.get(k, "") for k in _AUTHORIZE_FIELDS}
    app, refused = front_channel_app(params, tenant)
    if refused is not None:
        return refused
    if params["response_type"] != "code":
        return _redirect_back(params, {"error": "unsupported_response_type",
                                       "error_description": "AADSTS70005: response_type must be 'code'."})
    if not params["scope"]:
        return _redirect_back(params, {"error": "invalid_request",
                                       "error_description": "AADSTS900144: The request body must contain the following parameter: 'scope'."})
    if params["code_challenge"] and params["code_challenge_method"] not in ("", "S256", "plain"):
        return _redirect_back(params, {"error": "invalid_request",
                                       "error_description": "AADSTS50149: Invalid Code_Challenge_method parameter."})
    chosen = request.form.get("user") if request.method == "POST" else None
    if not chosen and params["prompt"] == "none":
        hinted = member(params["login_hint"]) if params["login_hint"] else None
        if hinted is None:
            return _redirect_back(params, {"error": "login_required", "error_description":
                                           "AADSTS50058: A silent sign-in request was sent but no user is signed in."})
        refusal = not_a_member(app, tenant, hinted)
        if refusal:
            # Without a page to show, the refusal goes back to the app: interaction_required
            # with the home tenant's code for it, 90072 (rootinc/laravel-azure-middleware#22;
            # the AADSTS50020 troubleshooting article names 90072 as the home tenant's entry).
            return _redirect_back(params, {"error": "interaction_required",
                                           "error_description": f"AADSTS90072: {refusal}"})
        chosen = hinted.user.oid
    if not chosen:
        return _sign_in_page(params)
    found = member(chosen)
    if found is None:
        return _sign_in_page(params)
    refusal = not_a_member(app, tenant, found)
    if refusal:
        # Entra shows this on its own error page and does not send the browser back to the
        # app (AzureAD/azure-activedirectory-library-for-js#501: "AAD does not return a
        # response and just shows the html page with the error"; seanfisher/passport-microsoft#22).
        return _error_page(50020, refusal)
    user = found.user
    if app.needs_admin_consent():
        return _redirect_back(params, consent_required(app))
    code = state().grants.issue_code(AuthCode(
        client_id=app.client_id, oid=user.oid, redirect_uri=params["redirect_uri"],
        scopes=params["scope"].split(), nonce=params["nonce"] or None,
        code_challenge=params["code_challenge"] or None,
        code_challenge_method=params["code_challenge_method"] or "plain"))
    values = {"code": code}
    if params["client_info"] == "1":
        values["client_info"] = minted.client_info(user.oid, found.tenant.tenant_id)
    values["session_state"] = str(uuid.uuid4())
    return _redirect_back(params, values)


def consent_required(app: AppRegistration) -> dict:
    """What authorize answers a user of a tenant that lets only administrators consent to
    the app, until one did (`/adminconsent`): `consent_required` with AADSTS65001's text as
    Entra words it (quoted in microsoftgraph/aspnet-connect-rest-sample#33 and many samples'
    issues). Entra shows its "Need admin approval" page to an interactive user first; the
    sandbox answers at once, the way the app then learns of it."""
    return {"error": "consent_required", "error_description":
            f"AADSTS65001: The user or administrator has not consented to use the application with ID "
            f"'{app.client_id}' named '{app.display_name}'. Send an interactive authorization request for this "
            "user and resource."}


def _sign_in_page(params: dict) -> Response:
    """Every account the sandbox knows, as anyone may type any username on Entra's page:
    the sandbox's own tenant's users, then other organizations' (`tenants.py`)."""
    store = state().store
    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                     for k, v in params.items() if v)
    accounts = [(m.user, "") for m in store.mailboxes.values()]
    accounts += [(user, tenant.name) for tenant in state().tenants.all() for user in tenant.users]
    rows = "".join(
        f'<li><button type="submit" name="user" value="{html.escape(user.oid)}" '
        f'data-testid="sign-in-user" data-upn="{html.escape(user.upn)}">'
        f'<strong>{html.escape(user.display_name)}</strong> <span>{html.escape(user.upn)}</span>'
        + (f'<small>{html.escape(organization)}</small>' if organization else "") +
        '</button></li>'
        for user, organization in accounts)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title>
<style>body{{font-family:Segoe UI,system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
ul{{list-style:none;padding:0}}button{{width:100%;text-align:left;padding:.8rem;margin:.3rem 0;
background:#fff;border:1px solid #ccc;cursor:pointer}}button:hover{{background:#f2f2f2}}
span{{color:#555;display:block}}small{{color:#777}}</style></head>
<body><h1>Pick an account</h1><p>{html.escape(store.tenant_name)} <small>(Mailferry sandbox: no password)</small></p>
<form method="post">{hidden}<ul>{rows}</ul></form></body></html>"""
    return Response(page, mimetype="text/html")


@bp.get("/<tenant>/oauth2/v2.0/logout")
def logout(tenant):
    target = request.args.get("post_logout_redirect_uri")
    if target:
        return redirect(target, 302)
    return Response("<!doctype html><title>Signed out</title><p>You signed out of your account.</p>",
                    mimetype="text/html")


# -- token --------------------------------------------------------------------------------------
@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant):
    try:
        form = request.form
        grant = form.get("grant_type")
        app = _client(form, public_allowed=grant in ("authorization_code", "refresh_token"))
        check_authority(app, tenant)
        if not grant:
            raise AadError("invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        handler = _GRANTS.get(grant)
        if handler is None:
            raise AadError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")
        body = handler(app, form)
    except AadError as err:
        return aad_response(err)
    response = Response(json.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store, no-cache"
    return response


def _client(form, public_allowed: bool = False) -> AppRegistration:
    """The calling app, authenticated by its secret — or, for a browser (an `Origin` header)
    redeeming a code or refresh token, as a single-page app without one, as Entra allows
    for SPA redirect URIs (then the code must have been issued with PKCE)."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    auth = request.authorization
    if auth and auth.type == "basic":
        client_id, secret = auth.username or client_id, auth.password
    if not client_id:
        raise AadError("invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
    app = state().apps.get(client_id)
    if app is None:
        raise AadError("unauthorized_client", 700016, f"Application with identifier '{client_id}' was not found "
                       f"in the directory '{state().store.tenant_name}'.")
    if form.get("client_assertion"):
        try:  # a certificate credential (reference wave2.md §7.5; sandbox/microsoft/client_assertions.py)
            client_assertions.check(app, form, f"{root()}{request.path}")
        except client_assertions.AssertionRefused as refused:
            raise AadError("invalid_client", refused.code, refused.text, 401) from None
        return app
    if not secret and public_allowed and request.headers.get("Origin"):
        g.public_client = True
        return app
    if not secret:
        raise AadError("invalid_client", 7000218, "The request body must contain the following parameter: "
                       "'client_assertion' or 'client_secret'.", 401)
    if not hmac.compare_digest(secret, app.client_secret):
        raise AadError("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent "
                       "in the request is the client secret value, not the client secret ID, for a secret "
                       f"added to app '{app.client_id}'.", 401)
    return app


def _scopes(form) -> list[str]:
    raw = form.get("scope", "")
    if not raw.strip():
        raise AadError("invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
    return raw.split()


def _user_tokens(app: AppRegistration, oid: str, scopes: list[str], nonce: str | None = None,
                 form=None) -> dict:
    """The token answer for a user flow: access token, plus refresh/id token and client_info."""
    sandbox = state()
    found = member(oid)
    if found is None:
        raise AadError("invalid_grant", 50034, "The user account does not exist in the directory.")
    refusal = not_a_member(app, request.view_args["tenant"], found)
    if refusal:  # e.g. a refresh token of another organization's user at this tenant's authority
        raise AadError("invalid_grant", 50020, refusal)  # the error name here is unconfirmed
    user, tid = found.user, found.tenant.tenant_id
    try:
        resource, resource_scopes = minted.split_scopes(scopes)
    except minted.ScopeError as exc:
        raise AadError("invalid_scope", 28000, str(exc).split(": ", 1)[1]) from exc
    lifetime = sandbox.tunables.access_token_lifetime_s
    groups = member_groups(oid)
    # On /organizations or /common the tokens name the user's own tenant in tid and iss
    # (reference wave2.md §7.1: multi-tenant apps "must vet tid").
    access = minted.user_access_claims(issuer(tid), tid, user, app, resource, resource_scopes, lifetime,
                                       api_registration(resource, app), groups)
    body = {"token_type": "Bearer", "scope": " ".join(scopes), "expires_in": lifetime,
            "ext_expires_in": lifetime, "access_token": sandbox.key.mint(access)}
    if "offline_access" in scopes:
        body["refresh_token"] = sandbox.grants.issue_refresh(RefreshGrant(app.client_id, oid, scopes))
    if "openid" in scopes:
        body["id_token"] = sandbox.key.mint(minted.id_token_claims(issuer(tid), tid, user, app, nonce, 3600, groups))
    if form is not None and form.get("client_info") == "1":
        body["client_info"] = minted.client_info(oid, tid)
    return body


def _authorization_code(app: AppRegistration, form) -> dict:
    value = form.get("code")
    if not value:
        raise AadError("invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
    code, why = state().grants.redeem_code(value)
    if why == "redeemed":
        raise AadError("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry "
                       "with a new valid code or use an existing refresh token.")
    if why == "expired":
        raise AadError("invalid_grant", 70008, "The provided authorization code or refresh token has expired "
                       "due to inactivity. Send a new interactive authorization request for this user and resource.")
    if code is None:
        raise AadError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if code.client_id != app.client_id:
        raise AadError("invalid_grant", 70000, "The provided value for the 'code' parameter is not valid. "
                       "The code was issued to a different client.")
    if form.get("redirect_uri", "") != code.redirect_uri:
        raise AadError("invalid_grant", 500112, "The reply address does not match the reply address provided "
                       "when requesting Authorization code.")
    if g.get("public_client") and not code.code_challenge:
        raise AadError("invalid_request", 9002325, "Proof Key for Code Exchange is required for cross-origin "
                       "authorization code redemption.")
    if code.code_challenge and not _pkce_ok(code, form.get("code_verifier", "")):
        raise AadError("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied "
                       "in the authorization request.")
    scopes = form.get("scope", "").split() or code.scopes
    return _user_tokens(app, code.oid, scopes, code.nonce, form)


def _pkce_ok(code: AuthCode, verifier: str) -> bool:
    if not verifier:
        return False
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.code_challenge or "")


def _refresh_token(app: AppRegistration, form) -> dict:
    value = form.get("refresh_token")
    if not value:
        raise AadError("invalid_request", 900144, "The request body must contain the following parameter: 'refresh_token'.")
    grant = state().grants.find_refresh(value)
    if grant is None:
        raise AadError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if grant.revoked:
        raise AadError("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh "
                       "auth token is needed. The user might have changed or reset their password.")
    if grant.client_id != app.client_id:
        raise AadError("invalid_grant", 700021, "The refresh token was issued to a different client.",
                       suberror="client_mismatch")
    return _user_tokens(app, grant.oid, _scopes(form), None, form)


def _client_credentials(app: AppRegistration, form) -> dict:
    scopes = _scopes(form)
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise AadError("invalid_scope", 1002012, f"The provided value for scope {' '.join(scopes)} is not valid. "
                       "Client credential flows must have a scope value with /.default suffixed to the resource "
                       "identifier (application ID URI).")
    resource = scopes[0].rsplit("/", 1)[0]
    if resource not in (minted.GRAPH_RESOURCE, minted.GRAPH_APP_ID):
        raise AadError("invalid_resource", 500011, f"The resource principal named {resource} was not found in "
                       f"the tenant named {state().store.tenant_name}.")
    named = authority_tenant(request.view_args["tenant"])
    if is_foreign(named):  # app-only grants exist in the sandbox's own tenant only
        raise not_in_directory(app, named)
    sandbox = state()
    lifetime = sandbox.tunables.access_token_lifetime_s
    claims = minted.app_access_claims(issuer(), sandbox.store.tenant_id, app, lifetime)
    # No client_info and no scope here, as Entra: either would confuse MSAL's app-token cache (§2.5).
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": sandbox.key.mint(claims)}


def _on_behalf_of(app: AppRegistration, form) -> dict:
    if form.get("requested_token_use") != "on_behalf_of":
        raise AadError("invalid_request", 900144, "The request body must contain the following parameter: "
                       "'requested_token_use'.")
    assertion = form.get("assertion", "")
    try:
        claims = state().key.verify(assertion)
    except TokenError as exc:
        if exc.reason == "expired":
            raise AadError("invalid_grant", 500133, "Assertion is not within its valid time range.") from exc
        raise AadError("invalid_grant", 50013, "Assertion failed signature validation.") from exc
    if not app.is_audience(str(claims.get("aud", ""))):
        raise AadError("invalid_grant", 50013, "Assertion audience does not match the Client app presenting "
                       "the assertion. The audience in the assertion was "
                       f"'{claims.get('aud')}' and the expected audience is '{app.client_id}'.")
    if "scp" not in claims:
        raise AadError("invalid_grant", 50013, "Assertion is not a user token: on-behalf-of needs a delegated token.")
    return _user_tokens(app, claims["oid"], _scopes(form), None, form)


_GRANTS = {
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
    "client_credentials": _client_credentials,
    JWT_BEARER: _on_behalf_of,
}
