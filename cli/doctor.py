"""`mailferry doctor`: check a deployment and say exactly what to fix.

One line per check: `ok`, `WARN` (worth knowing, does not fail) or `FAIL` with the problem and
its fix; the exit code is 1 when any failed. A production configuration that refuses the
demo's defaults never gets here: `load_config` lists every refused setting (exit code 2). In
production doctor also reaches Entra, Graph, Salesforce, the public base URL and, when
MAILFERRY_SMTP_URL is set, the alerts' SMTP server (cli/reachability.py) with the outbound CA
the processes use.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import redis
from cryptography import x509
from sqlalchemy.engine import make_url

from cli import reachability
from cli.startup_checks import development_certificate_refusal, schema_refusal
from mailferry.config import Config

Check = Callable[[Config], str | None]  # None when fine, else the problem and its fix
# File systems on which SQLite's locking is unsafe (the SQLite FAQ: "file locking is broken
# on many NFS implementations"; SMB/CIFS likewise), as /proc/mounts names them.
NETWORK_FILE_SYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs"})


class Caution(str):
    """A check's finding that does not fail it (printed as WARN)."""


def diagnose(config: Config, *, proxy: bool = False) -> int:
    """Print one line per check; exit code 1 when any failed. `proxy`: the web app runs as
    `mailferry web --proxy` behind a reverse proxy, which serves the certificate."""
    print(f"environment: {config.environment}")
    failed = 0
    for name, check in checks_for(config, proxy=proxy):
        try:
            problem = check(config)
        except Exception as error:  # a check must report, never crash the report
            problem = f"{type(error).__name__}: {error}"
        status = "ok  " if not problem else "WARN" if isinstance(problem, Caution) else "FAIL"
        print(f"  {status} {name}{': ' + problem if problem else ''}")
        failed += status == "FAIL"
    return 1 if failed else 0


def checks_for(config: Config, *, proxy: bool) -> list[tuple[str, Check]]:
    if config.is_demo:
        return [("certificates", _development_certificates), ("database", schema_refusal),
                ("redis", _redis)]
    checks: list[tuple[str, Check]] = [] if proxy else [("certificate", _served_certificate)]
    return checks + [
        ("database", schema_refusal),
        ("database storage", _database_storage),
        ("redis", _redis),
        ("entra discovery", reachability.entra_discovery),
        ("microsoft graph", reachability.graph),
        ("salesforce login", reachability.salesforce_login),
        ("public base url", reachability.public_base_url),
    ] + ([("smtp", reachability.smtp_server)] if config.smtp else [])


def _development_certificates(config: Config) -> str | None:
    for path in (config.tls_cert_file, config.tls_key_file, config.tls_ca_file):
        if not path.exists():
            return f"{path} is missing; run `mailferry certs` or set MAILFERRY_TLS_* to your files"
    return _expired(config, "run `mailferry certs`")


def _served_certificate(config: Config) -> str | None:
    return development_certificate_refusal(config) or _expired(config, "renew it (MAILFERRY_TLS_CERT_FILE)")


def _expired(config: Config, fix: str) -> str | None:
    leaf = x509.load_pem_x509_certificate(config.tls_cert_file.read_bytes())
    if leaf.not_valid_after_utc < dt.datetime.now(dt.timezone.utc):
        return f"{config.tls_cert_file} expired on {leaf.not_valid_after_utc:%Y-%m-%d}; {fix}"
    return None


def _database_storage(config: Config) -> str | None:
    return sqlite_on_network_file_system(config.database_url)


def sqlite_on_network_file_system(database_url: str, mounts: Path = Path("/proc/mounts")) -> Caution | None:
    """A warning when the SQLite file of `database_url` lies on NFS/CIFS/SMB (per `mounts`)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = os.path.realpath(url.database)
    best, kind = "", ""
    for line in mounts.read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces and other special characters as octal (\040).
        point = fields[1].encode().decode("unicode_escape")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    if kind in NETWORK_FILE_SYSTEMS:
        return Caution(f"the SQLite file {path} is on a network file system ({kind} at {best}), where SQLite's "
                       "locking is unsafe: keep it on a local disk, or use PostgreSQL (DATABASE_URL=postgresql://…)")
    return None


def _redis(config: Config) -> str | None:
    try:
        redis.Redis.from_url(config.redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        hint = "start `mailferry run`" if config.redis_embedded else "check REDIS_URL"
        return f"{_without_password(config.redis_url)} does not answer ({type(error).__name__}); {hint}"
    return None


def _without_password(url: str) -> str:
    """`url` with its password (if any) masked: doctor's output is pasted into tickets."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))
