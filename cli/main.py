"""`mailferry`: one command per process, and `run` for all of them at once.

The CLI is the composition root: the only place that knows the server, the worker and the
sandbox together. Each subcommand imports what it runs lazily, so `mailferry certs` works
before anything else is set up.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mailferry.config import Config, ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    return args.handler(config, args) or 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailferry", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    command("run", _run, "start everything (Redis unless REDIS_URL is set, sandbox, web) until Ctrl-C")
    web = command("web", _web, "serve the web app over HTTPS, or over HTTP for a reverse proxy (--proxy)")
    web.add_argument("--proxy", action="store_true",
                     help="plain HTTP for a reverse proxy that terminates TLS: X-Forwarded-For/-Proto/-Host believed "
                          "from loopback, the Unix socket and MAILFERRY_TRUSTED_PROXIES only; access log on stdout")
    web.add_argument("--bind", metavar="ADDRESS", type=_bind_address,
                     help="HOST:PORT, or unix:/path/to/socket with --proxy (default: MAILFERRY_HOST:MAILFERRY_PORT)")
    web.add_argument("--processes", type=_count(64), metavar="N",
                     help="worker processes, 1-64 (default: MAILFERRY_WEB_PROCESSES, 2)")
    web.add_argument("--threads", type=_count(256), metavar="N",
                     help="threads per process, 1-256 (default: MAILFERRY_WEB_THREADS, 16)")
    command("worker", _worker, "run sync jobs from Redis (start as many as you like, on any machine)")
    command("scheduler", _scheduler, "enqueue periodic work (polling, re-match, renewals, purge) on time")
    sandbox = command("sandbox", _sandbox, "serve the emulated Microsoft 365 and Salesforce over HTTPS")
    sandbox.add_argument("--only", choices=("microsoft", "salesforce"), help="serve one of the two")
    sandbox.add_argument("--forget", action="store_true",
                         help="start a fresh world and keep none (default: kept in data/sandbox across restarts)")
    command("certs", _certs, "create (or reuse) the development CA and localhost certificate")
    database = command("db", _db, "database migrations")
    database.add_argument("action", choices=("upgrade", "downgrade", "current"))
    database.add_argument("revision", nargs="?", help="target revision (default: head; downgrade: required)")
    demo = command("demo", _demo, "the demo's world (sandbox and database together)")
    demo.add_argument("action", choices=("reset",),
                      help="reset: a fresh sandbox world and an empty database (while `mailferry run` is stopped)")
    doctor = command("doctor", _doctor, "check configuration, certificates, database and Redis (in production also "
                                        "Entra, Graph, Salesforce and the public base URL)")
    doctor.add_argument("--proxy", action="store_true",
                        help="the web app runs as `mailferry web --proxy`: the reverse proxy serves the certificate")
    manifest = command("manifest", _manifest, "write the Outlook add-in manifest for a host (docs/outlook.md)")
    manifest.add_argument("--base-url", required=True, metavar="URL",
                          help="the HTTPS origin Mailferry is served from, e.g. https://mailferry.example.com")
    manifest.add_argument("--output", metavar="PATH", help="write to this file (default: standard output)")
    admins = command("admin", _admin, "grant, revoke or list Mailferry admins (a person must have signed in once)")
    admins.add_argument("action", choices=("grant", "revoke", "list"))
    admins.add_argument("upn", nargs="?", help="the user's sign-in name (grant, revoke)")
    admins.add_argument("--tenant", metavar="TENANT", help="tenant id or primary domain, when the name is ambiguous")
    users = command("user", _user, "remove: offboard a user (tokens revoked, Graph subscriptions and all their data "
                                   "deleted, nothing synced afterwards)")
    users.add_argument("action", choices=("remove",))
    users.add_argument("upn", help="the user's sign-in name")
    users.add_argument("--tenant", metavar="TENANT", help="tenant id or primary domain, when the name is ambiguous")
    tenants = command("tenant", _tenant, "delete: remove a tenant's users and all its data (asks for --yes)")
    tenants.add_argument("action", choices=("delete",))
    tenants.add_argument("tenant", metavar="TENANT", help="the Entra tenant id or the tenant's primary domain")
    tenants.add_argument("--yes", action="store_true", help="really delete (without it, says what would go)")
    secrets = command("secrets", _secrets, "rotate: re-seal every stored secret under the newest key of "
                                           "MAILFERRY_ENCRYPTION_KEYS, then name the older keys that can go")
    secrets.add_argument("action", choices=("rotate",))
    bench = command("bench", _bench, "run a benchmark and print its figures")
    bench_names = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name, module in _benchmarks().items():
        module = importlib.import_module(module)
        module.add_arguments(bench_names.add_parser(name, help=module.__doc__.splitlines()[0]))
    return parser


def _certs(config: Config, args) -> int:
    from mailferry.tls import ensure_certificates, trust_instructions

    paths, created = ensure_certificates(config.certs_dir)
    print(f"{'Created' if created else 'Reusing'} development certificates in {paths.folder}")
    print(trust_instructions(paths))
    return 0


def _db(config: Config, args) -> int:
    from mailferry import migrate

    if args.action == "upgrade":
        migrate.upgrade(config.database_url, args.revision or "head")
    elif args.action == "downgrade":
        if not args.revision:
            print("db downgrade needs a revision, e.g. `mailferry db downgrade base`", file=sys.stderr)
            return 2
        migrate.downgrade(config.database_url, args.revision)
    print(f"database at revision {migrate.current(config.database_url) or 'base (empty)'}")
    return 0


def _bind_address(value: str) -> str:
    """`HOST:PORT` or `unix:/absolute/path` (gunicorn's forms, checked before it starts)."""
    host, _, port = value.rpartition(":")
    if value.startswith("unix:/") or (host and port.isdigit() and 0 < int(port) < 65536):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: use HOST:PORT (e.g. 127.0.0.1:8001) or unix:/run/mailferry/web.sock")


def _count(highest: int):
    def count(value: str) -> int:
        if value.isdigit() and 1 <= int(value) <= highest:
            return int(value)
        raise argparse.ArgumentTypeError(f"{value!r}: use a whole number from 1 to {highest}")

    return count


def _web(config: Config, args) -> int:
    _observed(config)
    from cli.serve import serve_behind_proxy, serve_https
    from cli.startup_checks import refuse_to_start

    if (refused := refuse_to_start(config, terminates_tls=not args.proxy)) is not None:
        return refused

    bind = args.bind or f"{config.web_host}:{config.web_port}"
    processes, threads = args.processes or config.web_processes, args.threads or config.web_threads
    if bind.startswith("unix:") and not args.proxy:
        print("--bind unix:… serves plain HTTP for a reverse proxy: add --proxy", file=sys.stderr)
        return 2

    def load():
        from server import create_app

        app = create_app(config)
        if args.proxy:
            from server.forwarded_headers import trust_proxy

            trust_proxy(app, config.trusted_proxies)
        return app

    if args.proxy:
        serve_behind_proxy(load, bind=bind, name="mailferry-web", threads=threads, processes=processes,
                           log_level=config.log_level)
        return 0
    host, _, port = bind.rpartition(":")
    serve_https(load, host=host, port=int(port), certfile=str(config.tls_cert_file),
                keyfile=str(config.tls_key_file), name="mailferry-web", threads=threads, processes=processes,
                log_level=config.log_level)
    return 0


def _worker(config: Config, args) -> int:
    _observed(config)
    import os
    import socket

    from rq import SimpleWorker

    from cli.startup_checks import refuse_to_start
    from mailferry import heartbeats
    from mailferry.job_queue import QUEUES
    from worker.runtime import Runtime, use_runtime

    if (refused := refuse_to_start(config)) is not None:
        return refused
    runtime = Runtime(config)
    use_runtime(runtime)
    # SimpleWorker runs jobs in this process: HTTPS keep-alive and database connections
    # survive from one job to the next, which a fork per job would throw away.
    worker = SimpleWorker(list(QUEUES), connection=runtime.redis,
                          name=f"mailferry-{socket.gethostname()}-{os.getpid()}")
    with heartbeats.beating(runtime.redis, heartbeats.WORKER, worker.name):  # what /readyz reads
        worker.work(logging_level=config.log_level.upper())
    return 0


def _scheduler(config: Config, args) -> int:
    _observed(config)
    import redis

    from cli.startup_checks import refuse_to_start
    from worker.scheduler import run_forever

    if (refused := refuse_to_start(config)) is not None:
        return refused

    run_forever(redis.Redis.from_url(config.redis_url))
    return 0


def _sandbox(config: Config, args) -> int:
    from cli import processes

    if args.only:
        processes.serve_sandbox(config, args.only, keep_world=not args.forget)
        return 0
    return processes.supervise(config, processes.sandbox_specs(config, keep_world=not args.forget))


def _demo(config: Config, args) -> int:
    from cli.demo_world import reset
    from cli.processes import sandbox_state_dir

    return reset(config, sandbox_state_dir(config))


def _run(config: Config, args) -> int:
    from cli import processes
    from mailferry.metrics_folder import use_metrics_folder

    # The one start of every process at once: what stopped processes counted goes.
    use_metrics_folder(config.metrics_dir, empty=True)

    return processes.run_all(config)


def _observed(config: Config, metrics: bool = True) -> None:
    """Logging as configured and, for a process that counts, the shared metrics folder; first
    thing in a process (prometheus_client reads the folder's variable when first imported)."""
    from mailferry.logging_setup import configure_logging
    from mailferry.metrics_folder import use_metrics_folder

    configure_logging(config.log_format, config.log_level)
    if metrics:
        use_metrics_folder(config.metrics_dir)


def _benchmarks() -> dict[str, str]:
    from bench import BENCHMARKS

    return BENCHMARKS


def _bench(config: Config, args) -> int:
    return importlib.import_module(_benchmarks()[args.benchmark]).run(config, args)


def _admin(config: Config, args) -> int:
    from cli.admin import run

    return run(config, args)


def _user(config: Config, args) -> int:
    from cli.offboarding import run_user

    return run_user(config, args)


def _tenant(config: Config, args) -> int:
    from cli.offboarding import run_tenant

    return run_tenant(config, args)


def _secrets(config: Config, args) -> int:
    from cli.secrets import run

    return run(config, args)


def _manifest(config: Config, args) -> int:
    from pathlib import Path

    from mailferry.outlook_manifest import ManifestBaseUrlError, manifest_for

    try:
        text = manifest_for(args.base_url)
    except ManifestBaseUrlError as error:
        print(f"--base-url: {error}", file=sys.stderr)
        return 2
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"--output: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"wrote the add-in manifest for {args.base_url} to {args.output}", file=sys.stderr)
    return 0


def _doctor(config: Config, args) -> int:
    _observed(config, metrics=False)
    from cli.doctor import diagnose

    return diagnose(config, proxy=args.proxy)


if __name__ == "__main__":
    sys.exit(main())
