"""Start a set of processes, wait until each is ready, restart those that die, and stop them
all together.

Used by `mailferry run` (and `mailferry sandbox`). Children run in their own process groups so
that Ctrl-C reaches only the supervisor, which then stops them one at a time in reverse order
with SIGTERM (SIGKILL after a grace period): a worker finishes its run while the web app, the
sandbox and Redis it talks to are still there, and the sandbox saves its world after the last
write it will get. Each child also gets SIGKILL from the kernel if the supervisor itself dies,
so no process is ever left behind.

A child whose spec says `restart` is started again when it exits on its own, in its place in
the stop order, after a backoff (1 s, doubling up to 30 s, back to 1 s once it stayed up a
minute); a child that exits more than 5 times within 2 minutes is in a crash loop and stops
everything, and so does any exit of a child that is not restarted.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RestartPolicy:
    """How a dead child is restarted: after `first_delay` seconds, doubling up to `max_delay`,
    back to `first_delay` once a start stayed up `stable_after`; more than `max_restarts`
    exits within `window` seconds is a crash loop."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    max_restarts: int = 5
    window: float = 120.0


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    # Returns True once the process serves; None means ready as soon as it started.
    ready: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    # Start it again when it exits on its own (else its exit stops everything).
    restart: bool = False


class ChildExited(RuntimeError):
    pass


@dataclass
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen
    ready_timeout: float
    started: float = field(default_factory=time.monotonic)
    ready: bool = True  # False while a restarted child's ready check has not passed yet
    restarts: int = 0
    delay: float = 0.0  # the next restart's backoff
    restart_at: float | None = None  # dead, to be started again then
    exits: list[float] = field(default_factory=list)  # when it exited, within the policy's window


class Supervisor:
    def __init__(self, log: Callable[[str], None] = print, policy: RestartPolicy = RestartPolicy()):
        self._log = log
        self._policy = policy
        self._children: list[_Child] = []
        self._stopping = False

    @property
    def children(self) -> list[tuple[ProcessSpec, subprocess.Popen]]:
        return [(child.spec, child.process) for child in self._children]

    def start(self, spec: ProcessSpec, ready_timeout: float = 60.0) -> subprocess.Popen:
        """Start `spec` and block until it is ready; raise ChildExited if it dies first."""
        process = _popen(spec)
        self._children.append(_Child(spec, process, ready_timeout, delay=self._policy.first_delay))
        deadline = time.monotonic() + ready_timeout
        while spec.ready is not None:
            if process.poll() is not None:
                raise ChildExited(f"{spec.name} exited with code {process.returncode} while starting")
            if spec.ready():
                break
            if time.monotonic() > deadline:
                raise ChildExited(f"{spec.name} was not ready within {ready_timeout:.0f}s")
            time.sleep(0.2)
        return process

    def wait(self, watch: Callable[[], None] | None = None, watch_every: float = 60.0) -> int:
        """Block until a signal (0) or a child's exit that is not restarted or is a crash loop
        (its exit code, or 1), restarting children meanwhile and calling `watch` every
        `watch_every` seconds."""
        next_watch = time.monotonic() + watch_every
        while not self._stopping:
            if watch is not None and time.monotonic() >= next_watch:
                watch()
                next_watch = time.monotonic() + watch_every
            for child in self._children:
                code = self._tend(child)
                if code is not None:
                    return code
                if self._stopping:
                    break
            time.sleep(0.3)
        return 0

    def _tend(self, child: _Child) -> int | None:
        """Restart `child` when due, check a restarted one's readiness, and handle its exit:
        None while all is well, else the code `wait` returns."""
        name, now = child.spec.name, time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restart_at = None
                child.process, child.started = _popen(child.spec), time.monotonic()
                child.ready = child.spec.ready is None
                if child.ready:
                    self._log(f"{name} is up again (pid {child.process.pid}, restart {child.restarts})")
            return None
        if child.process.poll() is None:
            if child.ready:
                return None
            if child.spec.ready():
                child.ready = True
                self._log(f"{name} is up again (pid {child.process.pid}, restart {child.restarts})")
                return None
            if now - child.started <= child.ready_timeout:
                return None
            self._log(f"{name} was not ready within {child.ready_timeout:.0f}s of its restart; killing it")
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()
        # It exited on its own: whatever it started in its process group goes with it.
        _signal_group(child.process, signal.SIGKILL)
        code = child.process.returncode
        if not child.spec.restart:
            self._log(f"{name} exited with code {code}; stopping everything ({name} is not restarted)")
            return code or 1
        policy = self._policy
        child.exits = [t for t in child.exits if now - t < policy.window] + [now]
        if len(child.exits) > policy.max_restarts:
            self._log(f"{name} exited with code {code}, {len(child.exits)} times within {policy.window:g}s: "
                      f"a crash loop; stopping everything")
            return code or 1
        if now - child.started >= policy.stable_after:
            child.delay = policy.first_delay
        child.restarts += 1
        child.restart_at = now + child.delay
        self._log(f"{name} exited with code {code}; restarting it in {child.delay:g}s (restart {child.restarts})")
        child.delay = min(child.delay * 2, policy.max_delay)
        return None

    def stop(self) -> None:
        """Newest first, one at a time: SIGTERM, then SIGKILL if it still runs after the grace."""
        self._stopping = True
        for child in reversed(self._children):
            if child.restart_at is not None:
                continue  # dead, its group killed already, waiting for a restart that will not come
            spec, process = child.spec, child.process
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._log(f"{spec.name} did not stop within {GRACE_SECONDS:.0f}s; killing it")
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # A child's own helpers (gunicorn workers) share its process group: make sure
            # none outlives it.
            _signal_group(process, signal.SIGKILL)
        self._children.clear()

    def install_signal_handlers(self) -> None:
        """Turn SIGINT/SIGTERM (and SIGHUP: the terminal closed) into a clean stop of `wait`."""

        def request_stop(signum, frame):
            self._stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGHUP, request_stop)


def python_command(*args: str) -> list[str]:
    """argv running the `mailferry` CLI with this interpreter."""
    return [sys.executable, "-m", "cli.main", *args]


def _popen(spec: ProcessSpec) -> subprocess.Popen:
    return subprocess.Popen(
        spec.argv,
        env={**os.environ, **spec.env},
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGKILL us when the supervisor dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the clean-stop path still applies
        pass
