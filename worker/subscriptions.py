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
from worker.microsoft.graph import SubscriptionRequest

log = logging.getLogger(__name__)
# Graph allows mail subscriptions up to 10,080 minutes; three days leaves room to renew.
LIFETIME = timedelta(days=3)
RENEW_BEFORE = timedelta(days=1)
NOTIFICATIONS_PATH = "/webhooks/graph/notifications"
LIFECYCLE_PATH = "/webhooks/graph/lifecycle"


def ensure(rt, session: Session, mailbox: Mailbox, graph, user_ref: str,
           folders: list[MailboxFolder], now: datetime) -> None:
    """One live subscription per synced folder (the missing ones created in one `$batch`);
    renew those close to expiry."""
    by_resource = {s.resource: s for s in mailbox.subscriptions}
    missing = [folder for folder in folders if folder.graph_folder_id not in by_resource]
    try:
        if missing:
            _create(rt, session, mailbox, graph, user_ref, missing, now)
        for subscription in by_resource.values():
            if subscription.expires_at - now < RENEW_BEFORE:
                _renew(session, graph, subscription, now)
    except ProviderError as error:
        _unless_auth(mailbox, error)
    session.commit()


def _create(rt, session, mailbox, graph, user_ref, folders, now) -> None:
    base = rt.config.base_url
    states = [secrets.token_urlsafe(32) for _ in folders]
    wanted = [SubscriptionRequest(folder.graph_folder_id, base + NOTIFICATIONS_PATH, base + LIFECYCLE_PATH,
                                  state, now + LIFETIME) for folder, state in zip(folders, states)]
    # A notification that arrives before these rows are committed is not recognised and is
    # dropped; nothing is lost, as the run that follows any later one fetches the delta.
    for folder, state, created in zip(folders, states, graph.create_subscriptions(user_ref, wanted)):
        if isinstance(created, ProviderError):
            _unless_auth(mailbox, created)
            continue
        session.add(Subscription(
            mailbox_id=mailbox.id, graph_subscription_id=created.id, resource=folder.graph_folder_id,
            sealed_client_state=rt.box.seal(state), expires_at=created.expires_at or now + LIFETIME,
        ))


def _unless_auth(mailbox: Mailbox, error: ProviderError) -> None:
    """Log a failed subscription (polling goes on); an auth failure stops the run."""
    if error.kind == ErrorKind.AUTH:
        raise error
    log.warning("mailbox %s: no change notifications (%r); polling continues", mailbox.id, error)


def _renew(session, graph, subscription: Subscription, now: datetime) -> None:
    try:
        renewed = graph.renew_subscription(subscription.graph_subscription_id, now + LIFETIME)
    except ProviderError as error:
        if error.kind != ErrorKind.NOT_FOUND:
            raise
        session.delete(subscription)  # Graph forgot it: the next run creates a new one
        return
    subscription.expires_at = renewed.expires_at or now + LIFETIME
