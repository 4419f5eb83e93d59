"""Serve a WSGI app over HTTPS with gunicorn's threaded workers (keep-alive, one TLS handshake
per connection), for the web server and both sandbox servers alike."""

from __future__ import annotations

from typing import Any, Callable

from gunicorn.app.base import BaseApplication


class _HttpsApplication(BaseApplication):
    def __init__(self, load_app: Callable[[], Any], options: dict[str, Any]):
        self._load_app = load_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load_app()


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
    options = {
        "bind": f"{host}:{port}",
        "certfile": certfile,
        "keyfile": keyfile,
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
        # Several gunicorn instances run side by side (web, sandbox); the runtime control
        # socket would make them share one default path, and we drive them by signals.
        "control_socket_disable": True,
        # No gunicorn cap on the request line or header size: Salesforce allows 16,384-byte
        # URIs (chunked SOQL lookups use them), and the apps enforce their own limits.
        "limit_request_line": 0,
        "limit_request_field_size": 0,
    }
    _HttpsApplication(load_app, options).run()
