"""`mailferry doctor` in production: it reaches, with the outbound CA, the Entra discovery
document, Graph, the Salesforce login host and the public base URL (the sandboxes and a served
Mailferry here), says which failed and why (a TLS verification failure named as such), and
reports the start-up refusals and SQLite on a network file system."""

from __future__ import annotations

import re
import socket
import ssl

import pytest
from aiosmtpd.controller import Controller

from cli.doctor import diagnose, sqlite_on_network_file_system
from cli.processes import free_port
from mailferry import migrate
from mailferry.tls import CertificatePaths
from tests.deploy.public_tls import issue_public_certificate
from tests.config_fixtures import build_config, production_variables
from tests.https_server import start_https
from tests.mailferry_command import mailferry
from tests.sandbox.microsoft.tenant import TENANT

HOST = socket.gethostname()  # a public base URL may not be localhost: this machine's own name


@pytest.fixture
def reachable(tmp_path, microsoft_url, salesforce_app, sandbox_settings, migrated_database_url, redis_url, certs):
    """Production variables whose every service answers: the sandboxes as Entra, Graph and
    Salesforce, and a Mailferry served at https://<this host's name>:<port> with a public
    CA's certificate as the public base URL; MAILFERRY_CLIENT_CA_FILE is a bundle of both CAs."""
    port = free_port()
    public = issue_public_certificate(tmp_path / "public", HOST)
    bundle = tmp_path / "outbound-ca.pem"
    bundle.write_bytes(certs.ca_cert.read_bytes() + public.ca_file.read_bytes())
    variables = production_variables(
        MAILFERRY_BASE_URL=f"https://{HOST}:{port}", DATABASE_URL=migrated_database_url, REDIS_URL=redis_url,
        MICROSOFT_AUTHORITY_HOST=microsoft_url, MICROSOFT_GRAPH_URL=f"{microsoft_url}/v1.0", MICROSOFT_TENANT=TENANT,
        SALESFORCE_LOGIN_URL=sandbox_settings.salesforce_url, MAILFERRY_CLIENT_CA_FILE=str(bundle))
    from server import create_app

    served = CertificatePaths(tmp_path / "public")  # start_https serves its server_cert and server_key
    public.cert_file.rename(served.server_cert)
    public.key_file.rename(served.server_key)
    server, _ = start_https(create_app(build_config(tmp_path / "data", **variables)), served, port=port,
                            host=socket.gethostbyname(HOST))
    yield variables
    server.shutdown()


def doctor(tmp_path, capsys, proxy: bool = True, **variables: str) -> tuple[int, dict[str, str]]:
    """Run doctor on a configuration of `variables`: its exit code and each check's line."""
    code = diagnose(build_config(tmp_path / "data", **variables), proxy=proxy)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "environment: production"
    return code, {line[7:].split(":", 1)[0]: line.strip() for line in lines[1:]}


REACHED = ("entra discovery", "microsoft graph", "salesforce login", "public base url")


def test_a_production_deployment_whose_services_answer_passes_every_check(reachable, tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, **reachable)
    assert list(lines) == ["database", "database storage", "redis", *REACHED]
    assert all(line == f"ok   {name}" for name, line in lines.items()), lines
    assert code == 0


def test_a_wrong_outbound_ca_fails_each_service_as_a_tls_verification_failure_with_the_fix(
        reachable, tmp_path, capsys):
    other_ca = issue_public_certificate(tmp_path / "other", "unused.example.com").ca_file
    code, lines = doctor(tmp_path, capsys, **{**reachable, "MAILFERRY_CLIENT_CA_FILE": str(other_ca)})
    assert code == 1
    for name in REACHED:
        assert lines[name].startswith(f"FAIL {name}: "), lines[name]
        # The verifier's reason: the issuer is unknown (or, for the public name, a CA of the same
        # name whose signature does not match).
        assert re.search(r"TLS verification failed \((unable to get local issuer certificate|certificate signature "
                         rf"failure)\) against the CA bundle MAILFERRY_CLIENT_CA_FILE={re.escape(str(other_ca))}: "
                         "when a proxy inspects TLS", lines[name]), lines[name]
        assert "set MAILFERRY_CLIENT_CA_FILE to a PEM bundle holding that CA" in lines[name]
    assert lines["redis"] == "ok   redis" and lines["database"] == "ok   database"


