"""What several Graph test modules check or send: Graph's error body, a subscription."""

from __future__ import annotations

import datetime as dt

from tests.sandbox.microsoft.tenant import ALICE


def assert_graph_error(answer, status: int, code: str):
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]
    assert {"date", "request-id", "client-request-id"} <= set(error["innerError"])
    return error


def soon(minutes: int = 60) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscribe(session, base, receiver, resource=f"/users/{ALICE.upn}/mailFolders('inbox')/messages", **extra):
    body = {"changeType": "created,updated,deleted", "notificationUrl": f"{receiver.url}/hook?tenant=1",
            "lifecycleNotificationUrl": f"{receiver.url}/lifecycle", "resource": resource,
            "expirationDateTime": soon(), "clientState": "s3cret-state", **extra}
    return session.post(f"{base}/subscriptions", json=body)
