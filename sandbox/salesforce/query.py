"""Running SOQL against the org: check a parsed query against the schema (INVALID_TYPE,
INVALID_FIELD, type mismatches in filters), turn it into plain Python functions, and
evaluate it: candidates from an index when the filter allows, filter, sort, page, and shape
the records the way the REST API does (reference 2.2).

Compiled plans are cached per query text and schema version, because Mailferry sends the
same few query shapes many times a second.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Callable

from . import ids
from .schema import Field, SObject
from .soql import ANY_ONE, ANY_RUN, Compare, Count, Literal, Logic, Path, Query, SoqlError, parse
from .store import Org, format_datetime

MAX_OFFSET = 2000
# Fields of the polymorphic "Name" entity behind Who, What and Owner (reference 3.1).
_NAME_FIELDS = {
    n: Field(n, "id" if n == "Id" else "string", 255, n, createable=False, updateable=False)
    for n in ("Id", "Name", "Type", "FirstName", "LastName", "Email", "Title", "Phone", "Alias", "Username")
}
_NO_FIELD = "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, be sure to " \
            "append the '__c' after the custom field name. Please reference your WSDL or the describe call for " \
            "the appropriate names."
_NO_RELATION = "Didn't understand relationship '{name}' in {where}. If you are attempting to use a custom " \
               "relationship, be sure to append the '__r' after the custom relationship name. Please reference " \
               "your WSDL or the describe call for the appropriate names."
_NO_TYPE = "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to append " \
           "the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."


@dataclass
class Column:
    """One SELECT item: a field (maybe through relationships) or a child subquery."""

    steps: tuple[tuple[str, Field], ...] = ()  # (relationship name, reference field) pairs
    field: Field | None = None
    child: "Plan | None" = None
    child_name: str = ""
    child_key: str = ""


@dataclass
class Plan:
    obj: SObject
    columns: list[Column]
    count_only: bool
    predicate: Callable[[dict], bool] | None
    hint: tuple[str, list[str]] | None
    order: list[tuple[Callable, bool, bool, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    # The hint is the whole filter (e.g. `Email IN (...)` alone): indexed rows need no re-test.
    hint_exact: bool = False
    # Field names when every column is a plain field of the record: the fast way to shape rows.
    flat_fields: tuple[str, ...] | None = None
    # Uses TODAY-style date literals, whose meaning moves with the clock: never cached.
    volatile: bool = False


class QueryEngine:
    def __init__(self, org: Org):
        self.org = org
        self._plans: dict[tuple[str, int], Plan] = {}
        # Answers of recent queries, valid while the org's generation is unchanged: Mailferry
        # and the benchmarks repeat identical lookups between writes.
        self._answers: dict[tuple, tuple[int, list[dict]]] = {}
        self._lock = threading.Lock()

    def plan(self, text: str) -> Plan:
        key = (text, self.org.schema_version)
        found = self._plans.get(key)
        if found is None:
            compiler = _Compiler(self, text)
            found = compiler.query(parse(text), parent=None)
            found.volatile = compiler.volatile
            with self._lock:
                if len(self._plans) > 2000:
                    self._plans.clear()
                self._plans[key] = found
        return found

    def run(self, text: str, include_deleted: bool, version: str) -> tuple[int, list[dict]]:
        """(totalSize, every matching record shaped for the REST API)."""
        total, rows, _ = self.run_keyed(text, include_deleted, version)
        return total, rows

    def run_keyed(self, text: str, include_deleted: bool, version: str) -> tuple[int, list[dict], tuple | None]:
        """As `run`, plus a key naming this exact answer (None when it depends on the clock):
        the same key always means the same records, so callers may cache what they make of it."""
        plan = self.plan(text)
        with self.org.lock:
            key = (text, include_deleted, version, self.org.generation)
            answer = self._answers.get(key)
            if answer is None or plan.volatile:
                rows = self._select(plan, include_deleted)
                if plan.count_only:
                    answer = (len(rows), [])
                else:
                    answer = (len(rows), [self._shape(plan, row, version) for row in rows])
                if len(self._answers) > 256:
                    self._answers.clear()
                self._answers[key] = answer
            return answer[0], answer[1], None if plan.volatile else key

    # ----- evaluation -------------------------------------------------------------------

    def _select(self, plan: Plan, include_deleted: bool, rows: list[dict] | None = None) -> list[dict]:
        exact = False
        if rows is None:
            rows, exact = self._candidates(plan, include_deleted)
        if plan.predicate is not None and not exact:
            rows = [r for r in rows if plan.predicate(r)]
        for getter, descending, nulls_last, _ in reversed(plan.order):
            null_flag = 1 if nulls_last != descending else 0

            def key(row, getter=getter, null_flag=null_flag):
                value = getter(row)
                return (null_flag, "") if value is None else (1 - null_flag, _sortable(value))

            rows.sort(key=key, reverse=descending)
        start = plan.offset or 0
        end = None if plan.limit is None else start + plan.limit
        return rows[start:end] if (start or end is not None) else rows

    def _candidates(self, plan: Plan, include_deleted: bool) -> tuple[list[dict], bool]:
        """Rows to test, and whether they are exactly the answer already (an index hit)."""
        if plan.hint and not include_deleted:
            name, values = plan.hint
            if name == "Id":
                return [r for r in (self.org.get(plan.obj.name, v) for v in values) if r], False
            found = self.org.lookup(plan.obj.name, name, values)
            if found is not None:
                return found, plan.hint_exact
        return self.org.rows(plan.obj.name, include_deleted), False

    def _shape(self, plan: Plan, row: dict, version: str) -> dict:
        out = {"attributes": _attributes(plan.obj.name, row["Id"], version)}
        if plan.flat_fields is not None:
            for name in plan.flat_fields:
                out[name] = row.get(name)
            return out
        for column in plan.columns:
            if column.child is not None:
                out[column.child_name] = self._child_result(column, row, version)
                continue
            target, record = out, row
            for rel_name, ref in column.steps:
                if rel_name in target:
                    if target[rel_name] is None:
                        break
                    record = self._follow(record, ref)
                    target = target[rel_name]
                    continue
                record = self._follow(record, ref)
                if record is None:
                    target[rel_name] = None
                    break
                target[rel_name] = {"attributes": _attributes(self.org.type_of(record["Id"]), record["Id"], version)}
                target = target[rel_name]
            else:
                target[column.field.name] = self._value(record, column.field)
        return out

    def _child_result(self, column: Column, parent: dict, version: str) -> dict | None:
        plan = column.child
        rows = self.org.lookup(plan.obj.name, column.child_key, [parent["Id"]])
        if rows is None:
            rows = [r for r in self.org.rows(plan.obj.name) if r.get(column.child_key) == parent["Id"]]
        rows = self._select(plan, False, list(rows))
        if not rows:
            return None  # an empty child relationship comes back as null
        return {"totalSize": len(rows), "done": True, "records": [self._shape(plan, r, version) for r in rows]}

    def _follow(self, record: dict | None, ref: Field) -> dict | None:
        target_id = record.get(ref.name) if record else None
        if not target_id:
            return None
        kind = ref.reference_to[0] if len(ref.reference_to) == 1 else self.org.type_of(target_id)
        return self.org.get(kind, target_id) if kind else None

    def _value(self, record: dict | None, f: Field):
        if record is None:
            return None
        if f.name == "Type" and f in _NAME_FIELDS.values():
            return self.org.type_of(record["Id"])
        return record.get(f.name)

    def getter(self, steps, f: Field) -> Callable[[dict], object]:
        if not steps:
            name = f.name
            return lambda row: row.get(name)

        def walk(row):
            record = row
            for _, ref in steps:
                record = self._follow(record, ref)
                if record is None:
                    return None
            return self._value(record, f)

        return walk


def _attributes(type_name: str, record_id: str, version: str) -> dict:
    return {"type": type_name, "url": f"/services/data/v{version}/sobjects/{type_name}/{record_id}"}


def _sortable(value):
    return value.lower() if isinstance(value, str) else value


class _Compiler:
    """Checks one parsed query against the schema and builds its Plan."""

    def __init__(self, engine: QueryEngine, text: str):
        self.engine = engine
        self.org = engine.org
        self.text = text
        self.volatile = False

    def error(self, code: str, pos: int, detail: str) -> SoqlError:
        return SoqlError(code, self.text, pos, detail)

    def query(self, query: Query, parent: SObject | None) -> Plan:
        if parent is None:
            obj = self.org.sobject(query.sobject)
            if obj is None:
                raise self.error("INVALID_TYPE", query.sobject_pos, _NO_TYPE.format(name=query.sobject))
        else:
            rel = parent.child(query.sobject)
            obj = self.org.sobject(rel.child) if rel else None
            if obj is None:
                raise self.error("INVALID_TYPE", query.sobject_pos,
                                 _NO_RELATION.format(name=query.sobject, where="FROM part of query call"))
        columns: list[Column] = []
        seen = set()
        count_only = False
        for item in query.items:
            if isinstance(item, Count):
                count_only = True
            elif isinstance(item, Query):
                rel = obj.child(item.sobject)
                sub = self.query(item, obj)
                columns.append(Column(child=sub, child_name=rel.name, child_key=rel.field))
            else:
                steps, f = self.resolve(obj, item)
                key = (tuple(s[0] for s in steps), f.name)
                if key not in seen:
                    seen.add(key)
                    columns.append(Column(steps=steps, field=f))
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise self.error("NUMBER_OUTSIDE_VALID_RANGE", len(self.text), f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        plan = Plan(obj, columns, count_only, None, None, limit=query.limit, offset=query.offset)
        if query.where is not None:
            plan.predicate = self.condition(obj, query.where)
            plan.hint = self.hint(obj, query.where)
            # Index buckets hold exact case-insensitive matches, which is what = and IN test
            # on text; Ids are normalised first, so they are re-tested.
            plan.hint_exact = bool(plan.hint) and isinstance(query.where, Compare) and plan.hint[0] != "Id" \
                and obj.field(plan.hint[0]).type not in ("id", "reference")
        if all(c.child is None and not c.steps and c.field not in _NAME_FIELDS.values() for c in columns):
            plan.flat_fields = tuple(c.field.name for c in columns)
        for order in query.order:
            steps, f = self.resolve(obj, order.path)
            plan.order.append((self.engine.getter(steps, f), order.descending, order.nulls_last, f.is_text))
        return plan

    def resolve(self, obj: SObject, path: Path) -> tuple[tuple, Field]:
        parts = list(path.parts)
        if len(parts) > 1 and parts[0].lower() == obj.name.lower() and not obj.relationship(parts[0]):
            parts = parts[1:]  # `Contact.Email` in a query FROM Contact
        steps = []
        current: SObject | None = obj
        fields = obj.fields
        entity = obj.name
        for part in parts[:-1]:
            ref = current.relationship(part) if current else None
            if ref is None:
                raise self.error("INVALID_FIELD", path.pos, _NO_RELATION.format(name=part, where="field path"))
            rel_name = ref.relationship_name
            steps.append((rel_name, ref))
            if len(ref.reference_to) == 1:
                current = self.org.sobject(ref.reference_to[0])
                fields, entity = current.fields, current.name
            else:
                current, fields, entity = None, _NAME_FIELDS, "Name"
        last = parts[-1]
        f = current.field(last) if current else next((v for k, v in fields.items() if k.lower() == last.lower()), None)
        if f is None:
            raise self.error("INVALID_FIELD", path.pos, _NO_FIELD.format(name=last, entity=entity))
        return tuple(steps), f

    def hint(self, obj: SObject, node) -> tuple[str, list[str]] | None:
        """An indexed equality the whole filter depends on, to start from few candidates."""
        if isinstance(node, Logic) and node.op == "AND":
            for part in node.parts:
                found = self.hint(obj, part)
                if found:
                    return found
            return None
        if not isinstance(node, Compare) or node.op not in ("=", "IN") or len(node.path.parts) != 1:
            return None
        f = obj.field(node.path.parts[0])
        if f is None or any(v.kind != "string" for v in node.values):
            return None
        if f.type in ("id", "reference"):
            return f.name, [ids.normalize(v.value) for v in node.values]
        return f.name, [v.value for v in node.values]

    def condition(self, obj: SObject, node) -> Callable[[dict], bool]:
        if isinstance(node, Logic):
            parts = [self.condition(obj, p) for p in node.parts]
            if node.op == "NOT":
                inner = parts[0]
                return lambda row: not inner(row)
            if node.op == "AND":
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
        return self.comparison(obj, node)

    def comparison(self, obj: SObject, node: Compare) -> Callable[[dict], bool]:
        steps, f = self.resolve(obj, node.path)
        get = self.engine.getter(steps, f)
        if f.type == "textarea" and f.length > 255:
            raise self.error("INVALID_FIELD", node.path.pos,
                             f"field '{f.name}' can not be filtered in a query call")
        kind = _kind(f)
        values = [self.literal(f, kind, v, node.op) for v in node.values]
        op = node.op
        if op == "LIKE":
            if kind != "text" or f.type in ("id", "reference"):
                raise self.error("INVALID_FIELD", node.path.pos, f"invalid operator on field '{f.name}': LIKE")
            pattern = tuple(p.lower() if isinstance(p, str) else p for p in node.values[0].like)
            return lambda row: isinstance(v := get(row), str) and like_match(pattern, v)
        if kind == "date":
            return _date_test(get, op, values, f.type)
        norm = (lambda v: v.lower() if isinstance(v, str) else v) if kind == "text" else (lambda v: v)
        if op in ("IN", "NOT IN"):
            wanted = frozenset(norm(v) for v in values)
            if op == "IN":
                return lambda row: norm(get(row)) in wanted
            return lambda row: norm(get(row)) not in wanted
        want = norm(values[0])
        if op == "=":
            return lambda row: norm(get(row)) == want
        if op == "!=":
            return lambda row: norm(get(row)) != want
        compare = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
                   ">=": lambda a, b: a >= b}[op]

        def ordered(row):
            value = get(row)
            return value is not None and want is not None and compare(norm(value), want)

        return ordered

    def literal(self, f: Field, kind: str, lit: Literal, op: str):
        """The literal as a comparable value, or a SOQL error when its type doesn't fit."""
        if lit.kind == "null":
            return None
        if lit.like_escape and op != "LIKE":
            raise self.error("MALFORMED_QUERY", lit.pos, f"Invalid string literal {lit.raw}. Illegal character "
                             "sequence '\\_' or '\\%' outside a LIKE pattern.")
        if kind == "text":
            if lit.kind != "string":
                raise self.error("INVALID_FIELD", lit.pos, f"value of filter criterion for field '{f.name}' must be "
                                 "of type string and should be enclosed in quotes")
            if f.type in ("id", "reference"):
                normal = ids.normalize(lit.value)
                if normal is None:
                    raise self.error("INVALID_QUERY_FILTER_OPERATOR", lit.pos, f"invalid ID field: {lit.value}")
                return normal
            return lit.value
        type_name = {"boolean": "boolean", "number": "double", "date": "dateTime" if f.type == "datetime" else "date"}[kind]
        accepted = {"boolean": ("boolean",), "number": ("number",),
                    "date": ("datetime", "dateliteral") if f.type == "datetime" else ("date", "dateliteral")}[kind]
        if lit.kind not in accepted:
            raise self.error("INVALID_FIELD", lit.pos, f"value of filter criterion for field '{f.name}' must be of "
                             f"type {type_name} and should not be enclosed in quotes")
        if lit.kind == "dateliteral":
            self.volatile = True
        if lit.kind == "datetime":
            return format_datetime(_valid_literal(self, lit, "datetime", lambda: dt.datetime.fromisoformat(_iso(lit.value))))
        if lit.kind == "date":
            _valid_literal(self, lit, "date", lambda: dt.date.fromisoformat(lit.value))
        return lit.value


