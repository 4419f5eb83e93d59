"""Graph change notifications and lifecycle events (reference §1.8): the webhook endpoints.

Graph POSTs here when mail changes in a subscribed folder. We only enqueue work and answer
202 at once: Graph wants an answer within 3 seconds and slows down or drops endpoints that
are slow. A notification is trusted only when its `clientState` equals the secret we gave
Graph for that subscription (stored sealed, compared in constant time); anything else is
counted and ignored. The worker then reads the changes through delta, so a notification is
only ever a hint: a lost one is caught by polling, a forged one costs at most a sync. Each
genuine one is also noted as a sign of life of its subscription
(`mailferry.subscription_liveness`), which lets a run notice one Graph silently dropped.
"""

from __future__ import annotations

import hmac
import logging
from typing import Iterator

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from mailferry import metrics, subscription_liveness
from mailferry.crypto import SecretBox, SecretUnreadable
from mailferry.db import utcnow
from mailferry.job_queue import SYNC_QUEUE, enqueue_once, enqueue_sync
from mailferry.models import Subscription
from server.extensions import db_session, redis_client
from server.request_limits import bounded_json

log = logging.getLogger(__name__)
blueprint = Blueprint("graph_webhooks", __name__, url_prefix="/webhooks/graph")

COUNTER_KEY = "mailferry:webhooks:graph"  # Redis hash: outcome → count (for operators)
MAX_VALIDATION_TOKEN = 4096
MAX_NOTIFICATIONS = 1000  # Graph batches at most a few hundred per POST


@blueprint.post("/notifications")
def notifications() -> Response:
    handshake = _validation_answer()
    if handshake is not None:
        return handshake
    rows = [row for row, _ in _genuine(_notification_list())]
    if rows:
        subscription_liveness.heard(redis_client(), (row.id for row in rows), utcnow())
    for mailbox_id in sorted({row.mailbox_id for row in rows}):
        enqueue_sync(redis_client(), mailbox_id)
    return Response(status=202)


@blueprint.post("/lifecycle")
def lifecycle() -> Response:
    handshake = _validation_answer()
    if handshake is not None:
        return handshake
    for row, note in _genuine(_notification_list()):
        event = note.get("lifecycleEvent")
        if event == "reauthorizationRequired":
            # Renewing (PATCH of the expiry) also reauthorizes the subscription.
            enqueue_once(redis_client(), SYNC_QUEUE, "worker.jobs.renew_subscription", row.id,
                         job_id=f"renew-subscription-{row.id}")
        elif event == "subscriptionRemoved":
            # Only this subscription is gone: the mailbox's others keep notifying.
            enqueue_once(redis_client(), SYNC_QUEUE, "worker.jobs.replace_subscription", row.id,
                         job_id=f"replace-subscription-{row.id}")
        elif event == "missed":
            # Some notifications were lost (reference §1.8: resync via delta): delta catches up
            # on everything, and the mailbox is polled at its Sync Frequency, not hourly, until
            # a notification comes through this subscription again.
            subscription_liveness.unannounced(redis_client(), row.id, utcnow())
            enqueue_sync(redis_client(), row.mailbox_id)
        else:
            _count("unknown_lifecycle_event")
    return Response(status=202)


def _validation_answer() -> Response | None:
    """Graph's handshake: echo `validationToken` (already URL-decoded by Flask) as plain text."""
    token = request.args.get("validationToken")
    if token is None:
        return None
    if len(token) > MAX_VALIDATION_TOKEN:
        return Response("validationToken too long", status=400, mimetype="text/plain")
    return Response(token, status=200, mimetype="text/plain")


def _notification_list() -> list[dict]:
    # Unauthenticated: size and nesting are checked before parsing (413 / 400), the rest of
    # a malformed body is counted and ignored.
    try:
        payload = bounded_json(force=True)
    except HTTPException:
        _count("refused")
        raise
    value = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(value, list):
        _count("malformed")
        return []
    return [note for note in value[:MAX_NOTIFICATIONS] if isinstance(note, dict)]


def _genuine(notes: list[dict]) -> Iterator[tuple[Subscription, dict]]:
    """The notifications whose subscription we know and whose clientState matches its secret."""
    ids = {note.get("subscriptionId") for note in notes if isinstance(note.get("subscriptionId"), str)}
    if not ids:
        return
    with db_session() as session:
        rows = {row.graph_subscription_id: row for row in session.scalars(
            select(Subscription).where(Subscription.graph_subscription_id.in_(ids)))}
        session.expunge_all()
    box = _secret_box()
    for note in notes:
        row = rows.get(note.get("subscriptionId"))
        if row is None:
            _count("unknown_subscription")
            continue
        if not _client_state_matches(box, row, note.get("clientState")):
            # Never log the states themselves: the expected one is a secret.
            log.warning("Graph notification with a wrong clientState for subscription %s ignored",
                        row.graph_subscription_id)
            _count("client_state_mismatch")
            continue
        _count("accepted")
        yield row, note


def _client_state_matches(box: SecretBox, row: Subscription, received) -> bool:
    if not isinstance(received, str):
        return False
    try:
        expected = box.open(row.sealed_client_state)
    except SecretUnreadable:
        log.error("clientState of subscription %s cannot be decrypted", row.graph_subscription_id)
        return False
    if not isinstance(expected, str):
        return False
    return hmac.compare_digest(expected.encode(), received.encode())


def _secret_box() -> SecretBox:
    box = current_app.extensions.get("mailferry.secret_box")
    if box is None:
        box = current_app.extensions["mailferry.secret_box"] = SecretBox(
            current_app.config["MAILFERRY"].encryption_keys)
    return box


def _count(outcome: str) -> None:
    metrics.webhook_notification(outcome)  # /metrics: mailferry_graph_notifications_total
    try:
        redis_client().hincrby(COUNTER_KEY, outcome, 1)
    except Exception:  # counting must never fail a notification
        log.debug("could not count webhook outcome %s", outcome)
