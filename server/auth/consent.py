"""The Entra admin consent flow (docs/web.md): `/auth/microsoft/admin-consent/start` sends an
administrator to Entra's admin consent page, and Entra sends them back to
`/auth/microsoft/admin-consent` (register this redirect URI on the app registration too).

The start link is what the sign-in error page offers when Entra answered that an
administrator must consent: a user can forward it to their administrator, who may open it
in another browser, so the `state` is kept server-side for ten minutes rather than bound to
a browser. The answer only informs (its `tenant` parameter is not trusted for anything):
nothing is stored, and users sign in as before once consent is in place.
"""

from __future__ import annotations

import logging
import secrets

import redis
from flask import redirect, render_template, request

from mailferry.admin_consent import consent_url, read_answer
from server import oauth_flows
from server.auth.views import blueprint, problem
from server.extensions import config

log = logging.getLogger(__name__)

CALLBACK_PATH = "/auth/microsoft/admin-consent"
FLOW = "microsoft-admin-consent"


def consent_callback_uri() -> str:
    """The redirect URI for admin consent: MAILFERRY_BASE_URL + /auth/microsoft/admin-consent."""
    return config().base_url + CALLBACK_PATH


@blueprint.get(CALLBACK_PATH + "/start")
def start_admin_consent():
    state = secrets.token_urlsafe(32)
    try:
        oauth_flows.keep(FLOW, state, {"started": True})
    except redis.RedisError:
        return problem("Admin consent is unavailable", "Mailferry cannot reach its Redis server right now. "
                       "Try again in a minute; if it persists, an administrator should check REDIS_URL.", status=503)
    return redirect(consent_url(config(), consent_callback_uri(), state))


@blueprint.get(CALLBACK_PATH)
def admin_consent_answer():
    if oauth_flows.take(FLOW, request.args.get("state")) is None:
        return problem("This consent answer cannot be confirmed",
                       "It does not answer a consent request Mailferry started in the last ten minutes. An "
                       "administrator can start again with the admin consent link.", status=400)
    answer = read_answer(request.args)
    if not answer.granted:
        log.info("admin consent not granted: %s", answer.detail.split(":", 1)[0])
        return problem("Consent was not granted",
                       f"Entra ID answered: {answer.detail}. Nobody in your organization can sign in to Mailferry "
                       "until an administrator consents.", status=400)
    log.info("admin consent granted (tenant %s, as Entra's redirect says)", answer.tenant)
    return render_template("auth/admin_consent_granted.html", tenant=answer.tenant)
