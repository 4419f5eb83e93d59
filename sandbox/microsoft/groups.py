"""Entra groups as Graph serves them to Mailferry's app-only onboarding: a group by id and
its transitive user members, paged (reference wave2.md §7.6, §9.7), plus the control API
that creates groups and adds or removes members (docs/sandbox.md, "Groups").

What real Graph refuses, the sandbox refuses:

- `transitiveMembers/microsoft.graph.user` (an OData cast) and `$count` are advanced queries:
  without `ConsistencyLevel: eventual` Graph answers 400 `Request_UnsupportedQuery` (the text
  Graph gives for a cast or filter on a reference property without the header,
  microsoftgraph/microsoft-graph-docs#11242, #12152); the header is not carried by
  `@odata.nextLink`, so every page must send it again (§7.6).
- `$top` above 999 is refused (page sizes 100 by default, 999 at most, §7.6 [unconfirmed]).
- A token without GroupMember.Read.All, Group.Read.All or Directory.Read.All (application
  or delegated) gets 403 `Authorization_RequestDenied` "Insufficient privileges to complete
  the operation." (the body in microsoftgraph/microsoft-graph-docs-contrib#5537).
"""

from __future__ import annotations

import pickle
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, request

from ..world import World
from .errors import GraphError
from .graph_mail import as_json, base
from .state import state

bp = Blueprint("groups", __name__)
control_bp = Blueprint("groups_control", __name__, url_prefix="/_sandbox")

DEFAULT_PAGE, MAX_PAGE = 100, 999
# Permissions that let a caller read a group's members (least privilege first; §7.6).
READ_MEMBERS = frozenset({"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All",
                          "Directory.Read.All", "Directory.ReadWrite.All"})
USER_PROPERTIES = ("id", "displayName", "mail", "userPrincipalName")
# The group every seeded world has, holding all its users: what the demo onboards.
SEED_GROUP_NAME = "Mailferry users"
ADVANCED_QUERY = ("The specified filter to the reference property query is currently not supported.")
DENIED = "Insufficient privileges to complete the operation."


@dataclass
class Group:
    id: str
    display_name: str
    # Members in the order they were added: user object ids or ids of nested groups.
    members: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"id": self.id, "displayName": self.display_name, "members": list(self.members)}


def seed_group_id(tenant_id: str) -> str:
    """The seeded group's id: the same for the same tenant, so a demo keeps its setting."""
    return str(uuid.uuid5(uuid.UUID(tenant_id), SEED_GROUP_NAME))


class GroupStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.groups: dict[str, Group] = {}

    def load(self, world: World) -> None:
        with self.lock:
            group = Group(seed_group_id(world.tenant_id), SEED_GROUP_NAME, [user.oid for user in world.users])
            self.groups = {group.id: group}

    def dump(self) -> bytes:
        with self.lock:
            return pickle.dumps(self.groups)

    def restore(self, saved: bytes) -> None:
        with self.lock:
            self.groups = pickle.loads(saved)

    def get(self, group_id: str) -> Group | None:
        return self.groups.get(group_id.lower())

    def user_members(self, group: Group) -> list[str]:
        """The user object ids in `group` and the groups nested in it, each once (transitive)."""
        seen_groups, users, pending = {group.id}, [], list(group.members)
        with self.lock:
            while pending:
                member = pending.pop(0)
                nested = self.groups.get(member)
                if nested is not None:
                    if nested.id not in seen_groups:
                        seen_groups.add(nested.id)
                        pending.extend(nested.members)
                elif member not in users:
                    users.append(member)
        return users


def _groups() -> GroupStore:
    return state().groups


def _require_read_members() -> None:
    if not g.caller.permissions & READ_MEMBERS:
        raise GraphError(403, "Authorization_RequestDenied", DENIED)


def _group_or_404(group_id: str) -> Group:
    group = _groups().get(group_id)
    if group is None:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{group_id}' does not exist or one of its "
                         "queried reference-property objects are not present.")
    return group


# -- Graph ----------------------------------------------------------------------------------------
@bp.get("/v1.0/groups/<group_id>")
def get_group(group_id):
    _require_read_members()
    group = _group_or_404(group_id)
    return as_json({"@odata.context": f"{base()}/$metadata#groups/$entity", "id": group.id,
                    "displayName": group.display_name, "securityEnabled": True, "mailEnabled": False})


