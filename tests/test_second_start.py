"""`make run`, Ctrl-C, `make run` (issue 10): the second start continues the first one's world.

Driven with the real processes of `mailferry run` on a data folder, database and Redis of
their own: the sandbox keeps its world in data/sandbox, so after the restart mail from a new
Contact still arrives by change notification and becomes one Task within seconds, every
synced email's Salesforce link opens a Task that exists, and no Task is written twice. When
the two halves part anyway (data/sandbox deleted), `mailferry run` says so and how to reset,
and `mailferry demo reset` starts both afresh.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from mailferry.models import Message
from mailferry.salesforce_links import record_url
from tests.mailferry_run import Run, query_run_database

NEW_MAIL_LIMIT_SECONDS = 10


def synced_rows(env) -> list[tuple[str, str]]:
    table = Message.__table__
    return query_run_database(env, select(table.c.salesforce_task_id, table.c.task_key).where(table.c.status == "synced"))


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
