"""App-only onboarding (SPEC section 14): the tenant's users kept in step with the Entra group
an admin named, so members' mailboxes sync without anyone signing in.

- A member Mailferry does not know yet is provisioned as a sign-in would provision them
  (addresses, own-domain Ignore List entry, mailbox), marked `provisioned_by="group"`; being
  a member makes nobody an admin.
- A user the group provisioned who is no longer a member has their mailbox stopped, with the
  reason (`mailbox_state.left_group`); their history stays.
- A member whose mailbox the group had stopped is restarted (`mailbox_state.rejoined_group`).

Users who signed in themselves are left alone when they are not members: the group adds
mailboxes, it does not take away a person's own sign-in. Reading the group from Graph is the
worker's job (worker/group_sync.py); this module only applies what it read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import mailbox_state
from mailferry.models import Mailbox, Tenant, User
from mailferry.provisioning import Person, provision_user

GROUP = "group"


@dataclass(frozen=True)
class GroupMember:
    """A user member of the group, as Graph lists it."""

    oid: str
    upn: str
    display_name: str = ""


@dataclass
class Reconciled:
    """Mailbox ids by what happened to them: the new and restarted ones are to sync now."""

    started: list[int] = field(default_factory=list)
    restarted: list[int] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)

    @property
    def to_sync(self) -> list[int]:
        return self.started + self.restarted


def reconcile(session: Session, tenant: Tenant, members: list[GroupMember], now: datetime) -> Reconciled:
    """Apply the group's membership `members` (all of it, every page) to the tenant's users."""
    outcome = Reconciled()
    users = {user.oid: user for user in session.execute(select(User).where(User.tenant_id == tenant.id)).scalars()}
    mailboxes = {mailbox.user_id: mailbox for mailbox in session.execute(
        select(Mailbox).where(Mailbox.tenant_id == tenant.id).with_for_update()).scalars()}
    member_oids = {member.oid for member in members}
    for member in members:
        user = users.get(member.oid)
        if user is None:
            user = _provision(session, tenant, member)
            mailbox = session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
            outcome.started.append(mailbox.id)
        elif user.id in mailboxes and mailbox_state.rejoined_group(mailboxes[user.id]):
            outcome.restarted.append(mailboxes[user.id].id)
    for user in users.values():
        mailbox = mailboxes.get(user.id)
        if (user.provisioned_by == GROUP and user.oid not in member_oids and mailbox is not None
                and mailbox.status != "disabled"):
            mailbox_state.left_group(mailbox, tenant.app_only_group_name or tenant.app_only_group_id or "", now)
            outcome.stopped.append(mailbox.id)
    tenant.app_only_members_synced_at = now
    session.flush()
    return outcome


def _provision(session: Session, tenant: Tenant, member: GroupMember) -> User:
    user, _ = provision_user(session, Person(tenant.tid, member.oid, member.upn, member.display_name), tenant.name)
    # Not a sign-in (no sign-in time, no app roles read: group membership makes no admin).
    user.provisioned_by = GROUP
    user.last_sign_in_at = None
    return user
