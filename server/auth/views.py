"""The Microsoft sign-in (msal authorization-code flow with PKCE) and sign-out.

`/auth/sign-in` starts the flow and keeps it server-side (`server.oauth_flows`), bound to
this browser by a random value in a cookie of its own. Entra answers with
`response_mode=form_post`: a cross-site POST, on which browsers do not send our
SameSite=Lax session cookie, so the flow cannot be found through the session. The binding
cookie is therefore `SameSite=None` (still Secure, HttpOnly, and sent only to the callback
path): a callback that did not start in this browser (login CSRF) is refused.
"""

from __future__ import annotations

import hmac
import logging
import secrets

import redis
from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from mailferry.admin_consent import needs_admin_consent
from mailferry.crypto import SecretBox
from mailferry.microsoft_identity import finish_sign_in, start_sign_in
from mailferry.models import Mailbox
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.provisioning import Person, provision_user, save_connection
from mailferry.tenancy_policy import sign_in_refusal
from server import oauth_flows, sign_in_sessions
from server.access import Account
from server.extensions import config, db
from server.first_sync import queue_first_sync

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)

CALLBACK_PATH = "/auth/microsoft/callback"
BINDING_COOKIE = "mailferry_sign_in"
FLOW = "microsoft-sign-in"


def callback_uri() -> str:
    """The redirect URI registered in Entra: MAILFERRY_BASE_URL + /auth/microsoft/callback."""
    return config().base_url + CALLBACK_PATH


@blueprint.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint()))
    return render_template("auth/landing.html")


def home_endpoint() -> str:
    """Sync History once it exists, else Connections."""
    return "history.index" if "history.index" in current_app.view_functions else "connections.index"


@blueprint.get("/auth/sign-in")
def sign_in():
    try:
        flow = start_sign_in(config(), callback_uri())
    except ProviderError as error:
        log.warning("sign-in could not start: %s", error.message)
        return problem("Microsoft sign-in is unavailable",
                       f"Mailferry could not reach Microsoft Entra ID ({error.message}). Try again in a minute.",
                       status=502)
    binding = secrets.token_urlsafe(32)
    try:
        oauth_flows.keep(FLOW, flow["state"], {"flow": flow, "binding": binding, "next": _safe_next()})
    except redis.RedisError:
        return problem("Sign-in is unavailable", "Mailferry cannot reach its Redis server right now. "
                       "Try again in a minute; if it persists, an administrator should check REDIS_URL.", status=503)
    response = redirect(flow["auth_uri"])
    response.set_cookie(BINDING_COOKIE, binding, max_age=oauth_flows.FLOW_TTL_SECONDS, path=CALLBACK_PATH,
                        secure=True, httponly=True, samesite="None")
    return response


@blueprint.route(CALLBACK_PATH, methods=["GET", "POST"])
def microsoft_callback():
    answer = request.form if request.method == "POST" else request.args
    pending = oauth_flows.take(FLOW, answer.get("state"))
    binding = request.cookies.get(BINDING_COOKIE, "")
    if pending is None or not hmac.compare_digest(binding, pending["binding"]):
        return _done(problem("This sign-in cannot be finished",
                             "It was not started from this browser, was already used, or took longer than ten "
                             "minutes. Start again with “Sign in with Microsoft”.", status=400))
    if answer.get("error"):
        return _done(_entra_refusal(answer.get("error", ""), answer.get("error_description", "")))
    try:
        signed_in = finish_sign_in(config(), pending["flow"], answer.to_dict())
    except ProviderError as error:
        log.warning("sign-in failed: %s %s", error.code, error.message)
        status = 502 if error.kind == ErrorKind.TEMPORARY else 400
        return _done(problem("Microsoft sign-in failed", error.message, status=status))
    if not (signed_in.oid and signed_in.tid and signed_in.username):
        return _done(problem("Microsoft sign-in failed",
                             "Entra ID did not say who signed in (no oid, tid or username in the ID token).",
                             status=400))
    refusal = sign_in_refusal(config(), signed_in.tid, signed_in.username)
    if refusal:  # before anything is stored: a refused tenant leaves no trace but the log line
        log.warning("sign-in refused for tenant %s: not allowed", signed_in.tid)
        return _done(problem("Your organization cannot sign in here", refusal, status=403))
    account, mailbox_id = _provision(signed_in)
    session.clear()  # a new session for the new sign-in (no fixation), a new CSRF secret too
    try:
        sign_in_sessions.begin(account.id)  # the record sign-out deletes (server.sign_in_sessions)
    except sign_in_sessions.SessionStoreUnavailable:
        return _done(sign_in_sessions.unavailable())
    login_user(account)
    queue_first_sync(mailbox_id)
    return _done(redirect(pending.get("next") or url_for("auth.index")))


