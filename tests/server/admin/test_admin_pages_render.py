"""Every admin page renders for an admin, is forbidden to a user and sends a signed-out
visitor to sign in; the admin link appears in the navigation for admins only."""

from __future__ import annotations

import pytest

PAGES = ("/admin", "/admin/exclusions", "/admin/smart-addresses", "/admin/defaults", "/admin/users",
         "/admin/api-budget")


@pytest.fixture
def people(tenant_world):
    tenant = tenant_world.tenant()
    admin, user = tenant_world.admin(tenant, display_name="Ada Admin"), tenant_world.user(tenant, display_name="Rep")
    tenant_world.commit()
    return admin, user


@pytest.mark.parametrize("url", PAGES)
def test_every_admin_page_renders_for_an_admin(people, web_client, sign_in_client, url):
    sign_in_client(web_client, people[0])
    response = web_client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="admin-nav"' in html and 'aria-current="page"' in html


@pytest.mark.parametrize("url", PAGES)
def test_admin_pages_are_forbidden_to_users(people, web_client, sign_in_client, url):
    sign_in_client(web_client, people[1])
    assert web_client.get(url).status_code == 403
    assert web_client.post(url, headers={"Referer": "https://localhost" + url}).status_code in (400, 403, 405)


@pytest.mark.parametrize("url", PAGES)
def test_admin_pages_send_signed_out_visitors_to_sign_in(web_client, url):
    response = web_client.get(url)
    assert response.status_code in (302, 401)
    assert "/admin" not in (response.location or "").split("?")[0]


def test_the_admin_link_is_in_the_navigation_for_admins_only(people, web_client, sign_in_client):
    sign_in_client(web_client, people[0])
    assert 'href="/admin"' in web_client.get("/settings/sync-jobs").get_data(as_text=True)
    sign_in_client(web_client, people[1])
    assert 'href="/admin"' not in web_client.get("/settings/sync-jobs").get_data(as_text=True)
