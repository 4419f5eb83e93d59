"""The sandbox org: records in memory, the save rules Salesforce applies to them, and
indexes so matching queries stay fast.

Every public method takes the org's lock (an RLock, so a Composite request can hold it across
its subrequests and roll back as one). Writes go through `_put`/`_drop`, which keep the
indexes right and, inside a transaction, remember what to undo.
"""

from __future__ import annotations

import datetime as dt
import pickle
import re
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from . import ids
from .errors import DmlError
from .schema import EXTERNAL_ID_FIELD, WHAT_TYPES, SObject, build_schema

# Fields looked up by value often enough to index: the email match (SPEC 3), the upsert key,
# and the foreign keys that child subqueries and activity timelines follow.
INDEXED_FIELDS = {
    "User": ("Email", "Username"),
    "Contact": ("Email", "AccountId"),
    "Lead": ("Email", "ConvertedContactId"),
    "Account": (),
    "Opportunity": ("AccountId",),
    "Case": ("AccountId", "ContactId"),
    "Task": (EXTERNAL_ID_FIELD, "WhoId", "WhatId"),
    "TaskRelation": ("TaskId", "RelationId"),
}
# Parents load before the records that point at them.
LOAD_ORDER = ("User", "Account", "Contact", "Lead", "Opportunity", "Case", "Task", "TaskRelation")
MAX_WHO_CONTACTS = 50
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def now_stamp() -> str:
    """Salesforce's datetime format: milliseconds and a +0000 offset."""
    return format_datetime(dt.datetime.now(dt.timezone.utc))


def format_datetime(value: dt.datetime) -> str:
    value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # +0000 without a colon
            return parse_datetime(text[:-2] + ":" + text[-2:])
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@dataclass
class OrgSettings:
    """What an admin could change in a real org, plus the sandbox's fault switches."""

    shared_activities: bool = True
    external_id_field: bool = True
    daily_api_limit: int = 15000  # Developer Edition's flat allowance (reference 2.9)
    session_lifetime_seconds: int = 7200  # the default API session timeout (reference 1.4)
    # {"sobject": "Task", "field": "Subject", "contains": "text" | "blank": true, "message": "..."}
    validation_rule: dict | None = None
    # {"sobject": "Task" | "*", "count": n}: the next n writes fail with UNABLE_TO_LOCK_ROW.
    lock_row: dict | None = None
    # How an update naming a create-only field (Task.TaskSubtype) is refused. Salesforce's
    # exact code is unconfirmed (reference salesforce 6, wave2 10); the default is its usual
    # answer for a field the user may not write, INVALID_FIELD_FOR_INSERT_UPDATE "Unable to
    # create/update fields: …" naming the field. {"code", "message", "fields"} answers another,
    # so a test can show Mailferry does not depend on the guess.
    create_only_refusal: dict | None = None
    # API request bursts (reference wave2 8.1; "Limit Info Header", headers_api_usage.htm, whose
    # example is `api-usage=110018/100000; api-bursts=1/750`): an org with a monthly burst
    # entitlement keeps working past its daily limit, and every answer then says
    # `; api-bursts=<bursts this month>/<entitlement>`. 0 = no entitlement: the header has no
    # api-bursts part and the daily limit is a hard stop. `api_burst_headroom` is how many
    # calls past the daily limit one burst lets through before TotalRequests is refused.
    api_bursts_monthly: int = 0
    api_burst_headroom: int = 0
    # Concurrent long-running requests (reference 2.9 and wave2 8.1; "API Request Limits and
    # Allocations" in the limits cheat sheet; help 000389067): at most 25 requests lasting
    # 20 s or more at once in production and sandboxes, 5 in Developer and trial orgs (this
    # org's daily allowance is Developer Edition's, so 5). Past it every new request is
    # refused with 403 REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn Limit exceeded." until
    # one finishes. `other_long_requests` are long requests other integrations of the org
    # hold open right now (a test knob); `long_request_ms` is when a request counts as long.
    concurrent_long_requests_limit: int = 5
    long_request_ms: int = 20_000
    other_long_requests: int = 0

    def as_json(self) -> dict:
        return asdict(self)


