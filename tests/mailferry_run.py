"""`mailferry run` as a user starts it: a child process on a data folder, ports, database and
Redis of its own (the `run_env` fixture in tests/conftest.py), waited on until /healthz answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest
import requests

from cli.processes import free_port
from mailferry.tls import https_session

READY_LIMIT_SECONDS = 90


def run_environment(tmp_path, database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFERRY_")}
    env.pop("REDIS_URL", None)
    env.update(
        MAILFERRY_DATA_DIR=str(tmp_path / "data"),
        MAILFERRY_CERTS_DIR=str(tmp_path / "certs"),
        MAILFERRY_PORT=str(free_port()),
        MAILFERRY_SANDBOX_MICROSOFT_PORT=str(free_port()),
        MAILFERRY_SANDBOX_SALESFORCE_PORT=str(free_port()),
        DATABASE_URL=database_url,
        MAILFERRY_WORKERS="1",
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_url
    return env


def start(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *(args or ("run",))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_healthy(process, env) -> tuple[float, dict]:
    started = time.monotonic()
    url = f"https://localhost:{env['MAILFERRY_PORT']}/healthz"
    ca = os.path.join(env["MAILFERRY_CERTS_DIR"], "ca.pem")
    while time.monotonic() - started < READY_LIMIT_SECONDS:
        assert process.poll() is None, process.stdout.read()
        if os.path.exists(ca):
            with https_session(ca) as session:
                try:
                    response = session.get(url, timeout=10)
                    if response.status_code == 200:
                        return time.monotonic() - started, response.json()
                except requests.ConnectionError:
                    pass
        time.sleep(0.5)
    process.kill()
    pytest.fail(f"/healthz did not answer 200 within {READY_LIMIT_SECONDS}s:\n{process.stdout.read()}")


def alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive
