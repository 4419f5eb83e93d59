"""Logs and metrics of a real `mailferry worker` process syncing a small world (2 mailboxes ×
40 emails) from both sandboxes over HTTPS: every line it writes is JSON (MAILFERRY_LOG_FORMAT=json, at
debug level), the run's lines carry tenant, mailbox and run id (and the message's row id
while one is recorded), each run ends in one summary line, and no token, client secret or
mail body is in any line; the web app's /metrics, read with its bearer token, counts the
emails by outcome exactly as the database holds them (and answers 403 to anyone else)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, Worker
from sqlalchemy import func, or_, select

from cli.demo import connect_demo_users
from cli.supervisor import _die_with_parent
from mailferry.crypto import SecretBox
from mailferry.job_queue import SYNC_QUEUE, enqueue_sync
from mailferry.metrics_folder import use_metrics_folder
from mailferry.models import Connection, Mailbox, Message, Subscription, Tenant
from mailferry.salesforce_identity import SalesforceOAuth
from server import create_app
from tests.worker.demo_rep import REP
from worker import jobs
from worker.runtime import Runtime, use_runtime

PROJECT_ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-for-the-test-0123456789"
DELETED_OUTCOMES = {"dropped", "omitted", "removed"}  # rows the worker deletes instead of keeping
SECRET_KEYS = {"secret", "access_token", "refresh_token", "id_token"}
# The worker takes every job on its queues: a Redis database of this module's own, so no job
# another test left on the session's database 0 is run (8-15 are the reliability tests').
REDIS_DB = 7


@pytest.fixture
def redis_url(redis_url):
    url = f"{redis_url.split('?')[0]}?db={REDIS_DB}" if redis_url.startswith("unix://") else \
        f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def worker_synced(engine_config, clouds, tmp_path):
    """A small world (2 mailboxes × 40 emails) synced by one `mailferry worker` process with
    JSON logs at debug level (the most they ever say), stopped once every mailbox is done;
    yields (runtime, mailbox ids, its output lines, the secrets before the run)."""
    for base in (clouds.microsoft, clouds.salesforce):
        clouds.http.post(f"{base}/_sandbox/reset", json={"seed": 7, "scale": "2x40"}).raise_for_status()
    runtime = Runtime(engine_config)
    use_runtime(runtime)
    mailbox_ids = connect_demo_users(engine_config)
    secrets_before = _secrets(runtime)
    output = tmp_path / "worker.log"
    with output.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], cwd=PROJECT_ROOT,
                                  env=_worker_environment(engine_config), stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True, preexec_fn=_die_with_parent)
    try:
        for mailbox_id in mailbox_ids:
            enqueue_sync(runtime.redis, mailbox_id)
        deadline = time.monotonic() + 90
        while not _all_synced(runtime):
            assert worker.poll() is None and time.monotonic() < deadline, output.read_text()[-3000:]
            time.sleep(0.25)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        use_runtime(None)
    yield runtime, mailbox_ids, [line for line in output.read_text().splitlines() if line], secrets_before
    runtime.engine.dispose()


def _worker_environment(config) -> dict[str, str]:
    """The worker's environment: the test's configuration, and none of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILFERRY_", "DATABASE_URL", "REDIS_URL",
                                                                     "PROMETHEUS_"))}
    return {**env, "DATABASE_URL": config.database_url, "REDIS_URL": config.redis_url,
            "MAILFERRY_DATA_DIR": str(config.data_dir), "MAILFERRY_CERTS_DIR": str(config.certs_dir),
            "MAILFERRY_ENCRYPTION_KEYS": ",".join(config.encryption_keys), "MAILFERRY_SECRET_KEY": config.secret_key,
            "MAILFERRY_SANDBOX_MICROSOFT_PORT": str(config.sandbox_microsoft_port),
            "MAILFERRY_SANDBOX_SALESFORCE_PORT": str(config.sandbox_salesforce_port),
            "MAILFERRY_LOG_FORMAT": "json", "MAILFERRY_LOG_LEVEL": "debug", "PYTHONUNBUFFERED": "1"}


