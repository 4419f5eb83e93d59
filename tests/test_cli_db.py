"""`mailferry db upgrade`, `downgrade base`, `upgrade` through the real command line, on the
database the suite runs against (SQLite file, or PostgreSQL when DATABASE_URL is set)."""

from __future__ import annotations

import os
import subprocess
import sys


def _mailferry(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_upgrade_downgrade_base_upgrade_round_trip(empty_database_url, tmp_path):
    database_url = empty_database_url
    from mailferry import migrate

    env = {**os.environ, "DATABASE_URL": database_url, "MAILFERRY_DATA_DIR": str(tmp_path)}
    first = _mailferry("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert f"database at revision {migrate.head()}" in first.stdout
    down = _mailferry("db", "downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    assert "database at revision base (empty)" in down.stdout
    again = _mailferry("db", "upgrade", env=env)
    assert again.returncode == 0, again.stderr
    assert migrate.is_up_to_date(database_url)


def test_downgrade_without_a_revision_is_refused_with_the_fix(empty_database_url, tmp_path):
    database_url = empty_database_url
    env = {**os.environ, "DATABASE_URL": database_url, "MAILFERRY_DATA_DIR": str(tmp_path)}
    result = _mailferry("db", "downgrade", env=env)
    assert result.returncode == 2
    assert "mailferry db downgrade base" in result.stderr


def test_a_configuration_error_stops_the_command_and_names_the_variable(tmp_path):
    env = {**os.environ, "DATABASE_URL": "mysql://nope", "MAILFERRY_DATA_DIR": str(tmp_path)}
    result = _mailferry("db", "upgrade", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: DATABASE_URL=")
