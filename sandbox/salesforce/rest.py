"""The REST API under /services/data (reference 2): versions, query/queryAll with paging,
sObject rows, upsert by external ID, describe and limits. Collections and Composite live in
`composite.py` and reuse these handlers.

Handlers take a `Call` (method, version, query arguments, JSON body, user) and return a
`Reply`, so Flask views and Composite subrequests run exactly the same code.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from werkzeug.routing import Map, Rule

from . import ids
from .errors import ApiError, not_found
from .query import QueryEngine
from .schema import SObject
from .store import Ambiguous, Org

MIN_VERSION, LATEST_VERSION = 20.0, 66.0
DEFAULT_BATCH, MIN_BATCH, MAX_BATCH = 2000, 200, 2000
MAX_CURSORS = 500
_VERSION = re.compile(r"^\d{2}\.0$")
_RELEASES = {59.0: "Winter '24", 60.0: "Spring '24", 61.0: "Summer '24", 62.0: "Winter '25", 63.0: "Spring '25",
             64.0: "Summer '25", 65.0: "Winter '26", 66.0: "Spring '26"}


@dataclass
class Call:
    method: str
    version: str
    args: dict
    body: object
    user_id: str | None
    headers: dict = field(default_factory=dict)


@dataclass
class Reply:
    status: int
    body: object = None
    headers: dict = field(default_factory=dict)
    # Set when equal keys always mean equal bodies, so the JSON text may be reused.
    cache_key: tuple | None = None


def versions_list() -> list[dict]:
    """GET /services/data/: every supported version, oldest first."""
    out = []
    version = MIN_VERSION
    while version <= LATEST_VERSION:
        label = _RELEASES.get(version, f"API {version:.1f}")
        out.append({"label": label, "url": f"/services/data/v{version:.1f}", "version": f"{version:.1f}"})
        version += 1
    return out


def valid_version(text: str) -> bool:
    return bool(_VERSION.match(text)) and MIN_VERSION <= float(text) <= LATEST_VERSION


class Cursors:
    """Query locators for nextRecordsUrl: the remaining rows of a query, kept for a while."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rows: OrderedDict[str, tuple[list[dict], int]] = OrderedDict()
        self._numbers = itertools.count(1)

    def open(self, rows: list[dict], batch: int) -> str:
        locator = ids.to_18(f"01gMf{next(self._numbers):010d}")
        with self._lock:
            self._rows[locator] = (rows, batch)
            while len(self._rows) > MAX_CURSORS:
                self._rows.popitem(last=False)
        return locator

    def get(self, locator: str) -> tuple[list[dict], int] | None:
        with self._lock:
            return self._rows.get(locator)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


