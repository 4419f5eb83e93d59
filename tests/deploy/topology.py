"""The production topology of docs/deploy.md on one machine, the sandbox standing in for the
real clouds: Debian's nginx terminating TLS for the public name in front of two `mailferry web
--proxy`, two workers and a scheduler (each a process started with its systemd unit's
command), PostgreSQL and the Redis server, MAILFERRY_ENV=production.

The public name is the machine's non-loopback IPv4 address (production refuses a localhost
base URL), with a certificate from a test CA of its own (tests/deploy/public_tls.py). The
sandbox trusts that CA as Graph trusts a public one (it posts change notifications to the
public URL); Mailferry's MAILFERRY_CLIENT_CA_FILE is a bundle of the sandbox's development CA,
as of a private CA in front of the clouds, and of that public one (`mailferry doctor` reaches
the public URL through nginx with it), and nothing else of the development setup is used:
its MAILFERRY_CERTS_DIR is an empty folder.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import redis

from cli.processes import free_port
from mailferry.tls import https_session
from tests.deploy import deploy_doc
from tests.deploy.nginx_site import SiteLayout, public_host, start_nginx, stop_nginx
from tests.deploy.public_tls import issue_public_certificate
from tests.deploy.services import Service, run_mailferry, stop_all, wait_for_socket
from tests.deploy.units import mailferry_arguments

#: The Redis server's database the topology has to itself (flushed before and after).
REDIS_URL = os.environ.get("MAILFERRY_TEST_TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/13")
#: Mailferry's app registration in the sandbox tenant, as docs/deploy.md has an admin make it.
APP = {"client_id": "7a3e0b52-0000-4000-8000-00000000d3b1", "client_secret": "topology-client-secret",
       "display_name": "Mailferry (production topology)", "sign_in_audience": "AzureADMyOrg",
       "requested_access_token_version": 1}
SALESFORCE_APP = ("mailferry-topology-consumer", "mailferry-topology-consumer-secret")
TASK_LIMIT_SECONDS = 60


def generated_secret(line: str, places: dict[str, str], folder: Path) -> str:
    """What one of docs/deploy.md's secret-generating commands prints, the virtualenv of
    `places` standing for /opt/mailferry/venv."""
    return deploy_doc.run(deploy_doc.rewrite(line, places), folder, {"PATH": os.environ["PATH"]}).stdout.strip()


class Topology:
    def __init__(self, folder: Path, bin_dir: Path, database_url: str):
        self.folder = folder
        self.mailferry = bin_dir / "mailferry"
        #: Where docs/deploy.md's commands find the virtualenv, and also the environment file.
        self.venv = {"/opt/mailferry/venv": str(bin_dir.parent)}
        self.places = {**self.venv, "/etc/mailferry": str(folder / "etc" / "mailferry")}
        self.services: list[Service] = []
        self.nginx = None
        self.host = public_host()
        self.layout = SiteLayout(folder, self.host, free_port(), free_port(),
                                 issue_public_certificate(folder / "public", self.host),
                                 (folder / "web-1.sock", folder / "web-2.sock"))
        self.base_url = f"https://{self.host}:{self.layout.https_port}"
        self.ms = f"https://localhost:{free_port()}"
        self.sf = f"https://localhost:{free_port()}"
        self.database_url = database_url
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.redis.flushdb()

    # -- the clouds --------------------------------------------------------------------------
    def start_sandbox(self) -> None:
        folder = self.folder / "sandbox"
        env = {"PATH": os.environ["PATH"], "MAILFERRY_DATA_DIR": str(folder / "data"),
               "MAILFERRY_CERTS_DIR": str(folder / "certs"), "MAILFERRY_BASE_URL": self.base_url,
               "MAILFERRY_SANDBOX_MICROSOFT_PORT": self.ms.rsplit(":", 1)[1],
               "MAILFERRY_SANDBOX_SALESFORCE_PORT": self.sf.rsplit(":", 1)[1],
               "SALESFORCE_CLIENT_ID": SALESFORCE_APP[0], "SALESFORCE_CLIENT_SECRET": SALESFORCE_APP[1]}
        folder.mkdir()
        run_mailferry(self.mailferry, ["certs"], env, folder)
        self.clouds_ca = folder / "certs" / "ca.pem"
        # What the sandbox trusts: its own CA (its servers check each other) and the public one.
        self.trusted_by_clouds = folder / "trusted.pem"
        self.trusted_by_clouds.write_text(self.clouds_ca.read_text() + self.layout.certificate.ca_file.read_text())
        env["MAILFERRY_TLS_CA_FILE"] = str(self.trusted_by_clouds)
        self.services.append(Service("sandbox", self.mailferry, ["sandbox", "--forget"], env, folder))
        # A browser of this test trusts what a browser on the internet does: both.
        self.browser_ca = self.trusted_by_clouds
        self.cloud = https_session(self.clouds_ca)
        self._wait(lambda: self._answers(f"{self.ms}/_sandbox/users") and self._answers(f"{self.sf}/_sandbox/records/User"),
                   "the sandbox to answer", self.services[-1])
        registered = self.cloud.post(f"{self.ms}/_sandbox/apps", json={
            **APP, "redirect_uris": [f"{self.base_url}/auth/microsoft/callback"]}, timeout=30)
        assert registered.status_code == 201, registered.text
        self.tenant = self.cloud.get(f"{self.ms}/_sandbox/tenant", timeout=30).json()

    def _answers(self, url: str) -> bool:
        try:
            return self.cloud.get(url, timeout=5).status_code == 200
        except OSError:
            return False

    # -- Mailferry ---------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """/etc/mailferry/mailferry.env of this deployment (docs/deploy.md, "Configuration")."""
        return {
            "PATH": os.environ["PATH"],
            "MAILFERRY_ENV": "production",
            "MAILFERRY_BASE_URL": self.base_url,
            "MAILFERRY_DATA_DIR": str(self.folder / "data"),
            "MAILFERRY_CERTS_DIR": str(self.folder / "no-development-certificates"),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "MAILFERRY_SECRET_KEY": self.generated(deploy_doc.command("secrets.token_urlsafe")),
            "MAILFERRY_ENCRYPTION_KEYS": self.generated(deploy_doc.command("Fernet.generate_key")),
            "MICROSOFT_TENANT": self.tenant["tenantId"],
            "MICROSOFT_CLIENT_ID": APP["client_id"],
            "MICROSOFT_CLIENT_SECRET": APP["client_secret"],
            "MICROSOFT_AUTHORITY_HOST": self.ms,
            "MICROSOFT_GRAPH_URL": f"{self.ms}/v1.0",
            "SALESFORCE_LOGIN_URL": self.sf,
            "SALESFORCE_CLIENT_ID": SALESFORCE_APP[0],
            "SALESFORCE_CLIENT_SECRET": SALESFORCE_APP[1],
            "SALESFORCE_ALLOWED_HOSTS": self.sf.removeprefix("https://"),
            # The clouds' CA and the public one, as the sandbox trusts both.
            "MAILFERRY_CLIENT_CA_FILE": str(self.trusted_by_clouds),
            # Operated as docs/operations.md says: JSON lines, and /metrics for Prometheus's
            # bearer token (made as the session key is; from nginx's side, the token is the
            # only way in: no MAILFERRY_METRICS_NETWORKS).
            "MAILFERRY_LOG_FORMAT": "json",
            "MAILFERRY_METRICS_TOKEN": self.generated(deploy_doc.command("secrets.token_urlsafe")),
            # Two cores: one process per web instance (the unit's default is two).
            "MAILFERRY_WEB_PROCESSES": "1",
            "MAILFERRY_WEB_THREADS": "8",
        }

    def generated(self, line: str) -> str:
        return generated_secret(line, self.venv, self.folder)

    def write_environment_file(self) -> None:
        """The environment as /etc/mailferry/mailferry.env (the processes here get it directly,
        as systemd's EnvironmentFile gives it; the document's one-off commands source it)."""
        path = Path(self.places["/etc/mailferry"]) / "mailferry.env"
        path.parent.mkdir(parents=True)
        path.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in self.env.items() if k != "PATH"))

    def as_service_account(self, line: str) -> subprocess.CompletedProcess:
        """One of docs/deploy.md's `sudo -u mailferry sh -c '. mailferry.env; …'` commands, as
        root, in an environment holding nothing but PATH: the rest comes from the file."""
        return deploy_doc.run(deploy_doc.rewrite(deploy_doc.as_root(line), self.places), self.folder,
                              {"PATH": os.environ["PATH"]}, check=False)

    def upgrade_database(self) -> str:
        (self.folder / "data").mkdir()
        (self.folder / "no-development-certificates").mkdir()
        self.env = self.environment()
        self.write_environment_file()
        answer = self.as_service_account(deploy_doc.command("mailferry db upgrade"))
        assert answer.returncode == 0, f"mailferry db upgrade:\n{answer.stdout}{answer.stderr}"
        return answer.stdout + answer.stderr

    def start_mailferry(self) -> None:
        def unit(name: str, unit_file: str, instance: str = "1") -> Service:
            arguments = [a.replace("unix:/run/mailferry/", f"unix:{self.folder}/")
                         for a in mailferry_arguments(unit_file, instance)]
            service = Service(name, self.mailferry, arguments, self.env, self.folder)
            self.services.append(service)
            return service

        webs = [unit(f"web-{n}", "mailferry-web@.service", n) for n in ("1", "2")]
        self.workers = [unit(f"worker-{n}", "mailferry-worker@.service", n) for n in ("1", "2")]
        self.scheduler = unit("scheduler", "mailferry-scheduler.service")
        for web, path in zip(webs, self.layout.sockets):
            wait_for_socket(web, path, limit=90)
        self.nginx = start_nginx(self.layout)
        self.webs = webs

    def browser(self):
        """What a person's browser is here: an HTTPS session trusting public CAs (and the
        sandbox's, which stands for the clouds' public ones)."""
        return https_session(self.browser_ca)

    def public(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def registered_workers(self) -> int:
        return self.redis.scard("rq:workers")

    def stop(self) -> None:
        if self.nginx is not None:
            stop_nginx(self.nginx)
        stop_all(self.services)
        self.redis.flushdb()
        self.redis.close()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log()[-3000:]}" for s in self.services)

    # -- mail and Tasks -------------------------------------------------------------------------
    def tasks_on(self, who_id: str) -> list[dict]:
        records = self.cloud.get(f"{self.sf}/_sandbox/records/Task", timeout=30).json()["records"]
        return [task for task in records if task.get("WhoId") == who_id]

    def mail_from_a_new_contact(self, upn: str, subject: str) -> str:
        """A new Contact in the org mails the rep; returns the Contact's id."""
        address = f"buyer.{uuid.uuid4().hex[:8]}@northwind-traders.example"
        contact = self.cloud.post(f"{self.sf}/_sandbox/records/Contact",
                                  json={"FirstName": "Bea", "LastName": "Buyer", "Email": address}, timeout=30)
        assert contact.status_code in (200, 201), contact.text
        self.cloud.post(f"{self.ms}/_sandbox/users/{upn}/messages",
                        json={"from": address, "to": [upn], "subject": subject}, timeout=30).raise_for_status()
        return contact.json()["ids"][0]

    def wait_for_task(self, who_id: str, limit: float = TASK_LIMIT_SECONDS) -> list[dict]:
        return self._wait(lambda: self.tasks_on(who_id), f"a Task on {who_id}", limit=limit)

    def _wait(self, condition, what: str, service: Service | None = None, limit: float = 60):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if service is not None:
                assert service.running(), f"{service.name} exited:\n{service.log()}"
            result = condition()
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no {what} within {limit}s\n{self.logs()}")
