"""App-only onboarding, the worker's part: read each app-only tenant's Entra group through
Graph (app-only token, every page), apply it (`mailferry.group_members.reconcile`), map new
members to Salesforce users by email through the tenant's integration connection, and queue
the first sync of every mailbox that started or restarted.

Nothing is called inside a transaction: the group is read first, then applied in one short
transaction; the Salesforce lookup runs after it, and its mapping is stored in another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from mailferry import connection_state, group_sync_status
from mailferry.db import utcnow
from mailferry.group_members import GroupMember, Reconciled, reconcile
from mailferry.job_queue import enqueue_sync
from mailferry.microsoft_identity import acquire_app_token
from mailferry.models import Tenant, User
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.salesforce_integration import integration_of, usable
from worker.microsoft.graph import GraphClient
from worker.salesforce.crm import open_crm
from worker.salesforce.user_mapping import salesforce_users_by_email

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupRead:
    name: str
    members: list[GroupMember]


def app_only_tenants(rt) -> list[int]:
    """Tenants with app-only access and a group named."""
    with rt.session() as session:
        return list(session.execute(
            select(Tenant.id).where(Tenant.app_only_enabled.is_(True), Tenant.app_only_group_id.is_not(None))
            .order_by(Tenant.id)).scalars())


def sync_tenant_group(rt, tenant_id: int) -> dict:
    """One membership run for one tenant; returns what changed (mailbox ids) or the error."""
    with rt.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None or not tenant.app_only_enabled or not tenant.app_only_group_id:
            return {"tenant": tenant_id, "skipped": "no app-only group"}
        tid, group_id = tenant.tid, tenant.app_only_group_id
    try:
        read = read_group(rt, tid, group_id)
    except ProviderError as error:
        log.warning("tenant %s: reading group %s failed: %r", tenant_id, group_id, error)
        group_sync_status.note_failure(rt.redis, tenant_id, f"{error.code or error.kind.value}: {error.message}")
        return {"tenant": tenant_id, "error": error.kind.value, "code": error.code}
    with rt.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant.app_only_group_id != group_id:  # the admin named another group meanwhile
            return {"tenant": tenant_id, "skipped": "the group changed during the run"}
        tenant.app_only_group_name = read.name
        outcome = reconcile(session, tenant, read.members, utcnow())
    group_sync_status.clear(rt.redis, tenant_id)
    mapped = map_salesforce_users(rt, tenant_id)
    for mailbox_id in outcome.to_sync:
        enqueue_sync(rt.redis, mailbox_id)
    return {"tenant": tenant_id, "members": len(read.members), "mapped": mapped, **_ids(outcome)}


def read_group(rt, tid: str, group_id: str) -> GroupRead:
    graph = GraphClient(rt.http, rt.config.microsoft_graph_url, lambda: acquire_app_token(rt.config, tid))
    name = graph.group(group_id).get("displayName") or group_id
    members = [GroupMember(item["id"], item.get("userPrincipalName") or item.get("mail") or "",
                           item.get("displayName") or "")
               for item in graph.group_users(group_id) if item.get("id")]
    return GroupRead(name, [member for member in members if member.upn])


def map_salesforce_users(rt, tenant_id: int) -> int:
    """Map the tenant's unmapped users to the active Salesforce user with their email,
    through the integration connection; returns how many were mapped. An admin's choice
    (already set) is never replaced."""
    with rt.sessions() as session:
        integration = integration_of(session, tenant_id)
        unmapped = session.execute(select(User).where(User.tenant_id == tenant_id,
                                                      User.salesforce_user_id.is_(None))).scalars().all()
        if not usable(integration) or not unmapped:
            return 0
        tenant = session.get(Tenant, tenant_id)
        session.commit()
        try:
            crm = open_crm(rt, session, tenant, integration, utcnow())
            found = salesforce_users_by_email(crm.sf, [user.email or user.upn for user in unmapped])
        except ProviderError as error:
            log.warning("tenant %s: mapping Salesforce users failed: %r", tenant_id, error)
            if error.kind == ErrorKind.AUTH:  # the integration user's tokens stopped working
                connection_state.lost(integration, error.message)
                session.commit()
            return 0
        mapped = 0
        for user in unmapped:
            salesforce_id = found.get((user.email or user.upn).lower())
            if salesforce_id:
                user.salesforce_user_id = salesforce_id
                mapped += 1
        session.commit()
        return mapped


def _ids(outcome: Reconciled) -> dict:
    return {"started": outcome.started, "restarted": outcome.restarted, "stopped": outcome.stopped}
