"""Recording emails as Tasks: upserts on `Mailferry_Key__c` through sObject Collections
inside Composite calls, the TaskRelations for further contacts, and deletes (SPEC section 3).

The Task's content is decided by `mailferry.allowances` (`task_fields`, `task_key`, the
allocation's `relation_ids`); this module only transports it, in as few calls as it can:
up to 5 collections of 200 records per Composite call, so 1,000 Tasks are one call and their
TaskRelations usually one more. Every item gets its own result, so one bad email (a
validation rule, a locked row) never fails its neighbours.

Safe to run twice: the upsert key makes a retry update the same Task, and a relation that
already exists (DUPLICATE_VALUE) counts as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from mailferry.allowances import CREATE_ONLY_FIELDS
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.salesforce.batching import (
    COLLECTION_SIZE,
    MAX_HEAVY_SUBREQUESTS,
    in_list_queries,
    packed,
    run_queries,
)
from worker.salesforce.errors import EXTERNAL_ID_FIELD, classify, first_error, setup_fix
from worker.salesforce.session import SalesforceSession
from worker.salesforce.setup import SetupCheck, check_setup  # noqa: F401  (part of this module's interface)

_TASK_ID = re.compile(r"^00T[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")
# Whole-batch problems: raised, because every item would fail the same way.
_RAISED_KINDS = (ErrorKind.SETUP, ErrorKind.AUTH, ErrorKind.BUDGET)


@dataclass(frozen=True)
class TaskWrite:
    """One email's Task: its key, its fields and the further contacts to relate."""

    key: str  # Mailferry_Key__c, from allowances.task_key
    fields: Mapping[str, Any]  # allowances.task_fields (TaskSubtype included; dropped on update)
    relation_ids: tuple[str, ...] = ()  # allocation.relation_ids: one TaskRelation each
    # The Task id recorded when this email synced before (Message.salesforce_task_id): the
    # write is then sent as an update straight away, saving the refused first attempt.
    existing_task_id: str | None = None


@dataclass(frozen=True)
class WriteResult:
    """What happened to one TaskWrite. `ok` is true only when the Task and all its relations
    are written; otherwise the email is Unresolved with the error, retried with backoff."""

    key: str
    ok: bool
    task_id: str | None = None
    created: bool | None = None
    error_code: str = ""
    error_message: str = ""
    relations_added: int = 0
    relations_removed: int = 0


@dataclass(frozen=True)
class DeleteResult:
    """What happened to one Task to delete (named by key or by id). A Task already gone is ok."""

    target: str
    ok: bool
    task_id: str | None = None
    already_gone: bool = False
    error_code: str = ""
    error_message: str = ""


@dataclass
class _Item:
    write: TaskWrite
    task_id: str | None = None
    created: bool | None = None
    error: tuple[str, str, list] | None = None
    added: int = 0
    removed: int = 0
    relation_errors: list = field(default_factory=list)


def write_tasks(sf: SalesforceSession, writes: Sequence[TaskWrite], *,
                shared_activities: bool = True) -> list[WriteResult]:
    """Upsert every Task and its relations; one result per write, in order.

    Raises ProviderError for what no single item causes: the key field missing (SETUP), the
    session refused (AUTH), the org's limit reached (BUDGET), an outage of the whole call
    (TEMPORARY). With `shared_activities` false no TaskRelation is touched (the org has none).
    """
    keys = [w.key for w in writes]
    if len(set(k.lower() for k in keys)) != len(keys):
        raise ValueError("two writes share a Mailferry_Key__c; one email is one Task")
    items = [_Item(w) for w in writes]
    _upsert(sf, items, first_attempt=True)
    # TaskSubtype is create-only (reference 3.1): an upsert that turned out to be an update
    # is refused for it, so those items go again without it. Creates keep it. A key another
    # worker created a moment ago (DUPLICATE_VALUE on the key) is now an update as well.
    again = [i for i in items if i.error and (_refused_create_only(i.error) or _lost_create_race(i.error))]
    # Salesforce's code for that refusal is not confirmed: an item that carried a create-only
    # field and failed some other way for good is sent again without it if its key already
    # names a Task (then it was an update), whatever the code said. One query per batch.
    unsure = [i for i in items if i.error and i not in again and _carried_create_only(i.write)
              and not classify(*i.error).retryable]
    if unsure:
        existing = _task_ids_by_key(sf, [i.write.key for i in unsure])
        again += [i for i in unsure if i.write.key.lower() in existing]
    if again:
        for item in again:
            item.error = None
        _upsert(sf, again, first_attempt=False)
    # Sent as an update but created: someone deleted the Task in Salesforce since. The new
    # one lacks TaskSubtype = Email, which can only be set on create: make it again.
    remade = [i for i in items if i.write.existing_task_id and i.created and not i.error]
    if remade:
        gone = _delete_ids(sf, [i.task_id for i in remade])
        remade = [i for i in remade if gone[i.task_id][0]]
        for item in remade:
            item.task_id = item.created = None
        _upsert(sf, remade, first_attempt=False, with_create_only=True)
    if shared_activities:
        _relate(sf, [i for i in items if i.task_id and not i.error])
    return [_result(i) for i in items]


