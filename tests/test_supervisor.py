"""The supervisor behind `mailferry run` with real child processes: a dead child is restarted
in its place after a doubling backoff (reset once it stayed up), a crash loop or the exit of a
child that is not restarted stops everything, and SIGTERM still stops all, newest first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cli.supervisor import ProcessSpec, RestartPolicy, Supervisor
from tests.mailferry_run import alive

# A supervisor that fails to stop would wait for ever: fail such a test quickly instead.
pytestmark = pytest.mark.timeout(40)

# One start of a child: notes when it started, then lives the next of its lifetimes (seconds;
# "forever" after the list) and exits with EXIT_CODE; on the starts READY names it writes a
# marker named after its pid (what a ready check can look for); on SIGTERM notes its name in the stop log and exits 0.
CHILD = textwrap.dedent("""
    import os, signal, sys, time
    folder, name, lifetimes = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split(",") if x]
    with open(os.path.join(folder, name + ".starts"), "a") as starts:
        starts.write(f"{time.monotonic()}\\n")
    with open(os.path.join(folder, name + ".starts")) as starts:
        n = len(starts.read().splitlines())

    def on_term(signum, frame):
        with open(os.path.join(folder, "stops"), "a") as stops:
            stops.write(name + "\\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    if str(n) in os.environ.get("READY", "").split(","):
        open(os.path.join(folder, f"{name}.ready.{os.getpid()}"), "w").close()
    time.sleep(lifetimes[n - 1] if n <= len(lifetimes) else 3600)
    sys.exit(int(os.environ.get("EXIT_CODE", "3")))
""")


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "child.py").write_text(CHILD)
    return tmp_path


def child(folder: Path, name: str, lifetimes: str = "", restart: bool = True, ready=None,
          env: dict[str, str] | None = None) -> ProcessSpec:
    return ProcessSpec(name, [sys.executable, str(folder / "child.py"), str(folder), name, lifetimes],
                       ready=ready, env=env or {}, restart=restart)


def starts(folder: Path, name: str) -> list[float]:
    path = folder / f"{name}.starts"
    return [float(line) for line in path.read_text().splitlines()] if path.exists() else []


def logged_supervisor(**policy) -> tuple[Supervisor, list[str]]:
    """A supervisor with a RestartPolicy of `policy`, and the list of lines it logs."""
    log: list[str] = []
    return Supervisor(log.append, RestartPolicy(**policy)), log


def supervise(supervisor: Supervisor, *specs: ProcessSpec, ready_timeout: float = 60) -> tuple[int, list[int]]:
    """Start `specs`, wait until the supervisor gives up, stop all: what `wait` returned and the
    pids it last started."""
    try:
        for spec in specs:
            supervisor.start(spec, ready_timeout)
        code = supervisor.wait()
        return code, [process.pid for _, process in supervisor.children]
    finally:
        supervisor.stop()


def test_a_dead_child_is_restarted_with_a_doubling_backoff_until_a_crash_loop_stops_everything(folder):
    supervisor, log = logged_supervisor(first_delay=0.2, max_delay=0.8, stable_after=60, max_restarts=4, window=60)
    code, pids = supervise(supervisor, child(folder, "steady"), child(folder, "flaky", "0,0,0,0,0"))
    assert code == 3
    restarts = [line for line in log if "restarting" in line]
    assert restarts == [
        "flaky exited with code 3; restarting it in 0.2s (restart 1)",
        "flaky exited with code 3; restarting it in 0.4s (restart 2)",
        "flaky exited with code 3; restarting it in 0.8s (restart 3)",
        "flaky exited with code 3; restarting it in 0.8s (restart 4)",
    ]
    assert log[-1] == "flaky exited with code 3, 5 times within 60s: a crash loop; stopping everything"
    assert len([line for line in log if line.startswith("flaky is up again (pid ")]) == 4
    # Each restart really waited its backoff, and the child that did not die was left alone.
    times = starts(folder, "flaky")
    assert len(times) == 5
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert all(gap >= delay for gap, delay in zip(gaps, [0.2, 0.4, 0.8, 0.8])), gaps
    assert len(starts(folder, "steady")) == 1
    assert alive(pids) == []


def test_the_backoff_starts_again_from_the_first_delay_once_a_child_stayed_up(folder):
    supervisor, log = logged_supervisor(first_delay=0.1, max_delay=10, stable_after=0.8, max_restarts=4, window=60)
    code, _ = supervise(supervisor, child(folder, "worker", "0,0,1.5,0,0"))
    assert code == 3
    assert [line for line in log if "restarting" in line] == [
        "worker exited with code 3; restarting it in 0.1s (restart 1)",
        "worker exited with code 3; restarting it in 0.2s (restart 2)",
        "worker exited with code 3; restarting it in 0.1s (restart 3)",  # it stayed up 1.5s
        "worker exited with code 3; restarting it in 0.2s (restart 4)",
    ]
    assert "crash loop" in log[-1]


def test_exits_spread_wider_than_the_window_are_no_crash_loop_and_a_child_not_restarted_stops_all(folder):
    supervisor, log = logged_supervisor(first_delay=0.1, max_delay=0.1, stable_after=60, max_restarts=1, window=0.8)
    code, pids = supervise(supervisor, child(folder, "sandbox", "7", restart=False, env={"EXIT_CODE": "7"}),
                           child(folder, "worker", "1,1,1"))
    assert code == 7
    assert [line for line in log if "restarting" in line] == [
        f"worker exited with code 3; restarting it in 0.1s (restart {n})" for n in (1, 2, 3)
    ]
    assert "crash loop" not in " ".join(log)
    assert log[-1] == "sandbox exited with code 7; stopping everything (sandbox is not restarted)"
    assert len(starts(folder, "sandbox")) == 1
    assert alive(pids) == []


def test_a_restarted_child_counts_as_up_only_once_its_ready_check_passes_again(folder):
    supervisor, log = logged_supervisor(first_delay=0.1, max_delay=0.1, stable_after=60, max_restarts=2, window=60)

    def ready() -> bool:  # the current process of "web" wrote its marker
        return (folder / f"web.ready.{supervisor.children[0][1].pid}").exists()

    # Starts 1 and 2 get ready and die after 1 s; start 3 never gets ready.
    code, _ = supervise(supervisor, child(folder, "web", "1,1", ready=ready, env={"READY": "1,2"}), ready_timeout=2)
    ups = [line for line in log if "is up again" in line]
    assert len(ups) == 1 and ups[0].endswith(", restart 1)"), log
    assert len(starts(folder, "web")) == 3
    assert "web was not ready within 2s of its restart; killing it" in log
    assert log[-1] == "web exited with code -9, 3 times within 60s: a crash loop; stopping everything"
    assert code == -9


SUPERVISED = textwrap.dedent("""
    import sys
    from pathlib import Path
    from cli.supervisor import RestartPolicy, Supervisor
    from tests.test_supervisor import child

    folder = Path(sys.argv[1])
    supervisor = Supervisor(lambda line: print(line, flush=True), RestartPolicy(first_delay=0.1))
    supervisor.install_signal_handlers()
    try:
        for name, lifetimes in (("redis", ""), ("web", "0.2"), ("worker", "")):
            process = supervisor.start(child(folder, name, lifetimes))
            print(f"{name} pid {process.pid}", flush=True)
        code = supervisor.wait()
    finally:
        supervisor.stop()
    print("stopped", flush=True)
    sys.exit(code)
""")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["sigterm", "ctrl-c", "sighup"])
def test_a_signal_stops_every_child_newest_first_the_restarted_one_in_its_place(folder, stop_signal):
    process = subprocess.Popen([sys.executable, "-c", SUPERVISED, str(folder)], cwd=Path(__file__).parent.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    try:
        lines = []
        while not any(line.startswith("web is up again") for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line.strip())
        pids = [int(line.split()[-1]) for line in lines if " pid " in line and "again" not in line]
        pids.append(int(next(line for line in lines if "up again" in line).split("pid ")[1].split(",")[0]))
        time.sleep(0.5)
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert output.strip().endswith("stopped")
    assert "web exited with code 3; restarting it in 0.1s (restart 1)" in lines
    assert (folder / "stops").read_text().split() == ["worker", "web", "redis"]
    assert alive(pids) == []
