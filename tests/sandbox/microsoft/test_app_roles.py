"""The app registration's own app roles (reference wave2.md §7.3): Mailferry's registration
defines `Mailferry.Admin` (allowedMemberTypes User); a user assigned it directly or through a
group carries `"roles": ["Mailferry.Admin"]` in the app's ID token and in access tokens for
the app's API, never in tokens for Graph; the control API assigns and unassigns it."""

from __future__ import annotations

import jwt

from tests.config_fixtures import DEMO
from tests.sandbox.microsoft.tenant import ALICE, BOB, sign_in

ADMIN = "Mailferry.Admin"
API_SCOPE = f"api://localhost:3000/{DEMO.microsoft_client_id}/access_as_user"


def _assign(session, url, **body):
    return session.post(f"{url}/_sandbox/apps/{DEMO.microsoft_client_id}/role-assignments", json={"role": ADMIN, **body})


def _roles(result: dict) -> list[str] | None:
    return result["id_token_claims"].get("roles")


def test_the_registration_defines_the_admin_role_for_users(microsoft_url, client_session):
    apps = client_session.get(f"{microsoft_url}/_sandbox/apps").json()["apps"]
    demo = next(a for a in apps if a["client_id"] == DEMO.microsoft_client_id)
    role = next(r for r in demo["defined_roles"] if r["value"] == ADMIN)
    assert role["allowedMemberTypes"] == ["User"] and role["isEnabled"] and " " not in role["value"]


def test_a_user_assigned_the_role_gets_it_in_the_id_token_and_others_do_not(microsoft_url, client_session):
    assert _assign(client_session, microsoft_url, user=ALICE.upn).status_code == 201
    _, alice = sign_in(microsoft_url, client_session, ALICE.upn)
    _, bob = sign_in(microsoft_url, client_session, BOB.upn)
    assert _roles(alice) == [ADMIN]
    assert _roles(bob) is None


def test_a_group_assignment_gives_the_role_to_the_groups_members_while_they_are(microsoft_url, client_session):
    group = client_session.post(f"{microsoft_url}/_sandbox/groups",
                                json={"displayName": "Mailferry admins", "members": [BOB.upn]}).json()
    assert _assign(client_session, microsoft_url, group=group["id"]).status_code == 201
    _, bob = sign_in(microsoft_url, client_session, BOB.upn)
    _, alice = sign_in(microsoft_url, client_session, ALICE.upn)
    assert _roles(bob) == [ADMIN] and _roles(alice) is None
    client_session.delete(f"{microsoft_url}/_sandbox/groups/{group['id']}/members/{BOB.upn}").raise_for_status()
    _, bob = sign_in(microsoft_url, client_session, BOB.upn)
    assert _roles(bob) is None


def test_graph_tokens_never_carry_the_role_and_tokens_for_the_apps_api_do(microsoft_url, client_session):
    _assign(client_session, microsoft_url, user=ALICE.upn)
    app, graph = sign_in(microsoft_url, client_session, ALICE.upn)
    assert "roles" not in jwt.decode(graph["access_token"], options={"verify_signature": False})
    account = app.get_accounts()[0]
    api = app.acquire_token_silent([API_SCOPE], account, force_refresh=True)
    assert jwt.decode(api["access_token"], options={"verify_signature": False})["roles"] == [ADMIN]


def test_unassigning_takes_the_role_away_at_the_next_sign_in(microsoft_url, client_session):
    _assign(client_session, microsoft_url, user=ALICE.upn)
    removed = client_session.delete(
        f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}/role-assignments/{ALICE.upn}")
    assert removed.status_code == 200 and removed.json() == []
    _, alice = sign_in(microsoft_url, client_session, ALICE.upn)
    assert _roles(alice) is None


def test_only_a_defined_role_can_be_assigned(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}/role-assignments",
                                 json={"role": "Mailferry.Owner", "user": ALICE.upn})
    assert answer.status_code == 400 and ADMIN in answer.json()["error"]
