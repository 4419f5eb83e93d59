"""The add-in's pages and files: task pane, function file, sign-in dialog, manifest, assets.

These pages hold no user data: they load the add-in's scripts, which fetch everything through
the bearer-token API (`server.addin.api`). Office.js comes from Microsoft's CDN; a page opened
by the sandbox's simulated Outlook (`office_js=stand-in`) while the app runs against the
sandbox (the demo) loads the sandbox's stand-in instead.

Outlook shows the pane and the function file in frames, so those pages name Outlook's
origins in `frame-ancestors` (every other page refuses to be framed) and allow Office.js's
origin in `script-src`. The sign-in dialog's last page must reach the window that opened it
(`Office.context.ui.messageParent`), so it does not cut its opener off (COOP).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Response, abort, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user

from mailferry import outlook_manifest
from mailferry.bundled_files import bundled
from server.addin import blueprint
from server.addin.bearer import issue_dialog_token
from server.extensions import config
from server.security import content_security_policy

#: The add-in's front end (scripts, styles, icons): `addin/` in a checkout, a copy inside
#: this package once installed from the wheel.
ADDIN_DIR = bundled("server/addin/front_end")
#: MSAL.js, served from our origin: from npm in a checkout (`make install` runs `npm ci`),
#: copied into the wheel when it is built.
MSAL_FILE = bundled("server/addin/vendor/msal-browser.min.js")
#: What /addin/assets serves from ADDIN_DIR.
ASSET_TYPES = (".js", ".css", ".png")
#: A sign-in nonce as the pane makes it (crypto.randomUUID()).
NONCE = re.compile(r"[0-9a-f-]{36}")
OFFICE_JS_CDN = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
OFFICE_JS_ORIGIN = "https://appsforoffice.microsoft.com"
#: Where Outlook on the web and the new Outlook frame add-ins (classic desktop Outlook hosts
#: the pane in a top-level web view, where frame-ancestors does not apply): the Outlook hosts
#: Microsoft documents for frame-ancestors (work accounts, consumer accounts, and the
#: cloud.microsoft domain Outlook is moving to), named one by one: no wildcard, so no other
#: page under those domains can frame the pane (docs/web.md, "Hardening").
OUTLOOK_ORIGINS = (
    "https://outlook.office.com", "https://outlook.office365.com", "https://outlook.cloud.microsoft",
    "https://outlook.live.com",
)


def _stand_in_requested() -> bool:
    return request.args.get("office_js") == "stand-in" and config().is_demo


def office_js_url() -> str:
    """Microsoft's Office.js, or the sandbox's stand-in for a page the simulated Outlook opened."""
    if _stand_in_requested():
        return f"{config().microsoft_authority_host}/outlook/office.js"
    return OFFICE_JS_CDN


def _add_in_page(template: str, framed: bool = True, **values) -> Response:
    """A page Outlook frames (`framed`: Outlook's origins as ancestors) or opens as a dialog
    window (never framed); Office.js allowed either way."""
    script_origins = [OFFICE_JS_ORIGIN]
    ancestors = ["'self'", *OUTLOOK_ORIGINS]
    if config().is_demo:  # the simulated Outlook of the sandbox hosts the demo's add-in
        script_origins.append(config().microsoft_authority_host)
        ancestors.append(config().microsoft_authority_host)
    response = Response(render_template(template, office_js_url=office_js_url(), **values))
    response.headers["Content-Security-Policy"] = content_security_policy(
        script_src=" ".join(["'self'", *script_origins]),
        frame_ancestors=" ".join(ancestors) if framed else "'none'",
    )
    return response


@blueprint.get("/taskpane")
def taskpane():
    return _add_in_page("addin/taskpane.html", settings=_client_settings())


@blueprint.get("/commands")
def commands():
    return _add_in_page("addin/commands.html", settings=_client_settings())


def _client_settings() -> dict:
    """What the scripts need to ask Entra for a token for Mailferry's API (public values)."""
    settings = config()
    return {
        "client_id": settings.microsoft_client_id,
        # MICROSOFT_TENANT: `organizations`, or the tenant of a single-tenant registration.
        "authority": f"{settings.microsoft_authority_host.rstrip('/')}/{settings.microsoft_tenant}",
        "api_scope": f"{outlook_manifest.api_app_id_uri(settings.base_url, settings.microsoft_client_id)}/access_as_user",
        "sign_in_url": url_for("addin.sign_in", **_stand_in_query()),
    }


def _stand_in_query() -> dict:
    return {"office_js": "stand-in"} if _stand_in_requested() else {}


def _nonce() -> dict:
    """The pane's random value for one sign-in (it accepts only the token that echoes it), as
    a URL parameter to pass along."""
    nonce = request.args.get("nonce", "")
    return {"nonce": nonce} if NONCE.fullmatch(nonce) else {}


@blueprint.get("/sign-in")
def sign_in():
    """The dialog fallback's first page (hosts without Nested App Authentication): the normal
    Microsoft sign-in, in the dialog's own top-level window, then `signed_in`."""
    finish = url_for("addin.signed_in", **_nonce(), **_stand_in_query())
    return redirect(url_for("auth.sign_in") + "?" + urlencode({"next": finish}))


@blueprint.get("/signed-in")
def signed_in():
    """The dialog's last page: hands the pane a short-lived Mailferry token, then closes."""
    if not current_user.is_authenticated:
        return sign_in()
    response = _add_in_page("addin/signed_in.html", framed=False, token=issue_dialog_token(current_user.id),
                            nonce=_nonce().get("nonce", ""))
    response.headers["Cross-Origin-Opener-Policy"] = "unsafe-none"
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/manifest.xml")
def manifest():
    """The manifest for this server (MAILFERRY_BASE_URL): what an admin downloads to deploy."""
    try:
        body = outlook_manifest.manifest_for(config().base_url)
    except outlook_manifest.ManifestBaseUrlError as error:  # e.g. a base URL with a path
        return Response(f"The Outlook add-in cannot be served from this address: {error}\n",
                        status=500, mimetype="text/plain")
    response = Response(body, mimetype="application/xml")
    response.headers["Content-Disposition"] = 'inline; filename="manifest.xml"'
    # Public: the simulated Outlook (another origin) reads it to build its ribbon.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/assets/<path:asset_path>")
def asset(asset_path: str):
    if not asset_path.endswith(ASSET_TYPES):  # not the notes, the icon script or anything to come
        abort(404)
    return send_from_directory(ADDIN_DIR, asset_path, max_age=300)


@blueprint.get("/vendor/msal-browser.min.js")
def msal_browser():
    if not MSAL_FILE.is_file():
        abort(503, "MSAL.js is not installed: run `make install` (it runs `npm ci`).")
    return send_from_directory(MSAL_FILE.parent, MSAL_FILE.name, max_age=3600)