@bp.get("/v1.0/groups/<group_id>/transitiveMembers/microsoft.graph.user")
def transitive_user_members(group_id):
    # The cast makes this an advanced query: refused without the header, on every page.
    if request.headers.get("ConsistencyLevel", "").strip().lower() != "eventual":
        raise GraphError(400, "Request_UnsupportedQuery", ADVANCED_QUERY)
    _require_read_members()
    group = _group_or_404(group_id)
    top = _page_size(request.args.get("$top"))
    skip = _skip(request.args.get("$skiptoken"))
    select = _select(request.args.get("$select"))
    store = state().store
    users = [store.user(oid) for oid in _groups().user_members(group)]
    users = [user for user in users if user is not None]
    page = users[skip:skip + top]
    body: dict = {"@odata.context": f"{base()}/$metadata#users({','.join(select)})"}
    # The count of the whole collection, on the first page only (§7.6).
    if request.args.get("$count", "").lower() == "true" and skip == 0:
        body["@odata.count"] = len(users)
    if skip + top < len(users):
        params = {k: v for k, v in request.args.items() if k not in ("$skiptoken", "$count")}
        params["$skiptoken"] = f"skip{skip + top}"
        body["@odata.nextLink"] = f"{base()}/groups/{group.id}/transitiveMembers/microsoft.graph.user?{urlencode(params)}"
    body["value"] = [{"@odata.type": "#microsoft.graph.user", **_user_json(user, select)} for user in page]
    return as_json(body)


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise GraphError(400, "Request_UnsupportedQuery",
                         f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_PAGE} inclusive.")
    return int(raw)


def _skip(token: str | None) -> int:
    if token is None:
        return 0
    if not token.startswith("skip") or not token[4:].isdigit():
        raise GraphError(400, "Request_UnsupportedQuery", "The skip token is not valid.")
    return int(token[4:])


def _select(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return USER_PROPERTIES
    wanted = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [name for name in wanted if name not in USER_PROPERTIES]
    if unknown:
        raise GraphError(400, "Request_BadRequest", f"Could not find a property named '{unknown[0]}' on type "
                         "'Microsoft.DirectoryServices.User'.")
    return wanted


def _user_json(user, select: tuple[str, ...]) -> dict:
    values = {"id": user.oid, "displayName": user.display_name, "mail": user.upn, "userPrincipalName": user.upn}
    return {name: values[name] for name in select}


# -- control API ----------------------------------------------------------------------------------
def _problem(message: str, status: int = 400):
    return jsonify({"error": message}), status


def _member_id(ref: str) -> str | None:
    """A user (object id, UPN or alias) or a group, by id."""
    user = state().store.user(ref)
    if user is not None:
        return user.oid
    group = _groups().get(ref)
    return group.id if group else None


@control_bp.get("/groups")
def list_groups():
    return jsonify({"groups": [group.as_json() for group in _groups().groups.values()]})


@control_bp.post("/groups")
def create_group():
    """`{"displayName": "...", "members": [upn or group id, ...], "id": optional}`."""
    payload = request.get_json(silent=True) or {}
    name, refs = payload.get("displayName"), payload.get("members", [])
    if not isinstance(name, str) or not name.strip() or not isinstance(refs, list):
        return _problem("post {\"displayName\": \"...\", \"members\": [upn or group id, ...]}")
    members = [_member_id(str(ref)) for ref in refs]
    if None in members:
        return _problem("unknown member in members", 404)
    group = Group(str(payload.get("id") or uuid.uuid4()).lower(), name.strip(), members)
    with _groups().lock:
        _groups().groups[group.id] = group
    return jsonify(group.as_json()), 201


@control_bp.put("/groups/<group_id>/members/<ref>")
def add_member(group_id, ref):
    group, member = _groups().get(group_id), _member_id(ref)
    if group is None or member is None:
        return _problem("no such group or member", 404)
    with _groups().lock:
        if member not in group.members:
            group.members.append(member)
    return jsonify(group.as_json())


@control_bp.delete("/groups/<group_id>/members/<ref>")
def remove_member(group_id, ref):
    group, member = _groups().get(group_id), _member_id(ref)
    if group is None or member is None or member not in group.members:
        return _problem("no such group or member", 404)
    with _groups().lock:
        group.members.remove(member)
    return jsonify(group.as_json())
