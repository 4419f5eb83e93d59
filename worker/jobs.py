"""RQ job functions. They take ids, never objects, and may run twice or concurrently with
nothing lost or doubled: the mailbox lock keeps one run per mailbox, and every stage
re-reads the database.

The server and the scheduler enqueue these by dotted name (`worker.jobs.sync_mailbox`).
"""

from __future__ import annotations

import logging
import time
import uuid

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mailferry.db import utcnow
from mailferry.models import Mailbox, Subscription
from mailferry.user_context import decision_context
from mailferry import mailbox_state, metrics
from mailferry.logging_setup import add_to_context, log_context
from worker import failures, group_sync, maintenance, subscriptions
from worker.failures import Response, Stage
from worker.connections import crm_for, graph_for, salesforce_lost
from mailferry.provider_errors import ProviderError
from worker.fetch import FetchCounts, ensure_folders, fetch_folders
from worker.locks import ask_holder_to_rerun, is_locked, mailbox_lock, take_rerun_request
from worker.process import ProcessCounts, process_mailbox
from mailferry.job_queue import enqueue_sync
from worker.runtime import runtime

log = logging.getLogger(__name__)


def sync_mailbox(mailbox_id: int) -> dict:
    """Fetch the mailbox's changes from Graph, then take every due email to its outcome.

    If another worker is syncing the mailbox, that run is asked to run once more when it is
    done (it may have read Graph before the change this job was queued for), and this job
    ends; the holder runs again as long as it is asked to. Returns the first run's counts,
    with `runs_again` the number of runs that followed it."""
    rt = runtime()
    result, runs = None, 0
    while True:
        with mailbox_lock(rt.redis, mailbox_id) as held:
            if held:
                take_rerun_request(rt.redis, mailbox_id)  # this run sees everything asked until now
                latest = _run(rt, mailbox_id)
                result, runs = result or latest, runs + 1
        if not held and ask_holder_to_rerun(rt.redis, mailbox_id):
            return result or {"mailbox": mailbox_id, "skipped": "another worker is syncing it; it runs again after"}
        if held and not take_rerun_request(rt.redis, mailbox_id):
            return {**result, "runs_again": runs - 1} if runs > 1 else result


def _run(rt, mailbox_id: int) -> dict:
    """One run of the mailbox: each line it logs carries the mailbox and a run id (and the
    tenant once read); it ends with one summary line and its duration in the histogram."""
    started = time.monotonic()
    with log_context(mailbox_id=mailbox_id, run_id=uuid.uuid4().hex[:16]), metrics.run_tally() as tally:
        result = {"mailbox": mailbox_id, "stopped": "the worker is being stopped"}
        try:
            result = _sync_run(rt, mailbox_id)
        except Exception as error:
            result = {"mailbox": mailbox_id, "crashed": type(error).__name__}
            raise
        finally:
            _summarize(result, tally, time.monotonic() - started)
    return result


def _summarize(result: dict, tally: metrics.RunTally, seconds: float) -> None:
    outcome = next((key for key in ("skipped", "error", "crashed", "stopped") if key in result), "completed")
    metrics.sync_run(outcome, seconds)
    outcomes = dict(sorted(tally.outcomes.items()))
    log.info("sync run %s in %.2f s: %s; %d Graph and %d Salesforce calls", outcome, seconds,
             ", ".join(f"{n} {name}" for name, n in outcomes.items()) or "no email reached an outcome",
             tally.graph_calls, tally.salesforce_calls,
             extra={"result": outcome, "outcomes": outcomes, "graph_calls": tally.graph_calls,
                    "salesforce_calls": tally.salesforce_calls, "duration_seconds": round(seconds, 3),
                    "fetched": result.get("fetched"), "error_code": result.get("code")})


