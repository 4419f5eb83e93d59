"""sObject Collections (reference 2.5) and Composite (reference 2.6).

Both answer 200 with per-item results. allOrNone runs the items inside one org transaction
and undoes it when any item fails. A Composite request holds the org's lock for its whole
run, so its subrequests see each other's writes and nobody else's half-done ones.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from werkzeug.exceptions import HTTPException

from . import ids
from .errors import ApiError, DmlError
from .rest import Call, Reply, RestApi
from .store import Ambiguous

MAX_COLLECTION = 200
MAX_SUBREQUESTS = 25
MAX_QUERY_OR_COLLECTION = 5
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}
HALTED_MESSAGE = "The transaction was rolled back since another operation in the same transaction failed."
_REFERENCE = re.compile(r"@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class _Rollback(Exception):
    """Raised inside a transaction to undo it after collecting every item's result."""


def install(api: RestApi) -> None:
    prefix = "/services/data/v<version>"
    handlers = Collections(api)
    api.add(prefix + "/composite/sobjects", "collections", ("POST", "PATCH", "DELETE"), handlers.collection)
    api.add(prefix + "/composite/sobjects/<sobject>/<ext_field>", "collections_upsert", ("PATCH",), handlers.upsert)
    api.add(prefix + "/composite", "composite", ("POST",), Composite(api).run)


class Collections:
    def __init__(self, api: RestApi):
        self.api = api
        self.org = api.org

    def collection(self, call: Call) -> Reply:
        if call.method == "DELETE":
            id_list = [i for i in (call.args.get("ids") or "").split(",") if i]
            all_or_none = str(call.args.get("allOrNone", "false")).lower() == "true"
            _check_size(len(id_list))
            return self._run([(i, None) for i in id_list], all_or_none, self._delete_one)
        body = _body_object(call)
        records = body.get("records")
        if not isinstance(records, list):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a 'records' array in the request body")
        _check_size(len(records))
        work = self._create_one if call.method == "POST" else self._update_one
        return self._run([(r, call.user_id) for r in records], bool(body.get("allOrNone")), work)

    def upsert(self, call: Call, sobject: str, ext_field: str) -> Reply:
        obj = self.org.sobject(sobject)
        if obj is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        f = obj.field(ext_field)
        if f is None or not f.external_id:
            raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {ext_field}")
        body = _body_object(call)
        records = body.get("records")
        if not isinstance(records, list):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a 'records' array in the request body")
        _check_size(len(records))

        def upsert_one(record, user_id):
            if not isinstance(record, dict):
                raise DmlError("JSON_PARSER_ERROR", "Each record must be a JSON object")
            kind = (record.get("attributes") or {}).get("type", obj.name)
            if kind.lower() != obj.name.lower():
                raise DmlError("INVALID_TYPE", f"Records must all be of type {obj.name}")
            value = next((v for k, v in record.items() if k.lower() == f.name.lower()), None)
            if value in (None, ""):
                raise DmlError("MISSING_ARGUMENT", f"{f.name} not specified", [f.name])
            fields = {k: v for k, v in record.items() if k != "attributes"}
            try:
                record_id, created = self.org.upsert(obj.name, f.name, str(value), fields, user_id)
            except Ambiguous as many:
                raise DmlError("DUPLICATE_EXTERNAL_ID", f"{f.name}: more than one record found for external id "
                               f"field: {many.ids}", [f.name]) from None
            return {"id": record_id, "success": True, "errors": [], "created": created}

        return self._run([(r, call.user_id) for r in records], bool(body.get("allOrNone")), upsert_one)

    def _create_one(self, record, user_id) -> dict:
        kind = _record_type(record)
        fields = {k: v for k, v in record.items() if k != "attributes"}
        return {"id": self.org.create(kind, fields, user_id), "success": True, "errors": []}

    def _update_one(self, record, user_id) -> dict:
        kind = _record_type(record)
        record_id = next((v for k, v in record.items() if k.lower() == "id"), None)
        if not record_id:
            raise DmlError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        fields = {k: v for k, v in record.items() if k not in ("attributes",) and k.lower() != "id"}
        self.org.update(kind, record_id, fields, user_id)
        return {"id": ids.normalize(record_id), "success": True, "errors": []}

    def _delete_one(self, record_id, _user) -> dict:
        normal = ids.normalize(record_id)
        kind = self.org.type_of(normal) if normal else None
        if kind is None:
            deleted = normal and any(normal in table for table in self.org.deleted.values())
            raise DmlError("ENTITY_IS_DELETED" if deleted else "INVALID_CROSS_REFERENCE_KEY",
                           "entity is deleted" if deleted else "invalid cross reference id")
        self.org.delete(kind, normal)
        return {"id": normal, "success": True, "errors": []}

    def _run(self, items, all_or_none: bool, work) -> Reply:
        """One result per item, in order; allOrNone undoes everything when one fails."""
        results: list[dict] = []
        failed = False
        with self.org.lock:
            try:
                with self.org.transaction():
                    for item, user_id in items:
                        try:
                            with self.org.transaction():  # an item's own writes stand or fall together
                                results.append(work(item, user_id))
                        except DmlError as error:
                            failed = True
                            results.append({**_input_id(item), "success": False, "errors": [error.collection_item()]})
                    if failed and all_or_none:
                        raise _Rollback
            except _Rollback:
                results = [
                    result if not result["success"] else
                    {**_input_id(item), "success": False, "errors": [dict(ROLLED_BACK)]}
                    for result, (item, _) in zip(results, items)
                ]
        return Reply(200, results)


def _input_id(item) -> dict:
    """The Id an item named itself (update, delete); creates and upserts have none to echo."""
    if isinstance(item, str):
        return {"id": item}
    if isinstance(item, dict):
        record_id = next((v for k, v in item.items() if k.lower() == "id"), None)
        if record_id:
            return {"id": record_id}
    return {}


