"""Provisioning: admins from the app role (and the demo's first user), own domain on the
Ignore List, a mailbox each; two first sign-ins of a tenant at once give one tenant and one
admin on both databases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailferry.models import IgnoreEntry, Mailbox, Tenant, User, UserAddress
from mailferry.provisioning import Person, provision_user

ADMIN_ROLE = ("Mailferry.Admin",)


def test_in_the_demo_the_first_user_of_a_tenant_is_admin_and_the_next_is_not(db_session):
    first, created = provision_user(db_session, Person("tid-p1", "oid-a", "Alex@Contoso.example", "Alex"),
                                    first_user_admin=True)
    second, _ = provision_user(db_session, Person("tid-p1", "oid-b", "sam@contoso.example", "Sam"),
                               first_user_admin=True)
    assert created and (first.role, first.admin_source) == ("admin", "first_user") and second.role == "user"
    assert first.tenant_id == second.tenant_id
    assert first.upn == "alex@contoso.example"


def test_outside_the_demo_the_first_user_is_not_an_admin(db_session):
    first, _ = provision_user(db_session, Person("tid-p0", "oid-a", "alex@contoso.example", "Alex"))
    db_session.flush()
    assert (first.role, first.admin_source) == ("user", None)


def test_the_admin_app_role_makes_an_admin_and_losing_it_demotes_at_the_next_sign_in(db_session):
    person = Person("tid-p4", "oid-a", "alex@contoso.example", "Alex", roles=ADMIN_ROLE)
    user, _ = provision_user(db_session, person)
    assert (user.role, user.admin_source) == ("admin", "app_role")
    provision_user(db_session, Person("tid-p4", "oid-a", "alex@contoso.example", "Alex", roles=()))
    assert (user.role, user.admin_source) == ("user", None)


def test_a_granted_admin_stays_an_admin_without_the_app_role(db_session):
    from mailferry import admins

    user, _ = provision_user(db_session, Person("tid-p5", "oid-a", "alex@contoso.example", "Alex", roles=ADMIN_ROLE))
    admins.grant(user, by="test")
    provision_user(db_session, Person("tid-p5", "oid-a", "alex@contoso.example", "Alex"))
    assert (user.role, user.admin_source) == ("admin", "granted")


@pytest.mark.parametrize("tenant_row", ["new", "already there"])
def test_two_first_sign_ins_of_a_tenant_at_once_give_one_tenant_and_one_admin(both_backends_engine, tenant_row):
    """Two threads, each its own connection and transaction, sign in two people of a tenant
    nobody has signed in from, whose row is new (both insert it) or exists without users
    (both count none); a barrier starts them together (repeated to meet the race)."""
    for round_ in range(5):
        tid = f"tid-race-{tenant_row}-{round_}"
        if tenant_row == "already there":
            with Session(both_backends_engine) as session:
                session.add(Tenant(tid=tid, name="Race"))
                session.commit()
        barrier = threading.Barrier(2)
        failures: list[BaseException] = []

        def sign_in(oid: str) -> None:
            try:
                with Session(both_backends_engine) as session:
                    barrier.wait(timeout=10)
                    provision_user(session, Person(tid, oid, f"{oid}@race.example", oid), first_user_admin=True)
                    session.commit()
            except BaseException as error:  # reported below, in the test's thread
                failures.append(error)

        threads = [threading.Thread(target=sign_in, args=(oid,)) for oid in ("oid-1", "oid-2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not failures, failures
        with Session(both_backends_engine) as session:
            tenant_ids = session.execute(select(Tenant.id).where(Tenant.tid == tid)).scalars().all()
            assert len(tenant_ids) == 1
            roles = session.execute(select(User.role).where(User.tenant_id == tenant_ids[0])).scalars().all()
            assert sorted(roles) == ["admin", "user"]
            assert session.scalar(select(func.count(Mailbox.id)).where(Mailbox.tenant_id == tenant_ids[0])) == 2


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
