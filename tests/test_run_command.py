"""`mailferry run` on nothing but defaults: every process up, /healthz 200 over verified HTTPS,
and Ctrl-C or SIGTERM leaves no process behind."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.mailferry_run import alive, start, wait_healthy


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_answers_healthz_and_stops_without_leaving_processes(run_env, stop_signal):
    process = start(run_env)
    try:
        seconds, body = wait_healthy(process, run_env)
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
        while alive(descendants) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive(descendants) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