def delete_tasks(sf: SalesforceSession, keys_or_ids: Iterable[str]) -> list[DeleteResult]:
    """Delete Tasks named by Mailferry_Key__c or by Task id; one result each, in order.

    Keys are turned into ids with one query (batched); a key or id with no Task is
    `already_gone` (a retry after a crash, or someone deleted it in Salesforce).
    """
    targets = list(dict.fromkeys(keys_or_ids))
    keys = [t for t in targets if not _TASK_ID.match(t)]
    ids_by_target: dict[str, str | None] = {t: t for t in targets if _TASK_ID.match(t)}
    if keys:
        found = _task_ids_by_key(sf, keys)
        for key in keys:
            ids_by_target[key] = found.get(key.lower())
    to_delete = list(dict.fromkeys(i for i in ids_by_target.values() if i))
    outcomes = _delete_ids(sf, to_delete)
    results = []
    for target in targets:
        task_id = ids_by_target.get(target)
        if not task_id:
            results.append(DeleteResult(target, True, None, already_gone=True))
            continue
        ok, gone, error = outcomes[task_id]
        if ok:
            results.append(DeleteResult(target, True, task_id, already_gone=gone))
        else:
            code, message, _ = error
            results.append(DeleteResult(target, False, task_id, error_code=code, error_message=message))
    return results


# ----- upserts ------------------------------------------------------------------------------


def _upsert(sf: SalesforceSession, items: list[_Item], first_attempt: bool, with_create_only: bool = False) -> None:
    """Upsert the items' Tasks. A first attempt carries the create-only fields unless the
    write names an existing Task; later attempts carry them only when told to."""
    url = f"{sf.data_path}composite/sobjects/Task/{EXTERNAL_ID_FIELD}"
    collections = list(packed(items, COLLECTION_SIZE))
    for group in packed(collections, MAX_HEAVY_SUBREQUESTS):
        subrequests = [
            {"method": "PATCH", "url": url, "referenceId": f"tasks{n}",
             "body": {"allOrNone": False, "records": [
                 _task_record(i.write, with_create_only or (first_attempt and not i.write.existing_task_id))
                 for i in collection]}}
            for n, collection in enumerate(group)
        ]
        answers = sf.composite(subrequests)
        for collection, answer in zip(group, answers):
            _apply_collection_answer(collection, answer)


def _task_record(write: TaskWrite, with_create_only: bool) -> dict:
    fields = {k: v for k, v in write.fields.items()
              if with_create_only or k not in CREATE_ONLY_FIELDS}
    fields.pop("Id", None)
    return {"attributes": {"type": "Task"}, **fields, EXTERNAL_ID_FIELD: write.key}


def _apply_collection_answer(collection: Sequence[_Item], answer: dict) -> None:
    status = int(answer.get("httpStatusCode") or 0)
    body = answer.get("body")
    if status != 200 or not isinstance(body, list):
        _whole_collection_failed(collection, status, body)
        return
    for item, outcome in zip(collection, body):
        if outcome.get("success"):
            item.task_id, item.created, item.error = outcome.get("id"), outcome.get("created"), None
        else:
            item.error = first_error(outcome.get("errors") or [])


