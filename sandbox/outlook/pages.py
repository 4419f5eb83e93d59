"""The simulated Outlook's pages: the host (`GET /outlook`), its scripts and styles, and the
Office.js stand-in (`GET /outlook/office.js`) that the add-in's own pages load."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, render_template, request, send_from_directory

from ..microsoft.state import state

STATIC = Path(__file__).parent / "static"
bp = Blueprint("outlook", __name__, url_prefix="/outlook", template_folder="templates",
               static_folder="static", static_url_path="/static")
TOKEN_MODES = ("expired", "forged")
# How long a function command may run before the host says it didn't respond (Outlook: ~30 s).
FUNCTION_TIMEOUT_S = 30


def _manifest_url() -> str:
    return request.args.get("manifest") or state().settings.product_url.rstrip("/") + "/addin/manifest.xml"


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme == "https" and parts.netloc else None


def _csp(add_in_origin: str | None) -> str:
    # No inline script or style anywhere; the add-in's origin may be framed, fetched (manifest)
    # and show icons. Popups (dialogs) are not governed by CSP.
    extra = f" {add_in_origin}" if add_in_origin else ""
    frames = add_in_origin or "'none'"
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{extra}; "
            f"connect-src 'self'{extra}; frame-src {frames}; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@bp.get("")
def host():
    store = state().store
    manifest = _manifest_url()
    upn = request.args.get("user", "")
    user = store.user(upn) if upn else None
    keep = {k: v for k, v in request.args.items() if k != "user"}
    users = [{"upn": m.user.upn, "name": m.user.display_name, "href": "?" + urlencode({**keep, "user": m.user.upn})}
             for m in store.mailboxes.values()]
    timeout = request.args.get("function_timeout", type=float) or FUNCTION_TIMEOUT_S
    page = render_template(
        "outlook.html", user=user, users=users, unknown_user=upn if upn and user is None else "",
        tenant_name=store.tenant_name, manifest=manifest,
        manifest_origin=_origin(manifest) or "",
        naa="off" if request.args.get("naa") == "off" else "on",
        token_mode=request.args.get("token") if request.args.get("token") in TOKEN_MODES else "",
        function_timeout_ms=int(timeout * 1000))
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _csp(_origin(manifest))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/office.js")
def office_js():
    """The stand-in, served like Microsoft's CDN copy: a classic script any origin may load."""
    response = send_from_directory(STATIC, "office.js", mimetype="text/javascript", max_age=3600)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
