"""The add-in's pages and files: task pane, function file, sign-in dialog, manifest, assets.

These pages hold no user data: they load the add-in's scripts, which fetch everything through
the bearer-token API (`server.addin.api`). Office.js comes from Microsoft's CDN; a page opened
by the sandbox's simulated Outlook (`office_js=stand-in`) while the app runs against the
sandbox loads the sandbox's stand-in instead.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, render_template, request, send_from_directory

from mailferry import outlook_manifest
from server.addin import blueprint
from server.extensions import config

#: The add-in's front end (scripts, styles, icons), at the repository root beside `server/`.
ADDIN_DIR = Path(__file__).resolve().parents[2] / "addin"
#: MSAL.js as installed from npm (`make install` runs `npm ci`), served from our origin.
MSAL_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "@azure" / "msal-browser" / "lib"
OFFICE_JS_CDN = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"


def office_js_url() -> str:
    """Microsoft's Office.js, or the sandbox's stand-in for a page the simulated Outlook opened."""
    settings = config()
    if request.args.get("office_js") == "stand-in" and settings.is_demo:
        return f"{settings.microsoft_authority_host}/outlook/office.js"
    return OFFICE_JS_CDN


def _page(template: str) -> str:
    return render_template(template, office_js_url=office_js_url())


@blueprint.get("/taskpane")
def taskpane():
    return _page("addin/taskpane.html")


@blueprint.get("/commands")
def commands():
    return _page("addin/commands.html")


@blueprint.get("/manifest.xml")
def manifest():
    """The manifest for the host this request reached: what an admin downloads to deploy."""
    body = outlook_manifest.manifest_for(request.host_url.rstrip("/"))
    response = Response(body, mimetype="application/xml")
    response.headers["Content-Disposition"] = 'inline; filename="manifest.xml"'
    # Public: the simulated Outlook (another origin) reads it to build its ribbon.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/assets/<path:filename>")
def asset(filename: str):
    if filename.endswith(".md"):
        abort(404)
    return send_from_directory(ADDIN_DIR, filename, max_age=300)


@blueprint.get("/vendor/msal-browser.min.js")
def msal_browser():
    if not (MSAL_DIR / "msal-browser.min.js").is_file():
        abort(503, "MSAL.js is not installed: run `make install` (it runs `npm ci`).")
    return send_from_directory(MSAL_DIR, "msal-browser.min.js", max_age=3600)
