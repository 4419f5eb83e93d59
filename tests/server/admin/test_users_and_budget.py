"""/admin/users (connections, last run, counts per tab, in a fixed number of queries) and
/admin/api-budget (today's usage and our share from the Redis counters, a chart by hour)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import redis as redis_lib
from sqlalchemy import event, select

from mailferry import api_budget
from mailferry.db import utcnow
from mailferry.models import ApiUsageSample, Connection, Tenant, UnmatchedAddress
from tests.db import factories
from tests.server.settings.helpers import element, elements, post_form


@contextmanager
def counted_statements(app):
    statements: list[str] = []
    engine = app.extensions["mailferry.engine"]

    def count(_conn, _cursor, statement, *_args):
        # Queries only: transaction control (BEGIN, SQLite's PRAGMA query_only for read-only
        # sessions, mailferry/db.py) is not what an N+1 would multiply.
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _user_with_history(tenant_world, tenant, unresolved=0, synced=0, excluded=0, unmatched=0, **mailbox):
    user = tenant_world.user(tenant)
    box = factories.mailbox(tenant_world.session, user, **mailbox)
    for status, count in (("unresolved", unresolved), ("synced", synced), ("excluded", excluded),
                          ("skipped", 1), ("pending", 1)):
        for _ in range(count):
            factories.message(tenant_world.session, box, status=status)
    for n in range(unmatched):
        tenant_world.add(UnmatchedAddress(tenant_id=tenant.id, user_id=user.id, address=f"u{n}@x{user.id}.example"))
    tenant_world.add(Connection(tenant_id=tenant.id, user_id=user.id, provider="microsoft"),
              Connection(tenant_id=tenant.id, user_id=user.id, provider="salesforce"))
    return user


def _rows(html):
    return {int(row["data-user-id"]): row for row in elements(html, "user-row")}


def test_the_users_page_shows_each_users_connections_last_run_and_counts_per_tab(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant, display_name="Ada")
    busy = _user_with_history(tenant_world, tenant, unresolved=3, synced=2, excluded=1, unmatched=4,
                              last_run_at=utcnow() - timedelta(minutes=3))
    broken = tenant_world.user(tenant, display_name="Broken")
    factories.mailbox(tenant_world.session, broken, status="needs_reconnect",
                      status_detail="Microsoft 365 stopped accepting Mailferry: sign in with Microsoft again.")
    tenant_world.add(Connection(tenant_id=tenant.id, user_id=broken.id, provider="salesforce", status="needs_reconnect",
                         status_detail="Reconnect Salesforce under Connections."))
    other = tenant_world.tenant()
    _user_with_history(tenant_world, other, unresolved=9)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    html = web_client.get("/admin/users").get_data(as_text=True)
    rows = _rows(html)
    assert set(rows) == {admin.id, busy.id, broken.id}  # never another tenant's users
    counts = {testid: [e["text"] for e in elements(html, testid)] for testid in
              ("count-unresolved", "count-synced", "count-excluded", "count-unmatched")}
    position = list(rows).index(busy.id)
    assert [counts[k][position] for k in counts] == ["3", "2", "1", "4"]
    assert [e["data-status"] for e in elements(html, "user-salesforce")][list(rows).index(broken.id)] == "needs_reconnect"
    assert "Reconnect Salesforce under Connections." in html
    # The mailbox's fix is shown to the admin too (SPEC 6), in that user's row.
    broken_row = html.split(f'data-user-id="{broken.id}"')[1].split("</tr>")[0]
    assert "Microsoft 365 stopped accepting Mailferry: sign in with Microsoft again." in broken_row
    assert [e["data-status"] for e in elements(html, "user-sync")] == [
        {admin.id: "not_connected", busy.id: "connected", broken.id: "needs_reconnect"}[i] for i in rows]
    assert [e["text"] for e in elements(html, "user-last-run")][list(rows).index(admin.id)] == "never"


def test_the_users_page_costs_the_same_number_of_queries_for_two_users_or_ten(tenant_world, web_client, sign_in_client, app):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)

    def statements_for_page() -> int:
        with counted_statements(app) as statements:
            assert web_client.get("/admin/users").status_code == 200
        return len(statements)

    _user_with_history(tenant_world, tenant, unresolved=1, synced=1)
    tenant_world.commit()
    few = statements_for_page()
    for _ in range(8):
        _user_with_history(tenant_world, tenant, unresolved=2, excluded=1, unmatched=1)
    tenant_world.commit()
    many = statements_for_page()
    assert len(_rows(web_client.get("/admin/users").get_data(as_text=True))) == 10
    assert few == many and many <= 10  # sign-in, tenant, settings, the overview: not one per user


def test_the_budget_page_shows_todays_usage_our_share_and_a_chart_by_hour(tenant_world, web_client, sign_in_client, redis_url):
    tenant = tenant_world.tenant(api_budget_percent=10)
    admin = tenant_world.admin(tenant)
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tenant_world.add(ApiUsageSample(tenant_id=tenant.id, sampled_at=midnight + timedelta(minutes=5), used=100,
                             allowance=50_000, our_calls=40),
              ApiUsageSample(tenant_id=tenant.id, sampled_at=midnight + timedelta(hours=now.hour, minutes=0),
                             used=900, allowance=50_000, our_calls=60)
              if now.hour > 0 else ApiUsageSample(tenant_id=tenant.id, sampled_at=midnight + timedelta(minutes=6),
                                                  used=900, allowance=50_000, our_calls=60),
              ApiUsageSample(tenant_id=tenant.id, sampled_at=midnight - timedelta(hours=2), used=7_000,
                             allowance=50_000, our_calls=999))  # yesterday: not today's chart
    tenant_world.commit()
    redis = redis_lib.Redis.from_url(redis_url)
    redis.set(api_budget.day_key(tenant.id, now), 1_250)
    redis.hset(api_budget.org_key(tenant.id), mapping={"used": 5_000, "allowance": 50_000})
    try:
        sign_in_client(web_client, admin)
        html = web_client.get("/admin/api-budget").get_data(as_text=True)
    finally:
        redis.delete(api_budget.day_key(tenant.id, now), api_budget.org_key(tenant.id))
        redis.close()
    assert element(html, "budget-our-calls")["text"] == "1,250 Mailferry calls today"
    assert element(html, "budget-share")["text"].startswith("5,000 Mailferry's share (10%), 25% used")
    assert element(html, "budget-org-used")["text"] == "5,000 calls by the whole org of 50,000 (10%)"
    assert element(html, "budget-our-part")["text"].startswith("25%")
    bars = elements(html, "chart-bar")
    assert len(bars) == 24 and [b["data-hour"] for b in bars][:2] == ["00", "01"]
    hours = {row["data-hour"]: row["text"] for row in elements(html, "budget-hour")}
    if now.hour > 0:
        assert hours["00"] == "00:00 40 100" and hours[f"{now.hour:02d}"] == f"{now.hour:02d}:00 60 900"
    else:
        assert hours["00"] == "00:00 100 900"
    assert 'role="img"' in html and "<title" in html and element(html, "chart-share-line")
    assert "<script" not in html.split("</header>", 1)[1]  # the chart is drawn on the server


def test_the_budget_page_falls_back_to_the_samples_when_the_redis_counters_fail(tenant_world, web_client, sign_in_client, redis_url):
    # (A Redis that does not answer at all refuses every signed-in page, since sign-ins live
    # there: tests/server/security/test_sign_in_sessions.py. A failing read of the counters
    # takes the page's fallback.)
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    tenant_world.add(ApiUsageSample(tenant_id=tenant.id, sampled_at=utcnow(), used=300, allowance=15_000, our_calls=70))
    tenant_world.commit()
    counters = redis_lib.Redis.from_url(redis_url)
    day_key = api_budget.day_key(tenant.id, utcnow())
    counters.delete(day_key)
    counters.hset(day_key, "not", "a counter")  # GET of it fails (WRONGTYPE)
    sign_in_client(web_client, admin)
    try:
        html = web_client.get("/admin/api-budget").get_data(as_text=True)
    finally:
        counters.delete(day_key)
    assert element(html, "counters-unavailable")
    assert element(html, "budget-our-calls")["text"] == "70 Mailferry calls today"
    assert element(html, "budget-share")["text"].startswith("3,000 Mailferry's share (20%)")


def test_the_admin_sets_mailferrys_share_of_the_allowance(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    refused = post_form(web_client, "/admin/api-budget", {"api_budget_percent": "150"})
    assert refused.status_code == 422
    assert element(refused.get_data(as_text=True), "error-api_budget_percent")["text"] == \
        "must be a whole number from 1 to 100"
    assert post_form(web_client, "/admin/api-budget", {"api_budget_percent": "35%"}).status_code == 302
    html = web_client.get("/admin/api-budget").get_data(as_text=True)
    assert "Mailferry may now use 35% of the org" in html
    assert element(html, "budget-share")["text"].startswith("5,250 Mailferry's share (35%")
    assert tenant_world.read(select(Tenant.api_budget_percent).where(Tenant.id == tenant.id)) == [(35,)]
