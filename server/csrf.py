"""CSRF protection: Flask-WTF's session-bound token, plus the browser's `Origin` header.

Flask-WTF checks the token (bound to the session's CSRF secret, which every sign-in and
sign-out renews and which expires with the sign-in) and, over HTTPS, that the Referer is this
host. Browsers send `Origin` on every cross-origin POST and on same-origin ones too (Chromium,
Firefox), and unlike Referer no Referrer-Policy hides it: when it is there it must be this
host. A request without one (an older client, the test client) is left to the Referer check.
`Origin: null` (a sandboxed frame, a cross-site redirect) is refused.
"""

from __future__ import annotations

from flask import g, request
from flask_wtf.csrf import CSRFProtect, same_origin


class OriginCheckingCSRFProtect(CSRFProtect):
    def protect(self, apply_exemptions=False):
        super().protect(apply_exemptions)
        if not g.get("csrf_valid"):  # exempt, or a method CSRF does not cover
            return
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, f"{request.scheme}://{request.host}/"):
            self._error_response("The Origin header names another site (CSRF check).")
