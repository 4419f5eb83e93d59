"""`mailferry run` as a user starts it: a child process on a data folder, ports, database and
Redis of its own (the `run_env` fixture in tests/conftest.py), waited on until /healthz answers;
`Run` is one such run as the second-start and restart tests drive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import func, select

from cli.processes import free_port
from mailferry.db import make_engine
from mailferry.models import Message
from mailferry.tls import https_session

READY_LIMIT_SECONDS = 90
SETTLE_LIMIT_SECONDS = 120


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


class Run:
    """One `mailferry run`: its process, what it printed, and its sandbox URLs."""

    def __init__(self, env):
        self.env = env
        self.process = start(env)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_healthy(self.process, env)
        self.ms = f"https://localhost:{env['MAILFERRY_SANDBOX_MICROSOFT_PORT']}"
        self.sf = f"https://localhost:{env['MAILFERRY_SANDBOX_SALESFORCE_PORT']}"
        self.http = https_session(Path(env["MAILFERRY_CERTS_DIR"]) / "ca.pem")

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def tasks(self) -> dict[str, dict]:
        answer = self.http.get(f"{self.sf}/_sandbox/records/Task", timeout=30)
        answer.raise_for_status()
        return {task["Id"]: task for task in answer.json()["records"]}

    def new_contact_mails(self, subject: str, limit: float) -> tuple[list[dict], float]:
        """Make a new Contact, deliver mail from it to the first demo user, and wait up to `limit`
        seconds for its Task: the Tasks on that Contact then, and the seconds it took."""
        user = self.http.get(f"{self.ms}/_sandbox/users", timeout=30).json()["users"][0]["userPrincipalName"]
        address = f"newcomer.{uuid.uuid4().hex[:8]}@northwind-traders.example"
        contact = self.http.post(f"{self.sf}/_sandbox/records/Contact",
                                 json={"FirstName": "Nina", "LastName": "Newcomer", "Email": address}, timeout=30)
        assert contact.status_code in (200, 201), contact.text
        contact_id = contact.json()["ids"][0]
        delivered = time.monotonic()
        self.http.post(f"{self.ms}/_sandbox/users/{user}/messages",
                       json={"from": address, "to": [user], "subject": subject}, timeout=30).raise_for_status()
        while True:
            written = [t for t in self.tasks().values() if t.get("WhoId") == contact_id]
            if written or time.monotonic() - delivered > limit:
                return written, time.monotonic() - delivered
            time.sleep(0.25)

    def wait_settled(self) -> dict[str, dict]:
        """The org's Tasks once the mailboxes' first syncs are done (no email pending and the
        Task count unchanged for five seconds)."""
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        last, steady_since = None, time.monotonic()
        while time.monotonic() < deadline:
            tasks = self.tasks()
            if len(tasks) != last:
                last, steady_since = len(tasks), time.monotonic()
            elif tasks and not pending(self.env) and time.monotonic() - steady_since > 5:
                return tasks
            time.sleep(1)
        pytest.fail(f"the first syncs did not settle within {SETTLE_LIMIT_SECONDS}s:\n{self.output()}")

    def stop(self) -> str:
        """Ctrl-C, as a person stops `make run`."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=90)
        self.http.close()
        assert self.process.returncode == 0, self.output()
        return self.output()

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def query_run_database(env, statement) -> list:
    """The rows of `statement` in the run's own database."""
    engine = make_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]
    finally:
        engine.dispose()


def pending(env) -> int:
    table = Message.__table__
    return query_run_database(env, select(func.count()).select_from(table).where(table.c.status == "pending"))[0][0]
