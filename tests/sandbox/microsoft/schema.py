"""Checks Graph JSON against the property names and types of `mail-types.json` (extracted from
Microsoft's Graph v1.0 metadata; see ../shared/schemas/graph/README.md)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path

_SHARED = Path(__file__).resolve().parents[4] / "shared" / "schemas" / "graph" / "mail-types.json"
_VENDORED = Path(__file__).resolve().parent / "data" / "mail-types.json"
TYPES = json.loads((_SHARED if _SHARED.exists() else _VENDORED).read_text())
OPEN_TYPES = {"resourceData"}  # open complex types: any members allowed


def properties(type_name: str) -> dict:
    """All properties of an entity or complex type, including inherited ones."""
    found: dict = {}
    name: str | None = type_name
    while name:
        spec = TYPES["entityTypes"].get(name) or TYPES["complexTypes"][name]
        found = {**spec["properties"], **found}
        base = spec.get("baseType")
        name = base.split(".", 1)[1] if base else None
    return found


def problems(value, type_name: str, path: str = "$", required: bool = False) -> list[str]:
    """Every mismatch between a JSON object and the named Graph type."""
    if not isinstance(value, dict):
        return [f"{path}: expected an object of type {type_name}"]
    if type_name in OPEN_TYPES:
        return []
    props, out = properties(type_name), []
    for key, item in value.items():
        if key.startswith("@"):
            continue
        spec = props.get(key)
        if spec is None or "type" not in spec:
            out.append(f"{path}.{key}: not a (structural) property of {type_name}")
            continue
        out += _check(item, spec["type"], spec["nullable"], f"{path}.{key}")
    if required:
        for key, spec in props.items():
            if "type" in spec and not spec["nullable"] and key not in value:
                out.append(f"{path}.{key}: required by {type_name} but missing")
    return out


def _check(item, edm: str, nullable: bool, path: str) -> list[str]:
    if item is None:
        return [] if nullable else [f"{path}: null for a non-nullable {edm}"]
    if edm.startswith("Collection("):
        if not isinstance(item, list):
            return [f"{path}: expected an array for {edm}"]
        inner = edm[len("Collection("):-1]
        return [p for n, element in enumerate(item) for p in _check(element, inner, False, f"{path}[{n}]")]
    if edm.startswith("graph."):
        name = edm[len("graph."):]
        if name in TYPES["enumTypes"]:
            return [] if item in TYPES["enumTypes"][name] else [f"{path}: {item!r} not in enum {name}"]
        return problems(item, name, path)
    return [] if _SCALARS[edm](item) else [f"{path}: {item!r} is not {edm}"]


def _is_datetime(text) -> bool:
    try:
        return isinstance(text, str) and dt.datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _is_guid(text) -> bool:
    try:
        return isinstance(text, str) and str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _is_binary(text) -> bool:
    try:
        return isinstance(text, str) and base64.b64decode(text, validate=True) is not None
    except ValueError:
        return False


_SCALARS = {
    "Edm.String": lambda v: isinstance(v, str),
    "Edm.Boolean": lambda v: isinstance(v, bool),
    "Edm.Int32": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Edm.DateTimeOffset": _is_datetime,
    "Edm.Guid": _is_guid,
    "Edm.Binary": _is_binary,
}
