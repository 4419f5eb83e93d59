"""`/connections` and the Salesforce connect / callback / disconnect routes.

Connect Salesforce is the OAuth 2.0 web server flow with PKCE. The PKCE verifier and the
login host wait server-side (`server.oauth_flows`) under the `state` sent to Salesforce,
bound to the signed-in user: a callback arriving in another user's session finds a flow
that is not theirs and is refused.
"""

from __future__ import annotations

import logging
from functools import partial
import secrets

import redis
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from mailferry import audit, connection_state, org_pinning
from mailferry.crypto import SecretBox
from mailferry.models import Connection, Mailbox, User
from mailferry.offboarding import revoke_salesforce, revoke_salesforce_tokens
from mailferry.provider_errors import ProviderError
from mailferry.job_queue import enqueue_maintenance
from mailferry.provisioning import save_connection
from mailferry.salesforce_integration import integration_of, save_integration
from mailferry.salesforce_identity import Pkce, SalesforceOAuth, authorize_url, code_from_callback
from mailferry.tenancy_policy import org_refusal
from mailferry.tls import https_session
from server import oauth_flows
from server.connections import form_targets
from server.connections.login_hosts import chosen_login_url, login_choices
from server.connections.state import read_page
from server.extensions import config, db, redis_client
from server.first_sync import queue_first_sync
from server.time_display import local_time, viewer_zone

log = logging.getLogger(__name__)
blueprint = Blueprint("connections", __name__)
FLOW = "salesforce-connect"
INTEGRATION = "tenant"  # a flow's target: the tenant's integration connection


@blueprint.get("/connections")
@login_required
def index():
    zone = viewer_zone(db(), current_user.id)
    page = read_page(db(), current_user.id, current_user.tenant_id, zone)
    response = make_response(render_template("connections/index.html", page=page, choices=login_choices(config()),
                                             format_time=partial(local_time, zone=zone)))
    response.headers["Content-Security-Policy"] = form_targets.policy(config(), page.salesforce.login_host)
    return response


@blueprint.post("/connections/salesforce/connect")
@login_required
def connect_salesforce():
    try:
        login_url = chosen_login_url(config(), request.form.get("login_host", ""), request.form.get("my_domain"))
    except ValueError as error:
        flash(str(error), "error")
        return redirect(url_for("connections.index"))
    pkce, state = Pkce.new(), secrets.token_urlsafe(32)
    try:
        oauth_flows.keep(FLOW, state, {"user_id": current_user.id, "verifier": pkce.verifier,
                                       "login_url": login_url, "target": _target()})
    except redis.RedisError:
        flash("Mailferry cannot reach its Redis server right now; try again in a minute.", "error")
        return redirect(url_for("connections.index"))
    target = authorize_url(login_url, config().salesforce_client_id, config().salesforce_redirect_uri,
                           state, pkce.challenge)
    if form_targets.needs_link(config(), login_url, _previous_login_host()):
        return render_template("connections/continue.html", target=target, login_url=login_url)
    return redirect(target)


@blueprint.get("/connections/salesforce/callback")
@login_required
def salesforce_callback():
    pending = oauth_flows.take(FLOW, request.args.get("state"))
    mine = pending is not None and pending.get("user_id") == current_user.id
    try:
        code = code_from_callback(request.args, request.args.get("state", "") if mine else "")
        oauth = _oauth(pending["login_url"])
        tokens = oauth.exchange_code(code, pending["verifier"])
        identity = oauth.identity(tokens)
    except ProviderError as error:
        log.info("Connect Salesforce failed: %s", error.code)
        flash(error.message, "error")
        return redirect(url_for("connections.index"))
    user = db().get(User, current_user.id)
    refusal = org_refusal(org_pinning.pin_of(config(), user.tenant), identity["org_id"])
    if refusal:  # another org than the tenant's: its tokens are revoked, never stored
        log.warning("Connect Salesforce refused: org %s is not tenant %s's pinned org", identity["org_id"],
                    user.tenant.tid)
        revoke_salesforce_tokens(config(), oauth.session, tokens, pending["login_url"])
        flash(refusal, "error")
        return redirect(url_for("connections.index"))
    if pending.get("target") == INTEGRATION and user.is_admin:
        return _save_integration(user, pending, tokens, identity)
    save_connection(db(), user, "salesforce", SecretBox(config().encryption_keys).seal(tokens),
                    account_label=identity.get("username"), external_user_id=identity["user_id"],
                    external_org_id=identity["org_id"], instance_url=tokens.get("instance_url"),
                    login_host=pending["login_url"], scopes=tokens.get("scope"))
    mailbox_id = db().execute(select(Mailbox.id).where(Mailbox.user_id == user.id)).scalar_one_or_none()
    db().commit()
    queue_first_sync(mailbox_id)
    flash(f"Salesforce connected as {identity.get('username') or identity['user_id']}. "
          "Your mail starts syncing now.", "success")
    return redirect(url_for("connections.index"))


