"""`mailferry` processes as the systemd units start them (their ExecStart, tests/deploy/units.py),
each a child of the test with its own log file, stopped with SIGTERM as systemd stops them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class Service:
    """With `stderr_apart`, standard error goes to `<name>.stderr.log` (`errors()`) and `log()`
    is standard output alone (a web process's access log); otherwise both go to `<name>.log`,
    as the journal takes both."""

    def __init__(self, name: str, mailferry: Path, arguments: list[str], env: dict[str, str], folder: Path,
                 *, stderr_apart: bool = False):
        self.name = name
        self.log_file = folder / f"{name}.log"
        self.stderr_file = folder / f"{name}.stderr.log" if stderr_apart else self.log_file
        with open(self.log_file, "w") as log, open(self.stderr_file, "a") as errors:
            self.process = subprocess.Popen([str(mailferry), *arguments], env=env, cwd=folder, stdout=log,
                                            stderr=errors if stderr_apart else subprocess.STDOUT,
                                            start_new_session=True)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def errors(self) -> str:
        """What the process wrote to standard error (with its standard output unless apart)."""
        return self.stderr_file.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def run_mailferry(mailferry: Path, arguments: list[str], env: dict[str, str], folder: Path) -> str:
    """A one-off command (`mailferry db upgrade`); its output, once it succeeded."""
    answer = subprocess.run([str(mailferry), *arguments], env=env, cwd=folder, capture_output=True, text=True,
                            timeout=300)
    assert answer.returncode == 0, f"mailferry {' '.join(arguments)}:\n{answer.stdout}{answer.stderr}"
    return answer.stdout + answer.stderr


def wait_for_socket(service: Service, path: Path, limit: float = 60) -> None:
    """Until the web process accepts connections on its Unix socket."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert service.running(), f"{service.name} exited:\n{service.log()}"
        if path.exists():
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(path))
                    return
                except OSError:
                    pass
        time.sleep(0.1)
    raise AssertionError(f"{service.name} did not listen on {path} within {limit}s:\n{service.log()}")


def stop_all(services: list[Service]) -> None:
    """Newest first, as systemd stops what was started last first."""
    for service in reversed(services):
        service.stop()
