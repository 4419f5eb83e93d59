"""The Connections page's form-action sources: Salesforce login hosts only, and nothing from
stored data that is not a plain https origin."""

from __future__ import annotations

from server.connections import form_targets
from tests.config_fixtures import build_config as config, production_variables


def test_a_previous_custom_https_host_is_allowed(tmp_path):
    sources = form_targets.login_sources(config(tmp_path), "https://login.acme.example:8443/x")
    assert sources[-1] == "https://login.acme.example:8443"


def test_stored_values_that_are_not_https_origins_never_reach_the_policy(tmp_path):
    for hostile in ("javascript:alert(1)//", "https://a.example; script-src *", "http://plain.example",
                    "https://a.example 'unsafe-inline'"):
        policy = form_targets.policy(config(tmp_path), hostile)
        assert "javascript" not in policy and "script-src *" not in policy and "plain.example" not in policy
        assert "'unsafe-inline'" not in policy


def test_my_domain_hosts_redirect_and_unknown_hosts_get_a_link(tmp_path):
    cfg = config(tmp_path, **production_variables())
    assert not form_targets.needs_link(cfg, "https://acme--uat.sandbox.my.salesforce.com")
    assert not form_targets.needs_link(cfg, "https://test.salesforce.com")
    assert form_targets.needs_link(cfg, "https://login.acme.example")
    assert not form_targets.needs_link(cfg, "https://login.acme.example", "https://login.acme.example")
