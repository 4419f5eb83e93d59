"""`make run`, Ctrl-C, `make run` (issue 10): the second start continues the first one's world.

Driven with the real processes of `mailferry run` on a data folder, database and Redis of
their own: the sandbox keeps its world in data/sandbox, so after the restart mail from a new
Contact still arrives by change notification and becomes one Task within seconds, every
synced email's Salesforce link opens a Task that exists, and no Task is written twice. When
the two halves part anyway (data/sandbox deleted), `mailferry run` says so and how to reset,
and `mailferry demo reset` starts both afresh.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailferry.db import make_engine
from mailferry.models import Message
from mailferry.salesforce_links import record_url
from mailferry.tls import https_session
from tests.mailferry_run import start, wait_healthy

NEW_MAIL_LIMIT_SECONDS = 10
SETTLE_LIMIT_SECONDS = 120


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


def _query(env, statement) -> list:
    """The rows of `statement` in the run's own database."""
    engine = make_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]
    finally:
        engine.dispose()


def pending(env) -> int:
    table = Message.__table__
    return _query(env, select(func.count()).select_from(table).where(table.c.status == "pending"))[0][0]


def synced_rows(env) -> list[tuple[str, str]]:
    table = Message.__table__
    return _query(env, select(table.c.salesforce_task_id, table.c.task_key).where(table.c.status == "synced"))


@pytest.fixture
def runs(run_env):
    started: list[Run] = []

    def run() -> Run:
        started.append(Run(run_env))
        return started[-1]

    yield run
    for each in started:
        each.kill()


def test_a_second_start_continues_the_first_ones_world(runs, run_env):
    first = runs()
    before = first.wait_settled()
    first.stop()
    data = Path(run_env["MAILFERRY_DATA_DIR"])
    assert (data / "sandbox" / "microsoft.state").is_file() and (data / "sandbox" / "salesforce.state").is_file()

    second = runs()
    written, seconds = second.new_contact_mails("Our order after the restart", NEW_MAIL_LIMIT_SECONDS)
    print(f"mail from a new Contact after the restart became a Task in {seconds:.1f}s")
    assert len(written) == 1, f"no Task within {NEW_MAIL_LIMIT_SECONDS}s:\n{second.output()}"

    after = second.wait_settled()
    # Nothing of the first run was lost or written again.
    assert all(after.get(task_id, {}).get("Mailferry_Key__c") == task["Mailferry_Key__c"]
               for task_id, task in before.items())
    keys = [task["Mailferry_Key__c"] for task in after.values()]
    assert len(keys) == len(set(keys))
    # Every synced email's "Open in Salesforce" link opens a Task that exists, under its key.
    rows = synced_rows(run_env)
    assert rows and all(after.get(task_id, {}).get("Mailferry_Key__c") == key for task_id, key in rows)
    for task_id, _ in rows:
        assert second.http.get(record_url(second.sf, "Task", task_id), timeout=30).status_code == 200
    assert "disagree" not in second.output()
    assert "Demo world" in second.output() and "mailferry demo reset" in second.output()
    second.stop()


def test_a_lost_sandbox_world_is_reported_and_demo_reset_starts_both_afresh(runs, run_env):
    first = runs()
    first.wait_settled()
    # The reset refuses while the demo runs: it would pull the database from under it.
    refused = subprocess.run([sys.executable, "-m", "cli.main", "demo", "reset"], env=run_env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "stop `mailferry run`" in refused.stdout
    first.stop()

    shutil.rmtree(Path(run_env["MAILFERRY_DATA_DIR"]) / "sandbox")
    parted = runs()
    deadline = time.monotonic() + 30
    while "disagree" not in parted.output() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "WARNING: the sandbox and Mailferry's database disagree" in parted.output()
    assert "mailferry demo reset" in parted.output()
    parted.stop()

    reset = subprocess.run([sys.executable, "-m", "cli.main", "demo", "reset"], env=run_env,
                           capture_output=True, text=True, timeout=120)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert not (Path(run_env["MAILFERRY_DATA_DIR"]) / "sandbox").exists()
    assert synced_rows(run_env) == []

    fresh = runs()
    fresh.wait_settled()
    rows = synced_rows(run_env)
    tasks = fresh.tasks()
    assert rows and all(tasks.get(task_id, {}).get("Mailferry_Key__c") == key for task_id, key in rows)
    assert "disagree" not in fresh.output()
    fresh.stop()
