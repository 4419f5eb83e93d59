"""Emulated Salesforce: OAuth, the REST API (query, rows, upsert, Collections, Composite,
describe, limits), minimal Lightning pages and a control API, over one Flask app.

`create_app(settings)` serves it under `settings.salesforce_url`. See docs/sandbox.md, Salesforce.
With `settings.state_dir` the org is kept in a file there across restarts (`sandbox.persistence`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from sandbox.control import SandboxControl
from sandbox.persistence import keep_world, shape_of
from sandbox.settings import SandboxSettings
from sandbox.world import World

from . import composite, control, gateway, lightning, oauth
from .errors import error_response
from .rest import LATEST_VERSION, Cursors, RestApi
from .schema import build_schema
from .store import Org, OrgSettings


class SalesforceSandbox:
    """Everything one Salesforce sandbox server holds; `app.extensions["salesforce_sandbox"]`."""

    def __init__(self, settings: SandboxSettings):
        self.settings = settings
        self.org = Org()
        self.sessions = oauth.Sessions(self.org, settings.salesforce_demo_app)
        self.cursors = Cursors()
        self.api = RestApi(self.org, self.cursors)
        composite.install(self.api)
        self.control = SandboxControl(error_response, self.extra_stats)
        self.world_file = None  # set when the org is kept across restarts

    def extra_stats(self) -> dict:
        with self.org.lock:
            return {"api_usage": {"used": self.org.api_used, "max": self.org.settings.daily_api_limit}}

    def dump(self) -> dict[str, bytes]:
        """What a restart keeps: the org's records and settings, and the sign-ins (sessions
        and refresh tokens); not query cursors, stats or faults."""
        return {"org": self.org.dump(), "sessions": self.sessions.dump()}

    def restore(self, saved: dict[str, bytes]) -> None:
        self.org.restore(saved["org"])
        self.sessions.restore(saved["sessions"])

    def load_world(self, world: World | None, settings: OrgSettings | None = None) -> None:
        """Start over: the world's records, default org settings, no sessions, stats or faults."""
        self.org.load(world.salesforce if world else {}, settings)
        self.sessions.clear()
        self.cursors.clear()
        self.control.reset()


def create_app(settings: SandboxSettings) -> Flask:
    app = Flask(__name__)
    app.config["SALESFORCE_LATEST_VERSION"] = f"{LATEST_VERSION:.1f}"
    app.json.sort_keys = False  # keep Salesforce's field order in jsonify answers
    sandbox = SalesforceSandbox(settings)
    app.extensions["salesforce_sandbox"] = sandbox
    base_url = settings.salesforce_url.rstrip("/")

    sandbox.control.init_app(app)  # counts calls and applies fault rules first
    gateway.install(app, sandbox.api, sandbox.sessions)
    gateway.install_error_pages(app)
    app.register_blueprint(oauth.create_blueprint(sandbox.org, sandbox.sessions, base_url))
    app.register_blueprint(lightning.create_blueprint(sandbox.org))
    control_bp = control.create_blueprint(sandbox)
    control.register_errors(app)
    app.register_blueprint(control_bp)
    if settings.state_dir:
        schema = {name: sorted(obj.fields) for name, obj in build_schema().items()}
        sandbox.world_file = keep_world(Path(settings.state_dir) / "salesforce.state", settings,
                   shape_of(OrgSettings, oauth.Session, oauth.Grant, oauth.Code, schema),
                   sandbox.dump, sandbox.restore, lambda: _load_initial_world(sandbox))
    else:
        _load_initial_world(sandbox)
    return app


def _load_initial_world(sandbox: SalesforceSandbox) -> None:
    """The seeded world when the seed module is there; an empty org otherwise."""
    try:
        from sandbox.seed import build_world
    except ImportError:
        sandbox.load_world(None)
        return
    sandbox.load_world(build_world(sandbox.settings.seed, sandbox.settings.scale))
