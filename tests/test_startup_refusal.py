"""`mailferry web`, `worker` and `scheduler` refuse to start (exit code 2) on a database whose
schema is behind the code, naming both revisions and `mailferry db upgrade`; plain `mailferry
web` in production refuses the development certificate. The real commands, as subprocesses."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cli.startup_checks import development_certificate_refusal
from mailferry import migrate
from mailferry.db import make_engine
from tests.deploy.public_tls import issue_public_certificate
from tests.config_fixtures import build_config, production_variables
from tests.mailferry_command import mailferry


@pytest.fixture
def database_at_0002(empty_database_url) -> str:
    migrate.upgrade(empty_database_url, "0002")
    return empty_database_url


@pytest.fixture
def current_database(empty_database_url) -> str:
    migrate.upgrade(empty_database_url)
    return empty_database_url


@pytest.mark.parametrize("command", ["web", "worker", "scheduler"])
def test_a_process_refuses_a_schema_behind_the_code_naming_the_revisions_and_the_fix(
        command, database_at_0002, redis_url, tmp_path):
    result = mailferry(command, DATABASE_URL=database_at_0002, REDIS_URL=redis_url,
                       MAILFERRY_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"mailferry: not starting: the database schema is at revision 0002, this version of "
                             f"Mailferry expects {migrate.head()}: run `mailferry db upgrade` first\n")
    assert migrate.current(database_at_0002) == "0002"  # refused, not upgraded behind the operator's back


def test_an_empty_database_is_refused_until_it_is_upgraded(empty_database_url, redis_url, tmp_path):
    result = mailferry("scheduler", DATABASE_URL=empty_database_url, REDIS_URL=redis_url,
                       MAILFERRY_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 2
    assert "schema is at revision base (empty)" in result.stderr and "`mailferry db upgrade`" in result.stderr


def test_a_schema_from_a_newer_mailferry_is_refused_without_suggesting_an_upgrade(current_database):
    engine = make_engine(current_database)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    refusal = migrate.schema_refusal(current_database)
    assert refusal.startswith("the database schema is at revision 0099, which this version of Mailferry does not know")
    assert "db upgrade" not in refusal


def test_a_current_schema_is_not_refused(current_database):
    assert migrate.schema_refusal(current_database) is None


def test_production_web_refuses_the_development_certificate_left_at_its_default(current_database, tmp_path, certs):
    result = mailferry("web", **production_variables(DATABASE_URL=current_database,
                                                     MAILFERRY_CERTS_DIR=str(certs.folder)))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"mailferry: not starting: MAILFERRY_TLS_CERT_FILE and MAILFERRY_TLS_KEY_FILE are left at the development "
        f"certificate ({certs.server_cert}): serve your own certificate and key")
    assert "or run behind a reverse proxy that terminates TLS with `mailferry web --proxy`" in result.stderr


def test_production_web_refuses_a_certificate_the_development_ca_issued(current_database, tmp_path, certs):
    # The development certificate copied elsewhere: not at the defaults, still the development CA's.
    (tmp_path / "issued").mkdir()
    cert_file, key_file = tmp_path / "issued" / "mailferry.pem", tmp_path / "issued" / "mailferry-key.pem"
    cert_file.write_bytes(certs.server_cert.read_bytes())
    key_file.write_bytes(certs.server_key.read_bytes())
    result = mailferry("web", **production_variables(
        DATABASE_URL=current_database, MAILFERRY_TLS_CERT_FILE=str(cert_file), MAILFERRY_TLS_KEY_FILE=str(key_file)))
    assert result.returncode == 2
    assert result.stderr.startswith(f"mailferry: not starting: MAILFERRY_TLS_CERT_FILE={str(cert_file)!r} "
                                    "was issued by Mailferry's development CA: serve your own certificate")


def test_an_organisations_own_certificate_is_accepted_and_the_demo_keeps_its_own(tmp_path, certs):
    own = issue_public_certificate(tmp_path / "own", "mailferry.example.com")
    production = build_config(tmp_path / "data", **production_variables(
        MAILFERRY_TLS_CERT_FILE=str(own.cert_file), MAILFERRY_TLS_KEY_FILE=str(own.key_file)))
    assert development_certificate_refusal(production) is None
    assert development_certificate_refusal(build_config(tmp_path / "demo", MAILFERRY_CERTS_DIR=str(certs.folder))) \
        is None
