"""Which processes Mailferry is made of, how each is started, and `mailferry run` itself."""

from __future__ import annotations

import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import requests

from cli.supervisor import ChildExited, ProcessSpec, Supervisor, python_command
from mailferry.config import Config
from mailferry.tls import https_session

SANDBOX_SERVICES = ("microsoft", "salesforce")
# A process to start, or a set-up step to run between two of them.
Step = ProcessSpec | Callable[[], None]


def redis_spec(config: Config) -> ProcessSpec:
    from mailferry.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(config.redis_socket)
    server.prepare()
    # Restarted if it dies: it reopens its snapshot, and Redis holds nothing the database
    # cannot rebuild (queues, locks, caches), so the scheduler and sweeps refill it.
    return ProcessSpec("redis", server.command(), ready=server.answers, restart=True)


def sandbox_specs(config: Config, keep_world: bool = True) -> list[ProcessSpec]:
    """Both sandbox servers; `keep_world=False` (benchmarks) starts a fresh world that is not
    saved, leaving the demo's in `data/sandbox/` alone.

    Not restarted: a sandbox server that died lost what changed since its last save, so a new
    one would serve an org missing Tasks the database says were written; its exit stops
    everything (`mailferry run` again starts from the saved world and says if the two disagree)."""
    urls = {"microsoft": config.sandbox_microsoft_url, "salesforce": config.sandbox_salesforce_url}
    # Both servers must agree on both ports (each names the other's URL), whatever the
    # environment says: pass them explicitly.
    ports = {
        "MAILFERRY_SANDBOX_MICROSOFT_PORT": str(config.sandbox_microsoft_port),
        "MAILFERRY_SANDBOX_SALESFORCE_PORT": str(config.sandbox_salesforce_port),
    }
    return [
        ProcessSpec(
            f"sandbox-{service}",
            python_command("sandbox", "--only", service, *(() if keep_world else ("--forget",))),
            ready=_answers(config, f"{urls[service]}/_sandbox/stats"),
            env=ports,
        )
        for service in SANDBOX_SERVICES
    ]


def web_spec(config: Config) -> ProcessSpec:
    return ProcessSpec(
        "web",
        python_command("web"),
        ready=_answers(config, f"https://localhost:{config.web_port}/healthz", status=200),
        restart=True,  # it keeps nothing in memory; the ready check runs again
    )


def worker_specs(config: Config) -> list[ProcessSpec]:
    # Restarted if they die: every pipeline stage re-reads its state and is safe to run twice.
    specs = [ProcessSpec(f"worker-{n}", python_command("worker"), restart=True)
             for n in range(1, config.worker_count + 1)]
    return specs + [ProcessSpec("scheduler", python_command("scheduler"), restart=True)]


def sandbox_state_dir(config: Config) -> Path:
    """Where the sandbox servers keep their worlds (`mailferry demo reset` empties it)."""
    return config.data_dir / "sandbox"


def sandbox_settings(config: Config, keep_world: bool = True):
    """The sandbox servers' settings for this configuration: its sandbox ports and seed, and
    its app credentials as the demo apps the tenant and org know (the sandbox imports
    nothing from the product, so it learns them here)."""
    from sandbox.settings import AppCredentials, SandboxSettings

    return SandboxSettings(
        microsoft_demo_app=AppCredentials(config.microsoft_client_id, config.microsoft_client_secret),
        salesforce_demo_app=AppCredentials(config.salesforce_client_id, config.salesforce_client_secret),
        microsoft_url=config.sandbox_microsoft_url,
        salesforce_url=config.sandbox_salesforce_url,
        seed=config.sandbox_seed,
        ca_file=str(config.tls_ca_file),
        product_url=config.base_url,  # the simulated Outlook reads the add-in manifest there
        state_dir=str(sandbox_state_dir(config)) if keep_world else None,  # the world survives a restart
    )


def serve_sandbox(config: Config, service: str, keep_world: bool = True) -> None:
    """Serve one sandbox server in the foreground (one process: its state is in memory, and
    kept in `data/sandbox/` across restarts unless `keep_world` is False)."""
    from cli.serve import serve_https

    settings = sandbox_settings(config, keep_world)

    def load():
        if service == "microsoft":
            from sandbox.microsoft import create_app
        else:
            from sandbox.salesforce import create_app
        return create_app(settings)

    port = config.sandbox_microsoft_port if service == "microsoft" else config.sandbox_salesforce_port
    serve_https(
        load,
        host="127.0.0.1",
        port=port,
        certfile=str(config.tls_cert_file),
        keyfile=str(config.tls_key_file),
        name=f"mailferry-sandbox-{service}",
        threads=32,
        processes=1,
        log_level="warning",
    )


