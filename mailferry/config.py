"""Configuration from environment variables (and a `.env` file when present), validated once.

Every problem names the variable and the fix, and stops start-up. In the default `demo`
environment nothing needs to be set: the Microsoft and Salesforce endpoints are the sandbox's,
and the secrets are generated into the data folder on first start.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization

from mailferry.bundled_files import running_from_checkout
from mailferry.salesforce_domains import SalesforceHosts, parse_rule

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("demo", "production")
FERNET_KEY_HINT = (
    "set one or more Fernet keys separated by commas (newest first, older ones still decrypt), "
    "e.g. from `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
)
SECRET_KEY_HINT = (
    "set a long random string, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
)
#: The shortest MAILFERRY_SECRET_KEY production accepts: it signs the session cookies.
SECRET_KEY_MIN_LENGTH = 32
#: The shortest MAILFERRY_METRICS_TOKEN accepted: whoever has it reads the /metrics page.
METRICS_TOKEN_MIN_LENGTH = 24

#: MICROSOFT_TENANT's default: any work or school account (a multi-tenant registration).
MULTI_TENANT = "organizations"
_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ORG_ID = re.compile(r"00D[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")
_YES, _NO = {"yes", "true", "1", "on"}, {"no", "false", "0", "off", ""}
_TENANT_DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and the fix."""


@dataclass(frozen=True)
class SmtpServer:
    """MAILFERRY_SMTP_URL: where alert emails go (worker/alert_email.py sends them)."""

    host: str
    port: int
    starttls: bool
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Config:
    environment: str
    data_dir: Path
    certs_dir: Path
    database_url: str
    redis_url: str
    # True when REDIS_URL was not set: `mailferry run` then starts the embedded server.
    redis_embedded: bool
    secret_key: str = field(repr=False)
    encryption_keys: tuple[str, ...] = field(repr=False)
    base_url: str
    web_host: str
    web_port: int
    web_threads: int
    worker_count: int
    tls_cert_file: Path
    tls_key_file: Path
    tls_ca_file: Path
    outbound_ca_file: Path | None
    microsoft_authority_host: str
    microsoft_graph_url: str
    microsoft_client_id: str
    microsoft_client_secret: str = field(repr=False)
    # MICROSOFT_TENANT: the authority's tenant segment for signing in (and the add-in's
    # MSAL.js): `organizations` for a multi-tenant registration, the tenant id or a verified
    # domain for a single-tenant one (Entra refuses /organizations and /common for those).
    microsoft_tenant: str
    # MICROSOFT_CLIENT_CERTIFICATE_FILE: a PEM file with the app registration's certificate
    # and its private key; msal then signs a client assertion instead of sending the secret.
    microsoft_client_certificate_file: Path | None
    salesforce_login_url: str
    salesforce_client_id: str
    salesforce_client_secret: str = field(repr=False)
    sandbox_microsoft_port: int
    sandbox_salesforce_port: int
    sandbox_seed: int
    log_level: str
    # SALESFORCE_ALLOWED_HOSTS: hosts an admin trusts as Salesforce besides its own domains.
    salesforce_allowed_hosts: tuple[str, ...] = ()
    # MAILFERRY_ALLOWED_TENANTS: the Entra tenants (ids or verified domains, lower-cased)
    # whose users may sign in; ("*",) admits any; () means "the MICROSOFT_TENANT one" for a
    # single-tenant registration, and any tenant in the demo.
    allowed_tenants: tuple[str, ...] = ()
    # MAILFERRY_SALESFORCE_ORG_IDS: (tenant, org id) pins; tenant "*" pins every tenant.
    salesforce_org_ids: tuple[tuple[str, str], ...] = ()
    # A web sign-in ends this long after it began, or after this long without a request
    # (docs/web.md, "Sessions").
    session_hours: int = 12
    session_idle_minutes: int = 120
    # MAILFERRY_WEB_PROCESSES: gunicorn worker processes of `mailferry web`.
    web_processes: int = 2
    # MAILFERRY_TRUSTED_PROXIES: peers besides loopback and the Unix socket whose
    # X-Forwarded-* headers `mailferry web --proxy` believes (server/forwarded_headers.py).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # MAILFERRY_LOG_FORMAT: `text`, or `json` (one object per line; mailferry/logging_setup.py).
    log_format: str = "text"
    # PROMETHEUS_MULTIPROC_DIR: where every process writes its metric samples (by default
    # `metrics/` in the data folder; mailferry/metrics_folder.py).
    metrics_dir: Path | None = None
    # Who may read /metrics (server/metrics.py): a bearer token, or clients in these networks.
    metrics_token: str = field(default="", repr=False)
    metrics_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # MAILFERRY_SMTP_URL: the server alert emails go through; None: alerts by webhook only.
    smtp: SmtpServer | None = None

    @property
    def is_demo(self) -> bool:
        return self.environment == "demo"

    @property
    def client_ca_file(self) -> Path | None:
        """The CA bundle our HTTPS clients verify Microsoft and Salesforce against: the
        development CA in the demo (the sandbox serves our certificate), else the bundle in
        MAILFERRY_CLIENT_CA_FILE, else None (the public CAs shipped with `certifi`)."""
        return self.tls_ca_file if self.is_demo else self.outbound_ca_file

    @property
    def salesforce_redirect_uri(self) -> str:
        """Where Salesforce sends the browser back after "Connect Salesforce"."""
        return f"{self.base_url}/connections/salesforce/callback"

    @property
    def salesforce_hosts(self) -> SalesforceHosts:
        """Where the consumer secret may go and a token response may point: Salesforce's own
        domains, the configured login host (the sandbox in the demo) and the admin's list."""
        trusted = (self.salesforce_login_url, self.sandbox_salesforce_url) if self.is_demo else (
            self.salesforce_login_url,)
        return SalesforceHosts.trusting(*trusted, entries=self.salesforce_allowed_hosts)

    @property
    def redis_socket(self) -> Path:
        """Where the embedded Redis listens (a Unix socket: no port to collide with)."""
        return self.data_dir / "redis" / "redis.sock"

    @property
    def sandbox_microsoft_url(self) -> str:
        return f"https://localhost:{self.sandbox_microsoft_port}"

    @property
    def sandbox_salesforce_url(self) -> str:
        return f"https://localhost:{self.sandbox_salesforce_port}"


