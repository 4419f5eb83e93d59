"""Who is an admin of their tenant, and why (SPEC section 14, "Admins"): the one module that
changes a user's `role` and `admin_source`.

- `app_role`: Entra's `Mailferry.Admin` app role was in the ID token. Checked at every
  sign-in: a user who lost the role stops being an admin then.
- `granted`: an admin (the Users page) or an operator (`mailferry admin grant`) made them
  one. It lasts until revoked, with or without the app role.
- `first_user`: the demo's first user of a tenant (never in production).

Grants and revocations are logged and written to the audit log (`mailferry.audit`): `by` is
the acting admin (a `User`) or the operator's name at the shell.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from mailferry import audit

from mailferry.models import User

log = logging.getLogger(__name__)


class LastAdmin(Exception):
    """Revoking would leave the tenant without any admin."""


def follow_app_role(user: User, has_app_role: bool) -> None:
    """At sign-in: the app role makes the user an admin; without it an admin who was one only
    through the role is demoted. A granted (or first-user) admin keeps their source."""
    if has_app_role and not user.is_admin:
        _set(user, "app_role")
        log.info("admin: %s is an admin through the Mailferry.Admin app role", user.upn)
    elif not has_app_role and user.admin_source == "app_role":
        _set(user, None)
        log.info("admin: %s no longer has the Mailferry.Admin app role and is a user again", user.upn)


def make_first_user_admin(user: User) -> None:
    """The demo's first user of a tenant (the caller holds the tenant's lock)."""
    _set(user, "first_user")


def grant(user: User, by: audit.Actor) -> bool:
    """Make `user` an admin by grant; False when they were one already through a grant.
    An app-role admin granted becomes `granted`, so losing the role no longer demotes them."""
    if user.admin_source == "granted":
        return False
    _set_audited(user, "granted", by, "admin.grant")
    log.info("admin: %s granted admin to %s", audit.actor_label(by), user.upn)
    return True


def revoke(session: Session, user: User, by: audit.Actor, *, allow_last: bool = False) -> bool:
    """Make `user` a user again; False when they were not an admin. Refuses (`LastAdmin`) to
    leave the tenant without an admin unless `allow_last` (an operator at the shell)."""
    if not user.is_admin:
        return False
    others = session.scalar(select(func.count(User.id)).where(
        User.tenant_id == user.tenant_id, User.role == "admin", User.id != user.id))
    if not others and not allow_last:
        raise LastAdmin(f"{user.upn} is the last admin of the tenant: grant admin to someone else first.")
    _set_audited(user, None, by, "admin.revoke")
    log.info("admin: %s revoked admin from %s", audit.actor_label(by), user.upn)
    return True


def has_admin(session: Session, tenant_id: int) -> bool:
    return session.execute(select(User.id).where(User.tenant_id == tenant_id, User.role == "admin")).first() is not None


def _set_audited(user: User, source: str | None, by: audit.Actor, action: str) -> None:
    before = {"role": user.role, "admin_source": user.admin_source}
    _set(user, source)
    audit.record(object_session(user), user.tenant_id, by, action, user.upn, before,
                 {"role": user.role, "admin_source": user.admin_source})


def _set(user: User, source: str | None) -> None:
    user.role = "admin" if source else "user"
    user.admin_source = source
