"""`mailferry admin grant|revoke <upn>` and `mailferry admin list`: who administers Mailferry,
from the shell (SPEC 14, "Admins").

This is how a production tenant gets its first admin when no one holds the Entra app role
`Mailferry.Admin`: the person signs in once (Mailferry knows only people who did), then an
operator runs `mailferry admin grant their.upn@example.com`. A revoke from the shell may
remove a tenant's last admin (the Users page refuses that); it says so.
"""

from __future__ import annotations

from sqlalchemy import select

from mailferry import admins
from mailferry.config import Config
from mailferry.db import make_engine, make_session_factory
from mailferry.models import Tenant, User

OPERATOR = "mailferry admin (shell)"


def run(config: Config, args) -> int:
    """`args`: action (grant, revoke, list), upn, tenant (cli/main.py declares them)."""
    if args.action != "list" and not args.upn:
        print(f"mailferry admin {args.action} needs the user's sign-in name, e.g. alex@contoso.com")
        return 2
    engine = make_engine(config.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            if args.action == "list":
                return _list(session, args.tenant)
            users = _users(session, args.upn, args.tenant)
            if len(users) != 1:
                print(_not_one(args.upn, users))
                return 1
            return _grant(users[0]) if args.action == "grant" else _revoke(session, users[0])
    finally:
        engine.dispose()


def _users(session, upn: str, tenant: str | None) -> list[User]:
    query = select(User).join(Tenant).where(User.upn == upn.strip().lower())
    if tenant:
        query = query.where((Tenant.tid == tenant.lower()) | (Tenant.primary_domain == tenant.lower()))
    return list(session.execute(query).scalars())


def _not_one(upn: str, users: list[User]) -> str:
    if not users:
        return (f"No user {upn} has signed in to Mailferry yet. Mailferry knows only people who signed in: ask "
                "them to sign in once with Microsoft, then run this again.")
    tenants = ", ".join(sorted(u.tenant.tid for u in users))
    return f"{upn} exists in several tenants ({tenants}): add --tenant with the tenant id."


def _grant(user: User) -> int:
    if admins.grant(user, by=OPERATOR):
        print(f"{user.upn} is now an admin of {user.tenant.name or user.tenant.tid}.")
    else:
        print(f"{user.upn} was already an admin by grant; nothing changed.")
    return 0


def _revoke(session, user: User) -> int:
    source = user.admin_source
    if not admins.revoke(session, user, by=OPERATOR, allow_last=True):
        print(f"{user.upn} is not an admin; nothing changed.")
        return 0
    print(f"{user.upn} is no longer an admin.")
    if source == "app_role":
        print("They hold the Entra app role Mailferry.Admin: they are an admin again at their next sign-in unless "
              "the role is unassigned in Entra (Enterprise applications → Mailferry → Users and groups).")
    if not admins.has_admin(session, user.tenant_id):
        print("Their tenant has no admin now: grant admin to someone with `mailferry admin grant <upn>`.")
    return 0


def _list(session, tenant: str | None) -> int:
    query = select(User).join(Tenant).where(User.role == "admin").order_by(Tenant.tid, User.upn)
    if tenant:
        query = query.where((Tenant.tid == tenant.lower()) | (Tenant.primary_domain == tenant.lower()))
    rows = list(session.execute(query).scalars())
    if not rows:
        print("No admins yet.")
    for user in rows:
        print(f"{user.upn}\t{user.admin_source or 'unknown'}\t{user.tenant.tid}\t{user.tenant.name}")
    return 0
