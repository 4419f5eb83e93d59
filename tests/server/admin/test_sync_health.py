"""/admin/sync-health: each user's connection state with the fix and the mailbox's last error,
stuck and backing-off mailboxes, queue depth, webhook health, the day's top error codes, the
tenant's failed jobs (kept after RQ's record goes), and where the alerts go."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from rq import SimpleWorker

from mailferry import alert_settings, failed_jobs, subscription_liveness
from mailferry.db import utcnow
from mailferry.job_queue import enqueue_sync, mailbox_lock_key
from mailferry.models import Connection, MailboxFolder, Subscription
from tests.db import factories
from tests.server.settings.helpers import csrf_token, element, elements
from worker.runtime import Runtime, use_runtime

PAGE = "/admin/sync-health"


@pytest.fixture
def connection(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.delete(failed_jobs.KEY)
    yield client
    client.delete(failed_jobs.KEY)


def _rows(html):
    return {int(row["data-user-id"]): row for row in elements(html, "health-user")}


def _row_html(html, user_id):
    return html.split(f'data-user-id="{user_id}"')[1].split("</tr>")[0]


def test_the_page_shows_each_users_state_fix_last_error_and_the_stuck_and_backing_off_mailboxes(
        tenant_world, web_client, sign_in_client, connection, sync_queue):
    now = utcnow()
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant, display_name="Ada")
    broken = tenant_world.user(tenant, display_name="Broken")
    broken_box = factories.mailbox(tenant_world.session, broken, status="needs_reconnect",
                                   status_detail="Sign in with Microsoft again under Connections.",
                                   last_error="microsoft: invalid_grant: AADSTS50173: the grant was revoked")
    stuck = tenant_world.user(tenant, display_name="Stuck")
    stuck_box = factories.mailbox(tenant_world.session, stuck, stage="fetching", stage_started_at=now - timedelta(minutes=30))
    busy = tenant_world.user(tenant, display_name="Busy")  # as old a stage, but a live run holds its lock
    busy_box = factories.mailbox(tenant_world.session, busy, stage="fetching", stage_started_at=now - timedelta(minutes=30))
    throttled = tenant_world.user(tenant, display_name="Throttled")
    throttled_box = factories.mailbox(tenant_world.session, throttled, status="throttled", retry_after=now + timedelta(minutes=5),
                                      status_detail="salesforce asked us to wait", failure_count=2,
                                      last_error="salesforce: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.")
    for user in (broken, stuck, busy, throttled):
        tenant_world.add(Connection(tenant_id=tenant.id, user_id=user.id, provider="microsoft"),
                         Connection(tenant_id=tenant.id, user_id=user.id, provider="salesforce"))
    # Webhooks: a subscription is expected per synced folder of each mailbox that syncs (stuck
    # and busy have one each; the broken one's folder does not count: it cannot sync); two
    # subscriptions exist, one of them expired.
    for box in (stuck_box, busy_box, broken_box):
        tenant_world.add(MailboxFolder(mailbox_id=box.id, graph_folder_id=f"inbox-{box.id}", well_known_name="inbox"))
    alive, expired = tenant_world.add(
        Subscription(mailbox_id=stuck_box.id, graph_subscription_id=f"sub-{stuck_box.id}", resource="inbox",
                     sealed_client_state=b"x", expires_at=now + timedelta(days=2)),
        Subscription(mailbox_id=busy_box.id, graph_subscription_id=f"sub-{busy_box.id}", resource="inbox",
                     sealed_client_state=b"x", expires_at=now - timedelta(hours=1)))
    heard_at = (now - timedelta(minutes=7)).replace(microsecond=0)
    # Another test's subscription with the same row id (each test has a database of its own,
    # all share this Redis) may have left its note: the expired one must have none.
    for key in connection.scan_iter("mailferry:subscription:*"):
        connection.delete(key)
    subscription_liveness.heard(connection, [alive.id], heard_at)
    # Today's mail: 6 emails, 3 with an error (two codes); one of yesterday's does not count.
    for code in ("INVALID_CROSS_REFERENCE_KEY", "INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED", None, None, None):
        factories.message(tenant_world.session, stuck_box, status="unresolved" if code else "synced", error_code=code)
    factories.message(tenant_world.session, stuck_box, status="unresolved", error_code="OLD_ERROR",
                      first_seen_at=now - timedelta(days=1, hours=1))
    other = tenant_world.tenant()
    stranger = tenant_world.user(other, display_name="Stranger")
    factories.mailbox(tenant_world.session, stranger, status="needs_reconnect", last_error="someone else's")
    tenant_world.commit()
    connection.set(mailbox_lock_key(busy_box.id), "a live run", ex=60)
    assert enqueue_sync(connection, throttled_box.id)  # one job waiting on the mailboxes queue
    try:
        sign_in_client(web_client, admin)
        answer = web_client.get(PAGE)
    finally:
        connection.delete(mailbox_lock_key(busy_box.id))
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    rows = _rows(html)
    assert set(rows) == {admin.id, broken.id, stuck.id, busy.id, throttled.id}  # never another tenant's users
    assert "someone else" not in html
    assert {uid: row["data-sync"] for uid, row in rows.items()} == {
        admin.id: "not_connected", broken.id: "needs_reconnect", stuck.id: "connected", busy.id: "connected",
        throttled.id: "throttled"}
    broken_row = _row_html(html, broken.id)
    assert "Sign in with Microsoft again under Connections." in broken_row  # the fix, as My Settings says it
    assert "AADSTS50173: the grant was revoked" in broken_row  # the mailbox's last error
    assert "REQUEST_LIMIT_EXCEEDED" in _row_html(html, throttled.id)
    assert "2 failed runs in a row" in _row_html(html, throttled.id)
    assert [uid for uid, row in rows.items() if row.get("data-stuck")] == [stuck.id]
    assert "Stuck in fetching since" in _row_html(html, stuck.id)
    assert element(html, "health-disconnected")["text"].startswith("1 ")
    assert element(html, "health-stuck")["text"].startswith("1 ")
    assert element(html, "health-backing-off")["text"].startswith("1 ")
    webhooks = element(html, "health-webhooks")
    assert (webhooks["data-alive"], webhooks["data-expected"]) == ("1", "2")
    assert heard_at.isoformat(timespec="seconds") in html  # the last notification's <time datetime>
    day = element(html, "health-day-errors")
    assert (day["data-mail"], day["data-errors"]) == ("6", "3")
    assert [(e["data-code"], e["text"].split()[-1]) for e in elements(html, "health-error-code")] == [
        ("INVALID_CROSS_REFERENCE_KEY", "2"), ("ENTITY_IS_DELETED", "1")]
    assert element(html, "health-queue-depth")["text"] == "1 jobs queued ( mailboxes: 1 , maintenance: 0 )"


def test_a_failed_sync_job_is_shown_to_its_tenant_and_kept_after_the_next_enqueue_deletes_rqs_record(
        tenant_world, web_client, sign_in_client, connection, sync_queue, make_config):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    rep = tenant_world.user(tenant, display_name="Rep Whose Sync Failed")
    box = factories.mailbox(tenant_world.session, rep)
    other = tenant_world.tenant()
    other_admin = tenant_world.admin(other)
    tenant_world.commit()
    # A real failure: the worker's database is away, so the sync job raises.
    away = Runtime(make_config(DATABASE_URL="postgresql://mailferry@127.0.0.1:1/mailferry"))
    use_runtime(away)
    try:
        assert enqueue_sync(connection, box.id)
        SimpleWorker([sync_queue], connection=connection).work(burst=True)
    finally:
        use_runtime(None)
        away.engine.dispose()
    sign_in_client(web_client, admin)

    def shown() -> list[dict]:
        return elements(web_client.get(PAGE).get_data(as_text=True), "health-failure")

    [held] = shown()  # still RQ's own record (FailedJobRegistry)
    assert held["data-job-id"] == f"sync-mailbox-{box.id}"
    assert "Rep Whose Sync Failed" in held["text"] and "OperationalError" in held["text"]

    assert enqueue_sync(connection, box.id)  # RQ's record of the failure is deleted to queue it again
    assert connection.exists(f"rq:job:sync-mailbox-{box.id}") and sync_queue.count == 1
    [kept] = shown()
    assert kept["data-job-id"] == f"sync-mailbox-{box.id}"
    assert kept["text"] == held["text"]

    sign_in_client(web_client, other_admin)
    assert shown() == []  # another tenant's mailbox


def test_an_admin_sets_where_alerts_go_and_a_plain_http_url_is_refused(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    token = csrf_token(web_client, PAGE)

    def post(**fields):
        return web_client.post(f"{PAGE}/alerts", data={"csrf_token": token, **fields},
                               headers={"Referer": f"https://localhost{PAGE}"})

    assert "is not an email address" in element(post(alert_email="ops at example.com").get_data(as_text=True),
                                                 "error-alert_email")["text"]
    refused = post(alert_email="ops@example.com", alert_webhook_url="http://hooks.example.com/x")
    assert refused.status_code == 422
    assert "must be an https:// URL" in element(refused.get_data(as_text=True), "error-alert_webhook_url")["text"]
    assert alert_settings.read(tenant_world.session, tenant.id) == alert_settings.AlertSettings()
    tenant_world.session.rollback()

    saved = post(alert_email=" Ops@Example.com ", alert_webhook_url="https://hooks.example.com/mailferry")
    assert saved.status_code == 302
    stored = alert_settings.read(tenant_world.session, tenant.id)
    tenant_world.session.rollback()
    assert stored == alert_settings.AlertSettings("Ops@Example.com", "https://hooks.example.com/mailferry")
    html = web_client.get(PAGE).get_data(as_text=True)
    assert element(html, "field-alert_webhook_url")["value"] == "https://hooks.example.com/mailferry"

    assert post(alert_email="", alert_webhook_url="").status_code == 302  # both empty: alerts off
    assert alert_settings.read(tenant_world.session, tenant.id) == alert_settings.AlertSettings()
    tenant_world.session.rollback()


def test_the_admin_navigation_links_the_page(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    nav = element(web_client.get("/admin").get_data(as_text=True), "admin-nav")
    assert "Sync Health" in nav["text"]
    assert f'href="{PAGE}"' in web_client.get("/admin").get_data(as_text=True)
