"""The add-in API serves only tenants MAILFERRY_ALLOWED_TENANTS admits (SPEC 14): a tenant
taken off the list after its people signed in gets 403 with the setting named, not data."""

from __future__ import annotations


def test_a_token_of_a_tenant_no_longer_allowed_is_refused_with_the_setting(
        make_config, microsoft_url, certs, api_token, addin_world):
    from server import create_app

    app = create_app(make_config(MAILFERRY_SANDBOX_MICROSOFT_PORT=microsoft_url.rsplit(":", 1)[1],
                                 MAILFERRY_CERTS_DIR=str(certs.folder),
                                 MAILFERRY_ALLOWED_TENANTS="0f0f0f0f-1111-4222-8333-444444444444"))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token()}"
    response = client.get("/addin/api/me")
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "tenant_not_allowed" and "MAILFERRY_ALLOWED_TENANTS" in body["message"]
    assert "user" not in body
