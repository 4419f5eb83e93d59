"""Who may use each route: the table the authorization matrix checks EVERY route against.

A new route fails `test_authorization_matrix` until it is listed here (docs/web.md, "Adding
a route"). Choose one policy per endpoint:

- PUBLIC      anyone, signed in or not (the landing page, sign-in, webhooks, static files).
- SIGNED_IN   any signed-in person, about their own data only (no row id in the URL: the
              page reads `current_user`'s rows); anonymous → sign-in.
- OWNER_ROW   the URL names a row (`<int:entry_id>`…): only its owner; everyone else 403/404.
- ADMIN       the tenant's admins, about their own tenant; other users 403.
- TENANT_ROW  an admin route naming a row of a tenant: that tenant's admins only.

The matrix fills URL parameters from `PARAMETERS` (ids of rows that belong to the owner in
tenant A) and posts `FORM` with the same ids, so a route reading ids from its form is
probed too. Add your parameter or field name there when you add a route that needs one.
"""

from __future__ import annotations

from tests.server.security.world import World

LOGIN = "login"  # 401, or a redirect to the Microsoft sign-in
FORBIDDEN = "forbidden"  # 403
HIDDEN = "hidden"  # 403 or 404: the row's existence is not revealed
ALLOWED = "allowed"  # any other status below 500

PUBLIC = {p: ALLOWED for p in ("anonymous", "colleague", "other_tenant_user", "admin", "other_tenant_admin", "owner")}
SIGNED_IN = {**PUBLIC, "anonymous": LOGIN}
OWNER_ROW = {"anonymous": LOGIN, "colleague": HIDDEN, "other_tenant_user": HIDDEN, "admin": HIDDEN,
             "other_tenant_admin": HIDDEN, "owner": ALLOWED}
ADMIN = {"anonymous": LOGIN, "colleague": FORBIDDEN, "other_tenant_user": FORBIDDEN, "admin": ALLOWED,
         "other_tenant_admin": ALLOWED, "owner": FORBIDDEN}
TENANT_ROW = {**ADMIN, "other_tenant_admin": HIDDEN}
# The add-in API: a bearer token or nothing. A signed-in browser session (these principals
# are signed in by cookie) gets 401 like anyone without a token (tests/addin cover tokens).
BEARER_ONLY = {p: LOGIN for p in PUBLIC}
# Always sends the browser to the Microsoft sign-in (the add-in's sign-in dialog).
STARTS_SIGN_IN = {p: LOGIN for p in PUBLIC}

EXPECTATIONS: dict[str, dict[str, str]] = {
    # foundation
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    # For load balancers, anyone alike: it names the failing checks, never a row of anyone. This
    # stack runs no worker or scheduler, so everyone is told 503 (tests/server/test_readyz.py).
    "health.readyz": {p: "server error 503" for p in PUBLIC},
    "metrics.metrics": {p: FORBIDDEN for p in PUBLIC},  # a bearer token or an admin network only (server/metrics.py)
    "graph_webhooks.notifications": PUBLIC,  # proves itself with clientState
    "graph_webhooks.lifecycle": PUBLIC,
    # sign-in (server/auth)
    "auth.index": PUBLIC,
    "auth.sign_in": PUBLIC,
    "auth.microsoft_callback": PUBLIC,  # state + the browser-binding cookie protect it
    "auth.sign_out": PUBLIC,
    "auth.start_admin_consent": PUBLIC,  # an administrator follows the link, maybe in another browser
    "auth.admin_consent_answer": PUBLIC,  # checked against the state Mailferry kept; only informs
    # connections (server/connections)
    "connections.index": SIGNED_IN,
    "connections.connect_salesforce": SIGNED_IN,
    "connections.salesforce_callback": SIGNED_IN,
    "connections.disconnect_salesforce": SIGNED_IN,
    # Sync History and Ignore List (server/history, server/ignore_list)
    "history.index": SIGNED_IN,
    "history.tab": SIGNED_IN,
    "history.export": SIGNED_IN,
    "history.save": SIGNED_IN,
    "history.retry": SIGNED_IN,
    "ignore_list.index": SIGNED_IN,
    "ignore_list.add": SIGNED_IN,
    "ignore_list.remove": OWNER_ROW,
    # My Settings (server/settings)
    "settings.index": SIGNED_IN,
    "settings.sync_jobs": SIGNED_IN,
    "settings.edit_email_sync": SIGNED_IN,
    # Admin (server/admin)
    "admin.index": ADMIN,
    "admin.api_budget": ADMIN,
    "admin.defaults": ADMIN,
    "admin.save_retention": ADMIN,
    "admin.exclusions": ADMIN,
    "admin.smart_addresses": ADMIN,
    "admin.users": ADMIN,
    "admin.change_admin": TENANT_ROW,
    "admin.salesforce_org": ADMIN,
    "admin.app_only": ADMIN,
    "admin.save_app_only": ADMIN,
    "admin.map_salesforce_user": TENANT_ROW,
    "admin.audit_log": ADMIN,
    "admin.audit_log_export": ADMIN,
    "admin.sync_health": ADMIN,
    "admin.save_alerts": ADMIN,
    "admin.confirm_remove_user": TENANT_ROW,
    "admin.remove_user": TENANT_ROW,
    # Outlook add-in pages and files (server/addin): no user data, public
    "addin.taskpane": PUBLIC,
    "addin.commands": PUBLIC,
    "addin.manifest": PUBLIC,
    "addin.asset": PUBLIC,
    "addin.msal_browser": PUBLIC,
    "addin.sign_in": STARTS_SIGN_IN,
    "addin.signed_in": SIGNED_IN,  # hands the signed-in person a token for themselves
    # the add-in API (server/addin/api.py)
    "addin_api.me": BEARER_ONLY,
    "addin_api.status": BEARER_ONLY,
    "addin_api.ignore": BEARER_ONLY,
    "addin_api.sync_now": BEARER_ONLY,
    "addin_api.ignore_email": BEARER_ONLY,
    "addin_api.retry": BEARER_ONLY,
    "addin_api.compact_history": BEARER_ONLY,
}


def parameters(world: World) -> dict[str, object]:
    """Values for URL parameters, by name."""
    return {
        **world.owner_ids,
        "filename": "css/app.css",
        "asset_path": "taskpane.css",
        "tab": "unresolved",
    }


def form(world: World) -> dict[str, object]:
    """Fields posted to every POST route: the owner's row ids under the names forms use."""
    ids = world.owner_ids
    return {
        "message_id": ids["message_id"],
        "message_ids": ids["message_id"],
        "ids": ids["message_id"],
        "selected": ids["message_id"],
        "entry_id": ids["entry_id"],
        "action": "ignore_email",
        "login_host": "configured",
    }
