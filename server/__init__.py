"""The Flask web app: Sync History, settings, admin, the add-in API and Graph webhooks.

No sync logic lives here: the server reads and writes the shared database and enqueues jobs
by name for the workers.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from mailferry.config import Config, load_config


def create_app(config: Config | None = None) -> Flask:
    """Build the app from `config` (tests pass their own), else from the environment."""
    config = config or load_config()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAILFERRY=config,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PREFERRED_URL_SCHEME="https",
        REMEMBER_COOKIE_SECURE=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # A sign-in lasts `session_hours` at most (and ends after `session_idle_minutes`
        # unused: server.sign_in_sessions); the cookie and its CSRF tokens expire with it.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_hours),
        WTF_CSRF_TIME_LIMIT=config.session_hours * 3600,
    )
    register_extensions(app, config)
    register_security_headers(app)
    register_blueprints(app)
    return app


def register_extensions(app: Flask, config: Config) -> None:
    from server import extensions, sign_in_sessions
    from server.access import login_manager
    from server.csrf import OriginCheckingCSRFProtect

    extensions.init_app(app, config)
    # Before CSRF: a revoked or expired sign-in is emptied (its CSRF secret too) first.
    sign_in_sessions.init_app(app)
    login_manager.init_app(app)
    # Every state-changing request carries the session's CSRF token (forms: a hidden field;
    # scripts: the X-CSRFToken header) and, when the browser sends one, our own Origin.
    # Graph's webhooks are exempt: they prove themselves with clientState instead.
    app.extensions["csrf"] = OriginCheckingCSRFProtect(app)


def register_security_headers(app: Flask) -> None:
    from server import request_limits, security

    security.init_app(app)
    # Body size, form fields, JSON depth: 413/400 with a message (after CSRF's own check).
    request_limits.init_app(app)


def register_blueprints(app: Flask) -> None:
    from server.graph_webhooks import blueprint as graph_webhooks
    from server.health import blueprint as health
    from server.metrics import blueprint as metrics

    from server import navigation

    navigation.init_app(app)
    app.register_blueprint(health)
    app.register_blueprint(metrics)
    app.register_blueprint(graph_webhooks)
    from server.history import blueprint as history
    from server.ignore_list import blueprint as ignore_list

    app.register_blueprint(history)
    app.register_blueprint(ignore_list)
    from server.settings import blueprint as settings

    app.register_blueprint(settings)
    from server.admin import blueprint as admin

    app.register_blueprint(admin)
    app.extensions["csrf"].exempt(graph_webhooks)
    from server.auth import blueprint as auth
    from server.auth.views import microsoft_callback

    app.register_blueprint(auth)
    # Entra posts the sign-in answer cross-site (form_post): state + a binding cookie protect it.
    app.extensions["csrf"].exempt(microsoft_callback)
    from server.connections import blueprint as connections

    app.register_blueprint(connections)
    from server.addin import blueprint as addin
    from server.addin.api import blueprint as addin_api

    app.register_blueprint(addin)
    app.register_blueprint(addin_api)
    # The add-in API authenticates each call by its bearer token; no cookie is involved.
    app.extensions["csrf"].exempt(addin_api)
