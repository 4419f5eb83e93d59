"""The sync engine end to end against both sandbox servers over HTTPS, a real Redis and the
test database: the demo tenant's mail goes through every rule, lands as Tasks exactly once,
and a second run changes nothing."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from mailferry.models import Mailbox, Message, MessageRecord
from worker import jobs

FINAL = {"synced", "unresolved", "excluded", "skipped", "ignored"}


def _tasks(client_session, demo_salesforce_url) -> list[dict]:
    answer = client_session.get(f"{demo_salesforce_url}/_sandbox/records/Task")
    return answer.json()["records"]


def test_demo_mail_reaches_an_outcome_and_each_synced_email_is_one_task(pipeline, client_session, demo_salesforce_url):
    runtime, mailbox_ids = pipeline
    results = [jobs.sync_mailbox(mailbox_id) for mailbox_id in mailbox_ids]
    assert all("error" not in r and "skipped" not in r for r in results), results

    with runtime.sessions() as session:
        statuses = Counter(session.execute(select(Message.status)).scalars())
        assert set(statuses) <= FINAL, statuses
        assert statuses["synced"] > 0 and statuses["unresolved"] > 0 and statuses["skipped"] > 0
        synced_keys = set(session.execute(select(Message.task_key).where(Message.status == "synced")).scalars())
        recorded = session.execute(select(func.count()).select_from(MessageRecord).where(MessageRecord.recorded)).scalar()
        assert recorded >= statuses["synced"]
        assert all(m.stage == "idle" and m.last_success_at for m in session.execute(select(Mailbox)).scalars())

    tasks = _tasks(client_session, demo_salesforce_url)
    keys = Counter(t.get("Mailferry_Key__c") for t in tasks if t.get("Mailferry_Key__c"))
    assert keys and max(keys.values()) == 1  # never a second Task for one key
    assert synced_keys <= set(keys)


def test_a_second_run_writes_nothing_new(pipeline, client_session, demo_salesforce_url):
    runtime, mailbox_ids = pipeline
    for mailbox_id in mailbox_ids:
        jobs.sync_mailbox(mailbox_id)
    before = len(_tasks(client_session, demo_salesforce_url))
    client_session.post(f"{demo_salesforce_url}/_sandbox/stats/reset")
    again = [jobs.sync_mailbox(mailbox_id) for mailbox_id in mailbox_ids]
    assert all(r["processed"]["synced"] == 0 for r in again), again
    assert len(_tasks(client_session, demo_salesforce_url)) == before