def load_config(environ: Mapping[str, str] | None = None, *, read_dotenv: bool = True) -> Config:
    """Read and validate the configuration; raise ConfigError naming the first bad variable
    (in production, every demo default left unsafe first, one line each).

    `environ` defaults to the process environment, with a `.env` file in the working
    directory filling in what the environment does not set.
    """
    if environ is None:
        environ = dict(os.environ)
        if read_dotenv:
            from dotenv import dotenv_values

            dotenv_file = Path.cwd() / ".env"
            if dotenv_file.is_file():
                environ = {**{k: v for k, v in dotenv_values(dotenv_file).items() if v is not None}, **environ}
    env = _Reader(environ)

    environment = env.choice("MAILFERRY_ENV", ENVIRONMENTS, "demo")
    demo = environment == "demo"
    if not demo:
        refusals = production_refusals(env.get)
        if refusals:
            raise ConfigError(f"MAILFERRY_ENV=production refuses {len(refusals)} setting(s):\n  "
                              + "\n  ".join(refusals))
    # Beside the code in a checkout (`make run`); an installed package has no folder of its
    # own to write to, so there the working directory, as for `.env`.
    home = PROJECT_ROOT if running_from_checkout() else Path.cwd()
    data_dir = env.path("MAILFERRY_DATA_DIR", home / "data")
    certs_dir = env.path("MAILFERRY_CERTS_DIR", home / "certs")
    web_port = env.port("MAILFERRY_PORT", 3000)
    sandbox_microsoft_port = env.port("MAILFERRY_SANDBOX_MICROSOFT_PORT", 3001)
    sandbox_salesforce_port = env.port("MAILFERRY_SANDBOX_SALESFORCE_PORT", 3002)
    redis_url = env.get("REDIS_URL")
    redis_socket = data_dir / "redis" / "redis.sock"
    # A Unix socket path is limited to 107 bytes by the kernel.
    if not redis_url and len(str(redis_socket).encode()) > 107:
        raise ConfigError(
            f"MAILFERRY_DATA_DIR: the embedded Redis socket path {redis_socket} is longer than "
            "107 bytes; choose a shorter MAILFERRY_DATA_DIR or set REDIS_URL"
        )

    # Outside the demo, production_refusals has made sure that whatever must be set is.
    def demo_default(name: str, sandbox_value: str) -> str:
        return env.get(name) or (sandbox_value if demo else "")

    def secret(name: str, file_name: str, make: Callable[[], str]) -> str:
        if env.get(name) or not demo:
            return env.get(name)
        return _generated_secret(data_dir, file_name, make)

    base_url = env.https_url("MAILFERRY_BASE_URL", f"https://localhost:{web_port}")
    config = Config(
        environment=environment,
        data_dir=data_dir,
        certs_dir=certs_dir,
        database_url=env.database_url("DATABASE_URL", f"sqlite:///{data_dir / 'mailferry.db'}"),
        redis_url=env.redis_url("REDIS_URL", f"unix://{redis_socket}"),
        redis_embedded=not redis_url,
        secret_key=secret("MAILFERRY_SECRET_KEY", "secret-key", _token),
        encryption_keys=env.fernet_keys(
            "MAILFERRY_ENCRYPTION_KEYS", secret("MAILFERRY_ENCRYPTION_KEYS", "encryption-key", _fernet_key)),
        base_url=base_url,
        web_host=env.get("MAILFERRY_HOST") or "127.0.0.1",
        web_port=web_port,
        web_threads=env.integer("MAILFERRY_WEB_THREADS", 16, 1, 256),
        web_processes=env.integer("MAILFERRY_WEB_PROCESSES", 2, 1, 64),
        trusted_proxies=env.networks("MAILFERRY_TRUSTED_PROXIES"),
        worker_count=env.integer("MAILFERRY_WORKERS", 2, 0, 64),
        tls_cert_file=env.path("MAILFERRY_TLS_CERT_FILE", certs_dir / "localhost.pem"),
        tls_key_file=env.path("MAILFERRY_TLS_KEY_FILE", certs_dir / "localhost-key.pem"),
        tls_ca_file=env.path("MAILFERRY_TLS_CA_FILE", certs_dir / "ca.pem"),
        outbound_ca_file=env.existing_file("MAILFERRY_CLIENT_CA_FILE"),
        microsoft_authority_host=env.https_url(
            "MICROSOFT_AUTHORITY_HOST",
            f"https://localhost:{sandbox_microsoft_port}" if demo else "https://login.microsoftonline.com",
        ),
        microsoft_graph_url=env.https_url(
            "MICROSOFT_GRAPH_URL",
            f"https://localhost:{sandbox_microsoft_port}/v1.0" if demo else "https://graph.microsoft.com/v1.0",
        ),
        microsoft_client_id=demo_default("MICROSOFT_CLIENT_ID", "5d1c2f7e-8a3b-4c6d-9e0f-a1b2c3d4e5f6"),
        microsoft_client_secret=demo_default("MICROSOFT_CLIENT_SECRET", "mailferry-sandbox-secret"),
        microsoft_tenant=env.microsoft_tenant("MICROSOFT_TENANT"),
        microsoft_client_certificate_file=env.client_certificate("MICROSOFT_CLIENT_CERTIFICATE_FILE"),
        salesforce_login_url=env.https_url(
            "SALESFORCE_LOGIN_URL",
            f"https://localhost:{sandbox_salesforce_port}" if demo else "https://login.salesforce.com",
        ),
        salesforce_client_id=demo_default("SALESFORCE_CLIENT_ID", "mailferry-demo-consumer"),
        salesforce_client_secret=demo_default("SALESFORCE_CLIENT_SECRET", "mailferry-demo-consumer-secret"),
        sandbox_microsoft_port=sandbox_microsoft_port,
        sandbox_salesforce_port=sandbox_salesforce_port,
        sandbox_seed=env.integer("MAILFERRY_SANDBOX_SEED", 1, 0, 2**31 - 1),
        log_level=env.choice("MAILFERRY_LOG_LEVEL", ("debug", "info", "warning", "error"), "info"),
        log_format=env.choice("MAILFERRY_LOG_FORMAT", ("text", "json"), "text"),
        metrics_dir=env.path("PROMETHEUS_MULTIPROC_DIR", data_dir / "metrics"),
        metrics_token=env.token("MAILFERRY_METRICS_TOKEN", METRICS_TOKEN_MIN_LENGTH),
        metrics_networks=env.networks("MAILFERRY_METRICS_NETWORKS", "the addresses of your Prometheus servers"),
        smtp=env.smtp_url("MAILFERRY_SMTP_URL", base_url),
        salesforce_allowed_hosts=env.host_rules("SALESFORCE_ALLOWED_HOSTS"),
        allowed_tenants=env.tenants("MAILFERRY_ALLOWED_TENANTS"),
        salesforce_org_ids=env.org_pins("MAILFERRY_SALESFORCE_ORG_IDS"),
        session_hours=env.integer("MAILFERRY_SESSION_HOURS", 12, 1, 168),
        session_idle_minutes=env.integer("MAILFERRY_SESSION_IDLE_MINUTES", 120, 5, 24 * 60),
    )
    ports = {
        "MAILFERRY_PORT": config.web_port,
        "MAILFERRY_SANDBOX_MICROSOFT_PORT": config.sandbox_microsoft_port,
        "MAILFERRY_SANDBOX_SALESFORCE_PORT": config.sandbox_salesforce_port,
    }
    if len(set(ports.values())) < len(ports):
        raise ConfigError(
            "MAILFERRY_PORT, MAILFERRY_SANDBOX_MICROSOFT_PORT and MAILFERRY_SANDBOX_SALESFORCE_PORT "
            f"must differ; they are {ports}"
        )
    return config


