"""Configuration: defaults that need nothing set, and errors that name the variable and the fix."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from mailferry.config import ConfigError, load_config
from tests.config_fixtures import production_variables


@pytest.fixture
def base_env(tmp_path):
    return {"MAILFERRY_DATA_DIR": str(tmp_path / "data")}


def test_demo_needs_no_variable_and_points_at_the_sandbox(base_env):
    config = load_config(base_env)
    assert config.environment == "demo"
    assert config.database_url.startswith("sqlite:///") and config.database_url.endswith("data/mailferry.db")
    assert config.redis_embedded and config.redis_url == f"unix://{config.redis_socket}"
    assert config.base_url == "https://localhost:3000"
    assert config.microsoft_authority_host == "https://localhost:3001"
    assert config.salesforce_login_url == "https://localhost:3002"


def test_demo_secrets_are_generated_once_and_kept_private(base_env, tmp_path):
    first = load_config(base_env)
    second = load_config(base_env)
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 48
    assert first.encryption_keys == second.encryption_keys
    Fernet(first.encryption_keys[0])  # a usable key
    key_file = tmp_path / "data" / "secrets" / "encryption-key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert first.secret_key not in repr(first) and first.encryption_keys[0] not in repr(first)


@pytest.mark.parametrize(
    ("variable", "value", "fix"),
    [
        ("MAILFERRY_ENV", "staging", "use one of demo, production"),
        ("MAILFERRY_PORT", "http", "is not a whole number"),
        ("MAILFERRY_PORT", "70000", "out of range"),
        ("DATABASE_URL", "mysql://x@y/z", "sqlite:///path/to/file.db or postgresql://"),
        ("REDIS_URL", "http://localhost:6379", "redis://host:6379/0"),
        ("MAILFERRY_BASE_URL", "http://localhost:3000", "is not an https:// URL"),
        ("MAILFERRY_ENCRYPTION_KEYS", "not-a-key", "is not a Fernet key"),
        ("MAILFERRY_WORKERS", "-1", "out of range"),
    ],
)
def test_a_wrong_value_names_the_variable_and_the_fix(base_env, variable, value, fix):
    with pytest.raises(ConfigError) as error:
        load_config({**base_env, variable: value})
    assert str(error.value).startswith(variable)
    assert fix in str(error.value)


def test_production_defaults_to_the_real_clouds(base_env):
    config = load_config({**base_env, **production_variables()})
    assert config.microsoft_authority_host == "https://login.microsoftonline.com"
    assert config.microsoft_graph_url == "https://graph.microsoft.com/v1.0"
    assert config.salesforce_login_url == "https://login.salesforce.com"


def test_ports_must_differ(base_env):
    with pytest.raises(ConfigError, match="must differ"):
        load_config({**base_env, "MAILFERRY_PORT": "3001"})


def test_a_dotenv_file_fills_in_what_the_environment_does_not_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"MAILFERRY_DATA_DIR={tmp_path / 'd'}\nMAILFERRY_PORT=4000\n")
    monkeypatch.setenv("MAILFERRY_PORT", "4100")
    monkeypatch.delenv("MAILFERRY_DATA_DIR", raising=False)
    config = load_config()
    assert config.data_dir == tmp_path / "d"
    assert config.web_port == 4100  # the environment wins over the file


def test_an_overlong_embedded_redis_socket_path_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="^MAILFERRY_DATA_DIR: the embedded Redis socket path"):
        load_config({"MAILFERRY_DATA_DIR": str(tmp_path / ("x" * 120))})


def test_microsoft_tenant_defaults_to_organizations_and_takes_a_tenant_id_or_domain(base_env):
    """MICROSOFT_TENANT (issue 14, row 1): the authority's tenant segment, `organizations` for
    a multi-tenant registration, the tenant itself for a single-tenant one."""
    assert load_config(base_env).microsoft_tenant == "organizations"
    tenant_id = "7D3F1A2B-4C5D-4E6F-8A9B-0C1D2E3F4A5B"
    assert load_config({**base_env, "MICROSOFT_TENANT": tenant_id}).microsoft_tenant == tenant_id.lower()
    assert load_config({**base_env, "MICROSOFT_TENANT": " contoso.onmicrosoft.com "}).microsoft_tenant \
        == "contoso.onmicrosoft.com"


@pytest.mark.parametrize(("value", "fix"), [
    ("common", "would let personal Microsoft accounts sign in"),
    ("consumers", "would let personal Microsoft accounts sign in"),
    ("https://login.microsoftonline.com/contoso.com", "is not a tenant"),
    ("contoso", "is not a tenant"),
    ("7d3f1a2b-4c5d", "is not a tenant"),
])
def test_a_wrong_microsoft_tenant_names_the_variable_and_the_fix(base_env, value, fix):
    with pytest.raises(ConfigError) as error:
        load_config({**base_env, "MICROSOFT_TENANT": value})
    assert str(error.value).startswith("MICROSOFT_TENANT=")
    assert fix in str(error.value) and "organizations" in str(error.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("", ()),
    ("*", ("*",)),
    (" * ", ("*",)),
    ("Contoso.OnMicrosoft.com", ("contoso.onmicrosoft.com",)),
    ("7D3F1A2B-4C5D-4E6F-8A9B-0C1D2E3F4A5B, fabrikam.com  contoso.com",
     ("7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "fabrikam.com", "contoso.com")),
])
def test_allowed_tenants_are_tenant_ids_or_domains_lower_cased_or_a_star(base_env, value, expected):
    assert load_config({**base_env, "MAILFERRY_ALLOWED_TENANTS": value}).allowed_tenants == expected


@pytest.mark.parametrize("value", ["contoso", "*, contoso.com", "https://login.microsoftonline.com/contoso.com",
                                   "7d3f1a2b-4c5d"])
def test_a_wrong_allowed_tenant_names_the_variable_the_entry_and_the_fix(base_env, value):
    with pytest.raises(ConfigError) as error:
        load_config({**base_env, "MAILFERRY_ALLOWED_TENANTS": value})
    assert str(error.value).startswith("MAILFERRY_ALLOWED_TENANTS: ") and "is not a tenant" in str(error.value)
    assert "or `*` for any" in str(error.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("", ()),
    ("00D5g000004XyZa", (("*", "00D5g000004XyZa"),)),
    ("00D5g000004XyZaEAK", (("*", "00D5g000004XyZa"),)),  # 18 characters: kept as the first 15
    ("Contoso.com=00D5g000004XyZa, 7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b=00D5g000004AbCdEAK",
     (("contoso.com", "00D5g000004XyZa"), ("7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "00D5g000004AbCd"))),
])
def test_salesforce_org_pins_are_org_ids_for_every_tenant_or_per_tenant(base_env, value, expected):
    assert load_config({**base_env, "MAILFERRY_SALESFORCE_ORG_IDS": value}).salesforce_org_ids == expected


@pytest.mark.parametrize("value", ["00D5g000004XyZ", "001000000000001", "contoso=00D5g000004XyZa",
                                   "contoso.com=", "contoso.com=00D5g000004XyZaEA"])
def test_a_wrong_org_pin_names_the_variable_the_entry_and_the_fix(base_env, value):
    with pytest.raises(ConfigError) as error:
        load_config({**base_env, "MAILFERRY_SALESFORCE_ORG_IDS": value})
    assert str(error.value).startswith("MAILFERRY_SALESFORCE_ORG_IDS: ") and "is not an org pin" in str(error.value)
    assert "TENANT=ORGID" in str(error.value)


def test_a_client_certificate_file_with_its_key_is_read(base_env, certs, tmp_path):
    pem = tmp_path / "entra-app.pem"
    pem.write_bytes(certs.server_cert.read_bytes() + certs.server_key.read_bytes())
    config = load_config({**base_env, "MICROSOFT_CLIENT_CERTIFICATE_FILE": str(pem)})
    assert config.microsoft_client_certificate_file == pem


@pytest.mark.parametrize(("contents", "fix"), [
    (None, "is not a file: set it to an existing file"),
    ("key", "holds no PEM certificate"),
    ("certificate", "holds no unencrypted PEM private key"),
    ("certificate and another key", "holds a private key that does not belong to its certificate"),
])
def test_a_client_certificate_file_must_hold_the_certificate_and_its_key(base_env, certs, tmp_path, contents, fix):
    pem = tmp_path / "entra-app.pem"
    parts = {"key": certs.server_key.read_bytes(), "certificate": certs.server_cert.read_bytes(),
             "certificate and another key": certs.server_cert.read_bytes() + certs.ca_key.read_bytes()}
    if contents:
        pem.write_bytes(parts[contents])
    with pytest.raises(ConfigError) as error:
        load_config({**base_env, "MICROSOFT_CLIENT_CERTIFICATE_FILE": str(pem)})
    assert str(error.value).startswith("MICROSOFT_CLIENT_CERTIFICATE_FILE") and fix in str(error.value)


def test_a_client_ca_file_that_does_not_exist_is_refused(base_env, tmp_path):
    with pytest.raises(ConfigError, match=r"^MAILFERRY_CLIENT_CA_FILE='.*missing.pem' is not a file"):
        load_config({**base_env, "MAILFERRY_CLIENT_CA_FILE": str(tmp_path / "missing.pem")})


@pytest.mark.parametrize(("value", "refusal"), [
    ("mail.example.com:25", "is not smtp://host[:port]: e.g. smtp://mail.example.com:587?starttls=yes"),
    ("smtp://mail.example.com:99999", "the port is not a number from 1 to 65535"),
    ("smtp://mail.example.com?starttls=maybe", "starttls='maybe' is neither yes nor no"),
    ("smtp://alerts:s3cret@mail.example.com:587", "has a password but no starttls=yes"),
])
def test_an_unusable_smtp_url_stops_start_up_naming_the_variable_and_never_the_password(base_env, value, refusal):
    with pytest.raises(ConfigError) as refused:
        load_config({**base_env, "MAILFERRY_SMTP_URL": value})
    assert str(refused.value).startswith("MAILFERRY_SMTP_URL")
    assert refusal in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_the_smtp_url_is_read_at_start_up_and_the_sender_defaults_to_mailferry_at_the_base_urls_host(base_env):
    assert load_config(base_env).smtp is None  # unset: alerts by webhook only
    plain = load_config({**base_env, "MAILFERRY_BASE_URL": "https://mailferry.example.com",
                         "MAILFERRY_SMTP_URL": "smtp://relay.example.com"}).smtp
    assert (plain.host, plain.port, plain.starttls, plain.sender, plain.username) == (
        "relay.example.com", 25, False, "mailferry@mailferry.example.com", None)
    login = load_config({**base_env, "MAILFERRY_SMTP_URL":
                         "smtp://alerts%40acme.example:s%3Acret@mail.acme.example:587?starttls=yes&from=ops@acme.example"
                         }).smtp
    assert (login.host, login.port, login.starttls, login.sender, login.username, login.password) == (
        "mail.acme.example", 587, True, "ops@acme.example", "alerts@acme.example", "s:cret")
    assert "s:cret" not in repr(load_config({**base_env, "MAILFERRY_SMTP_URL": "smtp://u:s%3Acret@h?starttls=yes"}))
