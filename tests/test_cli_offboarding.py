"""`mailferry user remove`, `mailferry tenant delete` and the audit entries of the shell's
commands, through the real command line on a migrated database of the suite's backend
(tokens at the providers: tests/worker/test_offboarding.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailferry import migrate
from mailferry.db import make_engine
from mailferry.models import AuditEntry, Tenant, User, UserSetting
from mailferry.provisioning import Person, provision_user


def _mailferry(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def signed_in(empty_database_url, tmp_path):
    """Two people of contoso.example who signed in once (one with a setting), and the command's environment."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with Session(engine) as session:
        alex, _ = provision_user(session, Person("tid-cli", "oid-alex", "Alex@Contoso.example", "Alex"), "Contoso")
        provision_user(session, Person("tid-cli", "oid-sam", "sam@contoso.example", "Sam"), "Contoso")
        alex.tenant.primary_domain = "contoso.example"
        session.add(UserSetting(user_id=alex.id, key="time_zone", value="Europe/Paris"))
        session.commit()
    yield engine, {**os.environ, "DATABASE_URL": empty_database_url, "MAILFERRY_DATA_DIR": str(tmp_path)}
    engine.dispose()


def _count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_user_remove_deletes_the_user_and_writes_the_operator_into_the_audit_log(signed_in):
    engine, env = signed_in
    result = _mailferry("user", "remove", "ALEX@contoso.example", env=env)
    assert result.returncode == 0, result.stderr
    assert "alex@contoso.example was removed" in result.stdout
    assert _count(engine, User, User.upn == "alex@contoso.example") == 0
    assert _count(engine, UserSetting) == 0
    assert _count(engine, User) == 1  # Sam stays
    with Session(engine) as session:
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.subject, entry.actor_name, entry.actor_user_id) == (
            "user.remove", "alex@contoso.example", "mailferry user remove (shell)", None)


def test_user_remove_of_someone_unknown_says_so(signed_in):
    _, env = signed_in
    result = _mailferry("user", "remove", "nobody@contoso.example", env=env)
    assert result.returncode == 1 and "No user nobody@contoso.example" in result.stdout


def test_admin_grant_from_the_shell_is_in_the_audit_log(signed_in):
    engine, env = signed_in
    assert _mailferry("admin", "grant", "sam@contoso.example", env=env).returncode == 0
    with Session(engine) as session:
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.subject, entry.actor_name, entry.before, entry.after) == (
            "admin.grant", "sam@contoso.example", "mailferry admin (shell)",
            {"role": "user", "admin_source": None}, {"role": "admin", "admin_source": "granted"})


def test_tenant_delete_asks_for_yes_then_removes_everything_of_the_tenant(signed_in):
    engine, env = signed_in
    asked = _mailferry("tenant", "delete", "contoso.example", env=env)
    assert asked.returncode == 2 and "--yes" in asked.stdout and "2 user(s)" in asked.stdout
    assert _count(engine, Tenant) == 1
    deleted = _mailferry("tenant", "delete", "tid-cli", "--yes", env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted: 2 user(s) removed" in deleted.stdout
    assert (_count(engine, Tenant), _count(engine, User), _count(engine, UserSetting), _count(engine, AuditEntry)) == (
        0, 0, 0, 0)
    unknown = _mailferry("tenant", "delete", "tid-cli", "--yes", env=env)
    assert unknown.returncode == 1 and "No tenant tid-cli" in unknown.stdout
