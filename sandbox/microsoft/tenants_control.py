"""The control API for other organizations' tenants (`tenants.py`; docs/sandbox.md, Microsoft 365):

- `POST /_sandbox/tenants` `{"domain": "fabrikam.example", "name": "Fabrikam", "tenantId"?: GUID,
  "users": [{"displayName", "userPrincipalName"}]}` → 201 with the tenant's id, its authority
  and its users' object ids. Each UPN must be at the tenant's domain (a UPN's suffix is one of
  its tenant's verified domains) and new to the sandbox; the domain and id must be new too.
- `GET /_sandbox/tenants`: those tenants and their users.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request

from ..world import DemoUser
from .state import state
from .tenants import Tenant, member

control_bp = Blueprint("tenants_control", __name__, url_prefix="/_sandbox")


def _problem(message: str, status: int = 400):
    return jsonify({"error": message}), status


def _json(tenant: Tenant) -> dict:
    root = state().settings.microsoft_url.rstrip("/")
    return {"tenantId": tenant.tenant_id, "domain": tenant.domain, "name": tenant.name,
            "authority": f"{root}/{tenant.tenant_id}",
            "users": [{"id": u.oid, "userPrincipalName": u.upn, "displayName": u.display_name}
                      for u in tenant.users]}


def _user(raw, domain: str) -> DemoUser:
    """A user from `{"displayName", "userPrincipalName"}`; ValueError says what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("userPrincipalName"), str):
        raise ValueError("each user is {\"displayName\", \"userPrincipalName\"}")
    upn = raw["userPrincipalName"].strip()
    if not upn.lower().endswith("@" + domain.lower()):
        raise ValueError(f"{upn!r} is not at the tenant's domain {domain!r}")
    name = str(raw.get("displayName") or upn.split("@")[0])
    given, _, surname = name.partition(" ")
    return DemoUser(oid=str(uuid.uuid4()), upn=upn, display_name=name, given_name=given, surname=surname)


@control_bp.post("/tenants")
def add_tenant():
    payload = request.get_json(silent=True) or {}
    domain, tenant_id = payload.get("domain"), payload.get("tenantId") or str(uuid.uuid4())
    if not isinstance(domain, str) or "." not in domain or not isinstance(tenant_id, str):
        return _problem("post {\"domain\": \"fabrikam.example\", \"name\", \"users\": [{\"displayName\", "
                        "\"userPrincipalName\"}]}")
    sandbox = state()
    store = sandbox.store
    if any(t.names(domain) or t.names(tenant_id) for t in sandbox.tenants.all()) or \
            domain.lower() == store.tenant_domain.lower() or tenant_id.lower() == store.tenant_id.lower():
        return _problem(f"a tenant with the domain {domain!r} or the id {tenant_id!r} exists already", 409)
    try:
        users = [_user(raw, domain) for raw in payload.get("users") or []]
    except ValueError as exc:
        return _problem(str(exc))
    upns = [u.upn.lower() for u in users]
    taken = [u.upn for u in users if member(u.upn) is not None]
    if taken or len(set(upns)) != len(upns):
        return _problem(f"user principal names must be new: {', '.join(taken) or 'repeated in the list'}", 409)
    tenant = Tenant(tenant_id, domain, str(payload.get("name") or domain), users)
    sandbox.tenants.add(tenant)
    return jsonify(_json(tenant)), 201


@control_bp.get("/tenants")
def list_tenants():
    return jsonify({"tenants": [_json(t) for t in state().tenants.all()]})