def test_without_the_client_ca_file_the_public_cas_are_named(reachable, tmp_path, capsys):
    variables = {k: v for k, v in reachable.items() if k != "MAILFERRY_CLIENT_CA_FILE"}
    _, lines = doctor(tmp_path, capsys, **variables)
    assert "against the public CAs (MAILFERRY_CLIENT_CA_FILE is unset)" in lines["entra discovery"]


def test_a_closed_port_is_named_as_a_connection_failure_and_the_rest_still_checked(reachable, tmp_path, capsys):
    closed = f"https://localhost:{free_port()}"
    code, lines = doctor(tmp_path, capsys, **{**reachable, "MICROSOFT_AUTHORITY_HOST": closed})
    assert code == 1
    assert lines["entra discovery"] == (f"FAIL entra discovery: {closed.removeprefix('https://')}: cannot connect "
                                        "(Connection refused): check the host name, the firewall and any outbound proxy")
    assert lines["microsoft graph"] == "ok   microsoft graph" and lines["public base url"] == "ok   public base url"


def test_a_discovery_document_without_an_issuer_is_named(reachable, tmp_path, capsys, microsoft_url):
    # Graph's root answers, but it is no OpenID configuration: the authority host is wrong.
    _, lines = doctor(tmp_path, capsys, **{**reachable, "MICROSOFT_AUTHORITY_HOST": f"{microsoft_url}/v1.0"})
    assert lines["entra discovery"].startswith(f"FAIL entra discovery: {microsoft_url}/v1.0/{TENANT}/v2.0/.well-known/"
                                               "openid-configuration answered HTTP ")
    assert "without an OpenID configuration (no issuer): check MICROSOFT_AUTHORITY_HOST" in lines["entra discovery"]


def test_a_base_url_serving_something_else_than_mailferry_is_named(reachable, tmp_path, capsys, microsoft_url):
    _, lines = doctor(tmp_path, capsys, **{**reachable, "MAILFERRY_BASE_URL": f"{reachable['MAILFERRY_BASE_URL']}/x"})
    assert lines["public base url"].startswith(f"FAIL public base url: {reachable['MAILFERRY_BASE_URL']}/x/healthz "
                                               "answered HTTP 404, not Mailferry's health")


def test_without_proxy_doctor_refuses_the_development_certificate(reachable, tmp_path, capsys, certs):
    code, lines = doctor(tmp_path, capsys, proxy=False, MAILFERRY_CERTS_DIR=str(certs.folder), **reachable)
    assert code == 1
    assert lines["certificate"].startswith("FAIL certificate: MAILFERRY_TLS_CERT_FILE and MAILFERRY_TLS_KEY_FILE are "
                                           "left at the development certificate")


def test_a_schema_behind_the_code_fails_the_database_check(reachable, tmp_path, capsys, empty_database_url):
    migrate.upgrade(empty_database_url, "0002")
    _, lines = doctor(tmp_path, capsys, **{**reachable, "DATABASE_URL": empty_database_url})
    assert lines["database"] == (f"FAIL database: the database schema is at revision 0002, this version of Mailferry "
                                 f"expects {migrate.head()}: run `mailferry db upgrade` first")


def test_doctor_with_unsafe_production_settings_lists_every_one_and_exits_2(tmp_path):
    result = mailferry("doctor", MAILFERRY_DATA_DIR=str(tmp_path / "data"),
                       **{k: v for k, v in production_variables().items() if k not in ("REDIS_URL", "DATABASE_URL")})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Configuration error: MAILFERRY_ENV=production refuses 2 setting(s):",
        "  REDIS_URL is not set: the embedded Redis is the demo's; set REDIS_URL=redis://host:6379/0 (your Redis "
        "server)",
        "  DATABASE_URL is not set: set DATABASE_URL=postgresql://user:password@host:5432/mailferry, or sqlite:///path/"
        "to/mailferry.db for a single host (the demo's file inside the install is not kept safe)",
    ]


MOUNTS = """\
/dev/vda1 / ext4 rw,relatime 0 0
fileserver:/export/mailferry /srv/shared nfs4 rw,relatime 0 0
//nas/share /mnt/with\\040space cifs rw 0 0
tmpfs /srv/shared/local tmpfs rw 0 0
"""


