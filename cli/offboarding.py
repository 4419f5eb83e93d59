"""`mailferry user remove <upn>` and `mailferry tenant delete <tenant id or domain> --yes`
(SPEC 14, "Offboarding"): an operator removes a person, or a whole tenant, from the shell,
as an admin does on Admin → Users. `mailferry.offboarding` does the work (tokens revoked,
Graph subscriptions deleted, every row deleted); the audit entry names the operator."""

from __future__ import annotations

from sqlalchemy import func, select

from cli.admin import _not_one, _users
from mailferry.config import Config
from mailferry.db import make_engine, make_session_factory
from mailferry.models import Tenant, User
from mailferry.offboarding import remove_tenant, remove_user

OPERATOR = "mailferry user remove (shell)"
TENANT_OPERATOR = "mailferry tenant delete (shell)"


def run_user(config: Config, args) -> int:
    """`args`: action (remove), upn, tenant."""
    engine = make_engine(config.database_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            users = _users(session, args.upn, args.tenant)
            if len(users) != 1:
                print(_not_one(args.upn, users))
                return 1
            user_id = users[0].id
        removal = remove_user(sessions, config, user_id, OPERATOR, allow_last=True)
        print(removal.summary())
        return 0 if removal.salesforce_revoked is not False else 3
    finally:
        engine.dispose()


def run_tenant(config: Config, args) -> int:
    """`args`: action (delete), tenant (id or primary domain), yes."""
    engine = make_engine(config.database_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            wanted = args.tenant.strip().lower()
            tenant = session.scalar(select(Tenant).where((Tenant.tid == wanted) | (Tenant.primary_domain == wanted)))
            if tenant is None:
                print(f"No tenant {args.tenant}: give its Entra tenant id or primary domain (`mailferry admin list` "
                      "shows the tenant ids).")
                return 1
            tenant_id, label = tenant.id, f"{tenant.name or tenant.tid} ({tenant.tid})"
            people = session.scalar(select(func.count(User.id)).where(User.tenant_id == tenant_id))
        if not args.yes:
            print(f"This deletes tenant {label}: its {people} user(s), their tokens (revoked at Salesforce), Graph "
                  "subscriptions, Sync History, lists, settings and audit log. Run again with --yes to do it.")
            return 2
        removals = remove_tenant(sessions, config, tenant_id, TENANT_OPERATOR)
        for removal in removals:
            print(removal.summary())
        unrevoked = [r.upn for r in removals if r.salesforce_revoked is False]
        print(f"Tenant {label} deleted: {len(removals)} user(s) removed.")
        if unrevoked:
            print("Salesforce could not be reached to revoke the access of: " + ", ".join(unrevoked))
        return 0 if not unrevoked else 3
    finally:
        engine.dispose()