class Ambiguous(Exception):
    """An external ID value matched several records (upsert answers 300)."""

    def __init__(self, ids_: list[str]):
        self.ids = ids_


class Org:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings = OrgSettings()
        self.schema: dict[str, SObject] = build_schema()
        self.schema_version = 0  # bumps when fields or objects appear or vanish
        self._ids = ids.IdMaker()
        self._journal: list | None = None
        self.api_used = 0
        self.api_bursts_used = 0  # bursts this month (not kept across restarts)
        # Requests under /services/data being answered now: request key → start (monotonic).
        self.in_flight: dict[int, float] = {}
        # Bumps on every change to any record, so cached query answers know when they are stale.
        self.generation = 0
        self._clear()

    # ----- loading and settings ---------------------------------------------------------

    def _clear(self) -> None:
        self.generation += 1
        self.records: dict[str, dict[str, dict]] = {name: {} for name in LOAD_ORDER}
        self.deleted: dict[str, dict[str, dict]] = {name: {} for name in LOAD_ORDER}
        self._index = {
            (name, f): defaultdict(set) for name, fields in INDEXED_FIELDS.items() for f in fields
        }

    def load(self, salesforce: dict[str, list[dict]], settings: OrgSettings | None = None) -> None:
        """Replace everything with a world's records (unknown fields are ignored)."""
        with self.lock:
            self.settings = settings or OrgSettings()
            self._rebuild_schema()
            self._clear()
            self.api_used = 0
            self.api_bursts_used = 0
            for name in LOAD_ORDER:
                for raw in salesforce.get(name, []):
                    self.insert_raw(name, raw, lenient=True)

    def dump(self) -> bytes:
        """The records (live and in the recycle bin), settings, API usage and the Id counter."""
        with self.lock:
            return pickle.dumps((self.settings, self.records, self.deleted, self.api_used, self._ids.last),
                                protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, saved: bytes) -> None:
        with self.lock:
            settings, records, deleted, api_used, last_id = pickle.loads(saved)
            self.settings = settings
            self._rebuild_schema()
            self._clear()
            for name, table in records.items():
                for record in table.values():
                    self._put(name, record)
            self.deleted.update(deleted)
            self.api_used = api_used
            self._ids = ids.IdMaker(last_id)

    def update_settings(self, changes: dict) -> OrgSettings:
        with self.lock:
            for key, value in changes.items():
                setattr(self.settings, key, value)
            self._rebuild_schema()
            self.generation += 1
            return self.settings

    def _rebuild_schema(self) -> None:
        self.schema = build_schema(self.settings.shared_activities, self.settings.external_id_field)
        self.schema_version += 1

    def sobject(self, name: str) -> SObject | None:
        """The sObject by name, any case (Salesforce names are case-insensitive)."""
        found = self.schema.get(name)
        if found:
            return found
        lower = name.lower()
        return next((o for n, o in self.schema.items() if n.lower() == lower), None)

    def default_user_id(self) -> str | None:
        users = [u for u in self.records["User"].values() if u.get("IsActive", True)]
        return users[0]["Id"] if users else None

    # ----- reading ----------------------------------------------------------------------

    def get(self, type_name: str, record_id: str) -> dict | None:
        with self.lock:
            if type_name == "TaskWhoRelation":
                rel = self.records["TaskRelation"].get(record_id)
                return self._who_view(rel) if rel and not rel["IsWhat"] else None
            return self.records.get(type_name, {}).get(record_id)

    def type_of(self, record_id: str) -> str | None:
        """Which live record type an Id belongs to (by key prefix, then existence)."""
        prefix = record_id[:3]
        for name in LOAD_ORDER:
            obj = self.schema.get(name)
            if obj and obj.key_prefix == prefix and record_id in self.records[name]:
                return name
        return None

    def rows(self, type_name: str, include_deleted: bool = False) -> list[dict]:
        if type_name == "TaskWhoRelation":
            return [self._who_view(r) for r in self.rows("TaskRelation", include_deleted) if not r["IsWhat"]]
        live = list(self.records.get(type_name, {}).values())
        return live + list(self.deleted.get(type_name, {}).values()) if include_deleted else live

    def lookup(self, type_name: str, field_name: str, values) -> list[dict] | None:
        """Records whose indexed field equals one of `values` (case-insensitive); None when the
        field is not indexed, so the caller scans instead."""
        source = "TaskRelation" if type_name == "TaskWhoRelation" else type_name
        index = self._index.get((source, field_name))
        if index is None:
            return None
        table = self.records[source]
        found: dict[str, dict] = {}
        for value in values:
            if isinstance(value, str):
                for record_id in index.get(value.lower(), ()):
                    found[record_id] = table[record_id]
        rows = list(found.values())
        if type_name == "TaskWhoRelation":
            rows = [self._who_view(r) for r in rows if not r["IsWhat"]]
        return rows

    def _who_view(self, relation: dict) -> dict:
        view = {k: relation[k] for k in relation if k != "IsWhat"}
        view["Type"] = self.type_of(relation["RelationId"]) or relation["RelationId"][:3]
        return view

    # ----- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self):
        """All writes inside succeed together or are undone (allOrNone, Composite)."""
        with self.lock:
            outer = self._journal
            self._journal = []
            try:
                yield
            except BaseException:
                self._undo(self._journal)
                self._journal = outer
                raise
            if outer is not None:
                outer.extend(self._journal)
            self._journal = outer

    def _undo(self, journal: list) -> None:
        self.generation += 1
        for type_name, record_id, before, was_deleted in reversed(journal):
            current = self.records[type_name].get(record_id)
            if current is not None:
                self._unindex(type_name, current)
                del self.records[type_name][record_id]
            self.deleted[type_name].pop(record_id, None)
            if before is not None:
                if was_deleted:
                    self.deleted[type_name][record_id] = before
                else:
                    self.records[type_name][record_id] = before
                    self._reindex(type_name, before)

    def _remember(self, type_name: str, record_id: str) -> None:
        if self._journal is None:
            return
        live = self.records[type_name].get(record_id)
        gone = self.deleted[type_name].get(record_id)
        self._journal.append((type_name, record_id, live or gone, live is None and gone is not None))

    def _put(self, type_name: str, record: dict) -> None:
        self.generation += 1
        self._remember(type_name, record["Id"])
        old = self.records[type_name].get(record["Id"])
        if old is not None:
            self._unindex(type_name, old)
        self.records[type_name][record["Id"]] = record
        self._reindex(type_name, record)

    def _drop(self, type_name: str, record_id: str) -> None:
        self.generation += 1
        self._remember(type_name, record_id)
        record = self.records[type_name].pop(record_id)
        self._unindex(type_name, record)
        self.deleted[type_name][record_id] = dict(record, IsDeleted=True)

    def _reindex(self, type_name: str, record: dict) -> None:
        for f in INDEXED_FIELDS.get(type_name, ()):
            value = record.get(f)
            if isinstance(value, str):
                self._index[(type_name, f)][value.lower()].add(record["Id"])

    def _unindex(self, type_name: str, record: dict) -> None:
        for f in INDEXED_FIELDS.get(type_name, ()):
            value = record.get(f)
            if isinstance(value, str):
                bucket = self._index[(type_name, f)].get(value.lower())
                if bucket:
                    bucket.discard(record["Id"])
                    if not bucket:
                        del self._index[(type_name, f)][value.lower()]

    # ----- writing ----------------------------------------------------------------------

    def insert_raw(self, type_name: str, raw: dict, lenient: bool = False) -> str:
        """Store a record as an admin import would: field names and types are checked (unless
        lenient), but no save rules run. Used by world loading and the control API."""
        with self.lock:
            obj = self._writable_type(type_name)
            record = {name: f.default for name, f in obj.fields.items()}
            for key, value in raw.items():
                f = obj.field(key)
                if key == "attributes":
                    continue
                if f is None:
                    if lenient:
                        continue
                    raise DmlError("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key])
                try:
                    record[f.name] = self._clean_value(obj, f.name, value, check_refs=False)
                except DmlError:
                    if not lenient:
                        raise
                    record[f.name] = value  # a world may hold what the API would refuse; keep it
            record_id = ids.normalize(record.get("Id") or "") or self._ids.make(obj.key_prefix)
            stamp = now_stamp()
            record.update(Id=record_id, IsDeleted=False)
            for key in ("CreatedDate", "LastModifiedDate"):
                record[key] = record.get(key) or stamp
            # An import may set the audit fields (CreatedDate, LastModifiedDate), never
            # SystemModstamp: the platform stamps every write itself, which is what makes it
            # a change feed (reference wave2.md 8.2, 9.8). Only a world being loaded (lenient)
            # keeps the history it was saved with.
            record["SystemModstamp"] = (lenient and record.get("SystemModstamp")) or stamp
            owner = record.get("OwnerId") if "OwnerId" in obj.fields else None
            for key in ("CreatedById", "LastModifiedById"):
                record[key] = record.get(key) or owner or self.default_user_id()
            self._derive(obj.name, record)
            self._put(obj.name, record)
            if obj.name == "Task" and self.settings.shared_activities:
                self._sync_primary_relations(record, None)
            return record_id

    def create(self, type_name: str, fields: dict, user_id: str | None) -> str:
        with self.lock:
            obj = self._writable_type(type_name)
            if not obj.createable:
                raise DmlError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support insert")
            values = self._check_fields(obj, fields, creating=True)
            self._lock_fault(obj.name, None)
            record = {name: f.default for name, f in obj.fields.items()}
            record.update(values)
            missing = [f.name for f in obj.fields.values() if f.required and record.get(f.name) in (None, "")]
            if missing:
                raise DmlError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
            if "OwnerId" in obj.fields and not record.get("OwnerId"):
                record["OwnerId"] = user_id
            stamp = now_stamp()
            record.update(
                Id=self._ids.make(obj.key_prefix), IsDeleted=False, CreatedDate=stamp, LastModifiedDate=stamp,
                SystemModstamp=stamp, CreatedById=user_id, LastModifiedById=user_id,
            )
            self._before_save(obj, record, None)
            with self.transaction():
                self._put(obj.name, record)
                self._after_save(obj, record, None)
            return record["Id"]

    def update(self, type_name: str, record_id: str, fields: dict, user_id: str | None) -> None:
        with self.lock:
            obj = self._writable_type(type_name)
            old = self._existing(obj, record_id)
            if not obj.updateable:
                raise DmlError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support update")
            values = self._check_fields(obj, fields, creating=False)
            if obj.name == "Lead" and old.get("IsConverted"):
                raise DmlError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
            self._lock_fault(obj.name, old["Id"])
            record = dict(old)
            record.update(values)
            missing = [f.name for f in obj.fields.values() if f.required and f.name in values and values[f.name] in (None, "")]
            if missing:
                raise DmlError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
            record.update(LastModifiedDate=now_stamp(), LastModifiedById=user_id)
            record["SystemModstamp"] = record["LastModifiedDate"]
            self._before_save(obj, record, old)
            with self.transaction():
                self._put(obj.name, record)
                self._after_save(obj, record, old)

    def delete(self, type_name: str, record_id: str) -> None:
        with self.lock:
            obj = self._writable_type(type_name)
            if not obj.deletable:
                raise DmlError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support delete")
            record = self._existing(obj, record_id)
            if obj.name == "Lead" and record.get("IsConverted"):
                raise DmlError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
            self._lock_fault(obj.name, record["Id"])
            with self.transaction():
                if obj.name == "Task":
                    for rel in self.lookup("TaskRelation", "TaskId", [record["Id"]]) or []:
                        self._drop("TaskRelation", rel["Id"])
                if obj.name == "TaskRelation":
                    self._relation_removed(record)
                self._drop(obj.name, record["Id"])

    def upsert(self, type_name: str, ext_field: str, value: str, fields: dict, user_id: str | None) -> tuple[str, bool]:
        """Create or update by external ID; (Id, created). Raises Ambiguous on several matches."""
        with self.lock:
            obj = self._writable_type(type_name)
            f = obj.field(ext_field)
            if f is not None and f.name == "Id":
                matches = [r for r in [self.records[obj.name].get(ids.normalize(value) or "")] if r]
            else:
                matches = self.lookup(obj.name, f.name, [value]) if f else []
                if matches is None:
                    matches = [r for r in self.records[obj.name].values() if _same(r.get(f.name), value)]
            if len(matches) > 1:
                raise Ambiguous([r["Id"] for r in matches])
            body = {k: v for k, v in fields.items() if k.lower() != f.name.lower()}
            if matches:
                self.update(obj.name, matches[0]["Id"], body, user_id)
                return matches[0]["Id"], False
            if f.name != "Id":
                body[f.name] = value
            return self.create(obj.name, body, user_id), True

    def convert_lead(self, lead_id: str, contact_id: str | None = None, account_id: str | None = None) -> dict:
        """Convert a lead as a sales rep would (the control API's shortcut; no API call does
        this over REST): make or reuse the contact and account, mark the lead converted, and
        move its activities to the contact, as Salesforce does."""
        with self.lock, self.transaction():
            lead = self.records["Lead"].get(ids.normalize(lead_id) or "")
            if lead is None:
                raise DmlError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            if lead.get("IsConverted"):
                raise DmlError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
            owner = lead.get("OwnerId") or self.default_user_id()
            if account_id is None:
                account_id = self.insert_raw("Account", {"Name": lead.get("Company"), "OwnerId": owner})
            if contact_id is None:
                contact_id = self.insert_raw("Contact", {
                    "FirstName": lead.get("FirstName"), "LastName": lead.get("LastName"), "Email": lead.get("Email"),
                    "Phone": lead.get("Phone"), "Title": lead.get("Title"), "AccountId": account_id, "OwnerId": owner})
            contact_id, account_id = ids.normalize(contact_id), ids.normalize(account_id)
            if contact_id not in self.records["Contact"] or account_id not in self.records["Account"]:
                raise DmlError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            stamp = now_stamp()
            self._put("Lead", dict(lead, IsConverted=True, ConvertedContactId=contact_id, ConvertedAccountId=account_id,
                                   ConvertedDate=stamp[:10], Status="Closed - Converted", LastModifiedDate=stamp,
                                   SystemModstamp=stamp))
            for task in list(self.lookup("Task", "WhoId", [lead["Id"]]) or []):
                # A derived change is a write too: SystemModstamp moves (reference wave2.md 9.8).
                moved = dict(task, WhoId=contact_id, SystemModstamp=stamp)
                self._derive("Task", moved)
                self._put("Task", moved)
            for relation in list(self.lookup("TaskRelation", "RelationId", [lead["Id"]]) or []):
                moved = dict(relation, RelationId=contact_id, SystemModstamp=stamp)
                self._derive("TaskRelation", moved)
                self._put("TaskRelation", moved)
            return {"lead_id": lead["Id"], "contact_id": contact_id, "account_id": account_id}

    # ----- save rules -------------------------------------------------------------------

    def _writable_type(self, type_name: str) -> SObject:
        obj = self.sobject(type_name)
        if obj is None or obj.name not in self.records:
            raise DmlError("INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
        return obj

    def _existing(self, obj: SObject, record_id: str) -> dict:
        normal = ids.normalize(record_id)
        record = self.records[obj.name].get(normal or "")
        if record is None:
            if normal and normal in self.deleted[obj.name]:
                raise DmlError("ENTITY_IS_DELETED", "entity is deleted")
            raise DmlError("INVALID_CROSS_REFERENCE_KEY" if normal else "MALFORMED_ID",
                           "invalid cross reference id" if normal else f"malformed id {record_id}")
        return record

    def _check_fields(self, obj: SObject, fields: dict, creating: bool) -> dict:
        values: dict = {}
        locked = []
        for key, value in fields.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            if f is None:
                raise DmlError("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key])
            if f.name == "Id" and not creating:
                continue  # an Id in an update body names the record; it is not a change
            if not (f.createable if creating else f.updateable):
                locked.append(f.name)
                continue
            values[f.name] = self._clean_value(obj, f.name, value, check_refs=True)
        if locked and not creating and self.settings.create_only_refusal:
            rule = self.settings.create_only_refusal
            raise DmlError(str(rule.get("code") or "INVALID_FIELD_FOR_INSERT_UPDATE"),
                           str(rule.get("message") or "Field is not writeable"), list(rule.get("fields") or []))
        if locked:
            raise DmlError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security settings "
                "of this field and verify that it is read/write for your profile or permission set.",
                locked,
            )
        return values

    def _clean_value(self, obj: SObject, name: str, value, check_refs: bool):
        f = obj.fields[name]
        if value is None:
            return None
        if f.type == "boolean":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if not isinstance(value, bool):
                raise _parse_error(value, "boolean")
            return value
        if f.type in ("double", "currency"):
            if isinstance(value, bool):
                raise _parse_error(value, "double")
            try:
                return float(value)
            except (TypeError, ValueError):
                raise _parse_error(value, "double") from None
        if isinstance(value, (dict, list, bool)):
            raise _parse_error(value, "String")
        text = value if isinstance(value, str) else str(value)
        if f.type == "date":
            if not _DATE.match(text):
                raise _parse_error(text, "Date")
            return text[:10]
        if f.type == "datetime":
            parsed = parse_datetime(text)
            if parsed is None:
                raise _parse_error(text, "DateTime")
            return format_datetime(parsed)
        if f.type in ("reference", "id"):
            return self._clean_reference(f, text, check_refs)
        if f.length and len(text) > f.length:
            raise DmlError("STRING_TOO_LONG", f"{f.label}: data value too large: {text[:40]}... (max length={f.length})", [f.name])
        if f.type == "email" and text and not _EMAIL.match(text):
            raise DmlError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {text}", [f.name])
        if f.restricted and text not in f.picklist:
            raise DmlError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                           f"{f.label}: bad value for restricted picklist field: {text}", [f.name])
        return text

    def _clean_reference(self, f, text: str, check_refs: bool) -> str | None:
        if text == "":
            return None
        normal = ids.normalize(text)
        if normal is None:
            raise DmlError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {text}", [f.name])
        if not check_refs or f.type == "id":
            return normal
        target = self.type_of(normal)
        if target is None:
            raise DmlError("INVALID_CROSS_REFERENCE_KEY", f"{f.label}: invalid cross reference id", [f.name])
        if target not in f.reference_to:
            raise DmlError("FIELD_INTEGRITY_EXCEPTION", f"{f.label}: id value of incorrect type: {text}", [f.name])
        if target == "Lead" and self.records["Lead"][normal].get("IsConverted"):
            raise DmlError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [f.name])
        return normal

    def _lock_fault(self, type_name: str, record_id: str | None) -> None:
        rule = self.settings.lock_row
        if not rule or rule.get("count", 0) <= 0 or rule.get("sobject", "*") not in ("*", type_name):
            return
        rule["count"] -= 1  # deliberately outside any transaction: a spent fault stays spent
        suffix = f" or 1 records: {record_id}" if record_id else ""
        raise DmlError("UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record{suffix}")

    def _validation_rule(self, obj: SObject, record: dict) -> None:
        rule = self.settings.validation_rule
        if not rule or rule.get("sobject", obj.name) != obj.name:
            return
        field_name = rule.get("field", "")
        value = record.get(obj.field(field_name).name) if obj.field(field_name) else None
        text = "" if value is None else str(value)
        if "contains" in rule:
            fires = str(rule["contains"]).lower() in text.lower()
        else:
            fires = bool(rule.get("blank")) and not text.strip()
        if fires:
            raise DmlError("FIELD_CUSTOM_VALIDATION_EXCEPTION",
                           rule.get("message", "This record is blocked by a validation rule."),
                           [obj.field(field_name).name] if obj.field(field_name) else [])

    def _before_save(self, obj: SObject, record: dict, old: dict | None) -> None:
        self._validation_rule(obj, record)
        if obj.name == "Task":
            self._check_task(record, old)
        elif obj.name == "TaskRelation":
            self._check_relation(record)
        if EXTERNAL_ID_FIELD in obj.fields and obj.fields[EXTERNAL_ID_FIELD].unique:
            key = record.get(EXTERNAL_ID_FIELD)
            if key:
                clash = [i for i in self._index[(obj.name, EXTERNAL_ID_FIELD)].get(key.lower(), ()) if i != record["Id"]]
                if clash:
                    raise DmlError("DUPLICATE_VALUE", f"duplicate value found: {EXTERNAL_ID_FIELD} duplicates value "
                                   f"on record with id: {clash[0]}", [EXTERNAL_ID_FIELD])
        self._derive(obj.name, record)

    def _after_save(self, obj: SObject, record: dict, old: dict | None) -> None:
        if obj.name == "Task" and self.settings.shared_activities:
            self._sync_primary_relations(record, old)
        elif obj.name == "TaskRelation":
            self._after_relation_insert(record)

    def _derive(self, type_name: str, record: dict) -> None:
        """Fields Salesforce computes: Name, a Task's closed state and account, a relation's kind."""
        if type_name in ("Contact", "Lead", "User"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        elif type_name == "Task":
            closed = record.get("Status") == "Completed"
            if closed and not record.get("IsClosed"):
                record["CompletedDateTime"] = now_stamp()
            record["IsClosed"] = closed
            if not closed:
                record["CompletedDateTime"] = None
            record["AccountId"] = self._account_of(record.get("WhatId")) or self._account_of(record.get("WhoId"))
        elif type_name == "TaskRelation":
            kind = self.type_of(record["RelationId"]) if record.get("RelationId") else None
            record["IsWhat"] = kind in WHAT_TYPES
            record["AccountId"] = self._account_of(record.get("RelationId"))

    def _account_of(self, record_id: str | None) -> str | None:
        if not record_id:
            return None
        kind = self.type_of(record_id)
        if kind == "Account":
            return record_id
        if kind in ("Contact", "Opportunity", "Case"):
            return self.records[kind][record_id].get("AccountId")
        return None

    # ----- Shared Activities (reference 3.2, SPEC 3) ------------------------------------

    def _whos(self, task_id: str) -> list[str]:
        rels = self.lookup("TaskRelation", "TaskId", [task_id]) or []
        return [r["RelationId"] for r in sorted(rels, key=lambda r: r["CreatedDate"]) if not r["IsWhat"]]

    def _check_who_set(self, whos: list[str]) -> None:
        kinds = [self.type_of(w) for w in whos]
        leads, contacts = kinds.count("Lead"), kinds.count("Contact")
        if leads and contacts or leads > 1:
            raise DmlError("FIELD_INTEGRITY_EXCEPTION",
                           "An activity can be related to only one lead, or to up to 50 contacts; "
                           "leads and contacts can't be mixed.", ["RelationId"])
        if contacts > MAX_WHO_CONTACTS:
            raise DmlError("LIMIT_EXCEEDED", f"An activity can be related to at most {MAX_WHO_CONTACTS} contacts.",
                           ["RelationId"])

    def _check_task(self, record: dict, old: dict | None) -> None:
        who, what = record.get("WhoId"), record.get("WhatId")
        if who and what and self.type_of(who) == "Lead":
            raise DmlError("FIELD_INTEGRITY_EXCEPTION",
                           "Related To ID: a task whose Name is a lead can't be related to another record.",
                           ["WhatId"])
        if self.settings.shared_activities and old is not None:
            whos = [w for w in self._whos(record["Id"]) if w != old.get("WhoId")]
            if who and who not in whos:
                whos.insert(0, who)
            self._check_who_set(whos)

    def _check_relation(self, record: dict) -> None:
        task = self.records["Task"].get(record["TaskId"])
        if task is None:
            raise DmlError("INVALID_CROSS_REFERENCE_KEY", "Task ID: invalid cross reference id", ["TaskId"])
        relation = record["RelationId"]
        existing = self.lookup("TaskRelation", "TaskId", [task["Id"]]) or []
        if any(r["RelationId"] == relation for r in existing):
            raise DmlError("DUPLICATE_VALUE", f"duplicate value found: RelationId duplicates value on record with id: "
                           f"{next(r['Id'] for r in existing if r['RelationId'] == relation)}", ["RelationId"])
        kind = self.type_of(relation)
        if kind in WHAT_TYPES:
            if task.get("WhatId") or (task.get("WhoId") and self.type_of(task["WhoId"]) == "Lead"):
                raise DmlError("FIELD_INTEGRITY_EXCEPTION", "This task already has a related-to record, or its Name "
                               "is a lead.", ["RelationId"])
            return
        self._check_who_set(self._whos(task["Id"]) + [relation])

    def _sync_primary_relations(self, task: dict, old: dict | None) -> None:
        """With Shared Activities the WhoId and WhatId are also TaskRelation rows."""
        rels = {r["RelationId"]: r for r in self.lookup("TaskRelation", "TaskId", [task["Id"]]) or []}
        for key in ("WhoId", "WhatId"):
            before = old.get(key) if old else None
            after = task.get(key)
            if before == after and (after is None or after in rels):
                continue
            if before and before in rels:
                self._drop("TaskRelation", rels.pop(before)["Id"])
            if after and after not in rels:
                relation = {name: f.default for name, f in self.schema["TaskRelation"].fields.items()}
                relation.update(
                    Id=self._ids.make("0RT"), TaskId=task["Id"], RelationId=after, IsDeleted=False,
                    CreatedDate=task["LastModifiedDate"], LastModifiedDate=task["LastModifiedDate"],
                    SystemModstamp=task["LastModifiedDate"], CreatedById=task.get("LastModifiedById"),
                    LastModifiedById=task.get("LastModifiedById"),
                )
                self._derive("TaskRelation", relation)
                self._put("TaskRelation", relation)

    def _after_relation_insert(self, relation: dict) -> None:
        task = self.records["Task"][relation["TaskId"]]
        key = "WhatId" if relation["IsWhat"] else "WhoId"
        if not task.get(key):
            updated = dict(task, **{key: relation["RelationId"]})
            self._derive("Task", updated)
            self._put("Task", updated)

    def _relation_removed(self, relation: dict) -> None:
        """Deleting the relation behind WhoId promotes the next who (reference 3.2)."""
        task = self.records["Task"].get(relation["TaskId"])
        if task is None:
            return
        updated = dict(task)
        if relation["IsWhat"] and task.get("WhatId") == relation["RelationId"]:
            updated["WhatId"] = None
        elif task.get("WhoId") == relation["RelationId"]:
            others = [w for w in self._whos(task["Id"]) if w != relation["RelationId"]]
            updated["WhoId"] = others[0] if others else None
        if updated != task:
            self._derive("Task", updated)
            self._put("Task", updated)


def _same(stored, value: str) -> bool:
    return isinstance(stored, str) and stored.lower() == value.lower()


def _parse_error(value, kind: str) -> DmlError:
    return DmlError("JSON_PARSER_ERROR", f"Cannot deserialize instance of {kind} from value {value!r}")

