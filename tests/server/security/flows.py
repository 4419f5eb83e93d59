"""The browser's part of the real sign-in flows, played by a Flask test client (our app) and
a verifying HTTPS session (the sandboxes): msal, the sandbox's Entra ID and Salesforce
endpoints and our routes all run for real."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def demo_user(http, microsoft_url: str, index: int = 0) -> dict:
    return http.get(f"{microsoft_url}/_sandbox/users", timeout=30).json()["users"][index]


def pick_microsoft_account(http, authorize_url: str, oid: str) -> tuple[str, dict]:
    """Click the user on the sandbox's "Pick an account" page: returns the form_post target
    and the fields Entra posts back (code, state, client_info, session_state)."""
    page = http.get(authorize_url, timeout=30)
    assert page.status_code == 200, page.text[:500]
    fields = dict(parse_qsl(urlsplit(authorize_url).query))
    answer = http.post(authorize_url.split("?")[0], data={**fields, "user": oid}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    action = html.unescape(_ACTION.search(answer.text).group(1))
    return action, {html.unescape(k): html.unescape(v) for k, v in _INPUT.findall(answer.text)}


def sign_in_with_microsoft(client, http, oid: str, start: str = "/auth/sign-in"):
    """The whole Microsoft sign-in; returns our callback's response."""
    started = client.get(start)
    assert started.status_code == 302, started.status_code
    action, fields = pick_microsoft_account(http, started.location, oid)
    assert urlsplit(action).path == "/auth/microsoft/callback"
    return client.post("/auth/microsoft/callback", data=fields)


def csrf_token(client, path: str = "/connections") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def allow_salesforce(http, authorize_url: str, user_id: str) -> str:
    """Choose the user on the sandbox's Salesforce login page; returns the callback URL."""
    fields = dict(parse_qsl(urlsplit(authorize_url).query))
    answer = http.post(authorize_url.split("?")[0], data={**fields, "user_id": user_id, "action": "allow"},
                       allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]


def salesforce_user_id(http, salesforce_url: str, username: str) -> str:
    users = http.get(f"{salesforce_url}/_sandbox/records/User", params={"Username": username}, timeout=30).json()
    records = users.get("records", users) if isinstance(users, dict) else users
    return records[0]["Id"]
