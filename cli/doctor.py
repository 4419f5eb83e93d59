"""`mailferry doctor`: check a deployment and say exactly what to fix."""

from __future__ import annotations

import datetime as dt
from typing import Callable

import redis
from cryptography import x509

from mailferry.config import Config

Check = Callable[[Config], str | None]  # None when fine, else the problem and its fix


def diagnose(config: Config) -> int:
    """Print one line per check; exit code 1 when any failed."""
    print(f"environment: {config.environment}")
    failed = 0
    for name, check in CHECKS:
        try:
            problem = check(config)
        except Exception as error:  # a check must report, never crash the report
            problem = f"{type(error).__name__}: {error}"
        print(f"  {'FAIL' if problem else 'ok  '} {name}{': ' + problem if problem else ''}")
        failed += bool(problem)
    return 1 if failed else 0


def _certificates(config: Config) -> str | None:
    for path in (config.tls_cert_file, config.tls_key_file, config.tls_ca_file):
        if not path.exists():
            return f"{path} is missing; run `mailferry certs` or set MAILFERRY_TLS_* to your files"
    leaf = x509.load_pem_x509_certificate(config.tls_cert_file.read_bytes())
    if leaf.not_valid_after_utc < dt.datetime.now(dt.timezone.utc):
        return f"{config.tls_cert_file} expired on {leaf.not_valid_after_utc:%Y-%m-%d}; run `mailferry certs`"
    return None


def _database(config: Config) -> str | None:
    from mailferry import migrate

    if not migrate.is_up_to_date(config.database_url):
        return (
            f"schema at {migrate.current(config.database_url) or 'base (empty)'}, code expects "
            f"{migrate.head()}; run `mailferry db upgrade`"
        )
    return None


def _redis(config: Config) -> str | None:
    try:
        redis.Redis.from_url(config.redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        hint = "start `mailferry run`" if config.redis_embedded else "check REDIS_URL"
        return f"{config.redis_url} does not answer ({type(error).__name__}); {hint}"
    return None


CHECKS: list[tuple[str, Check]] = [
    ("certificates", _certificates),
    ("database", _database),
    ("redis", _redis),
]
