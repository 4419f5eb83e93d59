"""Serve a WSGI app with gunicorn's threaded workers (keep-alive): over HTTPS for the web server
and both sandbox servers (one TLS handshake per connection), or over plain HTTP on a local
port or Unix socket for a reverse proxy that terminates TLS (`mailferry web --proxy`)."""

from __future__ import annotations

from typing import Any, Callable

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from mailferry.logging_setup import JsonFormatter, configured_format

#: The access log behind a proxy (one line per request, on standard output): Apache's
#: combined format with the path instead of the whole request line (query strings carry
#: OAuth codes and states), then the response time in milliseconds. The first field is the
#: client's address as the trusted proxy reported it (server/forwarded_headers.py).
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %({content-length}o)s "%(f)s" "%(a)s" %(M)sms'
#: The Unix socket is created mode 0660: the proxy must run as its owner or in its group, and
#: no other local user can connect past the proxy (the socket is a trusted peer).
SOCKET_UMASK = 0o117


class _GunicornLogger(Logger):
    """gunicorn's logger (its `logger_class` setting), its error log in JSON when the process's
    logging set-up is (mailferry/logging_setup.py). gunicorn keeps its error log apart from the
    root logger's handler (it does not propagate) and rebuilds it at each `setup`, the first
    and every reload, so the formatter is swapped there. Its text lines stay gunicorn's own."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if configured_format() == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())


class _Application(BaseApplication):
    def __init__(self, load_app: Callable[[], Any], options: dict[str, Any]):
        self._load_app = load_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load_app()


def _options(*, bind: str, name: str, threads: int, processes: int, log_level: str) -> dict[str, Any]:
    return {
        "bind": bind,
        "worker_class": "gthread",
        "workers": processes,
        "threads": threads,
        "keepalive": 75,
        "timeout": 120,
        "graceful_timeout": 5,
        "proc_name": name,
        "loglevel": log_level,
        "accesslog": None,
        "errorlog": "-",
        "logger_class": _GunicornLogger,
        # Several gunicorn instances run side by side (web, sandbox); the runtime control
        # socket would make them share one default path, and we drive them by signals.
        "control_socket_disable": True,
        # No gunicorn cap on the request line or header size: Salesforce allows 16,384-byte
        # URIs (chunked SOQL lookups use them), and the apps enforce their own limits.
        "limit_request_line": 0,
        "limit_request_field_size": 0,
        # gunicorn would take X-Forwarded-Proto (and SCRIPT_NAME headers) from loopback and
        # from any Unix socket peer; the scheme is the connection's, unless the web app's
        # trusted-proxy check says otherwise (server/forwarded_headers.py).
        "secure_scheme_headers": {},
        "forwarded_allow_ips": "",
        "forwarder_headers": "",
    }


def serve_https(
    load_app: Callable[[], Any],
    *,
    host: str,
    port: int,
    certfile: str,
    keyfile: str,
    name: str,
    threads: int = 16,
    processes: int = 1,
    log_level: str = "info",
) -> None:
    """Run gunicorn in the foreground until SIGTERM/SIGINT.

    `processes` stays 1 for the sandbox: its state lives in memory and must be shared by
    every request, which threads of one process do.
    """
    options = _options(bind=f"{host}:{port}", name=name, threads=threads, processes=processes, log_level=log_level)
    _Application(load_app, {**options, "certfile": certfile, "keyfile": keyfile}).run()


def serve_behind_proxy(
    load_app: Callable[[], Any], *, bind: str, name: str, threads: int, processes: int, log_level: str
) -> None:
    """Run gunicorn in the foreground over plain HTTP on `bind` (`HOST:PORT` or
    `unix:/path/to/socket`), with the access log on standard output."""
    options = _options(bind=bind, name=name, threads=threads, processes=processes, log_level=log_level)
    _Application(load_app, {**options, "accesslog": "-", "access_log_format": ACCESS_LOG_FORMAT,
                            "umask": SOCKET_UMASK}).run()
