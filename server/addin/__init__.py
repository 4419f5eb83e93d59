"""The Outlook add-in's server side (SPEC section 7): the task pane and function-file pages,
the add-in's static files, its manifest, and the JSON API the pane and commands call with a
bearer token (never a cookie: the pane runs in a third-party iframe inside Outlook)."""

from flask import Blueprint

blueprint = Blueprint("addin", __name__, url_prefix="/addin", template_folder="templates")

from server.addin import pages  # noqa: E402,F401  (routes register on import)