def _record_type(record) -> str:
    if not isinstance(record, dict):
        raise DmlError("JSON_PARSER_ERROR", "Each record must be a JSON object")
    kind = (record.get("attributes") or {}).get("type")
    if not kind:
        raise DmlError("INVALID_TYPE", "Must specify a type in attributes")
    return kind


def _check_size(count: int) -> None:
    if count > MAX_COLLECTION:
        raise ApiError(400, "EXCEEDED_ID_LIMIT",
                       f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call")


def _body_object(call: Call) -> dict:
    if not isinstance(call.body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return call.body


class Composite:
    def __init__(self, api: RestApi):
        self.api = api
        self.org = api.org
        self.adapter = api.map.bind("localhost")

    def run(self, call: Call) -> Reply:
        body = _body_object(call)
        subrequests = body.get("compositeRequest")
        if not isinstance(subrequests, list) or not subrequests:
            raise ApiError(400, "INVALID_INPUT", "compositeRequest must be a non-empty array")
        if len(subrequests) > MAX_SUBREQUESTS:
            raise ApiError(400, "LIMIT_EXCEEDED", f"Composite request limited to {MAX_SUBREQUESTS} subrequests")
        seen = set()
        heavy = 0
        for sub in subrequests:
            if not isinstance(sub, dict) or not isinstance(sub.get("url"), str) or not sub.get("method"):
                raise ApiError(400, "INVALID_INPUT", "Each subrequest needs method, url and referenceId")
            ref = sub.get("referenceId")
            if not isinstance(ref, str) or not _REFERENCE_ID.match(ref) or ref in seen:
                raise ApiError(400, "INVALID_INPUT", f"Invalid or duplicate referenceId: {ref!r}")
            seen.add(ref)
            path = urlsplit(sub["url"]).path
            if re.search(r"/(query|queryAll|composite/sobjects)(/|$)", path):
                heavy += 1
        if heavy > MAX_QUERY_OR_COLLECTION:
            raise ApiError(400, "LIMIT_EXCEEDED", f"Composite request limited to {MAX_QUERY_OR_COLLECTION} query "
                           "or sObject Collections subrequests")
        all_or_none = bool(body.get("allOrNone"))
        outputs: list[dict] = []
        done: dict[str, Reply] = {}
        with self.org.lock:
            try:
                with self.org.transaction():
                    for sub in subrequests:
                        reply = self._one(sub, call, done)
                        done[sub["referenceId"]] = reply
                        outputs.append(_sub_response(sub["referenceId"], reply))
                        if all_or_none and reply.status >= 400:
                            raise _Rollback
            except _Rollback:
                halted = [{"errorCode": "PROCESSING_HALTED", "message": HALTED_MESSAGE}]
                failed_ref = outputs[-1]["referenceId"]
                outputs = [o if o["referenceId"] == failed_ref else
                           {"body": halted, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": o["referenceId"]}
                           for o in outputs]
                for sub in subrequests[len(outputs):]:
                    outputs.append({"body": halted, "httpHeaders": {}, "httpStatusCode": 400,
                                    "referenceId": sub["referenceId"]})
        return Reply(200, {"compositeResponse": outputs})

    def _one(self, sub: dict, call: Call, done: dict[str, Reply]) -> Reply:
        try:
            url = _substitute(sub["url"], done, in_url=True)
            body = _substitute(sub.get("body"), done, in_url=False)
        except _Unresolved as missing:
            return Reply(400, [{"errorCode": "PROCESSING_HALTED", "message": (
                f"Invalid reference specified. No value for {missing.args[0]} found in {missing.args[1]}. Provided "
                f"referenceId ('{missing.args[1]}') might not exist or its corresponding subrequest failed.")}])
        parts = urlsplit(url)
        try:
            endpoint, url_args = self.adapter.match(parts.path, method=str(sub["method"]).upper())
        except HTTPException:
            return Reply(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        if endpoint == "composite":
            return Reply(400, [{"errorCode": "INVALID_INPUT", "message": "Composite requests can't be nested"}])
        version = url_args.pop("version")
        args = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = dict(sub.get("httpHeaders") or {})
        sub_call = Call(str(sub["method"]).upper(), version, args, body, call.user_id, headers)
        return self.api.dispatch(endpoint, sub_call, url_args)


def _sub_response(ref: str, reply: Reply) -> dict:
    headers = {k: v for k, v in reply.headers.items() if k.lower() != "content-length"}
    return {"body": reply.body, "httpHeaders": headers, "httpStatusCode": reply.status, "referenceId": ref}


class _Unresolved(Exception):
    pass


def _substitute(value, done: dict[str, Reply], in_url: bool):
    """Replace @{ref.path} with values from earlier subresults, in strings anywhere in `value`."""
    if isinstance(value, dict):
        return {k: _substitute(v, done, in_url) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, done, in_url) for v in value]
    if not isinstance(value, str) or "@{" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole and not in_url:
        return _resolve(whole, done)  # a lone reference keeps the referenced value's JSON type
    return _REFERENCE.sub(lambda m: _as_text(_resolve(m, done)), value)


def _resolve(match: re.Match, done: dict[str, Reply]):
    ref, path = match.group(1), match.group(2)
    reply = done.get(ref)
    label = ref + path
    if reply is None or reply.status >= 400:
        raise _Unresolved(label, ref)
    current = reply.body
    for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        key, index = step
        try:
            current = current[int(index)] if index else current[key]
        except (KeyError, IndexError, TypeError):
            raise _Unresolved(label, ref) from None
    return current


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else (value if isinstance(value, str) else json.dumps(value))
