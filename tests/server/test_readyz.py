"""/readyz: database, Redis, schema revision, worker and scheduler heartbeats; 503 naming
what fails. The heartbeats come from real `mailferry worker` and `mailferry scheduler`
processes on a Redis of this module's own (no other test's workers beat into it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet

from cli.supervisor import _die_with_parent
from mailferry import heartbeats
from mailferry.embedded_redis import EmbeddedRedis
from mailferry.migrate import downgrade, upgrade
from server import create_app
from tests.config_fixtures import build_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMING_SCALE = 0.1  # worker beats every 1 s, silent after 3 s; the scheduler ticks every 0.5 s
WORKER_BOUND_SECONDS = heartbeats.BEATS_MISSED * 10.0 * TIMING_SCALE


@pytest.fixture
def own_redis(tmp_path):
    with EmbeddedRedis(tmp_path / "redis.sock") as server:
        yield server.url


@pytest.fixture
def stack(tmp_path, empty_database_url, own_redis):
    """The variables of one deployment: a migrated database of its own and a Redis of its own."""
    upgrade(empty_database_url)
    return {"DATABASE_URL": empty_database_url, "REDIS_URL": own_redis, "MAILFERRY_ENV": "demo",
            "MAILFERRY_DATA_DIR": str(tmp_path / "data"), "MAILFERRY_SECRET_KEY": "readyz-test",
            "MAILFERRY_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "MAILFERRY_TIMING_SCALE": str(TIMING_SCALE),
            "MAILFERRY_LOG_LEVEL": "warning"}


def _start(command: str, variables: dict, logs: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILFERRY_", "DATABASE_URL", "REDIS_URL"))}
    with open(logs / f"{command}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "cli.main", command], cwd=PROJECT_ROOT,
                                env={**env, **variables, "PYTHONUNBUFFERED": "1"}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)


def _poll(client, wanted_status: int, within: float) -> tuple[dict, float]:
    began = time.monotonic()
    while True:
        answer = client.get("/readyz")
        if answer.status_code == wanted_status or time.monotonic() - began > within:
            return answer.json | {"http": answer.status_code}, time.monotonic() - began
        time.sleep(0.1)


def test_readyz_turns_503_naming_the_worker_once_its_heartbeat_stops(stack, tmp_path):
    processes = [_start("worker", stack, tmp_path), _start("scheduler", stack, tmp_path)]
    client = create_app(build_config(tmp_path / "web", **stack)).test_client()
    try:
        ready, took = _poll(client, 200, within=60)
        assert ready["http"] == 200, (ready, [(tmp_path / f"{c}.log").read_text() for c in ("worker", "scheduler")])
        assert ready["checks"] == {"database": "ok", "redis": "ok", "schema": "ok", "worker": "ok", "scheduler": "ok"}
        assert ready["alive"]["worker"] == [f"mailferry-{os.uname().nodename}-{processes[0].pid}"]
        print(f"\nready {took:.1f}s after the worker and scheduler started")

        os.killpg(processes[0].pid, signal.SIGKILL)
        processes[0].wait(timeout=10)
        killed_at = time.monotonic()
        down, _ = _poll(client, 503, within=WORKER_BOUND_SECONDS + 5)
        silent_after = time.monotonic() - killed_at
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    assert down["http"] == 503
    assert down["failing"] == ["worker"]
    assert down["checks"]["worker"].startswith(f"no worker heartbeat: the last one, mailferry-{os.uname().nodename}-")
    assert down["checks"]["scheduler"] == "ok"
    # Within the bound (three missed beats of 1 s), plus the poll's own slack.
    assert silent_after <= WORKER_BOUND_SECONDS + 1.5, silent_after
    print(f"503 naming the worker {silent_after:.1f}s after SIGKILL (bound {WORKER_BOUND_SECONDS:.0f}s)")


def test_a_worker_stopped_with_sigterm_takes_its_name_out(stack, tmp_path):
    worker = _start("worker", stack, tmp_path)
    connection = redis.Redis.from_url(stack["REDIS_URL"])
    try:
        deadline = time.monotonic() + 60
        while not heartbeats.state(connection, heartbeats.WORKER).alive and time.monotonic() < deadline:
            time.sleep(0.1)
        assert heartbeats.state(connection, heartbeats.WORKER).alive, (tmp_path / "worker.log").read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    assert heartbeats.state(connection, heartbeats.WORKER) == heartbeats.RoleState((), ())


def test_readyz_is_503_naming_the_schema_when_the_database_is_one_revision_behind(stack, tmp_path):
    downgrade(stack["DATABASE_URL"], "-1")
    connection = redis.Redis.from_url(stack["REDIS_URL"])
    heartbeats.beat(connection, heartbeats.WORKER, "worker-of-this-test", 60)
    heartbeats.beat(connection, heartbeats.SCHEDULER, "scheduler-of-this-test", 60)
    answer = create_app(build_config(tmp_path / "web", **stack)).test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["failing"] == ["schema"]
    assert answer.json["checks"]["schema"].endswith("run `mailferry db upgrade` first")


def test_readyz_is_503_and_names_redis_when_redis_is_unreachable(make_config, tmp_path):
    app = create_app(make_config(REDIS_URL=f"unix://{tmp_path}/nobody.sock"))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"] == "ok"
    assert answer.json["checks"]["redis"].startswith("unreachable: ")
    assert set(answer.json["failing"]) == {"redis", "worker", "scheduler"}
    assert app.test_client().get("/healthz").status_code == 200  # alive all the same


def test_readyz_is_503_and_names_the_database_when_it_is_unreachable(make_config):
    # Nothing listens on port 1: the connection is refused at once.
    app = create_app(make_config(DATABASE_URL="postgresql://mailferry@127.0.0.1:1/mailferry"))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"].startswith("unreachable: ")
    assert answer.json["checks"]["schema"] == "unknown: the database is unreachable"
    assert answer.json["checks"]["redis"] == "ok"
    assert app.test_client().get("/healthz").status_code == 200
