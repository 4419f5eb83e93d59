"""`mailferry run` survives a SIGKILLed worker and scheduler, or web server (issue 11): the
supervisor says so, starts each again in its place, and mail delivered after the kill still
becomes a Task (the change notification reaches the web server, the worker writes the Task)."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.mailferry_run import Run, alive

RESTART_LIMIT_SECONDS = 15
NEW_MAIL_LIMIT_SECONDS = 20


SUBCOMMANDS = ("worker", "scheduler", "web")
# The supervisor's name for the process of each subcommand (one worker in run_env).
NAMES = {"worker": "worker-1", "scheduler": "scheduler", "web": "web"}


def product_processes(run: Run) -> dict[str, int]:
    """pid of the worker, the scheduler and the web server, children of the run, by their CLI
    subcommand."""
    found = {}
    for child in psutil.Process(run.process.pid).children():
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if command[-1] in SUBCOMMANDS and child.status() != psutil.STATUS_ZOMBIE:
            found[command[-1]] = child.pid
    return found


def wait_for(run: Run, text: str, limit: float) -> float:
    """Seconds until `text` appears in what the run printed."""
    started = time.monotonic()
    while text not in run.output():
        if time.monotonic() - started > limit:
            pytest.fail(f"{text!r} not printed within {limit:.0f}s:\n{run.output()}")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
def run(run_env):
    started = Run(run_env)
    yield started
    started.kill()


@pytest.mark.parametrize("victims", [("worker", "scheduler"), ("web",)], ids=["worker-and-scheduler", "web"])
def test_a_sigkilled_process_is_restarted_and_mail_still_becomes_a_task(run, victims):
    run.wait_settled()
    before = product_processes(run)
    assert set(before) == set(SUBCOMMANDS), run.output()
    descendants = [p.pid for p in psutil.Process(run.process.pid).children(recursive=True)]

    killed = time.monotonic()
    for victim in victims:
        os.kill(before[victim], signal.SIGKILL)
    for victim in victims:
        wait_for(run, f"{NAMES[victim]} exited with code -9; restarting it in 1s (restart 1)", RESTART_LIMIT_SECONDS)
        wait_for(run, f"{NAMES[victim]} is up again (pid ", RESTART_LIMIT_SECONDS)
    restarted = time.monotonic() - killed
    after = product_processes(run)
    assert set(after) == set(SUBCOMMANDS), run.output()
    for subcommand in SUBCOMMANDS:
        assert (after[subcommand] != before[subcommand]) == (subcommand in victims)
    for victim in victims:
        assert f"{NAMES[victim]} is up again (pid {after[victim]}, restart 1)" in run.output()
    assert "stopping everything" not in run.output()

    # The product still syncs: mail from a new Contact, delivered after the kill, becomes one Task.
    written, seconds = run.new_contact_mails("Still syncing after the kill", NEW_MAIL_LIMIT_SECONDS)
    print(f"\n{' and '.join(victims)} back {restarted:.1f}s after the SIGKILL; "
          f"mail delivered then became a Task in {seconds:.1f}s")
    assert len(written) == 1, f"no Task within {NEW_MAIL_LIMIT_SECONDS}s:\n{run.output()}"
    assert psutil.pid_exists(run.process.pid) and run.process.poll() is None

    # Ctrl-C still stops everything, the restarted processes included.
    output = run.stop()
    assert "stopped" in output
    deadline = time.monotonic() + 5
    while alive(descendants + list(after.values())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(descendants + list(after.values())) == []