def like_match(pattern: tuple, text: str) -> bool:
    """Case-insensitive LIKE without regexes: greedy matching that backtracks only to the last
    `%`, so hostile patterns cost at most len(pattern) × len(text) steps."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == ANY_ONE or pattern[p] == text[t].lower()):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == ANY_RUN:
            star, mark = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == ANY_RUN:
        p += 1
    return p == len(pattern)


def _kind(f: Field) -> str:
    if f.type == "boolean":
        return "boolean"
    if f.type in ("double", "currency"):
        return "number"
    if f.type in ("date", "datetime"):
        return "date"
    return "text"


def _valid_literal(compiler: "_Compiler", lit: Literal, kind: str, parse_value: Callable[[], object]):
    """A date or datetime literal of the right shape whose value does not exist (month 13,
    February 30, hour 25) is refused as Salesforce's parser refuses it, before the query runs:
    400 MALFORMED_QUERY "Invalid date: …" / "Invalid datetime: …" (reference salesforce.md 2.2:
    invalid SOQL is MALFORMED_QUERY; the message text as reported in
    https://sfdecoded.github.io/errors/invalid-date-format.html [3p])."""
    try:
        return parse_value()
    except ValueError:
        raise compiler.error("MALFORMED_QUERY", lit.pos, f"Invalid {kind}: {lit.raw}") from None


def _iso(text: str) -> str:
    text = text.replace("Z", "+00:00")
    if text[-5] in "+-" and ":" not in text[-5:]:
        text = text[:-2] + ":" + text[-2:]
    return text


def _date_range(literal, field_type: str) -> tuple[str, str]:
    """[start, end) of a date literal like TODAY or LAST_N_DAYS:7, in the field's format (UTC)."""
    name, amount = literal
    today = dt.datetime.now(dt.timezone.utc).date()
    start, days = {
        "TODAY": (today, 1), "YESTERDAY": (today - dt.timedelta(days=1), 1),
        "TOMORROW": (today + dt.timedelta(days=1), 1),
        "LAST_N_DAYS": (today - dt.timedelta(days=amount), amount + 1),
        "NEXT_N_DAYS": (today + dt.timedelta(days=1), amount),
        "N_DAYS_AGO": (today - dt.timedelta(days=amount), 1),
    }[name]
    end = start + dt.timedelta(days=days)
    if field_type == "date":
        return start.isoformat(), end.isoformat()
    as_dt = lambda d: format_datetime(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc))  # noqa: E731
    return as_dt(start), as_dt(end)


def _date_test(get, op: str, values: list, field_type: str) -> Callable[[dict], bool]:
    """Dates compare as text (one fixed UTC format); date literals are ranges."""

    def test_one(value, literal) -> bool:
        if literal is None or value is None:
            return (literal is None) == (value is None) if op in ("=", "IN") else \
                   (literal is None) != (value is None) if op in ("!=", "NOT IN") else False
        if isinstance(literal, tuple):
            low, high = _date_range(literal, field_type)
        else:
            low, high = literal, None
        if op in ("=", "IN"):
            return low <= value < high if high else value == low
        if op in ("!=", "NOT IN"):
            return not (low <= value < high if high else value == low)
        if op == "<":
            return value < low
        if op == "<=":
            return value < high if high else value <= low
        if op == ">":
            return value >= high if high else value > low
        return value >= low

    if op == "IN":
        return lambda row: any(test_one(get(row), v) for v in values)
    if op == "NOT IN":
        return lambda row: all(test_one(get(row), v) for v in values)
    return lambda row: test_one(get(row), values[0])
