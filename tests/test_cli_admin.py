"""`mailferry admin grant|revoke|list` through the real command line, on a migrated database of
the backend the suite runs against: how a production tenant gets its first admin."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import migrate
from mailferry.db import make_engine
from mailferry.models import User
from mailferry.provisioning import Person, provision_user


def _mailferry(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "admin", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def signed_in(empty_database_url, tmp_path):
    """A database where alex@contoso.example signed in once (not an admin), and the command's environment."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with Session(engine) as session:
        provision_user(session, Person("tid-cli", "oid-alex", "Alex@Contoso.example", "Alex"))
        session.commit()
    yield engine, {**os.environ, "DATABASE_URL": empty_database_url, "MAILFERRY_DATA_DIR": str(tmp_path)}
    engine.dispose()


def _role(engine) -> tuple[str, str | None]:
    with Session(engine) as session:
        user = session.execute(select(User)).scalar_one()
        return user.role, user.admin_source


def test_grant_makes_a_signed_in_user_an_admin_and_list_shows_them(signed_in):
    engine, env = signed_in
    granted = _mailferry("grant", "alex@contoso.example", env=env)
    assert granted.returncode == 0, granted.stderr
    assert "alex@contoso.example is now an admin" in granted.stdout
    assert _role(engine) == ("admin", "granted")
    listed = _mailferry("list", env=env)
    assert listed.stdout.split("\t")[:3] == ["alex@contoso.example", "granted", "tid-cli"]


def test_grant_to_someone_who_never_signed_in_says_they_must_sign_in_first(signed_in):
    _, env = signed_in
    result = _mailferry("grant", "sam@contoso.example", env=env)
    assert result.returncode == 1
    assert "No user sam@contoso.example has signed in" in result.stdout and "sign in once" in result.stdout


def test_revoke_from_the_shell_may_remove_the_last_admin_and_says_so(signed_in):
    engine, env = signed_in
    _mailferry("grant", "alex@contoso.example", env=env)
    result = _mailferry("revoke", "ALEX@contoso.example", env=env)
    assert result.returncode == 0, result.stderr
    assert "no longer an admin" in result.stdout and "no admin now" in result.stdout
    assert _role(engine) == ("user", None)


def test_grant_without_a_name_is_refused_with_an_example(signed_in):
    _, env = signed_in
    result = _mailferry("grant", env=env)
    assert result.returncode == 2 and "e.g." in result.stdout
