"""Sync engine speed and thrift: a backfill of a seeded sandbox tenant by real worker
processes, then live deliveries, without and with 100 ms added to every provider call.

Prints emails synced per second, Salesforce API calls per 1,000 emails (target ≤ 10),
Graph calls per 1,000 emails (target ≤ 5 for a backfill), p50/p95 seconds from a delivery
through the sandbox control API to its Task existing (target p95 ≤ 5 s, notifications on),
and the workers' peak memory.

    mailferry bench sync [--scale 20x500] [--workers 2] [--deliveries 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psutil
from sqlalchemy import func, select

from cli.demo import connect_demo_users
from cli.processes import (
    free_port, redis_spec, sandbox_specs, supervise_in_background, web_spec, worker_specs,
)
from mailferry import migrate
from mailferry.config import Config
from mailferry.db import make_engine, make_session_factory
from mailferry.job_queue import enqueue_sync
from mailferry.models import Mailbox, Message
from mailferry.tls import ensure_certificates, https_session

BACKFILL_LIMIT_SECONDS = 1800
DELIVERY_LIMIT_SECONDS = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="20x500", help="users x emails each (default 20x500)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--deliveries", type=int, default=20, help="live deliveries timed (default 20)")
    parser.add_argument("--latency-ms", type=int, default=100, help="added latency for the second run (default 100)")


def run(config: Config, args: argparse.Namespace) -> int:
    ensure_certificates(config.certs_dir)
    print(f"mailferry bench sync: scale {args.scale}, {args.workers} workers, {args.deliveries} live deliveries")
    for latency in (0, args.latency_ms):
        with tempfile.TemporaryDirectory(prefix="mfbench-", dir="/tmp") as folder:
            figures = _scenario(_bench_config(config, Path(folder), args.workers), args, latency)
        _print(latency, figures)
    return 0


def _bench_config(config: Config, folder: Path, workers: int) -> Config:
    """Everything private to this run: ports, SQLite file and embedded Redis in `folder`.
    (The worker processes derive the same URLs from the ports in their environment.)"""
    web, microsoft, salesforce = free_port(), free_port(), free_port()
    return dataclasses.replace(
        config, data_dir=folder, database_url=f"sqlite:///{folder / 'bench.db'}",
        redis_url=f"unix://{folder / 'redis' / 'redis.sock'}", redis_embedded=True,
        web_port=web, base_url=f"https://localhost:{web}", worker_count=workers,
        sandbox_microsoft_port=microsoft, sandbox_salesforce_port=salesforce,
        microsoft_authority_host=f"https://localhost:{microsoft}",
        microsoft_graph_url=f"https://localhost:{microsoft}/v1.0",
        salesforce_login_url=f"https://localhost:{salesforce}",
    )


def _scenario(config: Config, args, latency_ms: int) -> dict:
    migrate.upgrade(config.database_url)
    env = _environment(config)
    specs = [redis_spec(config), *sandbox_specs(config, keep_world=False), web_spec(config), *worker_specs(config)]
    for spec in specs:
        spec.env.update(env)
    specs = [s for s in specs if s.name != "scheduler"]  # the bench enqueues itself
    with supervise_in_background(config, specs) as supervisor, _clouds(config) as clouds:
        for base in (config.sandbox_microsoft_url, config.sandbox_salesforce_url):
            clouds.post(f"{base}/_sandbox/reset", json={"seed": config.sandbox_seed, "scale": args.scale},
                        timeout=300).raise_for_status()
        mailbox_ids = connect_demo_users(config)
        _faults(clouds, config, latency_ms)
        _reset_stats(clouds, config)
        sessions = make_session_factory(make_engine(config.database_url))
        import redis

        queue = redis.Redis.from_url(config.redis_url)
        workers = [psutil.Process(p.pid) for s, p in supervisor.children if s.name.startswith("worker-")]
        peak = [0]
        started = time.monotonic()
        for mailbox_id in mailbox_ids:
            enqueue_sync(queue, mailbox_id)
        emails = _wait_backfill(sessions, workers, peak, started)
        elapsed = time.monotonic() - started
        salesforce_calls, graph_calls, graph_parts = _calls(clouds, config)
        delays = _live_deliveries(clouds, config, args.deliveries, workers, peak)
        return {
            "emails": emails, "seconds": elapsed, "salesforce_calls": salesforce_calls,
            "graph_calls": graph_calls, "graph_parts": graph_parts, "delays": delays, "peak_mb": peak[0] / 2**20,
        }


def _environment(config: Config) -> dict[str, str]:
    return {
        "MAILFERRY_DATA_DIR": str(config.data_dir),
        "DATABASE_URL": config.database_url,
        "REDIS_URL": config.redis_url,
        "MAILFERRY_PORT": str(config.web_port),
        "MAILFERRY_BASE_URL": config.base_url,
        "MAILFERRY_SANDBOX_MICROSOFT_PORT": str(config.sandbox_microsoft_port),
        "MAILFERRY_SANDBOX_SALESFORCE_PORT": str(config.sandbox_salesforce_port),
        "MAILFERRY_LOG_LEVEL": "warning",
        # The same keys as this process, which seals the demo users' tokens.
        "MAILFERRY_ENCRYPTION_KEYS": ",".join(config.encryption_keys),
        "MAILFERRY_SECRET_KEY": config.secret_key,
    }


@contextmanager
def _clouds(config: Config) -> Iterator:
    with https_session(config.tls_ca_file) as session:
        yield session


def _faults(clouds, config: Config, latency_ms: int) -> None:
    if latency_ms:
        for base in (config.sandbox_microsoft_url, config.sandbox_salesforce_url):
            path = "/v1.0/*" if base == config.sandbox_microsoft_url else "/services/*"
            clouds.post(f"{base}/_sandbox/faults", json={"path": path, "latency_ms": latency_ms},
                        timeout=30).raise_for_status()


def _reset_stats(clouds, config: Config) -> None:
    for base in (config.sandbox_microsoft_url, config.sandbox_salesforce_url):
        clouds.post(f"{base}/_sandbox/stats/reset", timeout=30).raise_for_status()


def _wait_backfill(sessions, workers, peak, started: float) -> int:
    """Until every mailbox ran once and no email has work left; returns the emails stored."""
    while time.monotonic() - started < BACKFILL_LIMIT_SECONDS:
        _sample_memory(workers, peak)
        with sessions() as session:
            waiting = session.execute(
                select(func.count()).select_from(Message).where(
                    (Message.status == "pending") | Message.pending_operation.is_not(None))
            ).scalar_one()
            not_run = session.execute(
                select(func.count()).select_from(Mailbox).where(
                    (Mailbox.last_success_at.is_(None)) | (Mailbox.stage != "idle"))
            ).scalar_one()
            if not waiting and not not_run:
                return session.execute(select(func.count()).select_from(Message)).scalar_one()
        time.sleep(0.25)
    raise RuntimeError(f"the backfill did not finish within {BACKFILL_LIMIT_SECONDS}s")


def _calls(clouds, config: Config) -> tuple[int, int, int]:
    """Salesforce API calls; Graph HTTP requests sent; Graph requests counting each part of
    a `$batch` (what Graph's throttling counts)."""
    salesforce = clouds.get(f"{config.sandbox_salesforce_url}/_sandbox/stats", timeout=30).json()["calls"]
    graph = clouds.get(f"{config.sandbox_microsoft_url}/_sandbox/stats", timeout=30).json()
    with_parts = sum(n for route, n in graph["calls"].items() if "/v1.0/" in route)
    return (sum(n for route, n in salesforce.items() if "/services/data/" in route),
            with_parts - graph["batch_parts"], with_parts)


def _live_deliveries(clouds, config: Config, count: int, workers, peak) -> list[float]:
    """Deliver mail from a known Contact and time until its Task exists."""
    users = clouds.get(f"{config.sandbox_microsoft_url}/_sandbox/users", timeout=30).json()["users"]
    contacts = clouds.get(f"{config.sandbox_salesforce_url}/_sandbox/records/Contact", timeout=60).json()["records"]
    sender = next(c["Email"] for c in contacts if c.get("Email") and c["Email"].isascii() and "'" not in c["Email"])
    delays = []
    for number in range(count):
        user = users[number % len(users)]["userPrincipalName"]
        subject = f"Bench live delivery {number} {time.time_ns()}"
        started = time.monotonic()
        clouds.post(f"{config.sandbox_microsoft_url}/_sandbox/users/{user}/messages", timeout=30, json={
            "folder": "inbox", "from": {"address": sender}, "to": [{"address": user}], "subject": subject,
        }).raise_for_status()
        while time.monotonic() - started < DELIVERY_LIMIT_SECONDS:
            _sample_memory(workers, peak)
            found = clouds.get(f"{config.sandbox_salesforce_url}/_sandbox/records/Task",
                               params={"Subject": f"Email: {subject}"}, timeout=30).json()["records"]
            if found:
                delays.append(time.monotonic() - started)
                break
            time.sleep(0.05)
        else:
            delays.append(float("inf"))
    return delays


def _sample_memory(workers, peak) -> None:
    for process in workers:
        try:
            peak[0] = max(peak[0], process.memory_info().rss)
        except psutil.Error:
            pass


def _print(latency_ms: int, f: dict) -> None:
    per_thousand = 1000 / max(1, f["emails"])
    delays = sorted(f["delays"])
    p95 = delays[min(len(delays) - 1, int(round(0.95 * (len(delays) - 1))))] if delays else float("nan")
    print(f"\n  {'no added latency' if not latency_ms else f'{latency_ms} ms added to every provider call'}")
    print(f"    emails stored and decided      {f['emails']}")
    print(f"    backfill                       {f['seconds']:.1f} s = {f['emails'] / f['seconds']:.0f} emails/s")
    print(f"    Salesforce API calls           {f['salesforce_calls']} = {f['salesforce_calls'] * per_thousand:.1f} per 1,000 emails (target <= 10)")
    print(f"    Graph HTTP requests            {f['graph_calls']} = {f['graph_calls'] * per_thousand:.1f} per 1,000 emails (target <= 5)")
    print(f"    Graph requests, $batch parts   {f['graph_parts']} = {f['graph_parts'] * per_thousand:.1f} per 1,000 emails (each part counted, as throttling does)")
    print(f"    delivery -> Task               p50 {statistics.median(delays):.2f} s, p95 {p95:.2f} s over {len(delays)} (target p95 <= 5 s)")
    print(f"    peak worker memory             {f['peak_mb']:.0f} MB RSS")
