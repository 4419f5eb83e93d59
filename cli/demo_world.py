"""The demo's two halves kept together: the sandbox's world and Mailferry's database.

The sandbox keeps its world in `data/sandbox/` and Mailferry its own in the database; a second
`make run` continues both. Should they part anyway (the state files deleted, the sandbox
reset underneath a running product, `DATABASE_URL` pointed at another database), the Sync
History would link to Tasks that do not exist: `disagreement` notices it by asking the
sandbox org for the Tasks the latest synced emails point at, and `reset` starts both afresh.
"""

from __future__ import annotations

import shutil
import socket

import redis
import requests
from sqlalchemy import select

from mailferry import migrate
from mailferry.config import Config
from mailferry.db import make_engine, make_session_factory
from mailferry.models import Message
from mailferry.tls import https_session

RESET_COMMAND = ".venv/bin/mailferry demo reset"
SAMPLE = 20  # the latest synced emails checked: enough to notice, cheap every minute
# Redis keys of Mailferry (locks, caches, counters) and of RQ (queues, jobs).
REDIS_PATTERNS = ("mailferry:*", "rq:*")


def disagreement(config: Config) -> str | None:
    """None when the latest synced emails' Tasks are in the sandbox org under their keys;
    otherwise what is wrong and how to start afresh."""
    engine = make_engine(config.database_url)
    try:
        with make_session_factory(engine)() as session:
            synced = session.execute(
                select(Message.salesforce_task_id, Message.task_key)
                .where(Message.status == "synced", Message.salesforce_task_id.is_not(None))
                .order_by(Message.synced_at.desc(), Message.id.desc()).limit(SAMPLE)
            ).all()
    finally:
        engine.dispose()
    if not synced:
        return None
    with https_session(config.tls_ca_file) as http:
        answer = http.get(f"{config.sandbox_salesforce_url}/_sandbox/records/Task", timeout=30)
        answer.raise_for_status()
    held = {task["Id"]: task.get("Mailferry_Key__c") for task in answer.json()["records"]}
    # An Id alone could match a Task of a newer world (Ids restart with the world): the key
    # must match too.
    lost = sum(held.get(task_id) != key for task_id, key in synced)
    if not lost:
        return None
    return (f"the sandbox and Mailferry's database disagree: {lost} of the {len(synced)} latest synced "
            f"emails point at Tasks the sandbox org does not hold, so their Salesforce links lead "
            f"nowhere (was {config.data_dir / 'sandbox'} deleted, or the sandbox reset?). To start "
            f"both afresh: stop with Ctrl-C, then run `{RESET_COMMAND}`")


def check_quietly(config: Config) -> str | None:
    """`disagreement`, or None when it cannot be told right now (a server restarting)."""
    try:
        return disagreement(config)
    except (requests.RequestException, ValueError, KeyError):
        return None


def reset(config: Config, sandbox_state_dir, say=print) -> int:
    """`mailferry demo reset`: a fresh sandbox world and an empty Mailferry database, together."""
    if not config.is_demo:
        say("demo reset only runs in the demo environment (MAILFERRY_ENV=demo): it empties the database")
        return 2
    running = _answering(config)
    if running:
        say(f"{running} still answers: stop `mailferry run` (Ctrl-C) first, then run the reset again")
        return 1
    shutil.rmtree(sandbox_state_dir, ignore_errors=True)
    say(f"sandbox: removed its saved world ({sandbox_state_dir}); the next start builds a fresh one")
    migrate.downgrade(config.database_url, "base")
    migrate.upgrade(config.database_url)
    say("database: emptied and migrated afresh")
    if config.redis_embedded:
        (config.redis_socket.parent / "dump.rdb").unlink(missing_ok=True)
        say("redis: removed the embedded server's snapshot")
    else:
        connection = redis.Redis.from_url(config.redis_url)
        removed = sum(connection.delete(key) for pattern in REDIS_PATTERNS for key in connection.scan_iter(pattern))
        say(f"redis: removed {removed} keys of Mailferry and its queues from {config.redis_url}")
    say("done: `make run` starts both from the beginning")
    return 0


def _answering(config: Config) -> str | None:
    """The first of the demo's servers that still listens, if any."""
    ports = {"the web app": config.web_port, "the Microsoft sandbox": config.sandbox_microsoft_port,
             "the Salesforce sandbox": config.sandbox_salesforce_port}
    for name, port in ports.items():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            continue
        return f"{name} (port {port})"
    return None
