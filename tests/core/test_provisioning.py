"""Provisioning: first user is admin, own domain on the Ignore List, a mailbox each."""

from __future__ import annotations

from sqlalchemy import select

from mailferry.models import IgnoreEntry, Mailbox, UserAddress
from mailferry.provisioning import Person, provision_user


def test_first_user_of_a_tenant_is_admin_and_the_next_is_not(db_session):
    first, created = provision_user(db_session, Person("tid-p1", "oid-a", "Alex@Contoso.example", "Alex"))
    second, _ = provision_user(db_session, Person("tid-p1", "oid-b", "sam@contoso.example", "Sam"))
    assert created and first.role == "admin" and second.role == "user"
    assert first.tenant_id == second.tenant_id
    assert first.upn == "alex@contoso.example"


def test_a_new_users_own_domain_is_on_their_ignore_list(db_session):
    user, _ = provision_user(db_session, Person("tid-p2", "oid-a", "alex@eu.contoso.example", "Alex"))
    entries = db_session.execute(select(IgnoreEntry).where(IgnoreEntry.user_id == user.id)).scalars().all()
    assert [(e.kind, e.value, e.source) for e in entries] == [("domain", "eu.contoso.example", "own_domain")]


def test_signing_in_again_keeps_the_user_and_adds_new_aliases_once(db_session):
    person = Person("tid-p3", "oid-a", "alex@contoso.example", "Alex", aliases=("ALEX.M@contoso.example",))
    user, _ = provision_user(db_session, person)
    again, created = provision_user(db_session, person)
    assert again.id == user.id and not created
    addresses = db_session.execute(select(UserAddress.address).where(UserAddress.user_id == user.id)).scalars().all()
    assert sorted(addresses) == ["alex.m@contoso.example", "alex@contoso.example"]
    assert db_session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalars().all() != []
