"""`mailferry run` on nothing but defaults: every process up, /healthz 200 over verified HTTPS,
/readyz 200 once the worker and scheduler beat, and Ctrl-C or SIGTERM leaves no process behind."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from mailferry.tls import https_session
from tests.mailferry_run import alive, start, wait_healthy

READY_WITHIN_SECONDS = 30  # the worker beats at once, the scheduler at its first tick


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_answers_healthz_and_stops_without_leaving_processes(run_env, stop_signal):
    process = start(run_env)
    try:
        seconds, body = wait_healthy(process, run_env)
        print(f"/healthz answered 200 after {seconds:.1f}s")
        assert body == {"status": "ok"}
        ready = _readyz_once_ready(run_env)
        assert ready == {"database": "ok", "redis": "ok", "schema": "ok", "worker": "ok", "scheduler": "ok"}
        descendants = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
        names = " ".join(psutil.Process(pid).name() for pid in descendants)
        assert "redis-server" in names or "REDIS_URL" in os.environ
        assert len(descendants) >= 3  # Redis or not, the two sandbox servers and web (+ workers)
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "stopped" in output
        deadline = time.monotonic() + 5
        while alive(descendants) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive(descendants) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def _readyz_once_ready(env) -> dict:
    """/readyz's checks once it answers 200 (the last answer's, if it never does)."""
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    with https_session(os.path.join(env["MAILFERRY_CERTS_DIR"], "ca.pem")) as session:
        while True:
            answer = session.get(f"https://localhost:{env['MAILFERRY_PORT']}/readyz", timeout=10)
            if answer.status_code == 200 or time.monotonic() > deadline:
                return answer.json()["checks"]
            time.sleep(0.2)
