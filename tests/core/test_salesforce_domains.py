"""Which hosts are Salesforce's (issue 12, finding 1): the consumer secret goes only to a
login host on Salesforce's own domains or one the admin allowed, and a token reply's
`instance_url` and `id` must be on them too."""

from __future__ import annotations

import pytest

from mailferry.config import ConfigError, load_config
from mailferry.salesforce_domains import SalesforceHosts, identity_ids, parse_rule

BUILT_IN = SalesforceHosts()
IDENTITY_PATH = "/id/00DMf0000000001EAA/005Mf0000000001AAA"


@pytest.mark.parametrize("url", [
    "https://login.salesforce.com",
    "https://test.salesforce.com/",
    "https://acme.my.salesforce.com",
    "https://ACME.My.Salesforce.com",
    "https://acme--uat.sandbox.my.salesforce.com",
    "https://acme-dev-ed.develop.my.salesforce.com",
    "https://wise-otter-1234.scratch.my.salesforce.com",
    "https://acme.patch.my.salesforce.com",
    "https://acme.trailblaze.my.salesforce.com",
    "https://svmx.cs10.my.salesforce.com",
    "https://agency.my.salesforce.mil",
    "https://acme.my.salesforce.com:443",
])
def test_salesforce_login_hosts_are_allowed(url):
    assert BUILT_IN.login_url(url) is not None


@pytest.mark.parametrize("url", [
    "https://evil.example",
    "https://login.salesforce.com.evil.example",
    "https://acme.my.salesforce.com.evil.example",
    "https://evilsalesforce.com",
    "https://my.salesforce.com",
    "https://.my.salesforce.com",
    "https://acme.my.salesforce.com:8443",
    "https://user:pw@acme.my.salesforce.com",
    "https://evil.example\\@acme.my.salesforce.com",
    "https://acme.my.salesforce.com.",
    "https://acme.my.salesforce.com/services",
    "https://acme.my.salesforce.com?x=1",
    "https://acme.my.salesforce.com#x",
    "http://acme.my.salesforce.com",
    "javascript:alert(1)//acme.my.salesforce.com",
    "https://ácme.my.salesforce.com",
    "https://127.0.0.1",
    "https://[::1]",
    "https://localhost:3002",
    "https://na139.salesforce.com",  # an instance serves data, it is not where one logs in
    "https://acme.lightning.force.com",
    "https://acme.my.site.com",
    "",
    None,
])
def test_anything_else_is_not_a_login_host(url):
    assert BUILT_IN.login_url(url) is None


def test_the_canonical_login_url_is_what_is_contacted():
    assert BUILT_IN.login_url("https://ACME.my.salesforce.com:443/") == "https://acme.my.salesforce.com"


def test_instanced_hosts_may_serve_data_but_not_other_salesforce_owned_sites():
    assert BUILT_IN.service_url("https://na139.salesforce.com") == "https://na139.salesforce.com"
    assert BUILT_IN.service_url("https://acme.my.salesforce.com") == "https://acme.my.salesforce.com"
    for url in ("https://a.b.salesforce.com", "https://acme.lightning.force.com", "https://evil.example",
                "https://na139.salesforce.com:8443"):
        assert BUILT_IN.service_url(url) is None, url


def test_an_identity_url_must_be_an_id_path_on_a_salesforce_host():
    good = f"https://login.salesforce.com{IDENTITY_PATH}"
    assert BUILT_IN.identity_url(good) == good
    assert identity_ids(good) == ("00DMf0000000001EAA", "005Mf0000000001AAA")
    for url in (f"https://evil.example{IDENTITY_PATH}", "https://login.salesforce.com/services/data",
                f"https://login.salesforce.com{IDENTITY_PATH}?x=1", f"http://login.salesforce.com{IDENTITY_PATH}",
                f"https://login.salesforce.com{IDENTITY_PATH}/../../admin",
                f"file://login.salesforce.com{IDENTITY_PATH}", "https://login.salesforce.com/id/x/y"):
        assert BUILT_IN.identity_url(url) is None, url


def test_trusted_urls_and_admin_entries_match_by_host_and_port():
    hosts = SalesforceHosts.trusting("https://localhost:3002", entries=("sso.acme.example:8443", "*.corp.example"))
    assert hosts.login_url("https://localhost:3002") == "https://localhost:3002"
    assert hosts.login_url("https://localhost:3003") is None  # another port is another server
    assert hosts.login_url("https://sso.acme.example:8443") == "https://sso.acme.example:8443"
    assert hosts.login_url("https://sso.acme.example") is None
    assert hosts.login_url("https://login.corp.example") == "https://login.corp.example"
    assert hosts.login_url("https://corp.example") is None
    assert hosts.identity_url(f"https://localhost:3002{IDENTITY_PATH}") == f"https://localhost:3002{IDENTITY_PATH}"


@pytest.mark.parametrize("entry", ["https://sso.acme.example", "sso.acme.example/path", "*.", "*.com", "a b",
                                   "user@sso.acme.example", "sso.acme.example:99999"])
def test_an_admin_entry_that_is_not_a_host_rule_is_refused(entry):
    with pytest.raises(ValueError):
        parse_rule(entry)


def test_salesforce_allowed_hosts_is_read_and_checked_at_start(tmp_path):
    config = load_config({"MAILFERRY_DATA_DIR": str(tmp_path),
                          "SALESFORCE_ALLOWED_HOSTS": "sso.acme.example:8443, *.corp.example"}, read_dotenv=False)
    assert config.salesforce_allowed_hosts == ("sso.acme.example:8443", "*.corp.example")
    assert config.salesforce_hosts.login_url("https://x.corp.example") == "https://x.corp.example"
    assert config.salesforce_hosts.login_url(config.sandbox_salesforce_url) == config.sandbox_salesforce_url
    with pytest.raises(ConfigError, match="SALESFORCE_ALLOWED_HOSTS"):
        load_config({"MAILFERRY_DATA_DIR": str(tmp_path), "SALESFORCE_ALLOWED_HOSTS": "https://x/y"},
                    read_dotenv=False)
