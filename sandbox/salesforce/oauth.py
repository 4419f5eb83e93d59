"""OAuth 2.0 web server flow, refresh, revoke, the identity URL and userinfo (reference 1).

Any client_id is accepted (a consumer key not seen before is registered with the secret of
its first token call: `connected_apps`), but everything a real org binds together is
checked: the consumer secret is the app's, a code is single-use, expires, and belongs to one
client, redirect URI and PKCE challenge; access tokens expire after the org's session
lifetime and die with the refresh token they came from. Every token answer is signed with
the app's own consumer secret, as Salesforce signs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request

from . import ids
from ..settings import AppCredentials
from .connected_apps import ConnectedApps, UnknownSecret
from .store import Org

CODE_LIFETIME_SECONDS = 15 * 60  # reference 1.2: a reasonable emulator lifetime
DEFAULT_SCOPE = "api refresh_token id"
VERSION_PLACEHOLDER = "{version}"


@dataclass
class Session:
    user_id: str
    client_id: str
    scope: str
    issued_at: float
    refresh_token: str | None = None


@dataclass
class Grant:
    """What a refresh token stands for; its access tokens die with it."""

    user_id: str
    client_id: str
    scope: str
    access_tokens: set = field(default_factory=set)


@dataclass
class Code:
    user_id: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    expires: float


class Sessions:
    def __init__(self, org: Org, demo_app: AppCredentials):
        self.org = org
        self._lock = threading.Lock()
        self.apps = ConnectedApps(demo_app)
        self.clear()

    def clear(self) -> None:
        self.apps.reset()
        self.access: dict[str, Session] = {}
        self.refresh: dict[str, Grant] = {}
        self.codes: dict[str, Code] = {}

    def dump(self) -> bytes:
        with self._lock:
            return pickle.dumps((self.access, self.refresh, self.codes))

    def restore(self, saved: bytes) -> None:
        with self._lock:
            self.access, self.refresh, self.codes = pickle.loads(saved)

    def new_code(self, user_id, client_id, redirect_uri, scope, challenge) -> str:
        code = "aPrx" + secrets.token_urlsafe(32)
        with self._lock:
            self.codes[code] = Code(user_id, client_id, redirect_uri, scope, challenge,
                                    time.time() + CODE_LIFETIME_SECONDS)
        return code

    def take_code(self, code: str) -> Code | None:
        with self._lock:
            return self.codes.pop(code, None)  # single use

    def issue(self, user_id: str, client_id: str, scope: str, refresh_token: str | None = None) -> str:
        token = f"{ids.ORG_ID[:15]}!AQ{secrets.token_urlsafe(60)}"
        with self._lock:
            self.access[token] = Session(user_id, client_id, scope, time.time(), refresh_token)
            if refresh_token:
                self.refresh[refresh_token].access_tokens.add(token)
        return token

    def new_refresh_token(self, user_id: str, client_id: str, scope: str) -> str:
        token = "5Aep861" + secrets.token_urlsafe(60)
        with self._lock:
            self.refresh[token] = Grant(user_id, client_id, scope)
        return token

    def check(self, token: str | None) -> Session | None:
        """The live session behind a bearer token; expired ones are forgotten."""
        session = self.access.get(token or "")
        if session is None:
            return None
        if time.time() - session.issued_at >= self.org.settings.session_lifetime_seconds:
            with self._lock:
                self.access.pop(token, None)
            return None
        return session

    def revoke(self, token: str) -> bool:
        with self._lock:
            if token in self.access:
                del self.access[token]
                return True
            grant = self.refresh.pop(token, None)
            if grant is None:
                return False
            for access in grant.access_tokens:
                self.access.pop(access, None)
            return True


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if header[:6].lower() == "oauth ":  # the older "OAuth <token>" form is still accepted
        return header[6:].strip()
    return request.args.get("oauth_token")


def token_response(base_url: str, user_id: str, token: str, scope: str, client_secret: str,
                   refresh_token: str | None) -> dict:
    """The token endpoint's JSON (reference 1.4): no expires_in, issued_at in ms as a string.

    `signature` is what Salesforce sends: the Base64-encoded HMAC-SHA256 of the identity URL
    (`id`) followed by `issued_at`, keyed with the connected app's consumer secret
    (`client_secret` here is the app's, from `ConnectedApps`, not what the caller sent).
    Sources: reference salesforce.md 1.4 (from developer.salesforce.com, REST API Developer
    Guide, "Understanding the Web Server OAuth Authentication Flow",
    atlas.en-us.222.0.api_rest.meta/api_rest/intro_understanding_web_server_oauth_flow.htm);
    the wording of Salesforce's Database.com REST API Developer's Guide (read in a mirror on
    yumpu.com), `signature`: "Base64-encoded HMAC-SHA256 signature signed with the consumer's
    private key containing the concatenated ID and issued_at value. The signature can be used
    to verify that the identity URL wasn't modified because it was sent by the server", with
    the example "issued_at":"1278448384422" (milliseconds since the epoch, as a string).
    """
    issued_at = str(int(time.time() * 1000))
    identity = f"{base_url}/id/{ids.ORG_ID}/{user_id}"
    signature = base64.b64encode(
        hmac.new(client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    ).decode()
    body = {"access_token": token}
    if refresh_token:
        body["refresh_token"] = refresh_token
    body.update(signature=signature, scope=scope, instance_url=base_url, id=identity,
                token_type="Bearer", issued_at=issued_at)
    return body


def create_blueprint(org: Org, sessions: Sessions, base_url: str) -> Blueprint:
    bp = Blueprint("salesforce_oauth", __name__, template_folder="templates")

    def oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
        return jsonify({"error": error, "error_description": description}), status

    def app_secret(form, *, required: bool) -> str | None:
        """The connected app's consumer secret, or None when the call's secret is wrong (or
        missing where the app requires it: the web server flow, reference 1.3)."""
        presented = form.get("client_secret") or None
        if required and presented is None:
            return None
        try:
            return sessions.apps.secret_for(form.get("client_id", ""), presented)
        except UnknownSecret:
            return None

    @bp.get("/services/oauth2/authorize")
    def authorize_page():
        params = request.args
        problem = _authorize_problem(params)
        if problem:
            return render_template("sf_oauth_error.html", message=problem), 400
        if params.get("response_type") != "code":
            return _redirect_error(params, "unsupported_response_type", "response type not supported")
        with org.lock:
            users = sorted((u for u in org.records["User"].values() if u.get("IsActive", True)),
                           key=lambda u: u.get("Username") or "")
        return render_template("sf_login.html", users=users, params=params.to_dict(),
                               login_hint=params.get("login_hint", ""))

    @bp.post("/services/oauth2/authorize")
    def authorize_submit():
        params = request.form
        problem = _authorize_problem(params)
        if problem:
            return render_template("sf_oauth_error.html", message=problem), 400
        if params.get("action") == "deny" or not params.get("user_id"):
            return _redirect_error(params, "access_denied", "end-user denied authorization")
        user = org.get("User", params["user_id"])
        if user is None or not user.get("IsActive", True):
            return render_template("sf_oauth_error.html", message="Unknown or inactive user."), 400
        code = sessions.new_code(user["Id"], params["client_id"], params["redirect_uri"],
                                 params.get("scope") or DEFAULT_SCOPE, params.get("code_challenge") or None)
        query = {"code": code}
        if "state" in params:
            query["state"] = params["state"]
        return redirect(_with_query(params["redirect_uri"], query), 302)

    @bp.post("/services/oauth2/token")
    def token():
        form = request.form
        grant_type = form.get("grant_type")
        if not grant_type:
            return oauth_error("invalid_request", "grant type is missing")
        if grant_type == "authorization_code":
            return _code_grant(form)
        if grant_type == "refresh_token":
            return _refresh_grant(form)
        return oauth_error("unsupported_grant_type", "grant type not supported")

    def _code_grant(form):
        code = sessions.take_code(form.get("code", ""))
        if code is None:
            return oauth_error("invalid_grant", "authentication failure")
        if time.time() > code.expires:
            return oauth_error("invalid_grant", "authorization code expired")
        if form.get("client_id") != code.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        secret = app_secret(form, required=True)
        if secret is None:
            return oauth_error("invalid_client", "invalid client credentials")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
        if code.challenge:
            verifier = form.get("code_verifier")
            if not verifier:
                return oauth_error("invalid_grant", "invalid code verifier")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != code.challenge:
                return oauth_error("invalid_request", "invalid code verifier")
        scopes = code.scope.split()
        refresh = None
        if "refresh_token" in scopes or "offline_access" in scopes:
            refresh = sessions.new_refresh_token(code.user_id, code.client_id, code.scope)
        access = sessions.issue(code.user_id, code.client_id, code.scope, refresh)
        return jsonify(token_response(base_url, code.user_id, access, code.scope, secret, refresh))

    def _refresh_grant(form):
        grant = sessions.refresh.get(form.get("refresh_token", ""))
        if grant is None:
            return oauth_error("invalid_grant", "expired access/refresh token")
        if form.get("client_id") != grant.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        secret = app_secret(form, required=False)
        if secret is None:
            return oauth_error("invalid_client", "invalid client credentials")
        access = sessions.issue(grant.user_id, grant.client_id, grant.scope, form["refresh_token"])
        # Without refresh-token rotation the response carries no refresh_token (reference 1.5).
        return jsonify(token_response(base_url, grant.user_id, access, grant.scope, secret, None))

    @bp.route("/services/oauth2/revoke", methods=["GET", "POST"])
    def revoke():
        token_value = request.values.get("token", "")
        if sessions.revoke(token_value):
            return Response("", 200)
        return oauth_error("invalid_token", "invalid token")

    @bp.get("/id/<org_id>/<user_id>")
    def identity(org_id: str, user_id: str):
        session = sessions.check(bearer_token())
        if session is None:
            return Response("Bad_OAuth_Token", 403, mimetype="text/plain")
        user = org.get("User", ids.normalize(user_id) or "")
        if user is None or ids.normalize(org_id) != ids.ORG_ID:
            return Response("Bad_Id", 404, mimetype="text/plain")
        version = request.args.get("version")
        if version == "latest":
            version = current_app.config["SALESFORCE_LATEST_VERSION"]
        return jsonify(_identity(user, session, version or VERSION_PLACEHOLDER))

    @bp.get("/services/oauth2/userinfo")
    def userinfo():
        session = sessions.check(bearer_token())
        if session is None:
            return Response("Bad_OAuth_Token", 403, mimetype="text/plain")
        user = org.get("User", session.user_id)
        info = _identity(user, session, VERSION_PLACEHOLDER)
        return jsonify({
            "sub": info["id"], "user_id": info["user_id"], "organization_id": info["organization_id"],
            "preferred_username": info["username"], "nickname": info["nick_name"], "name": info["display_name"],
            "email": info["email"], "email_verified": True, "given_name": info["first_name"],
            "family_name": info["last_name"], "zoneinfo": info["timezone"], "photos": info["photos"],
            "profile": f"{base_url}/{user['Id']}", "picture": info["photos"]["picture"], "active": True,
            "user_type": "STANDARD", "language": "en_US", "locale": "en_GB", "utcOffset": 0,
            "updated_at": info["last_modified_date"], "urls": info["urls"],
        })

    def _identity(user: dict, session: Session, version: str) -> dict:
        rest = f"{base_url}/services/data/v{version}/"
        identity_url = f"{base_url}/id/{ids.ORG_ID}/{user['Id']}"
        return {
            "id": identity_url, "asserted_user": session.user_id == user["Id"], "user_id": user["Id"],
            "organization_id": ids.ORG_ID, "username": user.get("Username"), "nick_name": user.get("Alias") or "",
            "display_name": user.get("Name"), "email": user.get("Email"), "email_verified": True,
            "first_name": user.get("FirstName"), "last_name": user.get("LastName"),
            "timezone": user.get("TimeZoneSidKey") or "Europe/London", "photos": {
                "picture": f"{base_url}/profilephoto/005/F", "thumbnail": f"{base_url}/profilephoto/005/T"},
            "active": bool(user.get("IsActive", True)), "user_type": "STANDARD", "language": "en_US",
            "locale": "en_GB", "utcOffset": 0, "last_modified_date": user.get("LastModifiedDate"),
            "is_app_installed": True,
            "urls": {
                "enterprise": f"{base_url}/services/Soap/c/{version}/{ids.ORG_ID[:15]}",
                "metadata": f"{base_url}/services/Soap/m/{version}/{ids.ORG_ID[:15]}",
                "partner": f"{base_url}/services/Soap/u/{version}/{ids.ORG_ID[:15]}",
                "rest": rest, "sobjects": rest + "sobjects/", "search": rest + "search/",
                "query": rest + "query/", "recent": rest + "recent/", "profile": f"{base_url}/{user['Id']}",
                "feeds": rest + "chatter/feeds", "groups": rest + "chatter/groups",
                "users": rest + "chatter/users", "feed_items": rest + "chatter/feed-items",
                "custom_domain": base_url,
            },
        }

    return bp


def _authorize_problem(params) -> str | None:
    """Errors that can't be sent back to the client because its redirect URI is unusable."""
    if not params.get("client_id"):
        return "error=invalid_client_id: client identifier invalid"
    uri = params.get("redirect_uri", "")
    if not uri.startswith(("https://", "http://localhost", "http://127.0.0.1")):
        return "error=redirect_uri_missing: redirect_uri must be an absolute https URL"
    return None


def _redirect_error(params, error: str, description: str):
    query = {"error": error, "error_description": description}
    if "state" in params:
        query["state"] = params["state"]
    return redirect(_with_query(params["redirect_uri"], query), 302)


def _with_query(url: str, query: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(query)