class RestApi:
    def __init__(self, org: Org, cursors: Cursors):
        self.org = org
        self.queries = QueryEngine(org)
        self.cursors = cursors
        prefix = "/services/data/v<version>"
        rules: list[tuple[str, str, tuple[str, ...], Callable]] = [
            ("", "resources", ("GET",), self.resources),
            ("/query", "query", ("GET",), self.query),
            ("/queryAll", "query_all", ("GET",), self.query_all),
            ("/query/<locator>", "query_more", ("GET",), self.query_more),
            ("/queryAll/<locator>", "query_all_more", ("GET",), self.query_more),
            ("/limits", "limits", ("GET",), self.limits),
            ("/sobjects", "describe_global", ("GET",), self.describe_global),
            ("/sobjects/<sobject>", "sobject", ("GET", "POST"), self.sobject_root),
            ("/sobjects/<sobject>/describe", "describe", ("GET",), self.describe),
            ("/sobjects/<sobject>/<record_id>", "record", ("GET", "PATCH", "DELETE"), self.record),
            ("/sobjects/<sobject>/<ext_field>/<path:ext_value>", "by_external_id", ("GET", "PATCH", "DELETE"),
             self.by_external_id),
        ]
        self.handlers: dict[str, Callable] = {}
        self.templates: list[tuple[str, str, tuple[str, ...]]] = []
        self.map = Map(strict_slashes=False, merge_slashes=False)
        for suffix, endpoint, methods, handler in rules:
            self.add(prefix + suffix, endpoint, methods, handler)

    def add(self, template: str, endpoint: str, methods, handler) -> None:
        self.handlers[endpoint] = handler
        self.map.add(Rule(template, endpoint=endpoint, methods=list(methods)))
        self.templates.append((template, endpoint, tuple(methods)))

    def dispatch(self, endpoint: str, call: Call, url_args: dict) -> Reply:
        """Run one handler; errors become Salesforce's error array."""
        if not valid_version(call.version):
            return _error_reply(not_found())
        try:
            return self.handlers[endpoint](call, **url_args)
        except ApiError as error:
            return _error_reply(error)

    # ----- resources, limits ------------------------------------------------------------

    def resources(self, call: Call) -> Reply:
        base = f"/services/data/v{call.version}"
        names = ("tooling", "metadata", "eclair", "folders", "prechatForms", "contact-tracing", "chatter",
                 "tabs", "appMenu", "quickActions", "queryAll", "commerce", "wave", "iot", "analytics",
                 "search", "identity", "composite", "parameterizedSearch", "fingerprint", "theme", "nouns",
                 "event", "serviceTemplates", "recent", "connect", "licensing", "limits", "process",
                 "async-queries", "query", "match", "emailConnect", "compactLayouts", "knowledgeManagement",
                 "sobjects", "actions", "support")
        body = {name: f"{base}/{name}" for name in names}
        body["identity"] = f"/id/{ids.ORG_ID}/{call.user_id}"
        return Reply(200, body)

    def limits(self, call: Call) -> Reply:
        limit = self.org.settings.daily_api_limit
        remaining = max(0, limit - self.org.api_used)
        return Reply(200, {
            "DailyApiRequests": {"Max": limit, "Remaining": remaining},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
            "SingleEmail": {"Max": 15, "Remaining": 15},
            "MassEmail": {"Max": 10, "Remaining": 10},
        })

    # ----- query ------------------------------------------------------------------------

    def query(self, call: Call, include_deleted: bool = False) -> Reply:
        text = call.args.get("q")
        if not text:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        total, rows, key = self.queries.run_keyed(text, include_deleted, call.version)
        batch = _batch_size(call.headers)
        reply = Reply(200, self._page(rows, total, 0, batch, None, call.version))
        if key is not None and reply.body["done"]:  # a page with a cursor is new each time
            reply.cache_key = key + (batch,)
        return reply

    def query_all(self, call: Call) -> Reply:
        return self.query(call, include_deleted=True)

    def query_more(self, call: Call, locator: str) -> Reply:
        name, _, offset_text = locator.rpartition("-")
        found = self.cursors.get(name)
        if found is None or not offset_text.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows, batch = found
        offset = int(offset_text)
        return Reply(200, self._page(rows, len(rows), offset, batch, name, call.version))

    def _page(self, rows, total, offset, batch, locator, version) -> dict:
        page = rows[offset:offset + batch]
        body = {"totalSize": total, "done": offset + batch >= len(rows)}
        if not body["done"]:
            # queryAll pages continue through query/ too: the locator remembers the rows.
            locator = locator or self.cursors.open(rows, batch)
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + batch}"
        body["records"] = page
        return body

    # ----- describe ---------------------------------------------------------------------

    def _sobject(self, name: str) -> SObject:
        obj = self.org.sobject(name)
        if obj is None:
            raise not_found()
        return obj

    def describe_global(self, call: Call) -> Reply:
        return Reply(200, {"encoding": "UTF-8", "maxBatchSize": 200,
                           "sobjects": [self._basic(o, call.version) for o in self.org.schema.values()]})

    def _basic(self, obj: SObject, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{obj.name}"
        return {
            "name": obj.name, "label": obj.label, "labelPlural": obj.label + "s", "keyPrefix": obj.key_prefix,
            "createable": obj.createable, "updateable": obj.updateable, "deletable": obj.deletable,
            "queryable": True, "retrieveable": True, "searchable": obj.name not in ("TaskRelation", "TaskWhoRelation"),
            "custom": False, "layoutable": obj.createable,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    def sobject_root(self, call: Call, sobject: str) -> Reply:
        obj = self._sobject(sobject)
        if call.method == "GET":
            return Reply(200, {"objectDescribe": self._basic(obj, call.version), "recentItems": []})
        if not isinstance(call.body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
        record_id = self.org.create(obj.name, call.body, call.user_id)
        return Reply(201, {"id": record_id, "success": True, "errors": []},
                     {"Location": f"/services/data/v{call.version}/sobjects/{obj.name}/{record_id}"})

    def describe(self, call: Call, sobject: str) -> Reply:
        obj = self._sobject(sobject)
        body = self._basic(obj, call.version)
        body["fields"] = [_describe_field(f) for f in obj.fields.values()]
        body["childRelationships"] = [
            {"childSObject": c.child, "field": c.field, "relationshipName": c.name, "cascadeDelete": c.child != "Task"}
            for c in obj.children.values()
        ]
        body["recordTypeInfos"] = []
        return Reply(200, body)

    # ----- rows -------------------------------------------------------------------------

    def record(self, call: Call, sobject: str, record_id: str) -> Reply:
        obj = self._sobject(sobject)
        normal = ids.normalize(record_id)
        if call.method == "PATCH":
            if not isinstance(call.body, dict):
                raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
            self._must_exist(obj, normal)
            self.org.update(obj.name, normal, call.body, call.user_id)
            return Reply(204)
        if call.method == "DELETE":
            self._must_exist(obj, normal)
            self.org.delete(obj.name, normal)
            return Reply(204)
        record = self.org.get(obj.name, normal or "")
        if record is None:
            raise not_found()
        return Reply(200, self._shape(obj, record, call))

    def _must_exist(self, obj: SObject, record_id: str | None) -> None:
        if not record_id or (self.org.get(obj.name, record_id) is None and record_id not in self.org.deleted.get(obj.name, {})):
            raise not_found()

    def _shape(self, obj: SObject, record: dict, call: Call) -> dict:
        wanted = call.args.get("fields")
        if wanted:
            names = []
            for name in wanted.split(","):
                f = obj.field(name.strip())
                if f is None:
                    raise ApiError(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{obj.name}'. If "
                                   "you are attempting to use a custom field, be sure to append the '__c' after the "
                                   "custom field name. Please reference your WSDL or the describe call for the "
                                   "appropriate names.")
                names.append(f.name)
        else:
            names = list(obj.fields)
        out = {"attributes": {"type": obj.name, "url": f"/services/data/v{call.version}/sobjects/{obj.name}/{record['Id']}"}}
        for name in names:
            out[name] = record.get(name)
        return out

    def by_external_id(self, call: Call, sobject: str, ext_field: str, ext_value: str) -> Reply:
        obj = self._sobject(sobject)
        f = obj.field(ext_field)
        if f is None or not (f.external_id or f.name == "Id"):
            raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {ext_field}")
        if call.method == "PATCH":
            return self._upsert(obj, f.name, ext_value, call)
        matches = self.org.lookup(obj.name, f.name, [ext_value]) if f.name != "Id" else \
            [r for r in [self.org.get(obj.name, ids.normalize(ext_value) or "")] if r]
        if matches is None:
            matches = [r for r in self.org.rows(obj.name) if str(r.get(f.name) or "").lower() == ext_value.lower()]
        if len(matches) > 1:
            return Reply(300, [f"/services/data/v{call.version}/sobjects/{obj.name}/{r['Id']}" for r in matches])
        if not matches:
            raise not_found()
        if call.method == "DELETE":
            self.org.delete(obj.name, matches[0]["Id"])
            return Reply(204)
        return Reply(200, self._shape(obj, matches[0], call))

    def _upsert(self, obj: SObject, field_name: str, value: str, call: Call) -> Reply:
        if not isinstance(call.body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
        try:
            record_id, created = self.org.upsert(obj.name, field_name, value, call.body, call.user_id)
        except Ambiguous as many:
            return Reply(300, [f"/services/data/v{call.version}/sobjects/{obj.name}/{i}" for i in many.ids])
        if created:
            return Reply(201, {"id": record_id, "success": True, "errors": [], "created": True},
                         {"Location": f"/services/data/v{call.version}/sobjects/{obj.name}/{record_id}"})
        if float(call.version) < 46.0:
            return Reply(204)  # updates answered 204 before API 46.0 (reference 2.4)
        return Reply(200, {"id": record_id, "success": True, "errors": [], "created": False})


def _describe_field(f) -> dict:
    return {
        "name": f.name, "label": f.label, "type": f.type, "length": f.length,
        "nillable": not f.required and f.type != "boolean" and f.name != "Id",
        "createable": f.createable, "updateable": f.updateable, "defaultedOnCreate": f.default is not None,
        "externalId": f.external_id, "unique": f.unique, "caseSensitive": False,
        "idLookup": f.name == "Id" or f.external_id or f.name in ("Email", "Name", "Username"),
        "filterable": not (f.type == "textarea" and f.length > 255), "sortable": f.type != "textarea",
        "referenceTo": list(f.reference_to), "relationshipName": f.relationship_name,
        "polymorphicForeignKey": len(f.reference_to) > 1, "custom": f.name.endswith("__c"),
        "restrictedPicklist": f.restricted, "defaultValue": f.default if f.type != "boolean" else None,
        "picklistValues": [{"value": v, "label": v, "active": True, "defaultValue": v == f.default}
                           for v in f.picklist],
    }


def _batch_size(headers: dict) -> int:
    """Sforce-Query-Options: batchSize=N is a hint within 200..2000 (reference 2.2)."""
    options = headers.get("Sforce-Query-Options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    if not match:
        return DEFAULT_BATCH
    return min(MAX_BATCH, max(MIN_BATCH, int(match.group(1))))


def _error_reply(error: ApiError) -> Reply:
    return Reply(error.status, error.body())


def parse_json_body(raw: bytes):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except RecursionError:
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body is nested too deeply") from None
    except ValueError as problem:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {problem}") from None

