"""In production Entra is verified with the one outbound CA setting Graph and Salesforce use
(MAILFERRY_CLIENT_CA_FILE, else certifi's public CAs), never the development CA: real msal
against the Microsoft sandbox, whose certificate only the test CA signs."""

from __future__ import annotations

import pytest

from mailferry import microsoft_identity
from mailferry.provider_errors import ErrorKind, ProviderError
from tests.config_fixtures import build_config, production_variables
from tests.sandbox.microsoft.tenant import ALICE, REDIRECT_URI, TENANT, pick_user


@pytest.fixture
def production_config(tmp_path, microsoft_url):
    """`production_config(**variables)`: production, its Microsoft the sandbox's tenant."""

    def make(**variables: str):
        return build_config(tmp_path / "data", **production_variables(
            MICROSOFT_AUTHORITY_HOST=microsoft_url, MICROSOFT_GRAPH_URL=f"{microsoft_url}/v1.0",
            MICROSOFT_TENANT=TENANT, **variables))

    return make


def test_without_the_client_ca_file_a_production_sign_in_fails_tls_verification(production_config, certs):
    # The development CA is right there (MAILFERRY_TLS_CA_FILE) and must not be trusted.
    config = production_config(MAILFERRY_TLS_CA_FILE=str(certs.ca_cert))
    with pytest.raises(ProviderError) as caught:
        microsoft_identity.start_sign_in(config, REDIRECT_URI)
    assert caught.value.kind is ErrorKind.TEMPORARY
    assert str(caught.value).endswith("reading the Entra ID OpenID configuration failed (SSLError)")


def test_with_the_client_ca_file_a_production_sign_in_verifies_and_completes(production_config, certs,
                                                                              client_session):
    config = production_config(MAILFERRY_CLIENT_CA_FILE=str(certs.ca_cert))
    flow = microsoft_identity.start_sign_in(config, REDIRECT_URI)
    signed_in = microsoft_identity.finish_sign_in(config, flow, pick_user(client_session, flow["auth_uri"], ALICE.upn))
    assert (signed_in.tid, signed_in.username) == (TENANT, ALICE.upn)


def test_app_only_tokens_in_production_verify_with_the_client_ca_file(production_config, certs):
    config = production_config(MAILFERRY_CLIENT_CA_FILE=str(certs.ca_cert))
    assert microsoft_identity.acquire_app_token(config, TENANT)
