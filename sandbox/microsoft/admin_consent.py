"""Entra's admin consent endpoint, `GET {authority}/{tenant}/v2.0/adminconsent` (reference
wave2.md §7.4): an administrator consents to an app for the whole tenant, and the browser
goes back to the app's registered redirect URI with the outcome.

- `tenant` is a tenant id, a domain or `organizations`; `common` (and `consumers`) names no
  tenant an administrator could consent for and is refused.
- `client_id`, a registered `redirect_uri` and `scope` (`<resource>/.default`, which
  application permissions require) are needed; an unknown app or redirect URI is an error
  page, never a redirect (nothing proves the URI is the app's).
- Success: `?admin_consent=True&tenant={tid}&scope=…&state=…`; declined:
  `?admin_consent=True&error=consent_required&error_description=AADSTS65004…&state=…`,
  both as the reference quotes them. Consent given here lifts the `consent_required`
  refusal of authorize (`identity.consent_required`) for every user of the tenant.

The account is picked on the sandbox's sign-in page (`cancel` declines). The sandbox has
no directory roles, so whoever is picked may consent: on Entra only an administrator can.
"""

from __future__ import annotations

import html

from flask import Blueprint, Response, request

from .identity import _redirect_back, _sign_in_page, front_channel_app
from .state import state

bp = Blueprint("admin_consent", __name__)
_FIELDS = ("client_id", "redirect_uri", "scope", "state")
#: Tenant segments an administrator cannot consent for (reference wave2.md §7.4: not `common`).
NO_TENANT_SEGMENTS = ("common", "consumers")


@bp.route("/<tenant>/v2.0/adminconsent", methods=["GET", "POST"])
def admin_consent(tenant):
    # The sign-in page posts the parameters back as fields; a client may also post to the URL.
    params = {k: request.values.get(k, "") for k in _FIELDS}
    if tenant.lower() in NO_TENANT_SEGMENTS:
        # The reference names the refusal, not its code: a page, as for other bad requests.
        return Response("<!doctype html><title>Sign in - error</title><h1>Sorry, but we’re having trouble "
                        f"signing you in.</h1><p>Admin consent is not supported on /{html.escape(tenant)}: use "
                        "/organizations, a tenant id or a domain.</p>", status=400, mimetype="text/html")
    app, refused = front_channel_app(params, tenant)
    if refused is not None:
        return refused
    scopes = params["scope"].split()
    if not scopes:
        return _redirect_back(params, {"error": "invalid_request", "error_description":
                                       "AADSTS900144: The request body must contain the following parameter: 'scope'."})
    if not all(s.endswith("/.default") for s in scopes):
        return _redirect_back(params, {"error": "invalid_request", "error_description":
                                       "AADSTS70011: The provided value for the input parameter 'scope' is not "
                                       "valid. Admin consent asks for a resource's /.default scope."})
    if request.method == "POST" and request.form.get("cancel"):
        return _redirect_back(params, {"admin_consent": "True", "error": "consent_required", "error_description":
                                       "AADSTS65004: User declined to consent to access the app."})
    chosen = state().store.user(request.form.get("user", "")) if request.method == "POST" else None
    if chosen is None:
        return _sign_in_page(params)
    app.admin_consented = True
    return _redirect_back(params, {"admin_consent": "True", "tenant": state().store.tenant_id,
                                   "scope": params["scope"]})