def production_refusals(get: Callable[[str], str]) -> list[str]:
    """The demo defaults MAILFERRY_ENV=production refuses (SPEC 14), one line per setting
    naming it and the fix, all of them at once (an operator fixes the list in one go).
    `get` reads a variable (stripped, "" when unset)."""
    refusals = []

    def unset(name: str, fix: str) -> None:
        if not get(name):
            refusals.append(f"{name} is not set: {fix}")

    base_url = get("MAILFERRY_BASE_URL")
    if not base_url:
        refusals.append("MAILFERRY_BASE_URL is not set: " + _BASE_URL_FIX)
    elif _is_loopback(urlsplit(base_url).hostname or ""):
        refusals.append(f"MAILFERRY_BASE_URL={base_url!r} names this machine only: " + _BASE_URL_FIX)
    unset("REDIS_URL", "the embedded Redis is the demo's; set REDIS_URL=redis://host:6379/0 (your Redis server)")
    unset("DATABASE_URL", "set DATABASE_URL=postgresql://user:password@host:5432/mailferry, or sqlite:///path/to/"
                          "mailferry.db for a single host (the demo's file inside the install is not kept safe)")
    unset("MAILFERRY_SECRET_KEY", SECRET_KEY_HINT)
    if 0 < len(get("MAILFERRY_SECRET_KEY")) < SECRET_KEY_MIN_LENGTH:
        refusals.append(f"MAILFERRY_SECRET_KEY is shorter than {SECRET_KEY_MIN_LENGTH} characters: " + SECRET_KEY_HINT)
    unset("MAILFERRY_ENCRYPTION_KEYS", FERNET_KEY_HINT)
    unset("MICROSOFT_CLIENT_ID", "set the Application (client) ID of your Entra app registration")
    if not get("MICROSOFT_CLIENT_CERTIFICATE_FILE"):
        unset("MICROSOFT_CLIENT_SECRET", "set a client secret of your Entra app registration, or "
                                         "MICROSOFT_CLIENT_CERTIFICATE_FILE to its certificate and private key")
    unset("SALESFORCE_CLIENT_ID", "set the Consumer Key of your Salesforce connected app")
    unset("SALESFORCE_CLIENT_SECRET", "set the Consumer Secret of your Salesforce connected app")
    if (get("MICROSOFT_TENANT") or MULTI_TENANT).lower() == MULTI_TENANT and not get("MAILFERRY_ALLOWED_TENANTS"):
        refusals.append(
            "MAILFERRY_ALLOWED_TENANTS is not set while MICROSOFT_TENANT=organizations admits every Entra tenant: "
            "list the tenants whose users may sign in (tenant ids or verified domains, separated by commas), "
            "or set `*` to admit any tenant (a hosted service)")
    return refusals


