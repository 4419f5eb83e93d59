"""The Prometheus metrics the processes count, and the tally of the sync run in progress.

Counters and histograms only: they add up across gunicorn's and the workers' processes
(mailferry/metrics_folder.py). What is a level rather than a count (queue depth, the API
budget, subscriptions) is read at scrape time by the web app (server/metrics.py), so no
process has to keep a gauge current.

Each `…_call` / `email_outcome` helper also adds to the current run's `RunTally` when one is
open (`run_tally`), which is what a run's summary log line reports.
"""

from __future__ import annotations

from collections import Counter as Tally
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator

from prometheus_client import Counter, Histogram

EMAILS = Counter("mailferry_emails_total", "Emails the worker took to an outcome (status, or dropped/omitted/"
                 "removed for rows it deleted), by reason", ["outcome", "reason"])
RUN_DURATION = Histogram("mailferry_sync_run_duration_seconds", "Length of mailbox sync runs, by result",
                         ["result"], buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))
GRAPH_CALLS = Counter("mailferry_graph_calls_total", "HTTP requests sent to Microsoft Graph ($batch counts once)")
GRAPH_THROTTLED = Counter("mailferry_graph_throttled_total", "Graph answers (whole calls or $batch parts) that "
                          "throttled us or were unavailable, by HTTP status", ["status"])
GRAPH_RETRY_AFTER = Histogram("mailferry_graph_retry_after_seconds", "Retry-After of throttled Graph answers",
                              buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600))
SALESFORCE_CALLS = Counter("mailferry_salesforce_api_calls_total", "REST calls to Salesforce's /services/data "
                           "(what the org's daily API allowance counts)")
TOKEN_REFRESH_FAILURES = Counter("mailferry_token_refresh_failures_total", "Access tokens that could not be "
                                 "obtained or refreshed, by provider", ["provider"])
WEBHOOK_NOTIFICATIONS = Counter("mailferry_graph_notifications_total", "Graph change and lifecycle notifications "
                                "received, by outcome (accepted, or why they were rejected)", ["outcome"])


@dataclass
class RunTally:
    """What one sync run did: calls made and emails by outcome."""

    graph_calls: int = 0
    salesforce_calls: int = 0
    outcomes: Tally = field(default_factory=Tally)


_tally: ContextVar[RunTally | None] = ContextVar("mailferry_run_tally", default=None)


@contextmanager
def run_tally() -> Iterator[RunTally]:
    """Count the calls and outcomes of the code inside the block into a fresh RunTally."""
    tally = RunTally()
    token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(token)


def graph_call() -> None:
    GRAPH_CALLS.inc()
    if (tally := _tally.get()) is not None:
        tally.graph_calls += 1


def salesforce_call() -> None:
    SALESFORCE_CALLS.inc()
    if (tally := _tally.get()) is not None:
        tally.salesforce_calls += 1


def email_outcome(outcome: str, reason: str | None) -> None:
    EMAILS.labels(outcome=outcome, reason=reason or "").inc()
    if (tally := _tally.get()) is not None:
        tally.outcomes[outcome] += 1


def graph_throttled(status: int, retry_after: float | None) -> None:
    GRAPH_THROTTLED.labels(status=str(status)).inc()
    if retry_after is not None:
        GRAPH_RETRY_AFTER.observe(retry_after)


def token_refresh_failed(provider: str) -> None:
    TOKEN_REFRESH_FAILURES.labels(provider=provider).inc()


def webhook_notification(outcome: str) -> None:
    WEBHOOK_NOTIFICATIONS.labels(outcome=outcome).inc()


def sync_run(result: str, seconds: float) -> None:
    RUN_DURATION.labels(result=result).observe(seconds)
