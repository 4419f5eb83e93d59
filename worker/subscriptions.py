"""Graph change notifications for a mailbox's folders: created on its first run, renewed
before they expire, and recreated, for that folder only, once Graph turns out to have dropped
one (real Graph does: reference §1.8, "for subscriptionRemoved create a new subscription then
resync via delta"):

- a renewal answers 404: `ensure` renews before it creates, so the folder gets a new one in
  the same run;
- a `subscriptionRemoved` lifecycle event: `worker.jobs.replace_subscription` forgets that
  row and queues a sync, whose `ensure` creates the new one;
- notifications silently stopped: `recover_silent` (below), which also records the change
  nobody announced (`subscription_liveness.unannounced`): until a notification is heard
  again the mailbox is polled at its Sync Frequency, not hourly (`worker.maintenance`).

`ensure` runs before the run's delta fetch, so every change is either in that fetch or
announced by a notification, which queues another run (behind this one if it is still
going): nothing that happened while a folder had no subscription waits for polling.

Notifications only make syncs prompter: polling still runs, so a mailbox whose webhook
cannot be reached (a laptop behind NAT, a server without a public URL) still syncs; the
failure is logged and tried again on a later run, never fatal to this one. While they flow,
a run fetches only the folders something was announced for (`to_fetch`): a new email costs
one folder's delta, not every synced folder's.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from mailferry import subscription_liveness
from mailferry.models import Mailbox, MailboxFolder, Subscription
from mailferry.provider_errors import ErrorKind, ProviderError
from worker import failures
from worker.failures import Response, Stage
from worker.microsoft.graph import SUBSCRIPTION_LIFETIME, SubscriptionRequest, lifetime_limit

log = logging.getLogger(__name__)
# What we ask for: under 4,230 minutes, the limit of older docs and national clouds (Graph
# refuses a longer one there with 400 ExtensionError), where today's public cloud allows
# 10,080 (reference §1.8). A cloud that allows even less names its limit in the refusal:
# the request is made once more, that much shorter (`_shorter`). What Graph grants is read
# back from its answer.
LIFETIME = SUBSCRIPTION_LIFETIME
# Below Graph's stated limit, for the clocks' difference and the time the request takes.
LIMIT_MARGIN = timedelta(minutes=5)
RENEW_BEFORE = timedelta(days=1)
# Graph notifies within seconds; a change this old with no notification since is suspect.
NOTIFICATION_OVERDUE = timedelta(minutes=2)
# While notifications flow, a folder not fetched for this long is fetched anyway. Half the
# safety-net poll: that poll (an hour after the mailbox's last run began) then fetches every
# folder, even one whose last delta round was asked minutes into that run.
REFETCH_AFTER = subscription_liveness.SAFETY_NET_POLL / 2
# The webhook's clock (notifications heard) against the worker's (a folder's last fetch):
# a notification heard this long before a folder's fetch still makes the next run fetch it.
CLOCK_MARGIN = timedelta(minutes=1)
NOTIFICATIONS_PATH = "/webhooks/graph/notifications"
LIFECYCLE_PATH = "/webhooks/graph/lifecycle"


def ensure(rt, session: Session, mailbox: Mailbox, graph, user_ref: str,
           folders: list[MailboxFolder], now: datetime) -> None:
    """One live subscription per synced folder: those close to expiry renewed, then the
    missing ones (never created, or found gone by the renewal) created in one `$batch`."""
    try:
        for subscription in list(mailbox.subscriptions):
            if subscription.expires_at - now < RENEW_BEFORE:
                _renew(mailbox, graph, subscription, now)
        known = {s.resource for s in mailbox.subscriptions}
        missing = [folder for folder in folders if folder.graph_folder_id not in known]
        if missing:
            _create(rt, mailbox, graph, user_ref, missing, now)
    except ProviderError as error:
        _unless_auth(mailbox, error)
    session.commit()


def recover_silent(rt, session: Session, mailbox: Mailbox, graph, user_ref: str,
                   folders: list[MailboxFolder], changed: dict[int, datetime], now: datetime) -> bool:
    """Graph may drop a subscription without a word. Detected from what the run fetched, at no
    cost while notifications flow: a folder whose newest change (`changed`, per folder row
    id, from the fetch) is older than `NOTIFICATION_OVERDUE`, made after its subscription
    existed and after the last notification the webhook accepted for it. Only then one
    `GET /subscriptions/{id}`; on 404 the folder gets a new subscription.

    Each such change is recorded (`subscription_liveness.unannounced`), on the subscription
    Graph still knows as on the one replacing a gone one: the mailbox's polling returns to its
    Sync Frequency until a notification is heard through it.

    Returns whether one was recreated: it announces changes from now on, so the caller
    fetches once more for those made since this run's fetch.
    """
    by_resource = {s.resource: s for s in mailbox.subscriptions}
    gone = []
    try:
        for folder in folders:
            subscription = by_resource.get(folder.graph_folder_id)
            modified = changed.get(folder.id)
            if subscription is None or modified is None or not _overdue(rt, subscription, modified, now):
                continue
            try:
                graph.subscription(subscription.graph_subscription_id)
            except ProviderError as error:
                if error.kind != ErrorKind.NOT_FOUND:
                    raise
                log.warning("mailbox %s: Graph no longer knows the subscription of folder %s; recreating it",
                            mailbox.id, folder.graph_folder_id)
                mailbox.subscriptions.remove(subscription)
                gone.append(folder)
        if gone:
            _create(rt, mailbox, graph, user_ref, gone, now)
    except ProviderError as error:
        _unless_auth(mailbox, error)
    session.commit()
    # The replacement of a subscription that went silent proves itself by its first
    # notification; until then the mailbox is polled at its Sync Frequency.
    replaced = {folder.graph_folder_id for folder in gone}
    for subscription in mailbox.subscriptions:
        if subscription.resource in replaced:
            subscription_liveness.unannounced(rt.redis, subscription.id, now)
    return bool(gone)


def to_fetch(redis, mailbox: Mailbox, folders: list[MailboxFolder], now: datetime) -> list[MailboxFolder]:
    """The folders a run fetches. All of them unless the mailbox's notifications flow
    (`subscription_liveness.flowing`); then only those a notification was heard for since
    their last fetch, those whose subscription is younger than that fetch (what changed
    before it may be unannounced), never fetched, or not fetched within `REFETCH_AFTER` (so
    the hourly poll finds what a silently dropped subscription missed). A folder
    left out has nothing announced to fetch: a notification heard after this run started
    queues another run, which fetches it."""
    if mailbox.id not in subscription_liveness.flowing(redis, [mailbox], now):
        return folders
    by_resource = {s.resource: s for s in mailbox.subscriptions}
    heard = subscription_liveness.last_heard_of(redis, [s.id for s in mailbox.subscriptions])

    def announced(folder: MailboxFolder) -> bool:
        subscription, fetched = by_resource.get(folder.graph_folder_id), folder.last_synced_at
        if subscription is None or fetched is None or folder.delta_link is None:
            return True
        since = fetched - CLOCK_MARGIN  # `fetched`: when its last delta round was asked
        last = heard.get(subscription.id)
        return (fetched <= now - REFETCH_AFTER or subscription.created_at > fetched
                or (last is not None and last >= since))

    return [folder for folder in folders if announced(folder)]


def _overdue(rt, subscription: Subscription, modified: datetime, now: datetime) -> bool:
    """A change the subscription should have announced, and no notification since: recorded
    (`subscription_liveness.unannounced`), so polling returns to the Sync Frequency."""
    # Graph's clock (`modified`) against ours: close enough, as a change found while its
    # notifications work is seconds old, far inside NOTIFICATION_OVERDUE.
    if not subscription.created_at < modified <= now - NOTIFICATION_OVERDUE:
        return False
    heard = subscription_liveness.last_heard(rt.redis, subscription.id)
    if heard is not None and heard >= modified:
        return False
    subscription_liveness.unannounced(rt.redis, subscription.id, modified)
    return True


def _create(rt, mailbox, graph, user_ref, folders, now) -> None:
    base = rt.config.base_url
    states = [secrets.token_urlsafe(32) for _ in folders]
    wanted = [SubscriptionRequest(folder.graph_folder_id, base + NOTIFICATIONS_PATH, base + LIFECYCLE_PATH,
                                  state, now + LIFETIME) for folder, state in zip(folders, states)]
    answers = graph.create_subscriptions(user_ref, wanted)
    refused = [n for n, answer in enumerate(answers) if _shorter(answer, now) is not None]
    if refused:
        # Refused for their lifetime only: once more, as long as Graph says it allows.
        again = [dataclasses.replace(wanted[n], expires_at=_shorter(answers[n], now)) for n in refused]
        for n, answer in zip(refused, graph.create_subscriptions(user_ref, again)):
            answers[n] = answer
    # A notification that arrives before these rows are committed is not recognised and is
    # dropped; nothing is lost, as the run fetches the delta after the commit.
    for folder, state, created in zip(folders, states, answers):
        if isinstance(created, ProviderError):
            _unless_auth(mailbox, created)
            continue
        mailbox.subscriptions.append(Subscription(
            mailbox_id=mailbox.id, graph_subscription_id=created.id, resource=folder.graph_folder_id,
            sealed_client_state=rt.box.seal(state), expires_at=created.expires_at or now + LIFETIME,
        ))


def _unless_auth(mailbox: Mailbox, error: ProviderError) -> None:
    """Log a failed subscription (polling goes on); an auth failure stops the run."""
    if failures.response(error, Stage.SUBSCRIPTIONS) == Response.STOP_RUN:
        raise error
    log.warning("mailbox %s: no change notifications (%r); polling continues", mailbox.id, error)


def _shorter(answer, now: datetime) -> datetime | None:
    """The expiry to ask for again when `answer` is Graph's refusal of a too-long one."""
    if not isinstance(answer, ProviderError):
        return None
    limit = lifetime_limit(answer)
    if limit is None or limit <= LIMIT_MARGIN:
        return None
    return now + limit - LIMIT_MARGIN


def _renew(mailbox: Mailbox, graph, subscription: Subscription, now: datetime) -> None:
    try:
        try:
            renewed = graph.renew_subscription(subscription.graph_subscription_id, now + LIFETIME)
        except ProviderError as error:
            shorter = _shorter(error, now)
            if shorter is None:
                raise
            renewed = graph.renew_subscription(subscription.graph_subscription_id, shorter)
    except ProviderError as error:
        if error.kind == ErrorKind.NOT_FOUND:
            mailbox.subscriptions.remove(subscription)  # Graph forgot it: `ensure` creates a new one
        else:
            _unless_auth(mailbox, error)  # kept as it is: a later run renews it
        return
    subscription.expires_at = renewed.expires_at or now + LIFETIME