_BASE_URL_FIX = ("set it to the public https:// URL users and Microsoft's webhooks reach, "
                 "e.g. https://mailferry.example.com")


def _is_loopback(host: str) -> bool:
    """localhost (and *.localhost, RFC 6761) or a loopback address. Names are not resolved:
    Debian maps a host's own public name to 127.0.1.1 in /etc/hosts."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Reader:
    """Typed access to the environment; every failure names the variable and the fix."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def get(self, name: str) -> str:
        return self._environ.get(name, "").strip()

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = (self.get(name) or default).lower()
        if value not in allowed:
            raise ConfigError(f"{name}={self.get(name)!r} is not valid: use one of {', '.join(allowed)}")
        return value

    def microsoft_tenant(self, name: str) -> str:
        """`organizations` (the default), a tenant id (GUID) or a domain name such as
        contoso.onmicrosoft.com, lower-cased. `common` and `consumers` would admit personal
        Microsoft accounts, which have no mailbox Mailferry can sync."""
        value = (self.get(name) or MULTI_TENANT).lower()
        if value in ("common", "consumers"):
            raise ConfigError(
                f"{name}={value!r} would let personal Microsoft accounts sign in: use `organizations` for a "
                "multi-tenant app registration, or your tenant id (or domain) for a single-tenant one")
        if value == MULTI_TENANT or _TENANT_ID.fullmatch(value) or _TENANT_DOMAIN.fullmatch(value):
            return value
        raise ConfigError(
            f"{name}={value!r} is not a tenant: use `organizations` for a multi-tenant app registration, or the "
            "Directory (tenant) ID (e.g. 7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b) or a verified domain "
            "(e.g. contoso.onmicrosoft.com) for a single-tenant one")

    def tenants(self, name: str) -> tuple[str, ...]:
        """Tenant ids or verified domains separated by commas, or `*` for any tenant."""
        entries = tuple(e.strip().lower() for e in self.get(name).replace(",", " ").split() if e.strip())
        if entries == ("*",):
            return entries
        for entry in entries:
            if not (_TENANT_ID.fullmatch(entry) or _TENANT_DOMAIN.fullmatch(entry)):
                raise ConfigError(
                    f"{name}: {entry!r} is not a tenant: list Directory (tenant) IDs or verified domains separated "
                    "by commas (e.g. 7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b, contoso.onmicrosoft.com), or `*` for any")
        return entries

    def org_pins(self, name: str) -> tuple[tuple[str, str], ...]:
        """`ORGID` (every tenant) or `TENANT=ORGID` entries separated by commas; an org id is
        Salesforce's 15- or 18-character id starting 00D, kept as its first 15 characters."""
        pins = []
        for entry in (e.strip() for e in self.get(name).replace(",", " ").split() if e.strip()):
            tenant, _, org = entry.rpartition("=")
            tenant = tenant.strip().lower() or "*"
            if not _ORG_ID.fullmatch(org.strip()) or not (
                    tenant == "*" or _TENANT_ID.fullmatch(tenant) or _TENANT_DOMAIN.fullmatch(tenant)):
                raise ConfigError(
                    f"{name}: {entry!r} is not an org pin: use a Salesforce org id (00D…, 15 or 18 characters) for "
                    "every tenant, or TENANT=ORGID entries separated by commas (TENANT a tenant id or domain)")
            pins.append((tenant, org.strip()[:15]))
        return tuple(pins)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a whole number: use a number from {low} to {high}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} is out of range: use a number from {low} to {high}")
        return value

    def networks(self, name: str, what: str = "your reverse proxies' addresses"
                 ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Addresses or CIDR networks separated by commas (`what` they are, for the fix)."""
        networks = []
        for entry in (e.strip() for e in self.get(name).replace(",", " ").split() if e.strip()):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ConfigError(f"{name}: {entry!r} is not an IP address or network: list {what} "
                                  "separated by commas, e.g. 10.0.0.5, 10.0.1.0/24") from None
        return tuple(networks)

    def token(self, name: str, min_length: int) -> str:
        """A shared secret, unset or at least `min_length` characters."""
        value = self.get(name)
        if 0 < len(value) < min_length:
            raise ConfigError(f"{name} is shorter than {min_length} characters: " + SECRET_KEY_HINT)
        return value

    def smtp_url(self, name: str, base_url: str) -> SmtpServer | None:
        """smtp://[user:password@]host[:port][?starttls=yes&from=alerts@example.com]: port 25
        unless given; `starttls=yes` upgrades the connection before anything is sent and is
        required with a password (it would cross the network in clear); the sender defaults
        to mailferry@<the host of MAILFERRY_BASE_URL>. Messages never show the password."""
        raw = self.get(name)
        if not raw:
            return None
        parts = urlsplit(raw)
        shown = raw.replace(f":{parts.password}@", ":…@") if parts.password else raw
        if parts.scheme != "smtp" or not parts.hostname:
            raise ConfigError(f"{name}={shown} is not smtp://host[:port]: "
                              "e.g. smtp://mail.example.com:587?starttls=yes")
        try:
            port = parts.port or 25
        except ValueError:
            raise ConfigError(f"{name}={shown}: the port is not a number from 1 to 65535") from None
        query = {key: values[-1].strip() for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        starttls = query.get("starttls", "").lower()
        if starttls not in _YES | _NO:
            raise ConfigError(f"{name}: starttls={starttls!r} is neither yes nor no: use ?starttls=yes or leave it out")
        if parts.password and starttls not in _YES:
            raise ConfigError(f"{name} has a password but no starttls=yes: it would cross the network in clear; "
                              "add ?starttls=yes")
        sender = query.get("from") or f"mailferry@{urlsplit(base_url).hostname}"
        return SmtpServer(parts.hostname, port, starttls in _YES, sender,
                          unquote(parts.username) if parts.username else None,
                          unquote(parts.password) if parts.password else None)

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, 1, 65535)

    def path(self, name: str, default: Path | None) -> Path | None:
        raw = self.get(name)
        return Path(raw).expanduser().resolve() if raw else default

    def existing_file(self, name: str) -> Path | None:
        path = self.path(name, None)
        if path is not None and not path.is_file():
            raise ConfigError(f"{name}={str(path)!r} is not a file: set it to an existing file, or unset it")
        return path

    def client_certificate(self, name: str) -> Path | None:
        """A PEM file holding a certificate and its (unencrypted) private key: what msal
        signs client assertions with (wave2.md 7.5)."""
        path = self.existing_file(name)
        if path is None:
            return None
        pem = path.read_bytes()
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise ConfigError(f"{name}: {path} holds no PEM certificate: put the app registration's certificate "
                              "(-----BEGIN CERTIFICATE-----) and its private key in the file") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError(f"{name}: {path} holds no unencrypted PEM private key: add the certificate's private "
                              "key (-----BEGIN PRIVATE KEY-----, without a passphrase) to the file") from None
        raw = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*raw) != certificate.public_key().public_bytes(*raw):
            raise ConfigError(f"{name}: {path} holds a private key that does not belong to its certificate: "
                              "put the certificate and its own private key in the file")
        return path

    def https_url(self, name: str, default: str) -> str:
        value = (self.get(name) or default).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"{name}={value!r} is not an https:// URL: set it to e.g. https://host.example.com")
        return value

    def host_rules(self, name: str) -> tuple[str, ...]:
        entries = tuple(e.strip() for e in self.get(name).replace(",", " ").split() if e.strip())
        for entry in entries:
            try:
                parse_rule(entry)
            except ValueError as error:
                raise ConfigError(f"{name}: {error}; list hosts separated by commas, e.g. "
                                  "login.acme.example, sso.acme.example:8443, *.acme.example") from None
        return entries

    def database_url(self, name: str, default: str) -> str:
        value = self.get(name) or default
        scheme = urlsplit(value).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ConfigError(
                f"{name}={value!r} is not a supported database URL: use sqlite:///path/to/file.db "
                "or postgresql://user:password@host:5432/dbname"
            )
        return value

    def redis_url(self, name: str, default: str) -> str:
        value = self.get(name) or default
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"{name}={value!r} is not a Redis URL: use redis://host:6379/0, rediss://… or "
                "unix:///path/to/redis.sock, or unset it to use the embedded Redis"
            )
        return value

    def fernet_keys(self, name: str, raw: str) -> tuple[str, ...]:
        keys = tuple(k.strip() for k in raw.split(",") if k.strip())
        if not keys:
            raise ConfigError(f"{name} holds no key: {FERNET_KEY_HINT}")
        for position, key in enumerate(keys, 1):
            try:
                Fernet(key)
            except ValueError:
                raise ConfigError(
                    f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes): "
                    + FERNET_KEY_HINT
                ) from None
        return keys


def _fernet_key() -> str:
    return Fernet.generate_key().decode()


def _token() -> str:
    return secrets.token_urlsafe(48)


def _generated_secret(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """A secret kept in the data folder, made on first use (demo only)."""
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()
    # O_EXCL: when two processes start at once, one writes and the other reads its value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
