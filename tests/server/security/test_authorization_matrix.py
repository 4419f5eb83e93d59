"""EVERY route of the app × (anonymous, the rows' owner, a colleague in the same tenant, a
user of another tenant, the tenant's admin, another tenant's admin): the status each gets
is the one `expectations.py` declares, nobody but the owner (or, on admin pages, the
tenant's admin) ever sees the owner's data, and nobody else changes it.

The route list comes from `app.url_map`, so routes added later are covered automatically:
a route without an expectation fails here until it declares one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

import mailferry.models  # noqa: F401  (registers every table)
from mailferry.db import Base
from tests.server.security.expectations import (ADMIN, ALLOWED, EXPECTATIONS, FORBIDDEN, HIDDEN, LOGIN,
                                                TENANT_ROW, form, parameters)
from tests.server.security.routes import ROUTES, url_of
from tests.server.security.world import OWNER_MARK, PRINCIPALS, TENANT_MARK



def test_every_route_declares_who_may_use_it():
    missing = sorted({f"{endpoint} ({rule})" for endpoint, rule, _ in ROUTES if endpoint not in EXPECTATIONS})
    assert not missing, ("routes without an expectation; add each to EXPECTATIONS in "
                         "tests/server/security/expectations.py (see docs/web.md):\n" + "\n".join(missing))


@pytest.mark.parametrize(("endpoint", "rule", "method"), ROUTES, ids=[f"{m} {r}" for _, r, m in ROUTES])
def test_route_answers_each_principal_as_declared(endpoint, rule, method, without_csrf, sign_in_client):
    security_stack = without_csrf
    policy = EXPECTATIONS.get(endpoint)
    if policy is None:
        pytest.fail(f"{method} {rule} ({endpoint}) has no expectation: add it to "
                    "tests/server/security/expectations.py (docs/web.md, 'Adding a route')")
    world = security_stack.fresh_world()
    url = url_of(security_stack.app, endpoint, rule, parameters(world))
    admin_page = policy in (ADMIN, TENANT_ROW)
    problems = []
    for principal in PRINCIPALS:  # the owner goes last: their own requests may change the rows
        before = _owner_rows(security_stack, world)
        client = security_stack.client(sign_in_client, world.users.get(principal))
        response = client.open(url, method=method, data=form(world) if method == "POST" else None)
        body = response.get_data(as_text=True).lower()  # a streamed answer runs to its end
        response.close()
        outcome = _outcome(response)
        expected = policy[principal]
        if not (outcome == expected or (expected == HIDDEN and outcome in (FORBIDDEN, "not_found"))):
            problems.append(f"{principal}: expected {expected}, got {outcome} (HTTP {response.status_code}"
                            f"{' → ' + response.location if response.location else ''})")
        if principal == "owner" or (principal == "admin" and admin_page):
            continue
        for mark, whose in ((OWNER_MARK, "the owner's"), (TENANT_MARK, "tenant A's")):
            if mark in body and not (principal in ("admin", "colleague") and mark == TENANT_MARK):
                problems.append(f"{principal} was shown {whose} data")
        if _owner_rows(security_stack, world) != before:
            problems.append(f"{principal} changed the owner's rows")
    assert not problems, f"{method} {rule}:\n" + "\n".join(problems)


def _outcome(response) -> str:
    status = response.status_code
    if status == 401 or (300 <= status < 400 and urlsplit(response.location or "").path == "/auth/sign-in"):
        return LOGIN
    if status == 403:
        return FORBIDDEN
    if status == 404:
        return "not_found"
    if status >= 500:
        return f"server error {status}"
    return ALLOWED


def _owner_rows(stack, world) -> list[str]:
    """Every row holding the owner's user id, as text (a change shows as a difference)."""
    owner = world.users["owner"]
    rows = []
    with stack.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if "user_id" in table.c:
                columns = [c for c in table.c if c.name not in ("updated_at",)]
                rows += [f"{table.name}:{tuple(row)}" for row in
                         connection.execute(select(*columns).where(table.c.user_id == owner))]
    return sorted(rows)
