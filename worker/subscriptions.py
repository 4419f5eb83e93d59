"""Graph change notifications for a mailbox's folders: created on its first run, renewed
before they expire, recreated when Graph dropped them.

Notifications only make syncs prompter: polling still runs, so a mailbox whose webhook
cannot be reached (a laptop behind NAT, a server without a public URL) still syncs; the
failure is logged and tried again on a later run, never fatal to this one.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from mailferry.models import Mailbox, MailboxFolder, Subscription
from mailferry.provider_errors import ErrorKind, ProviderError

log = logging.getLogger(__name__)
# Graph allows mail subscriptions up to 10,080 minutes; three days leaves room to renew.
LIFETIME = timedelta(days=3)
RENEW_BEFORE = timedelta(days=1)
NOTIFICATIONS_PATH = "/webhooks/graph/notifications"
LIFECYCLE_PATH = "/webhooks/graph/lifecycle"


def ensure(rt, session: Session, mailbox: Mailbox, graph, user_ref: str,
           folders: list[MailboxFolder], now: datetime) -> None:
    """One live subscription per synced folder; renew those close to expiry."""
    by_resource = {s.resource: s for s in mailbox.subscriptions}
    for folder in folders:
        subscription = by_resource.get(folder.graph_folder_id)
        try:
            if subscription is None:
                _create(rt, session, mailbox, graph, user_ref, folder, now)
            elif subscription.expires_at - now < RENEW_BEFORE:
                _renew(session, graph, subscription, now)
        except ProviderError as error:
            if error.kind == ErrorKind.AUTH:
                raise
            log.warning("mailbox %s folder %s: no change notifications (%r); polling continues",
                        mailbox.id, folder.well_known_name, error)
    session.commit()


def _create(rt, session, mailbox, graph, user_ref, folder, now) -> None:
    base = rt.config.base_url
    client_state = secrets.token_urlsafe(32)
    # A notification that arrives before this row is committed is not recognised and is
    # dropped; nothing is lost, as the run that follows any later one fetches the delta.
    created = graph.create_subscription(
        user_ref, folder.graph_folder_id, base + NOTIFICATIONS_PATH, base + LIFECYCLE_PATH,
        client_state, now + LIFETIME,
    )
    session.add(Subscription(
        mailbox_id=mailbox.id, graph_subscription_id=created.id, resource=folder.graph_folder_id,
        sealed_client_state=rt.box.seal(client_state), expires_at=created.expires_at or now + LIFETIME,
    ))


def _renew(session, graph, subscription: Subscription, now: datetime) -> None:
    try:
        renewed = graph.renew_subscription(subscription.graph_subscription_id, now + LIFETIME)
    except ProviderError as error:
        if error.kind != ErrorKind.NOT_FOUND:
            raise
        session.delete(subscription)  # Graph forgot it: the next run creates a new one
        return
    subscription.expires_at = renewed.expires_at or now + LIFETIME