def _all_synced(runtime) -> bool:
    """No job waiting or running, and every mailbox idle after a run, with no email left due."""
    if Queue(SYNC_QUEUE, connection=runtime.redis).count or any(
            w.get_state() == "busy" for w in Worker.all(connection=runtime.redis)):
        return False
    with runtime.sessions() as session:
        unfinished = session.scalar(select(func.count()).select_from(Mailbox).where(
            or_(Mailbox.stage != "idle", Mailbox.last_success_at.is_(None))))
        due = session.scalar(select(func.count()).select_from(Message).where(
            or_(Message.status == "pending", Message.pending_operation.is_not(None))))
        rows = session.scalar(select(func.count()).select_from(Message))
    return rows > 0 and not unfinished and not due


def _secrets(runtime) -> set[str]:
    """Every token of the sealed connections (MSAL caches, Salesforce token sets) and every
    subscription clientState, unsealed."""
    box = SecretBox(runtime.config.encryption_keys)
    found: set[str] = set()

    def collect(value, key=None):
        if isinstance(value, str) and value[:1] in "{[":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if isinstance(value, dict):
            for name, inner in value.items():
                collect(inner, name)
        elif isinstance(value, list):
            for inner in value:
                collect(inner, key)
        elif isinstance(value, str) and key in SECRET_KEYS and len(value) >= 16:
            found.add(value)

    with runtime.sessions() as session:
        for sealed in session.scalars(select(Connection.sealed_secrets).where(Connection.sealed_secrets.is_not(None))):
            collect(box.open(sealed))
        for sealed in session.scalars(select(Subscription.sealed_client_state)):
            found.add(box.open(sealed))
    return found


def test_a_workers_json_lines_carry_the_run_and_hold_no_secret_or_body(worker_synced, engine_config,
                                                                        microsoft_state):
    runtime, mailbox_ids, lines, secrets_before = worker_synced
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line that is not JSON: {line!r}")

    with runtime.sessions() as session:
        tids = set(session.scalars(select(Tenant.tid)))
    summaries = [r for r in records if r.get("logger") == "worker.jobs" and "outcomes" in r]
    assert {r["mailbox_id"] for r in summaries} == set(mailbox_ids), summaries
    for summary in summaries:
        assert summary["tenant"] in tids and summary["run_id"] and summary["result"] == "completed", summary
        assert summary["graph_calls"] > 0 and summary["duration_seconds"] > 0, summary
    assert sum(s["salesforce_calls"] for s in summaries) > 0
    runs = {r["run_id"] for r in summaries}
    assert len(runs) == len(summaries)  # one summary line per run
    in_runs = [r for r in records if r.get("run_id")]
    assert all(r["run_id"] in runs and r["mailbox_id"] in mailbox_ids for r in in_runs)
    per_email = [r for r in in_runs if r.get("outcome")]
    assert per_email and all(isinstance(r.get("message_id"), int) for r in per_email)
    assert sum(sum(s["outcomes"].values()) for s in summaries) == len(per_email)

    secrets = secrets_before | _secrets(runtime) | {
        engine_config.microsoft_client_secret, engine_config.salesforce_client_secret, engine_config.secret_key,
        *engine_config.encryption_keys}
    bodies = {m.body_text.strip() for box in microsoft_state.store.mailboxes.values()
              for m in box.messages.values() if m.body_text and m.body_text.strip()}
    assert len(secrets) >= 8 and len(bodies) >= 40, (len(secrets), len(bodies))
    # The lines as written, and every string in them decoded (JSON escapes a body's newlines).
    text = "\n".join([*lines, *(value for record in records for value in _strings(record))])
    leaked = [s[:12] + "…" for s in secrets if s in text] + [b[:30] + "…" for b in bodies if b in text]
    assert not leaked, f"{len(leaked)} secrets or bodies in the log: {leaked[:5]}"
    print(f"\n{len(lines)} lines, {len(summaries)} runs, {len(per_email)} email lines; "
          f"{len(secrets)} secrets and {len(bodies)} bodies not found in them")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def test_metrics_after_a_sync_count_the_emails_the_database_holds(worker_synced, engine_config):
    runtime, mailbox_ids, _, _ = worker_synced
    app = create_app(dataclasses.replace(engine_config, metrics_token=METRICS_TOKEN))
    client = app.test_client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer not-the-token"}).status_code == 403
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200, answer.text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(answer.text) for s in family.samples}

    counted = Counter()
    for (name, labels), value in samples.items():
        if name == "mailferry_emails_total":
            counted[dict(labels)["outcome"]] += int(value)
    with runtime.sessions() as session:
        held = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
        subscriptions = session.scalar(select(func.count()).select_from(Subscription))
    assert held and {k: v for k, v in counted.items() if k not in DELETED_OUTCOMES} == held, (counted, held)
    assert samples[("mailferry_graph_calls_total", ())] > 0
    assert samples[("mailferry_salesforce_api_calls_total", ())] > 0
    assert samples[("mailferry_sync_run_duration_seconds_count", (("result", "completed"),))] >= 2
    assert samples[("mailferry_queue_jobs", (("queue", SYNC_QUEUE),))] == 0
    assert samples[("mailferry_graph_subscriptions", ())] == subscriptions
    assert any(name == "mailferry_salesforce_api_budget_remaining_calls" for name, _ in samples)

    # A job nobody takes (the worker is stopped): the queue's depth and its age.
    enqueue_sync(runtime.redis, mailbox_ids[0])
    time.sleep(1.1)
    waiting = {(f.name, s.labels.get("queue")): s.value for f in text_string_to_metric_families(
        client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text) for s in f.samples}
    assert waiting[("mailferry_queue_jobs", SYNC_QUEUE)] == 1
    assert 1 <= waiting[("mailferry_queue_oldest_job_age_seconds", SYNC_QUEUE)] < 30

    # The admin network needs no token; other addresses still do.
    networked = create_app(dataclasses.replace(engine_config, metrics_networks=(ipaddress.ip_network("127.0.0.0/8"),)))
    assert networked.test_client().get("/metrics").status_code == 200
    assert networked.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403