@blueprint.post("/connections/salesforce/disconnect")
@login_required
def disconnect_salesforce():
    if _target() == INTEGRATION:
        return _disconnect_integration()
    connection = db().execute(
        select(Connection).where(Connection.user_id == current_user.id, Connection.provider == "salesforce")
    ).scalar_one_or_none()
    if connection is None or connection.status == connection_state.DISCONNECTED:
        flash("Salesforce was not connected.", "info")
        return redirect(url_for("connections.index"))
    revoked = _revoke(connection)
    connection_state.disconnected(connection)  # our copy of the tokens is gone either way
    db().commit()
    if revoked:
        flash("Salesforce disconnected: Mailferry's access was revoked and its tokens deleted.", "success")
    else:
        flash("Salesforce disconnected: Mailferry deleted its tokens, but Salesforce could not be reached to "
              "revoke them. To be sure, revoke Mailferry in Salesforce under Settings → Connected Apps OAuth "
              "Usage.", "warning")
    return redirect(url_for("connections.index"))


def _target() -> str:
    """Whose Salesforce the flow connects: the signed-in user's, or (an admin's choice on the
    App-only access page) the tenant's integration user's."""
    return INTEGRATION if request.form.get("target") == INTEGRATION and current_user.is_admin else "user"


def _save_integration(user: User, pending: dict, tokens: dict, identity: dict):
    """The tenant's integration connection (mailferry/salesforce_integration.py); a membership
    run is queued so members are mapped to Salesforce users by email at once."""
    before = _integration_facts(integration_of(db(), user.tenant_id))
    connection = save_integration(db(), user.tenant, SecretBox(config().encryption_keys).seal(tokens),
                                  account_label=identity.get("username"), external_user_id=identity["user_id"],
                                  external_org_id=identity["org_id"], instance_url=tokens.get("instance_url"),
                                  login_host=pending["login_url"], scopes=tokens.get("scope"))
    audit.record(db(), user.tenant_id, user, "salesforce_integration.connect", "Salesforce integration user",
                 before, _integration_facts(connection))
    db().commit()
    try:
        enqueue_maintenance(redis_client(), "sync_group_members")
    except redis.RedisError:
        log.warning("Redis unavailable: members are mapped at the next membership run")
    flash(f"Salesforce integration connected as {identity.get('username') or identity['user_id']}: members "
          "without a connection of their own are recorded through it.", "success")
    return redirect(url_for("admin.app_only"))


def _disconnect_integration():
    """An admin disconnects the tenant's integration user (App-only access page): its tokens
    revoked at Salesforce and deleted here, like a user's own disconnect; members without a
    connection of their own then wait for the next integration user."""
    user = db().get(User, current_user.id)
    connection = integration_of(db(), user.tenant_id)
    if connection is None or connection.status == connection_state.DISCONNECTED:
        flash("The Salesforce integration user was not connected.", "info")
        return redirect(url_for("admin.app_only"))
    before = _integration_facts(connection)
    revoked = _revoke(connection)
    connection_state.disconnected(connection)
    audit.record(db(), user.tenant_id, user, "salesforce_integration.disconnect", "Salesforce integration user",
                 before, {**_integration_facts(connection), "revoked_at_salesforce": revoked})
    db().commit()
    flash("Salesforce integration user disconnected: " + (
        "its access was revoked and its tokens deleted." if revoked else
        "Mailferry deleted its tokens, but Salesforce could not be reached to revoke them; revoke Mailferry in "
        "Salesforce under Settings → Connected Apps OAuth Usage to be sure."), "success" if revoked else "warning")
    return redirect(url_for("admin.app_only"))


def _integration_facts(connection: Connection | None) -> dict:
    """What an audit entry keeps of the tenant's integration connection (never its tokens)."""
    if connection is None:
        return {"status": None, "account": None, "org_id": None}
    return {"status": connection.status, "account": connection.account_label or connection.external_user_id,
            "org_id": connection.external_org_id}


def _previous_login_host() -> str | None:
    return db().execute(
        select(Connection.login_host).where(Connection.user_id == current_user.id, Connection.provider == "salesforce")
    ).scalar_one_or_none()


def _oauth(login_url: str) -> SalesforceOAuth:
    """The OAuth calls for `login_url`, which posts the secret only to a host
    `Config.salesforce_hosts` allows (also for a host saved before that check existed)."""
    return SalesforceOAuth(login_url, config().salesforce_client_id, config().salesforce_client_secret,
                           config().salesforce_redirect_uri, https_session(config().client_ca_file),
                           hosts=config().salesforce_hosts)


def _revoke(connection: Connection) -> bool:
    """Revoke the connection's refresh token (`mailferry.offboarding.revoke_salesforce`):
    True when Salesforce confirmed or no longer knew it, False when it could not be asked."""
    if not connection.sealed_secrets:
        return True
    with https_session(config().client_ca_file) as http:
        return revoke_salesforce(config(), SecretBox(config().encryption_keys), http, connection.sealed_secrets,
                                 connection.login_host)
