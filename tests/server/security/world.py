"""Two tenants for the security tests: in tenant A an admin, the owner of the rows under
test and a colleague; in tenant B an admin and a user. The owner's rows carry a marker
(`OWNER_MARK`) and tenant A's admin data another (`TENANT_MARK`), so a test can tell when a
response shows data to someone who must not see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from mailferry.crypto import SecretBox
from mailferry.db import utcnow
from mailferry.models import (Connection, IgnoreEntry, Mailbox, Message, Tenant, UnmatchedAddress, User,
                              UserAddress)

OWNER_MARK = "ownermark7q"
TENANT_MARK = "tenantamark4z"
PRINCIPALS = ("anonymous", "colleague", "other_tenant_user", "admin", "other_tenant_admin", "owner")


@dataclass(frozen=True)
class World:
    users: dict[str, int]  # principal name → user id (no "anonymous")
    owner_ids: dict[str, int]  # the owner's rows: "message_id", "entry_id", "mailbox_id"…


def build_world(session: Session, box: SecretBox, salesforce_login_url: str) -> World:
    tenant_a = _tenant(session, "tid-a", f"Contoso {TENANT_MARK}", f"{TENANT_MARK}.example")
    tenant_b = _tenant(session, "tid-b", "Fabrikam", "fabrikam.example")
    admin = _user(session, tenant_a, "admin", f"admin@{TENANT_MARK}.example", "Ada Admin", "admin")
    owner = _user(session, tenant_a, "owner", f"{OWNER_MARK}@{TENANT_MARK}.example", f"Olive {OWNER_MARK}")
    colleague = _user(session, tenant_a, "colleague", f"colleague@{TENANT_MARK}.example", "Cole League")
    other_admin = _user(session, tenant_b, "badmin", "admin@fabrikam.example", "Bea Admin", "admin")
    other_user = _user(session, tenant_b, "buser", "user@fabrikam.example", "Ben User")
    mailboxes = {user.id: _mailbox(session, user) for user in (admin, owner, colleague, other_admin, other_user)}
    mailbox = mailboxes[owner.id]
    unresolved = _message(session, mailbox, 1, "unresolved", reason="no_match")
    synced = _message(session, mailbox, 2, "synced")
    _message(session, mailbox, 3, "excluded", reason="global_exclusion")
    entry = IgnoreEntry(tenant_id=tenant_a.id, user_id=owner.id, kind="address",
                        value=f"someone@{OWNER_MARK}-ignored.example", source="manual")
    session.add(entry)
    session.add(UnmatchedAddress(tenant_id=tenant_a.id, user_id=owner.id, address=f"prospect@{OWNER_MARK}.example",
                                 display_name=f"Prospect {OWNER_MARK}", domain=f"{OWNER_MARK}.example",
                                 emails_count=1, last_subject=f"Hello {OWNER_MARK}"))
    session.add(IgnoreEntry(tenant_id=tenant_a.id, user_id=None, kind="domain", value=f"excluded-{TENANT_MARK}.example",
                            source="global"))
    connections = {}
    for provider in ("microsoft", "salesforce"):
        connection = Connection(tenant_id=tenant_a.id, user_id=owner.id, provider=provider, kind="delegated",
                                status="connected", account_label=f"{OWNER_MARK}@{provider}.example",
                                login_host=salesforce_login_url, instance_url="https://owner.my.salesforce.com",
                                sealed_secrets=box.seal({"access_token": "x", "refresh_token": "y"}))
        session.add(connection)
        connections[provider] = connection
    session.flush()
    return World(
        users={"owner": owner.id, "colleague": colleague.id, "admin": admin.id,
               "other_tenant_user": other_user.id, "other_tenant_admin": other_admin.id},
        owner_ids={"message_id": unresolved.id, "synced_message_id": synced.id, "entry_id": entry.id,
                   "mailbox_id": mailbox.id, "user_id": owner.id,
                   "connection_id": connections["salesforce"].id},
    )


def _tenant(session, tid, name, domain) -> Tenant:
    tenant = Tenant(tid=tid, name=name, primary_domain=domain)
    session.add(tenant)
    session.flush()
    return tenant


def _user(session, tenant, oid, upn, name, role="user") -> User:
    user = User(tenant_id=tenant.id, oid=oid, upn=upn, email=upn, display_name=name, role=role)
    session.add(user)
    session.flush()
    session.add(UserAddress(user_id=user.id, address=upn, kind="primary"))
    return user


def _mailbox(session, user) -> Mailbox:
    mailbox = Mailbox(tenant_id=user.tenant_id, user_id=user.id, address=user.upn)
    session.add(mailbox)
    session.flush()
    return mailbox


def _message(session, mailbox, n, status, reason=None) -> Message:
    message = Message(tenant_id=mailbox.tenant_id, user_id=mailbox.user_id, mailbox_id=mailbox.id,
                      graph_id=f"AAMk-{n}", internet_message_id=f"<{n}@{OWNER_MARK}.example>",
                      direction="incoming", subject=f"Deal {OWNER_MARK} {n}", from_address=f"buyer@{OWNER_MARK}.example",
                      from_name=f"Buyer {OWNER_MARK}", to_cc=mailbox.address, status=status, reason=reason,
                      sent_at=utcnow() - timedelta(hours=n), search_text=f"deal {OWNER_MARK}")
    session.add(message)
    session.flush()
    return message
