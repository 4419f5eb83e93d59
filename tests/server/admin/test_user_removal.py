"""Removing a user on Admin → Users (SPEC 14, "Offboarding"): a confirmation page, then a
CSRF-checked POST with the user's sign-in name typed again; another tenant's user is not
found, an admin cannot remove themselves, and the removal is in the audit log."""

from __future__ import annotations

from sqlalchemy import select

from mailferry.models import AuditEntry, User, UserSetting
from tests.server.settings.helpers import csrf_token, element, elements


def _post(client, user_id: int, **form):
    page = f"/admin/users/{user_id}/remove"
    return client.post(page, data={"csrf_token": csrf_token(client, page), **form},
                       headers={"Referer": f"https://localhost{page}"})


def _world(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant, admin_source="granted")
    rep = tenant_world.user(tenant, display_name="Leaving Rep")
    tenant_world.add(UserSetting(user_id=rep.id, key="time_zone", value="Europe/Paris"))
    tenant_world.commit()
    sign_in_client(web_client, admin)
    web_client.environ_base["wsgi.url_scheme"] = "https"
    return tenant.id, (admin.id, admin.upn), (rep.id, rep.upn)


def test_the_users_page_links_to_removal_and_the_confirmed_post_removes_the_user(
        tenant_world, web_client, sign_in_client):
    tenant_id, (admin_id, admin_upn), (rep_id, rep_upn) = _world(tenant_world, web_client, sign_in_client)
    users = web_client.get("/admin/users").get_data(as_text=True)
    links = [link["href"] for link in elements(users, "remove-user-link")]
    assert links == [f"/admin/users/{rep_id}/remove"]  # none for the admin themselves
    page = web_client.get(links[0])
    assert page.status_code == 200 and rep_upn in element(page.get_data(as_text=True), "remove-user")["text"]

    answer = _post(web_client, rep_id, confirm_upn=rep_upn.upper())
    assert answer.status_code == 302
    assert f"{rep_upn} was removed" in web_client.get("/admin/users").get_data(as_text=True)
    assert tenant_world.read(select(User.id).where(User.id == rep_id)) == []
    assert tenant_world.read(select(UserSetting.id).where(UserSetting.user_id == rep_id)) == []
    assert tenant_world.read(select(AuditEntry.action, AuditEntry.actor_user_id, AuditEntry.subject)
                             .where(AuditEntry.tenant_id == tenant_id)) == [("user.remove", admin_id, rep_upn)]


def test_a_post_without_the_typed_name_or_the_csrf_token_removes_nobody(tenant_world, web_client, sign_in_client):
    _, _, (rep_id, rep_upn) = _world(tenant_world, web_client, sign_in_client)
    answer = _post(web_client, rep_id, confirm_upn="someone.else@example.com")
    assert answer.status_code == 422
    assert f"Type {rep_upn} to confirm." in element(answer.get_data(as_text=True), "error-confirm_upn")["text"]
    no_token = web_client.post(f"/admin/users/{rep_id}/remove", data={"confirm_upn": rep_upn},
                               headers={"Referer": f"https://localhost/admin/users/{rep_id}/remove"})
    assert no_token.status_code == 400
    assert tenant_world.read(select(User.id).where(User.id == rep_id)) == [(rep_id,)]


def test_an_admin_cannot_remove_themselves_nor_another_tenants_user(tenant_world, web_client, sign_in_client):
    _, (admin_id, admin_upn), _ = _world(tenant_world, web_client, sign_in_client)
    other = tenant_world.tenant()
    stranger = tenant_world.user(other)
    tenant_world.commit()
    assert _post(web_client, admin_id, confirm_upn=admin_upn).status_code == 422
    assert web_client.get(f"/admin/users/{stranger.id}/remove").status_code == 404
    assert tenant_world.read(select(User.id).where(User.id.in_([admin_id, stranger.id]))) == sorted(
        [(admin_id,), (stranger.id,)])