def test_graph_throttling_and_a_refused_token_refresh_are_counted(pipeline, rep, clouds, client_session):
    """In this process (its own counters): a Graph 429 with Retry-After 1, then a Salesforce
    session that expired after its refresh token was revoked."""
    runtime, _ = pipeline
    user_id, mailbox_id = rep

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (value("mailferry_graph_throttled_total", status="429"), value("mailferry_graph_retry_after_seconds_sum"),
              value("mailferry_token_refresh_failures_total", provider="salesforce"))
    clouds.faults(clouds.microsoft, {"path": "/v1.0/$batch", "status": 429, "error_code": "TooManyRequests",
                                     "retry_after": 1, "count": 1})
    jobs.sync_mailbox(mailbox_id)  # the backfill, one of its $batch calls throttled
    assert value("mailferry_graph_throttled_total", status="429") == before[0] + 1
    assert value("mailferry_graph_retry_after_seconds_sum") == before[1] + 1

    with runtime.sessions() as session:
        connection = session.scalars(select(Connection).where(Connection.user_id == user_id,
                                                              Connection.provider == "salesforce")).one()
        tokens = runtime.box.open(connection.sealed_secrets)
    assert SalesforceOAuth(clouds.salesforce, "x", "y", "https://localhost/cb", client_session).revoke(
        tokens["refresh_token"])
    clouds.org(session_lifetime_seconds=1)
    time.sleep(1.5)  # the Salesforce session is over
    contact = next(c for c in clouds.records("Contact") if c.get("Email") and "'" not in c["Email"])
    clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}], "subject": "Probe"})
    jobs.sync_mailbox(mailbox_id)  # its lookup meets the expired session; the refresh is refused
    assert value("mailferry_token_refresh_failures_total", provider="salesforce") == before[2] + 1


def test_only_the_start_of_everything_empties_the_metrics_folder_and_only_of_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "elsewhere")  # restored after the test
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "README").write_text("an operator's file")
    use_metrics_folder(folder)  # a process starting alone (a restarted worker) keeps the totals
    assert (folder / "counter_123.db").exists() and os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)
    use_metrics_folder(folder, empty=True)  # `mailferry run`
    assert sorted(p.name for p in folder.iterdir()) == ["README"]
