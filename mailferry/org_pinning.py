"""A tenant's Salesforce org pin (SPEC 14): which org its users may connect, set by an admin
on the admin pages unless MAILFERRY_SALESFORCE_ORG_IDS pins the tenant (then read-only), and
the orgs the tenant's users connected, which the admin page offers to pin.

Without a pin any org is accepted, so a tenant can start before anyone knows its org id;
pinning later does not disconnect anyone already connected elsewhere (the admin page lists
them), it refuses new connections to other orgs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from mailferry import audit

from mailferry.config import Config
from mailferry.models import Connection, Tenant
from mailferry.tenancy_policy import ORG_ID_LENGTH, OrgPin, org_pin, short_org_id

log = logging.getLogger(__name__)
_ORG_ID = re.compile(r"00D[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")


def pin_of(config: Config, tenant: Tenant) -> OrgPin:
    return org_pin(config, tenant.tid, tenant.primary_domain, tenant.salesforce_pinned_org_id)


@dataclass(frozen=True)
class ConnectedOrg:
    org_id: str  # 15 characters
    users: int


def connected_orgs(session: Session, tenant_id: int) -> list[ConnectedOrg]:
    """The Salesforce orgs the tenant's users are connected to, most users first."""
    short = func.substr(Connection.external_org_id, 1, ORG_ID_LENGTH)
    rows = session.execute(
        select(short, func.count(Connection.id)).where(
            Connection.tenant_id == tenant_id, Connection.provider == "salesforce",
            Connection.status == "connected", Connection.external_org_id.is_not(None))
        .group_by(short).order_by(func.count(Connection.id).desc(), short)).all()
    return [ConnectedOrg(org, users) for org, users in rows]


def set_pin(tenant: Tenant, org_id: str, by: audit.Actor) -> str | None:
    """Pin the tenant to `org_id` ("" clears the pin); returns why not, or None."""
    org_id = org_id.strip()
    if org_id and not _ORG_ID.fullmatch(org_id):
        return (f"{org_id!r} is not a Salesforce org id: it starts with 00D and has 15 or 18 characters "
                "(Salesforce Setup → Company Information → Salesforce.com Organization ID).")
    before = tenant.salesforce_pinned_org_id
    tenant.salesforce_pinned_org_id = short_org_id(org_id) if org_id else None
    audit.record(object_session(tenant), tenant.id, by, "salesforce_org.pin", "Salesforce org pin",
                 {"org_id": before}, {"org_id": tenant.salesforce_pinned_org_id})
    log.info("org pin: %s %s tenant %s", audit.actor_label(by), f"pinned to {tenant.salesforce_pinned_org_id}" if org_id else "cleared",
             tenant.tid)
    return None
