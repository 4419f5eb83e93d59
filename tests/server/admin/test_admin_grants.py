"""Granting and revoking admin on /admin/users (SPEC 14, "Admins"): a CSRF-protected POST,
for users of the admin's own tenant only; the last admin cannot revoke themselves; a granted
admin is shown as such."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from mailferry.models import User
from tests.server.settings.helpers import csrf_token, element, elements

USERS = "/admin/users"


def _role(tenant_world, user) -> tuple[str, str | None]:
    return tenant_world.read(select(User.role, User.admin_source).where(User.id == user.id))[0]


def _post(client, user, action: str, **options):
    """The Users page's button for `user`, with the page's CSRF token and a same-origin Referer."""
    return client.post(f"/admin/users/{user.id}/admin", data={"action": action, "csrf_token": csrf_token(client, USERS)},
                       headers={"Referer": f"https://localhost{USERS}"}, **options)


def _signed_in_admin(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant, admin_source="granted")
    rep = tenant_world.user(tenant, display_name="Rep")
    tenant_world.commit()
    sign_in_client(web_client, admin)
    web_client.environ_base["wsgi.url_scheme"] = "https"
    # Plain values: reading rolls the world's session back, and a row reloaded afterwards
    # would hold SQLite's write lock against the app.
    return tenant, _facts(admin), _facts(rep)


def _facts(user) -> SimpleNamespace:
    return SimpleNamespace(id=user.id, upn=user.upn)


def test_an_admin_grants_admin_to_a_user_of_their_tenant_and_revokes_it(tenant_world, web_client, sign_in_client):
    _, admin, rep = _signed_in_admin(tenant_world, web_client, sign_in_client)
    answer = _post(web_client, rep, "grant", follow_redirects=True)
    assert answer.status_code == 200 and f"{rep.upn} is now an admin." in answer.get_data(as_text=True)
    assert _role(tenant_world, rep) == ("admin", "granted")
    rows = {int(r["data-user-id"]): r for r in elements(answer.get_data(as_text=True), "user-row")}
    assert set(rows) == {admin.id, rep.id}
    revoked = _post(web_client, rep, "revoke", follow_redirects=True)
    assert f"{rep.upn} is no longer an admin." in revoked.get_data(as_text=True)
    assert _role(tenant_world, rep) == ("user", None)


def test_a_grant_without_the_csrf_token_is_refused(tenant_world, web_client, sign_in_client):
    _, _, rep = _signed_in_admin(tenant_world, web_client, sign_in_client)
    answer = web_client.post(f"/admin/users/{rep.id}/admin", data={"action": "grant"},
                             headers={"Referer": f"https://localhost{USERS}"})
    assert answer.status_code == 400
    assert _role(tenant_world, rep) == ("user", None)


def test_the_last_admin_cannot_revoke_themselves(tenant_world, web_client, sign_in_client):
    _, admin, _ = _signed_in_admin(tenant_world, web_client, sign_in_client)
    answer = _post(web_client, admin, "revoke", follow_redirects=True)
    assert "last admin" in answer.get_data(as_text=True)
    assert _role(tenant_world, admin) == ("admin", "granted")


def test_another_tenants_user_cannot_be_granted(tenant_world, web_client, sign_in_client):
    _signed_in_admin(tenant_world, web_client, sign_in_client)
    stranger = tenant_world.user(tenant_world.tenant())
    tenant_world.commit()
    stranger = _facts(stranger)
    answer = _post(web_client, stranger, "grant")
    assert answer.status_code == 404
    assert _role(tenant_world, stranger) == ("user", None)


def test_the_users_page_says_why_someone_is_an_admin(tenant_world, web_client, sign_in_client):
    _, admin, _ = _signed_in_admin(tenant_world, web_client, sign_in_client)
    html = web_client.get(USERS).get_data(as_text=True)
    assert sorted(r["data-role"] for r in elements(html, "user-role")) == ["admin", "user"]
    admin_row = html.split(f'data-user-id="{admin.id}"')[1].split("</tr>")[0]
    assert "granted" in admin_row and 'data-testid="revoke-admin"' in admin_row
    assert element(html, "grant-admin")
