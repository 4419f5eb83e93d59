"""The Microsoft 365 half of the sandbox: Entra ID v2.0 sign-in and tokens, and Graph v1.0
mail, over HTTPS (docs/sandbox.md, Microsoft 365).

`create_app(settings)` builds the Flask app; `load_world(app, world)` loads a World in-process
(tests use it to start from a hand-made world; `POST /_sandbox/reset` does the same with
`sandbox.seed.build_world`). All state lives in one process: serve with one gunicorn worker
and many threads. With `settings.state_dir` the world is kept in a file there across restarts
(`sandbox.persistence`).
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, request

from .. import outlook
from ..control import SandboxControl
from ..settings import SandboxSettings
from ..world import World
from . import (admin_consent, control, gate, graph_batch, graph_mail, graph_subscriptions, groups, identity,
               sign_in_sessions, tenants_control)
from ..persistence import keep_world, shape_of
from ..world import Address, DemoUser
from .apps import AppRegistration, AppRegistry, RoleAssignment
from .errors import GraphError, error_response, graph_error_response
from .grants import AuthCode, GrantStore, RefreshGrant
from .groups import Group, GroupStore
from .mailstore import Category, Folder, Mailbox, MailStore, Message
from .notifier import Notifier
from .state import EXTENSION, Tunables
from .subscriptions import Subscription, SubscriptionStore
from .tenants import Tenant, TenantDirectory
from .tokens import SigningKey

__all__ = ["create_app", "load_world", "MicrosoftSandbox"]


class MicrosoftSandbox:
    """All state of one Microsoft sandbox server."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.key = SigningKey()
        self.tunables = Tunables()
        self.apps = AppRegistry(settings.microsoft_demo_app)
        self.grants = GrantStore()
        self.store = MailStore()
        self.groups = GroupStore()
        self.tenants = TenantDirectory()  # other organizations' tenants
        self.limiter = gate.ConcurrencyLimiter()
        self.notifier = Notifier(settings.ca_file, self.tunables)
        self.subscriptions = SubscriptionStore(self.store, self.notifier)
        self.control = SandboxControl(error_response, self.extra_stats)
        self.world_file = None  # set when the world is kept across restarts

    def extra_stats(self) -> dict:
        """What `/_sandbox/stats` adds for this server: live subscriptions and deliveries."""
        return {"subscriptions": len(self.subscriptions.all()),
                "notifications": dict(sorted(self.notifier.counts.items()))}

    def dump(self) -> dict[str, bytes]:
        """What a restart keeps: the signing key, app registrations, sign-ins, mail and
        subscriptions, groups and other organizations' tenants (not the test knobs, faults,
        stats or notifications in flight)."""
        return {"key": self.key.dump(), "apps": self.apps.dump(), "grants": self.grants.dump(),
                "store": self.store.dump(), "subscriptions": self.subscriptions.dump(),
                "groups": self.groups.dump(), "tenants": self.tenants.dump()}

    def restore(self, saved: dict[str, bytes]) -> None:
        self.key = SigningKey(saved["key"])
        self.apps.restore(saved["apps"])
        self.grants.restore(saved["grants"])
        self.store.restore(saved["store"])
        self.subscriptions.restore(saved["subscriptions"])
        self.groups.restore(saved["groups"])
        self.tenants.restore(saved["tenants"])

    def load(self, world: World) -> None:
        """Replace the world and forget everything issued against the previous one (the
        signing key stays, so access tokens of the same tenant keep working). Other
        organizations' tenants, made through the control API like extra apps, go too."""
        self.store.load(world)
        self.groups.load(world)
        self.tenants.reset()
        self.subscriptions.reset()
        self.grants.reset()
        self.apps.reset()
        self.tunables.reset()
        self.control.reset()
        self.notifier.reset()


# Graph accepts `mailFolders('inbox')` and any casing of segment names; routes use one spelling.
_KEY_SEGMENT = re.compile(r"/(mailFolders|messages|users|masterCategories)\('([^']*)'\)", re.I)
_SEGMENTS = {s.lower(): s for s in ("me", "users", "mailFolders", "messages", "delta", "outlook",
                                    "masterCategories", "subscriptions", "reauthorize", "$batch", "mailboxSettings")}


def _canonical_path(path: str) -> str:
    path = _KEY_SEGMENT.sub(lambda m: f"/{m[1]}/{m[2]}", path)
    return "/".join(_SEGMENTS.get(part.lower(), part) for part in path.split("/"))


def _normalize_paths(wsgi_app):
    def middleware(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/v1.0/"):
            environ["PATH_INFO"] = _canonical_path(path)
        return wsgi_app(environ, start_response)
    return middleware


def create_app(settings: SandboxSettings) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False
    sandbox = MicrosoftSandbox(settings)
    app.extensions[EXTENSION] = sandbox
    gate.init_app(app)  # before the shared control: a held mailbox slot covers injected latency
    sandbox.control.init_app(app)
    for blueprint in (identity.bp, admin_consent.bp, graph_mail.bp, graph_subscriptions.bp, graph_batch.bp,
                      control.bp, groups.bp, groups.control_bp, tenants_control.control_bp,
                      sign_in_sessions.bp):
        app.register_blueprint(blueprint)
    outlook.init_app(app)  # the simulated Outlook (sandbox/outlook): host page, Office.js stand-in
    app.register_error_handler(GraphError, graph_error_response)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _not_allowed)
    app.register_error_handler(500, _server_error)
    app.wsgi_app = _normalize_paths(app.wsgi_app)
    if settings.state_dir:
        sandbox.world_file = keep_world(Path(settings.state_dir) / "microsoft.state", settings,
                   shape_of(Message, Mailbox, Folder, Category, DemoUser, Address, Subscription,
                            AuthCode, RefreshGrant, AppRegistration, RoleAssignment,
                            Group, Tenant),
                   sandbox.dump, sandbox.restore, lambda: _load_default_world(sandbox))
    else:
        _load_default_world(sandbox)
    return app


def _not_found(_error):
    if request.path.startswith("/v1.0/"):
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        return error_response(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
    return error_response(404, "NotFound", f"No sandbox route for {request.path}.")


def _not_allowed(_error):
    return error_response(405, "BadRequest", f"The HTTP method '{request.method}' is not allowed for this resource.")


def _server_error(_error):
    # A sandbox bug should still look like Graph to the client (and show up in the server log).
    return error_response(500, "generalException", "An unspecified error has occurred in the sandbox.")


def _load_default_world(sandbox: MicrosoftSandbox) -> None:
    """Start with the demo seed when the seed module exists; otherwise an empty tenant."""
    try:
        from ..seed import build_world
    except ImportError:
        return
    sandbox.load(build_world(sandbox.settings.seed, sandbox.settings.scale))


def load_world(app: Flask, world: World) -> None:
    """Load `world` into a running app in-process (tests' way to start from a hand-made world)."""
    app.extensions[EXTENSION].load(world)
