"""The simulated Outlook on the web (SPEC section 8, issue 6): a host page that loads an add-in
from its manifest, and the Office.js stand-in the add-in's pages load instead of Microsoft's.

It is part of the Microsoft sandbox server (its mailboxes, identity and signing key are the
host's data), registered by `sandbox.microsoft.create_app`; its own state lives in the browser
(the notification bar, the open task pane), so `/_sandbox/reset` resets everything it reads.
See docs/sandbox.md, "Simulated Outlook".
"""

from __future__ import annotations

from flask import Flask

from . import host_api, naa, pages


def init_app(app: Flask) -> None:
    for blueprint in (pages.bp, host_api.bp, naa.bp):
        app.register_blueprint(blueprint)