def _provision(signed_in) -> tuple[Account, int | None]:
    """The user (created on first sign-in) with the Microsoft connection sealed on it."""
    person = Person(signed_in.tid, signed_in.oid, signed_in.username, signed_in.name or signed_in.username,
                    roles=signed_in.roles)
    user, _ = provision_user(db(), person, first_user_admin=config().is_demo)
    save_connection(db(), user, "microsoft", signed_in.sealed(SecretBox(config().encryption_keys)),
                    account_label=signed_in.username, external_user_id=signed_in.oid,
                    external_org_id=signed_in.tid, login_host=config().microsoft_authority_host,
                    scopes=" ".join(signed_in.scopes))
    mailbox_id = db().execute(select(Mailbox.id).where(Mailbox.user_id == user.id)).scalar_one_or_none()
    account = Account.of(user)
    db().commit()
    return account, mailbox_id


@blueprint.post("/auth/sign-out")
def sign_out():
    """End the sign-in on the server (a copy of the cookie stops working too), then empty
    this browser's session."""
    ended = sign_in_sessions.end()
    logout_user()
    session.clear()
    if not ended:
        return problem("Signed out in this browser only",
                       "Mailferry could not reach its Redis server to end your sign-in everywhere. This browser "
                       "is signed out; elsewhere the sign-in ends by itself after "
                       f"{config().session_idle_minutes} minutes unused, {config().session_hours} hours at most.",
                       status=503)
    flash("You signed out of Mailferry.", "success")
    return redirect(url_for("auth.index"))


def problem(title: str, message: str, status: int, consent_link: str | None = None):
    """A clear page for a sign-in that did not work (never a stack trace); `consent_link`:
    where an administrator grants admin consent (server.auth.consent)."""
    link = config().base_url + consent_link if consent_link else None
    return render_template("auth/problem.html", title=title, message=message, consent_link=link), status


def _entra_refusal(error: str, description: str):
    # Entra's description starts "AADSTS<n>: <text>" and ends with trace ids: keep line one.
    first_line = (description or "").strip().splitlines()[:1]
    detail = f"{error}: {first_line[0]}" if first_line else error
    if error == "access_denied":
        return problem("Sign-in was cancelled",
                       f"Microsoft did not sign you in ({detail}). If you declined the permissions Mailferry "
                       "asks for, nothing was connected; sign in again and accept them to sync your mail.",
                       status=400)
    if needs_admin_consent(error, detail):
        return problem("An administrator must approve Mailferry",
                       f"Your organization requires admin consent ({detail}). A Microsoft 365 administrator can "
                       "grant it with the link below (send it to them), then sign in again.", status=400,
                       consent_link=url_for("auth.start_admin_consent"))
    if "AADSTS50194" in detail:  # a single-tenant registration asked on /organizations or /common
        return problem("Mailferry's app registration is for one tenant",
                       f"Entra ID refused signing in at \u201c{config().microsoft_tenant}\u201d ({detail}). An "
                       "administrator must set MICROSOFT_TENANT to the registration's Directory (tenant) ID or "
                       "a verified domain, or make the registration multi-tenant.", status=400)
    return problem("Microsoft refused the sign-in", f"Entra ID answered: {detail}", status=400)


def _safe_next() -> str | None:
    """Where to go after signing in: only a path of this site (no open redirect)."""
    target = request.args.get("next") or ""
    # Browsers drop tabs and newlines from URLs, so "/\t/evil.example" would become
    # "//evil.example", another site: no control characters at all.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _done(response):
    """Forget the binding cookie whatever the outcome: a flow is used once."""
    from flask import make_response

    response = make_response(response)
    response.delete_cookie(BINDING_COOKIE, path=CALLBACK_PATH, secure=True, httponly=True, samesite="None")
    return response
