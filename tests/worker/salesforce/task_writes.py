"""Task writes made the way the pipeline makes them, and the Tasks and relations the sandbox
then holds: what the writer's tests and others that write Tasks share."""

from __future__ import annotations

from datetime import datetime, timezone

from mailferry.allowances import MatchedRecord, apply_allowances, task_fields, task_key
from mailferry.decision import Participant
from worker.salesforce.writer import TaskWrite

SENT = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


def email_write(n: int, owner_id: str, contact_ids: list[str], subject: str | None = None,
                shared: bool = True, body: str = "Hello") -> TaskWrite:
    """A TaskWrite made the way the pipeline makes it: allowances, task_fields, task_key."""
    records = [MatchedRecord("Contact", cid, f"C{i}", f"c{i}@w.example", None, "to", i)
               for i, cid in enumerate(contact_ids)]
    allocation = apply_allowances(records, "outgoing", shared)
    fields = task_fields(subject=subject or f"Proposal {n}",
                         participants=[Participant("from", "rep@mailferry.example", "Rep")]
                         + [Participant("to", r.address) for r in records],
                         message_date=SENT, body=body, time_zone="Europe/Paris", owner_id=owner_id,
                         allocation=allocation)
    return TaskWrite(key=task_key(1, 1, f"<m{n}@mail.example>"), fields=fields, relation_ids=allocation.relation_ids)


def tasks_with_key(salesforce_control, key: str) -> list[dict]:
    return salesforce_control.records("Task", Mailferry_Key__c=key)


def who_relations(salesforce_control, task_id: str) -> set[str]:
    return {r["RelationId"] for r in salesforce_control.records("TaskRelation", TaskId=task_id) if not r["IsWhat"]}
