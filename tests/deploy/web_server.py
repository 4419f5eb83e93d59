"""`mailferry web --proxy` running for a test (a `Service` of tests/deploy/services.py), and
HTTP requests to it as a reverse proxy sends them (over its Unix socket or port) or as a
client going around the proxy would (from another source address)."""

from __future__ import annotations

import http.client
import os
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tests.deploy.services import Service

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The checkout's `mailferry` (the editable install of `make install`).
CHECKOUT_MAILFERRY = PROJECT_ROOT / ".venv" / "bin" / "mailferry"
READY_SECONDS = 60


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def request(bind: str, method: str, path: str, *, headers: dict[str, str] | None = None, body=None,
            source: str | None = None, chunked: bool = False) -> Answer:
    """One request to `bind` (`HOST:PORT` or `unix:/path`), from the address `source` if given."""
    if bind.startswith("unix:"):
        connection = _UnixConnection(bind.removeprefix("unix:"), timeout=30)
    else:
        host, _, port = bind.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30,
                                                source_address=(source, 0) if source else None)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def web_environment(folder: Path, database_url: str, redis_url: str, **variables: str) -> dict[str, str]:
    """The process environment of a demo `mailferry web` with a data folder in `folder`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFERRY_") and k != "REDIS_URL"}
    env.update(MAILFERRY_DATA_DIR=str(folder / "data"), DATABASE_URL=database_url, REDIS_URL=redis_url,
               **variables)
    return env


@contextmanager
def serving(mailferry: Path, arguments: list[str], env: dict[str, str], folder: Path,
            healthy: Callable[[], bool] | None = None, *, stderr_apart: bool = False) -> Iterator[Service]:
    """`mailferry web --proxy --bind BIND …` (`arguments`) until the block ends, from the
    moment /healthz answers on BIND over plain HTTP (or `healthy()` says so); `stderr_apart`
    as for `Service`."""
    if healthy is None:
        bind = arguments[arguments.index("--bind") + 1]
        healthy = lambda: request(bind, "GET", "/healthz").status == 200  # noqa: E731
    service = Service("web", mailferry, arguments, env, folder, stderr_apart=stderr_apart)
    try:
        wait_healthy(service, healthy)
        yield service
    finally:
        service.stop()


def wait_healthy(service: Service, healthy: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        assert service.running(), f"mailferry web exited:\n{service.log()[-3000:]}"
        try:
            if healthy():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"mailferry web did not answer within {READY_SECONDS} s:\n{service.log()[-3000:]}")


def access_log_line(service: Service, pattern: str, seconds: float = 10) -> str:
    """The first line of the service's output matching `pattern` (gunicorn writes a request's
    access log line just after its answer, so it may come a moment later)."""
    deadline = time.monotonic() + seconds
    while True:
        for line in service.log().splitlines():
            if re.search(pattern, line):
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no line matches {pattern!r}:\n{service.log()[-3000:]}")
        time.sleep(0.05)
