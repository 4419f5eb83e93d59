"""App-only onboarding's reconciliation (mailferry/group_members.py): the tenant's users kept
in step with the Entra group: joiners provisioned, leavers' mailboxes stopped with the reason,
returning members restarted; people who signed in themselves left alone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mailferry import mailbox_state
from mailferry.group_members import GroupMember, reconcile
from mailferry.models import Mailbox, User
from mailferry.provisioning import Person, provision_user, tenant_for

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
ANA = GroupMember("oid-ana", "ana@fabrikam.example", "Ana")
BEN = GroupMember("oid-ben", "ben@fabrikam.example", "Ben")


def _tenant(session, tid="tid-group"):
    tenant = tenant_for(session, tid, "Fabrikam", "fabrikam.example")
    tenant.app_only_enabled, tenant.app_only_group_id, tenant.app_only_group_name = True, "g-1", "Sales"
    return tenant


def _mailbox(session, oid) -> Mailbox:
    return session.execute(select(Mailbox).join(User, User.id == Mailbox.user_id).where(User.oid == oid)).scalar_one()


def test_joiners_are_provisioned_by_the_group_with_a_mailbox_and_no_admin_role(db_session):
    tenant = _tenant(db_session)
    outcome = reconcile(db_session, tenant, [ANA, BEN], NOW)
    users = db_session.execute(select(User).where(User.tenant_id == tenant.id).order_by(User.oid)).scalars().all()
    assert [(u.upn, u.provisioned_by, u.role, u.last_sign_in_at) for u in users] == [
        ("ana@fabrikam.example", "group", "user", None), ("ben@fabrikam.example", "group", "user", None)]
    assert sorted(outcome.started) == sorted(_mailbox(db_session, m.oid).id for m in (ANA, BEN))
    assert outcome.stopped == [] and tenant.app_only_members_synced_at == NOW


def test_a_leaver_is_stopped_with_the_reason_and_restarted_when_back(db_session):
    tenant = _tenant(db_session)
    reconcile(db_session, tenant, [ANA, BEN], NOW)
    gone = reconcile(db_session, tenant, [ANA], NOW)
    mailbox = _mailbox(db_session, BEN.oid)
    assert gone.stopped == [mailbox.id] and gone.started == []
    assert mailbox.status == "disabled"
    assert mailbox.status_detail.startswith("Not a member of the Entra group 'Sales' since 2026-12-01 09:00 UTC")
    assert mailbox_state.claim(db_session, mailbox.id, NOW) is None  # nothing runs it any more
    assert reconcile(db_session, tenant, [ANA], NOW).stopped == []  # stopped once
    back = reconcile(db_session, tenant, [ANA, BEN], NOW)
    assert back.restarted == [mailbox.id] and (mailbox.status, mailbox.status_detail) == ("active", None)


def test_someone_who_signed_in_is_not_stopped_for_not_being_a_member(db_session):
    tenant = _tenant(db_session)
    signed_in, _ = provision_user(db_session, Person(tenant.tid, "oid-cy", "cy@fabrikam.example", "Cy"))
    outcome = reconcile(db_session, tenant, [ANA], NOW)
    assert outcome.stopped == [] and _mailbox(db_session, "oid-cy").status == "active"
    assert signed_in.provisioned_by == "sign_in"


def test_a_mailbox_disabled_for_another_reason_is_not_restarted_by_the_group(db_session):
    tenant = _tenant(db_session)
    reconcile(db_session, tenant, [ANA], NOW)
    mailbox = _mailbox(db_session, ANA.oid)
    mailbox_state.left_group(mailbox, "Sales", NOW)
    assert mailbox_state.rejoined_group(mailbox) is True
    mailbox.status_detail = "Turned off by an administrator"  # a disabled mailbox of another cause
    mailbox.status = "disabled"
    assert mailbox_state.rejoined_group(mailbox) is False and mailbox.status == "disabled"
