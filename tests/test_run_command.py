"""`mailferry run` on nothing but defaults: every process up, /healthz 200 over verified HTTPS,
and Ctrl-C or SIGTERM leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from mailferry.tls import https_session
from cli.processes import free_port

READY_LIMIT_SECONDS = 90


@pytest.fixture
def run_env(tmp_path, empty_database_url, redis_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFERRY_")}
    env.pop("REDIS_URL", None)
    env.update(
        MAILFERRY_DATA_DIR=str(tmp_path / "data"),
        MAILFERRY_CERTS_DIR=str(tmp_path / "certs"),
        MAILFERRY_PORT=str(free_port()),
        MAILFERRY_SANDBOX_MICROSOFT_PORT=str(free_port()),
        MAILFERRY_SANDBOX_SALESFORCE_PORT=str(free_port()),
        DATABASE_URL=empty_database_url,
        MAILFERRY_WORKERS="1",
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_url
    return env


def _start(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_healthy(process, env) -> tuple[float, dict]:
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


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_answers_healthz_and_stops_without_leaving_processes(run_env, stop_signal):
    process = _start(run_env)
    try:
        seconds, body = _wait_healthy(process, run_env)
        print(f"/healthz answered 200 after {seconds:.1f}s")
        assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
        descendants = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
        names = " ".join(psutil.Process(pid).name() for pid in descendants)
        assert "redis-server" in names or "REDIS_URL" in os.environ
        assert len(descendants) >= 3  # Redis or not, the two sandbox servers and web (+ workers)
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "stopped" in output
        deadline = time.monotonic() + 5
        while _alive(descendants) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(descendants) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