@pytest.mark.parametrize(("database_url", "warning"), [
    ("sqlite:////srv/shared/mailferry.db", "nfs4 at /srv/shared"),
    ("sqlite:////mnt/with space/m.db", "cifs at /mnt/with space"),
    ("sqlite:////srv/shared/local/mailferry.db", None),  # a local mount inside the share
    ("sqlite:////var/lib/mailferry/mailferry.db", None),
    ("sqlite:////srv/sharedness/mailferry.db", None),  # a name that merely starts like the share
    ("postgresql://mailferry@db.example.com/mailferry", None),
])
def test_sqlite_on_a_network_file_system_is_a_warning(tmp_path, database_url, warning):
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    found = sqlite_on_network_file_system(database_url, mounts)
    if warning is None:
        assert found is None
    else:
        assert f"is on a network file system ({warning}), where SQLite's locking is unsafe" in found
        assert "keep it on a local disk, or use PostgreSQL" in found


def test_sqlite_on_this_machines_disk_is_ok(reachable, tmp_path, capsys):
    _, lines = doctor(tmp_path, capsys, **{**reachable, "DATABASE_URL": f"sqlite:///{tmp_path / 'local.db'}"})
    assert lines["database storage"] == "ok   database storage"


def test_a_redis_that_does_not_answer_is_named_without_its_password(reachable, tmp_path, capsys):
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    code, lines = doctor(tmp_path, capsys, **{**reachable, "REDIS_URL": url})
    assert code == 1
    assert lines["redis"] == (f"FAIL redis: redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]} does not answer "
                              "(ConnectionError); check REDIS_URL")


def test_doctor_in_the_demo_checks_certificates_database_and_redis_only(migrated_database_url, redis_url, certs,
                                                                       tmp_path):
    result = mailferry("doctor", MAILFERRY_DATA_DIR=str(tmp_path / "data"), MAILFERRY_CERTS_DIR=str(certs.folder),
                       DATABASE_URL=migrated_database_url, REDIS_URL=redis_url)
    assert (result.returncode, result.stdout.splitlines()) == (
        0, ["environment: demo", "  ok   certificates", "  ok   database", "  ok   redis"]), result.stderr


@pytest.fixture
def smtp_port(certs):
    """`smtp_port(starttls=True)`: a local aiosmtpd server's port, offering STARTTLS with the
    test CA's localhost certificate (or not at all), as alert emails meet it."""
    controllers = []

    def start(starttls: bool = True) -> int:
        context = None
        if starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certs.server_cert, certs.server_key)
        controller = Controller(Sink(), hostname="127.0.0.1", port=free_port(), tls_context=context,
                                require_starttls=starttls)
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


class Sink:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        return "250 OK"


def test_the_smtp_server_of_alert_emails_is_reached_over_starttls_when_it_is_set(reachable, tmp_path, capsys,
                                                                                  smtp_port):
    _, lines = doctor(tmp_path, capsys, **reachable)
    assert "smtp" not in lines  # unset: no alert emails, nothing to reach

    port = smtp_port()
    code, lines = doctor(tmp_path, capsys, **reachable, MAILFERRY_SMTP_URL=f"smtp://localhost:{port}?starttls=yes")
    assert lines["smtp"] == "ok   smtp" and code == 0

    other_ca = issue_public_certificate(tmp_path / "other", "unused.example.com").ca_file
    code, lines = doctor(tmp_path, capsys, **{**reachable, "MAILFERRY_CLIENT_CA_FILE": str(other_ca)},
                         MAILFERRY_SMTP_URL=f"smtp://localhost:{port}?starttls=yes")
    assert code == 1
    assert lines["smtp"] == (
        f"FAIL smtp: localhost:{port}: TLS verification failed (unable to get local issuer certificate) against the "
        f"CA bundle MAILFERRY_CLIENT_CA_FILE={other_ca}: when a proxy inspects TLS or the host has a private CA, set "
        "MAILFERRY_CLIENT_CA_FILE to a PEM bundle holding that CA")

    plain = smtp_port(starttls=False)
    _, lines = doctor(tmp_path, capsys, **reachable, MAILFERRY_SMTP_URL=f"smtp://localhost:{plain}?starttls=yes")
    assert lines["smtp"] == (f"FAIL smtp: localhost:{plain} does not offer STARTTLS, which MAILFERRY_SMTP_URL asks "
                             "for (starttls=yes): use the server's submission port that does (usually 587)")

    closed = free_port()
    _, lines = doctor(tmp_path, capsys, **reachable, MAILFERRY_SMTP_URL=f"smtp://localhost:{closed}")
    assert lines["smtp"] == (f"FAIL smtp: localhost:{closed}: cannot connect (Connection refused): check the host "
                             "name, the firewall and any outbound proxy")
