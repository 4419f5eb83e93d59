"""`/metrics`: Prometheus's text format, for the admin network or a bearer token only.

What the processes counted (mailferry/metrics.py) is read from the shared metrics folder,
every process's files added up (prometheus_client's MultiProcessCollector), so one scrape of
any web process sees the whole installation. Levels are read at scrape time instead: queue
depth and the oldest job's age from RQ, each tenant's Salesforce API budget from Redis
(mailferry/api_budget.py), the Graph subscriptions from the database.

Access: `Authorization: Bearer <MAILFERRY_METRICS_TOKEN>`, or a client address inside
MAILFERRY_METRICS_NETWORKS (behind `mailferry web --proxy`, the address the trusted proxy
reported: server/forwarded_headers.py). Anything else is 403; with neither set, everyone is.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import UTC, datetime

import redis
from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from mailferry import api_budget
from mailferry.db import reading
from mailferry.job_queue import QUEUES
from mailferry.models import Subscription, Tenant
from server.extensions import engine, redis_client

log = logging.getLogger(__name__)
blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    config = current_app.config["MAILFERRY"]
    if not _may_read(config):
        return Response("Forbidden: send the MAILFERRY_METRICS_TOKEN as a bearer token, or scrape from an address "
                        "in MAILFERRY_METRICS_NETWORKS\n", status=403, mimetype="text/plain")
    config.metrics_dir.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(config.metrics_dir))
    registry.register(_Levels(redis_client(), engine()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _may_read(config) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if config.metrics_token and scheme.lower() == "bearer" and token:
        return hmac.compare_digest(token.strip().encode(), config.metrics_token.encode())
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    client = getattr(client, "ipv4_mapped", None) or client  # ::ffff:10.0.0.5 from a dual-stack socket
    return any(client in network for network in config.metrics_networks)


class _Levels:
    """The gauges read at scrape time; a store that does not answer leaves its families out
    (the counters still go out, and /readyz tells what is down)."""

    def __init__(self, redis_connection, database):
        self._redis = redis_connection
        self._database = database

    def collect(self):
        now = datetime.now(UTC)
        try:
            yield from self._queues(now)
        except redis.RedisError as error:
            log.warning("metrics: queue depth not read: %s", type(error).__name__)
        try:
            with reading(self._database).connect() as connection:
                subscriptions = connection.scalar(select(func.count()).select_from(Subscription))
                tenants = connection.execute(select(Tenant.id, Tenant.tid, Tenant.api_budget_percent)).all()
        except SQLAlchemyError as error:
            log.warning("metrics: database not read: %s", type(error).__name__)
            return
        yield GaugeMetricFamily("mailferry_graph_subscriptions", "Graph change-notification subscriptions held",
                                value=subscriptions)
        try:
            yield from self._budgets(tenants, now)
        except redis.RedisError as error:
            log.warning("metrics: API budget not read: %s", type(error).__name__)

    def _queues(self, now: datetime):
        depth = GaugeMetricFamily("mailferry_queue_jobs", "Jobs waiting in an RQ queue", labels=["queue"])
        oldest = GaugeMetricFamily("mailferry_queue_oldest_job_age_seconds",
                                   "How long the queue's oldest waiting job has waited (0 when empty)",
                                   labels=["queue"])
        for name in QUEUES:
            queue = Queue(name, connection=self._redis)
            depth.add_metric([name], queue.count)
            first = queue.get_jobs(0, 1)  # FIFO: the head waited longest
            enqueued = first[0].enqueued_at if first else None
            if enqueued is not None and enqueued.tzinfo is None:
                enqueued = enqueued.replace(tzinfo=UTC)  # RQ stores UTC
            oldest.add_metric([name], max(0.0, (now - enqueued).total_seconds()) if enqueued else 0.0)
        yield depth
        yield oldest

    def _budgets(self, tenants, now: datetime):
        used = GaugeMetricFamily("mailferry_salesforce_api_calls_today", "Mailferry's Salesforce API calls this "
                                 "UTC day, per tenant (Entra tenant id)", labels=["tenant"])
        share = GaugeMetricFamily("mailferry_salesforce_api_budget_share_calls", "Mailferry's share of the org's "
                                  "daily API allowance", labels=["tenant"])
        remaining = GaugeMetricFamily("mailferry_salesforce_api_budget_remaining_calls", "Calls left of today's "
                                      "share", labels=["tenant"])
        percent = GaugeMetricFamily("mailferry_salesforce_api_budget_share_ratio", "The share as a fraction of "
                                    "the org's allowance (the admin's API budget setting)", labels=["tenant"])
        for tenant_id, tid, budget_percent in tenants:
            status = api_budget.read_status(self._redis, tenant_id, now, budget_percent)
            used.add_metric([tid], status.our_calls)
            share.add_metric([tid], status.share)
            remaining.add_metric([tid], status.remaining)
            percent.add_metric([tid], status.percent / 100)
        yield from (used, share, remaining, percent)
