"""Every route of the app, and the URL of one with the security tests' values: what the
authorization matrix, the CSRF and the security-header tests all walk."""

from __future__ import annotations

import tempfile

import pytest

from tests.config_fixtures import build_config

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def app_routes() -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) for every route of a freshly built app."""
    from server import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(build_config(folder, DATABASE_URL=f"sqlite:///{folder}/x.db",
                                      REDIS_URL="redis://127.0.0.1:1/0"))
        return sorted((rule.endpoint, rule.rule, method) for rule in app.url_map.iter_rules()
                      for method in rule.methods - IGNORED_METHODS)


ROUTES = app_routes()


def url_of(app, endpoint: str, rule: str, values: dict) -> str:
    for candidate in app.url_map.iter_rules(endpoint):
        if candidate.rule != rule:
            continue
        missing = [name for name in candidate.arguments if name not in values]
        if missing:
            pytest.fail(f"{rule}: no value for URL parameter(s) {missing}: add them to `parameters()` in "
                        "tests/server/security/expectations.py")
        return candidate.build({name: values[name] for name in candidate.arguments}, append_unknown=False)[1]
    raise AssertionError(f"{rule} not found")