def _whole_collection_failed(collection: Sequence[_Item], status: int, body) -> None:
    """A collection subrequest answered with an error of its own: raise what concerns every
    item (setup, auth, budget), else give each item that error."""
    code, message, fields = first_error(body)
    verdict = classify(code, message, fields, status)
    if verdict.kind in _RAISED_KINDS:
        if verdict.kind == ErrorKind.SETUP:
            message = f"{message} {setup_fix(code, message)}".strip()
        raise ProviderError(verdict.kind, "salesforce", message, code=code, status=status)
    for item in collection:
        item.error = (code or str(status), message, fields)


def _task_ids_by_key(sf: SalesforceSession, keys: list[str]) -> dict[str, str]:
    """{key (lower case): Task id} for the keys that name a Task (batched queries)."""
    found: dict[str, str] = {}
    template = f"SELECT Id, {EXTERNAL_ID_FIELD} FROM Task WHERE {EXTERNAL_ID_FIELD} IN {{}}"
    for records in run_queries(sf, in_list_queries(sf, template, keys)):
        for record in records:
            found[str(record.get(EXTERNAL_ID_FIELD) or "").lower()] = record["Id"]
    return found


def _carried_create_only(write: TaskWrite) -> bool:
    """Whether the first attempt sent a create-only field (see `_upsert`)."""
    return not write.existing_task_id and any(f in write.fields for f in CREATE_ONLY_FIELDS)


def _lost_create_race(error: tuple[str, str, list]) -> bool:
    code, message, fields = error
    return code == "DUPLICATE_VALUE" and (EXTERNAL_ID_FIELD in fields or EXTERNAL_ID_FIELD in message)


def _refused_create_only(error: tuple[str, str, list]) -> bool:
    """The refusal of a create-only field on an update as far as known (the code is
    unconfirmed; `write_tasks` falls back to checking whether the Task exists)."""
    code, message, fields = error
    named = set(fields) | {f for f in CREATE_ONLY_FIELDS if f in message}
    return code == "INVALID_FIELD_FOR_INSERT_UPDATE" and bool(named & CREATE_ONLY_FIELDS)


# ----- relations ----------------------------------------------------------------------------


def _relate(sf: SalesforceSession, items: list[_Item]) -> None:
    """Make each Task's TaskRelations (Who contacts beyond the WhoId) what its write says.

    A new Task needs every relation created. An updated Task may have some already, and
    some the email no longer has (a participant removed): those are read first, then the
    missing ones created and the stale ones deleted, in the same Composite calls.
    """
    existing: dict[str, dict[str, str]] = {}  # task id → {relation id (15) → TaskRelation id}
    updated = [i.task_id for i in items if i.created is False]
    if updated:
        statements = in_list_queries(
            sf, "SELECT Id, TaskId, RelationId FROM TaskRelation WHERE IsWhat = false AND TaskId IN {}", updated)
        for records in run_queries(sf, statements):
            for record in records:
                existing.setdefault(record["TaskId"][:15], {})[record["RelationId"][:15]] = record["Id"]
    creates: list[tuple[_Item, dict]] = []
    deletes: list[tuple[_Item, str]] = []
    for item in items:
        have = existing.get(item.task_id[:15], {})
        who = str(item.write.fields.get("WhoId") or "")[:15]
        wanted = {r[:15] for r in item.write.relation_ids} | ({who} if who else set())
        for relation_id in dict.fromkeys(item.write.relation_ids):
            if relation_id[:15] not in have and relation_id[:15] != who:
                creates.append((item, {"attributes": {"type": "TaskRelation"}, "TaskId": item.task_id,
                                       "RelationId": relation_id}))
        deletes += [(item, rel_row) for rel_id, rel_row in have.items() if rel_id not in wanted]
    _run_relation_changes(sf, creates, deletes)


