"""MAILFERRY_ENV=production refuses the demo's defaults that are unsafe there (SPEC 14): each
one names the setting and the fix, and all of them are listed at once."""

from __future__ import annotations

import pytest

from mailferry.config import ConfigError, load_config
from tests.config_fixtures import build_config, production_variables


def refusal_lines(tmp_path, **variables: str) -> list[str]:
    """The lines of the ConfigError a production configuration with `variables` raises."""
    with pytest.raises(ConfigError) as error:
        build_config(tmp_path / "data", **variables)
    first, *lines = str(error.value).splitlines()
    assert first == f"MAILFERRY_ENV=production refuses {len(lines)} setting(s):"
    return [line.strip() for line in lines]


def without(name: str) -> dict[str, str]:
    variables = production_variables()
    del variables[name]
    return variables


def test_a_production_environment_answering_every_refusal_loads(tmp_path):
    config = build_config(tmp_path / "data", **production_variables())
    assert config.environment == "production" and not config.redis_embedded
    assert config.base_url == "https://mailferry.example.com"


def test_every_unsafe_default_is_listed_at_once_one_line_each(tmp_path):
    lines = refusal_lines(tmp_path, MAILFERRY_ENV="production")
    assert [line.split(" ", 1)[0] for line in lines] == [
        "MAILFERRY_BASE_URL", "REDIS_URL", "DATABASE_URL", "MAILFERRY_SECRET_KEY", "MAILFERRY_ENCRYPTION_KEYS",
        "MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET",
        "MAILFERRY_ALLOWED_TENANTS",
    ]


@pytest.mark.parametrize(("variable", "fix"), [
    ("MAILFERRY_BASE_URL", "set it to the public https:// URL users and Microsoft's webhooks reach"),
    ("REDIS_URL", "the embedded Redis is the demo's; set REDIS_URL=redis://host:6379/0"),
    ("DATABASE_URL", "set DATABASE_URL=postgresql://user:password@host:5432/mailferry, or sqlite:///path/to/"),
    ("MAILFERRY_SECRET_KEY", "set a long random string"),
    ("MAILFERRY_ENCRYPTION_KEYS", "set one or more Fernet keys"),
    ("MICROSOFT_CLIENT_ID", "Application (client) ID"),
    ("MICROSOFT_CLIENT_SECRET", "or MICROSOFT_CLIENT_CERTIFICATE_FILE to its certificate and private key"),
    ("SALESFORCE_CLIENT_ID", "Consumer Key"),
    ("SALESFORCE_CLIENT_SECRET", "Consumer Secret"),
])
def test_an_unset_setting_without_a_safe_default_is_refused_with_its_fix(tmp_path, variable, fix):
    (line,) = refusal_lines(tmp_path, **without(variable))
    assert line.startswith(f"{variable} is not set: ") and fix in line


@pytest.mark.parametrize("base_url", [
    "https://localhost:3000", "https://LOCALHOST", "https://mailferry.localhost", "https://127.0.0.1:3000",
    "https://127.8.9.10", "https://[::1]:8443",
])
def test_a_base_url_on_this_machine_only_is_refused(tmp_path, base_url):
    (line,) = refusal_lines(tmp_path, **production_variables(MAILFERRY_BASE_URL=base_url))
    assert line.startswith(f"MAILFERRY_BASE_URL={base_url!r} names this machine only: set it to the public https://")


def test_a_secret_key_shorter_than_32_characters_is_refused(tmp_path):
    (line,) = refusal_lines(tmp_path, **production_variables(MAILFERRY_SECRET_KEY="k" * 31))
    assert line.startswith("MAILFERRY_SECRET_KEY is shorter than 32 characters: set a long random string")
    assert build_config(tmp_path / "data", **production_variables(MAILFERRY_SECRET_KEY="k" * 32)).secret_key == "k" * 32


@pytest.mark.parametrize("tenant", [None, "organizations", "ORGANIZATIONS"])
def test_a_multi_tenant_registration_must_list_the_tenants_it_admits(tmp_path, tenant):
    variables = without("MICROSOFT_TENANT") if tenant is None else production_variables(MICROSOFT_TENANT=tenant)
    (line,) = refusal_lines(tmp_path, **variables)
    assert line.startswith("MAILFERRY_ALLOWED_TENANTS is not set while MICROSOFT_TENANT=organizations admits every")
    assert "or set `*` to admit any tenant" in line


@pytest.mark.parametrize(("allowed", "expected"), [
    ("*", ("*",)),
    ("contoso.onmicrosoft.com, 7D3F1A2B-4C5D-4E6F-8A9B-0C1D2E3F4A5B",
     ("contoso.onmicrosoft.com", "7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b")),
])
def test_a_multi_tenant_registration_with_its_allowed_tenants_loads(tmp_path, allowed, expected):
    config = build_config(tmp_path / "data", **production_variables(
        MICROSOFT_TENANT="organizations", MAILFERRY_ALLOWED_TENANTS=allowed))
    assert config.microsoft_tenant == "organizations" and config.allowed_tenants == expected


def test_an_explicit_sqlite_file_stays_allowed_for_a_single_host(tmp_path):
    url = f"sqlite:///{tmp_path / 'mailferry.db'}"
    assert build_config(tmp_path / "data", **production_variables(DATABASE_URL=url)).database_url == url


def test_a_client_certificate_replaces_the_client_secret(tmp_path, certs):
    pem = tmp_path / "entra-app.pem"
    pem.write_bytes(certs.server_cert.read_bytes() + certs.server_key.read_bytes())
    variables = {**without("MICROSOFT_CLIENT_SECRET"), "MICROSOFT_CLIENT_CERTIFICATE_FILE": str(pem)}
    config = build_config(tmp_path / "data", **variables)
    assert config.microsoft_client_certificate_file == pem and config.microsoft_client_secret == ""


def test_the_demo_keeps_its_defaults(tmp_path):
    config = load_config({"MAILFERRY_DATA_DIR": str(tmp_path / "data")}, read_dotenv=False)
    assert config.is_demo and config.redis_embedded and config.base_url == "https://localhost:3000"