def run_all(config: Config) -> int:
    """`mailferry run`: certificates, migrations, then every process until Ctrl-C or SIGTERM."""
    from mailferry import migrate
    from mailferry.tls import ensure_certificates

    started = time.monotonic()
    ensure_certificates(config.certs_dir)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(config.database_url)
    steps: list[Step] = [redis_spec(config)] if config.redis_embedded else []
    watch = None
    if config.is_demo:
        watch = _WorldWatch(config)
        steps += [*sandbox_specs(config), lambda: _connect_demo(config), watch]
    steps += [web_spec(config), *worker_specs(config)]
    return supervise(config, steps, started=started, watch=watch)


class _WorldWatch:
    """Says once, at start and whenever it changes, that the sandbox and the database
    disagree (`cli.demo_world`); a set-up step and the supervisor's periodic check."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._said: str | None = None

    def __call__(self) -> None:
        from cli.demo_world import check_quietly

        problem = check_quietly(self._config)
        if problem and problem != self._said:
            _say(f"WARNING: {problem}")
        self._said = problem


def _connect_demo(config: Config) -> None:
    """Connect the demo users and queue a first sync of every mailbox."""
    import redis

    from cli.demo import connect_demo_users
    from mailferry.job_queue import enqueue_sync

    mailbox_ids = connect_demo_users(config)
    connection = redis.Redis.from_url(config.redis_url)
    for mailbox_id in mailbox_ids:
        enqueue_sync(connection, mailbox_id)
    _say(f"demo: {len(mailbox_ids)} mailboxes connected and queued for their first sync")


def supervise(config: Config, steps: list[Step], started: float | None = None,
              watch: Callable[[], None] | None = None) -> int:
    """Start each process (or run each set-up step) in order, then wait for Ctrl-C (restarting
    the processes that die, cli/supervisor.py), calling `watch` every minute meanwhile."""
    supervisor = Supervisor(log=_say)
    supervisor.install_signal_handlers()
    started = started or time.monotonic()
    names = []
    try:
        for step in steps:
            if callable(step):
                step()
                continue
            process = supervisor.start(step)
            names.append(step.name)
            _say(f"{step.name} is up (pid {process.pid})")
        _say(f"ready in {time.monotonic() - started:.1f}s")
        _print_summary(config, names)
        return supervisor.wait(watch)
    except ChildExited as error:
        _say(str(error))
        return 1
    finally:
        supervisor.stop()
        _say("stopped")


@contextmanager
def supervise_in_background(config: Config, specs: list[ProcessSpec]) -> Iterator[Supervisor]:
    """Start `specs` (waiting until each is ready), yield, then stop them all (benchmarks, tests)."""
    supervisor = Supervisor(log=_say)
    try:
        for spec in specs:
            supervisor.start(spec)
        yield supervisor
    finally:
        supervisor.stop()


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _print_summary(config: Config, names: list[str]) -> None:
    lines = ["", "Mailferry is running (Ctrl-C stops everything):"]
    if "web" in names:
        lines.append(f"  Web app          {config.base_url}  (health: {config.base_url}/healthz)")
    if "sandbox-microsoft" in names:
        lines.append(f"  Microsoft 365    {config.sandbox_microsoft_url}  (sandbox: Entra ID and Graph)")
        lines.append(f"  Salesforce       {config.sandbox_salesforce_url}  (sandbox org)")
        lines.append(f"  Outlook add-in   {config.sandbox_microsoft_url}/outlook  (simulated Outlook; "
                     f"manifest: {config.base_url}/addin/manifest.xml)")
    workers = [name for name in names if name.startswith("worker-")]
    if workers:
        lines.append(f"  Sync             {len(workers)} worker(s) and the scheduler")
    redis_where = f"embedded, {config.redis_socket}" if config.redis_embedded else config.redis_url
    lines.append(f"  Redis            {redis_where}")
    lines.append(f"  Database         {_without_password(config.database_url)}")
    lines.append(f"  Trust this CA to open the pages without warnings: {config.tls_ca_file}")
    if "sandbox-microsoft" in names:
        from cli.demo_world import RESET_COMMAND

        lines.append(f"  Demo world       kept in {sandbox_state_dir(config)} and the database across restarts; "
                     f"start both afresh with `{RESET_COMMAND}` (while stopped) or by deleting {config.data_dir}")
        lines.append("  Demo sign-ins (Sign in with Microsoft, then pick one):")
        lines += [f"    {upn}{'  (admin)' if n == 0 else ''}" for n, upn in enumerate(_demo_sign_ins(config))]
    print("\n".join(lines), flush=True)


def _demo_sign_ins(config: Config) -> list[str]:
    """The demo users, in the order `cli.demo` provisions them (the first is the admin)."""
    with https_session(config.tls_ca_file) as session:
        users = session.get(f"{config.sandbox_microsoft_url}/_sandbox/users", timeout=10).json()["users"]
    return [user["userPrincipalName"] for user in users]


def _answers(config: Config, url: str, status: int | None = None):
    session = https_session(config.tls_ca_file)

    def check() -> bool:
        try:
            response = session.get(url, timeout=2)
        except requests.RequestException:
            return False
        return status is None or response.status_code == status

    return check


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _say(message: str) -> None:
    print(f"[mailferry] {message}", file=sys.stderr, flush=True)
