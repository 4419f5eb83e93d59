"""Start a set of processes, wait until each is ready, and stop them all together.

Used by `mailferry run` (and `mailferry sandbox`). Children run in their own process groups so
that Ctrl-C reaches only the supervisor, which then stops them one at a time in reverse order
with SIGTERM (SIGKILL after a grace period): a worker finishes its run while the web app, the
sandbox and Redis it talks to are still there, and the sandbox saves its world after the last
write it will get. Each child also gets SIGKILL from the kernel if the supervisor itself dies,
so no process is ever left behind.
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


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    # Returns True once the process serves; None means ready as soon as it started.
    ready: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)


class ChildExited(RuntimeError):
    pass


class Supervisor:
    def __init__(self, log: Callable[[str], None] = print):
        self._log = log
        self._children: list[tuple[ProcessSpec, subprocess.Popen]] = []
        self._stopping = False

    @property
    def children(self) -> list[tuple[ProcessSpec, subprocess.Popen]]:
        return list(self._children)

    def start(self, spec: ProcessSpec, ready_timeout: float = 60.0) -> subprocess.Popen:
        """Start `spec` and block until it is ready; raise ChildExited if it dies first."""
        process = subprocess.Popen(
            spec.argv,
            env={**os.environ, **spec.env},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._children.append((spec, process))
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
        """Block until a child exits (an error: they are meant to run until stopped) or a signal,
        calling `watch` every `watch_every` seconds meanwhile."""
        next_watch = time.monotonic() + watch_every
        while not self._stopping:
            if watch is not None and time.monotonic() >= next_watch:
                watch()
                next_watch = time.monotonic() + watch_every
            for spec, process in self._children:
                if process.poll() is not None:
                    self._log(f"{spec.name} exited with code {process.returncode}; stopping everything")
                    return process.returncode or 1
            time.sleep(0.3)
        return 0

    def stop(self) -> None:
        """Newest first, one at a time: SIGTERM, then SIGKILL if it still runs after the grace."""
        self._stopping = True
        for spec, process in reversed(self._children):
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