def _sync_run(rt, mailbox_id: int) -> dict:
    now = utcnow()
    with rt.session() as session:
        if mailbox_state.claim(session, mailbox_id, now) is None:
            return {"mailbox": mailbox_id, "skipped": "not runnable now"}
    fetched, processed = FetchCounts(), ProcessCounts()
    try:
        with rt.sessions() as session:
            # What the run needs is read up front and the transaction ended: no stage calls
            # Microsoft or Salesforce inside one (on SQLite it would hold the file's only
            # write lock for the length of the call; mailferry/db.py).
            mailbox = session.get(Mailbox, mailbox_id, options=[selectinload(Mailbox.folders),
                                                                selectinload(Mailbox.subscriptions)])
            user = mailbox.user
            context = decision_context(session, user)
            graph, user_ref = graph_for(rt, session, mailbox)
            tenant = user.tenant
            add_to_context(tenant=tenant.tid)
            session.commit()
            folders = ensure_folders(session, mailbox, graph, user_ref, context.settings.folders)
            session.commit()

            def fetch():
                return fetch_folders(session, mailbox, folders, graph, user_ref, context.own_addresses, now,
                                     tenant.backfill_days, tenant.attempt_window_days, session.commit, fetched)

            # Subscriptions first: what changes after them is announced, what changed before
            # is in this fetch (worker/subscriptions.py).
            subscriptions.ensure(rt, session, mailbox, graph, user_ref, folders, now)
            changed = fetch()
            if subscriptions.recover_silent(rt, session, mailbox, graph, user_ref, folders, changed, now):
                fetch()  # what changed between the fetch and the new subscription
            mailbox_state.advance(mailbox, mailbox_state.PROCESSING, utcnow())
            session.commit()
            try:
                crm = crm_for(rt, session, user, now)
                process_mailbox(session, mailbox_id, user, context, crm, now, session.commit, processed)
            except ProviderError as error:
                if failures.response(error, Stage.SALESFORCE) != Response.RECONNECT_SALESFORCE:
                    raise
                session.rollback()
                salesforce_lost(session, user, error)
            mailbox_state.complete(mailbox, utcnow())
            session.commit()
    except ProviderError as error:
        log.warning("mailbox %s: %r", mailbox_id, error)
        with rt.session() as session:
            mailbox_state.fail(session.get(Mailbox, mailbox_id), error, utcnow())
        return {"mailbox": mailbox_id, "error": error.kind.value, "code": error.code}
    except Exception as error:
        log.exception("mailbox %s: the run stopped on an unexpected error", mailbox_id)
        with rt.session() as session:
            mailbox_state.crashed(session.get(Mailbox, mailbox_id), repr(error), utcnow())
        raise
    except BaseException:  # the worker is being stopped: hand the mailbox back as it is
        with rt.session() as session:
            mailbox_state.release(session.get(Mailbox, mailbox_id))
        raise
    return {"mailbox": mailbox_id, "fetched": vars(fetched), "processed": vars(processed)}


def enqueue_due_mailboxes() -> int:
    """Periodic: every mailbox due for polling, or with due work, gets a sync job."""
    rt = runtime()
    now = utcnow()
    with rt.session() as session:
        ids = maintenance.due_mailboxes(session, now)
    return sum(enqueue_sync(rt.redis, mailbox_id) for mailbox_id in ids)


def recover_stale_mailboxes() -> int:
    """Periodic: mailboxes a dead worker left mid-stage go back to idle and run again."""
    rt = runtime()
    with rt.session() as session:
        ids = mailbox_state.recover_stale(session, utcnow(), lambda mailbox_id: is_locked(rt.redis, mailbox_id))
    return sum(enqueue_sync(rt.redis, mailbox_id) for mailbox_id in ids)


def expire_and_purge() -> dict:
    """Periodic: end the attempt window of old Unresolved emails; purge old history."""
    rt = runtime()
    with rt.session() as session:
        return maintenance.expire_and_purge(session, utcnow())


def renew_subscriptions() -> int:
    """Periodic: renew Graph subscriptions before they expire."""
    rt = runtime()
    with rt.session() as session:
        ids = session.execute(
            select(Subscription.mailbox_id).where(Subscription.expires_at < utcnow() + subscriptions.RENEW_BEFORE)
        ).scalars().all()
    return sum(enqueue_sync(rt.redis, mailbox_id) for mailbox_id in set(ids))


def sync_group_members() -> list[dict]:
    """Periodic (and on an admin's change): each app-only tenant's Entra group read and
    applied: joiners provisioned and synced, leavers' mailboxes stopped (worker/group_sync.py)."""
    rt = runtime()
    return [group_sync.sync_tenant_group(rt, tenant_id) for tenant_id in group_sync.app_only_tenants(rt)]


def renew_subscription(subscription_id: int) -> int:
    """A lifecycle notification asked for reauthorization: the mailbox's next run renews it."""
    rt = runtime()
    with rt.session() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            return 0
        subscription.expires_at = utcnow()  # due for renewal in the run we enqueue now
        mailbox_id = subscription.mailbox_id
    return enqueue_sync(rt.redis, mailbox_id)


def replace_subscription(subscription_id: int) -> int:
    """Graph removed this subscription (`subscriptionRemoved`): forget it and sync the mailbox
    now; the run creates a new one for its folder before it fetches. The mailbox's other
    subscriptions stay as they are."""
    rt = runtime()
    with rt.session() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            return 0
        mailbox_id = subscription.mailbox_id
        session.delete(subscription)
    return enqueue_sync(rt.redis, mailbox_id)


def send_alerts() -> list[str]:
    """Periodic: each tenant's Sync Health alerts (worker/alerts.py), at most one a day per
    condition and mailbox."""
    from worker import alerts

    return alerts.send_all(runtime(), utcnow())


def rematch_by_change_feed() -> list[dict]:
    """Periodic: each tenant with Unresolved `no_match` emails asks its org once what changed
    since the last ask, and only the emails that may now match are re-matched by their
    mailboxes' runs (worker/change_feed.py)."""
    from worker import change_feed

    rt = runtime()
    with rt.session() as session:
        tenant_ids = change_feed.tenants_waiting(session)
    return [change_feed.rematch_tenant(rt, tenant_id, utcnow()) for tenant_id in tenant_ids]


__all__ = [
    "sync_mailbox", "enqueue_due_mailboxes", "recover_stale_mailboxes", "expire_and_purge",
    "renew_subscriptions", "renew_subscription", "replace_subscription", "sync_group_members", "send_alerts",
    "rematch_by_change_feed",
]