def _run_relation_changes(sf: SalesforceSession, creates: list[tuple[_Item, dict]],
                          deletes: list[tuple[_Item, str]]) -> None:
    # Each collection is one heavy subrequest; creates and deletes share the Composite calls.
    batches: list[tuple[str, list]] = [("create", list(c)) for c in packed(creates, COLLECTION_SIZE)]
    batches += [("delete", list(d)) for d in packed(deletes, COLLECTION_SIZE)]
    for group in packed(batches, MAX_HEAVY_SUBREQUESTS):
        subrequests = []
        for n, (action, batch) in enumerate(group):
            if action == "create":
                subrequests.append({"method": "POST", "url": f"{sf.data_path}composite/sobjects",
                                    "referenceId": f"relate{n}",
                                    "body": {"allOrNone": False, "records": [record for _, record in batch]}})
            else:
                ids = ",".join(row for _, row in batch)
                subrequests.append({"method": "DELETE", "referenceId": f"unrelate{n}",
                                    "url": f"{sf.data_path}composite/sobjects?ids={ids}&allOrNone=false"})
        answers = sf.composite(subrequests)
        for (action, batch), answer in zip(group, answers):
            status = int(answer.get("httpStatusCode") or 0)
            body = answer.get("body")
            if status != 200 or not isinstance(body, list):
                code, message, fields = first_error(body)
                verdict = classify(code, message, fields, status)
                if verdict.kind in _RAISED_KINDS:
                    raise ProviderError(verdict.kind, "salesforce", message, code=code, status=status)
                for item, _ in batch:
                    item.relation_errors.append((code or str(status), message, fields))
                continue
            for (item, _), outcome in zip(batch, body):
                code, message, fields = first_error(outcome.get("errors") or [])
                if outcome.get("success"):
                    if action == "create":
                        item.added += 1
                    else:
                        item.removed += 1
                elif action == "create" and code == "DUPLICATE_VALUE":
                    pass  # made by an earlier attempt of this same write
                elif action == "delete" and code in ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"):
                    pass  # gone already
                else:
                    item.relation_errors.append((code, message, fields))


# ----- deletes ------------------------------------------------------------------------------


def _delete_ids(sf: SalesforceSession, task_ids: list[str]) -> dict[str, tuple[bool, bool, tuple | None]]:
    """{task id: (ok, already gone, error)} for a Collections delete of every id."""
    outcomes: dict[str, tuple[bool, bool, tuple | None]] = {}
    chunks = list(packed(task_ids, COLLECTION_SIZE))
    for group in packed(chunks, MAX_HEAVY_SUBREQUESTS):
        subrequests = [{"method": "DELETE", "referenceId": f"del{n}",
                        "url": f"{sf.data_path}composite/sobjects?ids={','.join(chunk)}&allOrNone=false"}
                       for n, chunk in enumerate(group)]
        for chunk, answer in zip(group, sf.composite(subrequests)):
            status = int(answer.get("httpStatusCode") or 0)
            body = answer.get("body")
            if status != 200 or not isinstance(body, list):
                error = first_error(body)
                verdict = classify(*error, status=status)
                if verdict.kind in _RAISED_KINDS:
                    raise ProviderError(verdict.kind, "salesforce", error[1], code=error[0], status=status)
                outcomes.update({task_id: (False, False, error) for task_id in chunk})
                continue
            for task_id, outcome in zip(chunk, body):
                error = first_error(outcome.get("errors") or [])
                if outcome.get("success"):
                    outcomes[task_id] = (True, False, None)
                elif error[0] in ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"):
                    outcomes[task_id] = (True, True, None)
                else:
                    outcomes[task_id] = (False, False, error)
    return outcomes


def _result(item: _Item) -> WriteResult:
    error = item.error or (item.relation_errors[0] if item.relation_errors else None)
    if error is None:
        return WriteResult(item.write.key, True, item.task_id, item.created,
                           relations_added=item.added, relations_removed=item.removed)
    code, message, _ = error
    return WriteResult(item.write.key, False, item.task_id, item.created, error_code=code, error_message=message,
                       relations_added=item.added, relations_removed=item.removed)
