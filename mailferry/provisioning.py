"""Tenants, users and their mailboxes come into being here (SPEC sections 2 and 6), whether a
person signs in with Microsoft or the demo connects its users automatically.

- Admins follow `mailferry.admins`: the `Mailferry.Admin` app role in the ID token at each
  sign-in; in the demo only, the first user of a tenant too. Two first sign-ins at once give
  one admin: the tenant's row is locked while its first user is counted (SELECT … FOR
  UPDATE on PostgreSQL; SQLite's transactions take the file's write lock from the start),
  and a tenant created by two sign-ins at once is created once (the loser of the unique
  constraint reads the winner's row).
- A new user's own email domain goes on their Ignore List, so internal mail never clutters
  the Unresolved tab (they can remove it).
- Every user gets a mailbox row, which the scheduler then polls.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailferry import admins, connection_state, mailbox_state
from mailferry.addresses import domain_of, parse_address
from mailferry.tenancy_policy import is_admin_by_app_role
from mailferry.db import utcnow
from mailferry.models import Connection, IgnoreEntry, Mailbox, Tenant, User, UserAddress

OWN_DOMAIN_SOURCE = "own_domain"


@dataclass(frozen=True)
class Person:
    """Who signed in, as Entra ID names them."""

    tid: str
    oid: str
    upn: str
    display_name: str
    aliases: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # the ID token's app roles (`roles`)


def tenant_for(session: Session, tid: str, name: str = "", primary_domain: str | None = None, *,
               lock: bool = False) -> Tenant:
    """The tenant `tid`, created if new; `lock` holds its row until the transaction ends."""
    query = select(Tenant).where(Tenant.tid == tid)
    if lock:
        query = query.with_for_update()
    tenant = session.execute(query).scalar_one_or_none()
    if tenant is not None:
        return tenant
    try:
        with session.begin_nested():  # a savepoint: losing the race below undoes only this insert
            tenant = Tenant(tid=tid, name=name or primary_domain or tid, primary_domain=primary_domain)
            session.add(tenant)
    except IntegrityError:  # another sign-in created the tenant after our read: use theirs
        return session.execute(query).scalar_one()
    return tenant


def provision_user(session: Session, person: Person, tenant_name: str = "", *,
                   first_user_admin: bool = False) -> tuple[User, bool]:
    """The user for `person`, created with their tenant, addresses, Ignore List entry and
    mailbox if new, an admin or not as their app roles say. `first_user_admin` (the demo
    only) makes the tenant's first user its admin. Returns (user, created)."""
    primary = parse_address(person.upn).key
    domain = domain_of(person.upn)
    tenant = tenant_for(session, person.tid, tenant_name, domain)
    user = session.execute(
        select(User).where(User.tenant_id == tenant.id, User.oid == person.oid)
    ).scalar_one_or_none()
    app_role = is_admin_by_app_role(person.roles)
    if user is not None:
        user.last_sign_in_at = utcnow()
        admins.follow_app_role(user, app_role)
        _add_addresses(session, user, person.aliases)
        return user, False
    user = User(tenant_id=tenant.id, oid=person.oid, upn=primary, email=primary,
                display_name=person.display_name, last_sign_in_at=utcnow())
    if first_user_admin:
        tenant_for(session, person.tid, lock=True)  # counted under the tenant's lock: one first user
        if session.scalar(select(func.count(User.id)).where(User.tenant_id == tenant.id)) == 0:
            admins.make_first_user_admin(user)
    admins.follow_app_role(user, app_role)
    session.add(user)
    session.flush()
    session.add(UserAddress(user_id=user.id, address=primary, kind="primary"))
    _add_addresses(session, user, person.aliases)
    if domain:
        session.add(IgnoreEntry(tenant_id=tenant.id, user_id=user.id, kind="domain", value=domain,
                                source=OWN_DOMAIN_SOURCE))
    session.add(Mailbox(tenant_id=tenant.id, user_id=user.id, address=primary))
    session.flush()
    return user, True


def save_connection(session: Session, user: User, provider: str, sealed_secrets: bytes, **facts) -> Connection:
    """Store (or replace) the user's delegated connection to `provider`, connected now."""
    connection = session.execute(
        select(Connection).where(Connection.user_id == user.id, Connection.provider == provider)
    ).scalar_one_or_none()
    if connection is None:
        connection = Connection(tenant_id=user.tenant_id, user_id=user.id, provider=provider, kind="delegated")
        session.add(connection)
    connection_state.connected(connection, sealed_secrets, utcnow())
    for name, value in facts.items():
        setattr(connection, name, value)
    if provider == "microsoft":
        mailbox = session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one_or_none()
        if mailbox is not None:
            mailbox_state.reconnected(mailbox)
    session.flush()
    return connection


def _add_addresses(session: Session, user: User, aliases: tuple[str, ...]) -> None:
    known = set(session.execute(select(UserAddress.address).where(UserAddress.user_id == user.id)).scalars())
    for alias in aliases:
        key = parse_address(alias).key
        if key and key not in known:
            session.add(UserAddress(user_id=user.id, address=key, kind="alias"))
            known.add(key)
