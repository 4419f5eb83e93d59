"""Open a user's connections for one sync run: a Graph client for their mailbox and a CRM
adapter for their Salesforce user. Tokens come out of their sealed columns only here, and
refreshed ones go straight back in sealed.

Before a run uses them, the secrets it will need are opened once (`worker.sealed.unseal`): one
this worker's keys cannot open stops the worker, never the user's connection
(worker/sealed.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import connection_state
from mailferry.microsoft_identity import RECONNECT_FIX, acquire_app_token, delegated_token_provider
from mailferry.models import Connection, Mailbox, User
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.salesforce_integration import salesforce_route
from worker import failures
from worker.failures import Response, Stage
from worker.microsoft.graph import GraphClient
from worker.sealed import unseal


def connection_of(session: Session, user_id: int, provider: str) -> Connection | None:
    return session.execute(
        select(Connection).where(Connection.user_id == user_id, Connection.provider == provider)
    ).scalar_one_or_none()


def graph_for(rt, session: Session, mailbox: Mailbox) -> tuple[GraphClient, str]:
    """A Graph client for the mailbox and how Graph names its user (`/users/{oid}`).

    App-only access (the admin's tenant-wide option) needs no user token; otherwise the
    user's delegated connection is used, and a missing or broken one is an auth error (the
    mailbox then shows "needs reconnect").
    """
    user = mailbox.user
    for subscription in mailbox.subscriptions:  # the run renews them and checks notifications with them
        unseal(rt, subscription.sealed_client_state, f"the client state of Graph subscription {subscription.id}")
    if user.tenant.app_only_enabled:
        tid = user.tenant.tid
        return GraphClient(rt.http, rt.config.microsoft_graph_url, lambda: acquire_app_token(rt.config, tid)), user.oid
    connection = connection_of(session, user.id, "microsoft")
    if connection is None or connection.status != "connected" or not connection.sealed_secrets:
        raise ProviderError(ErrorKind.AUTH, "microsoft", RECONNECT_FIX, code="not_connected")
    unseal(rt, connection.sealed_secrets, f"the Microsoft tokens of connection {connection.id}")

    def store(new_sealed: bytes) -> None:
        connection.sealed_secrets = new_sealed
        session.commit()

    provider = delegated_token_provider(rt.config, connection.sealed_secrets, rt.box, store)
    return GraphClient(rt.http, rt.config.microsoft_graph_url, provider), user.oid


def crm_for(rt, session: Session, user: User, now: datetime):
    """The user's Salesforce adapter, or None while they have no working connection (their
    emails then wait, and the connection shows the fix); an auth failure while opening it
    is raised, like any Salesforce call's (`worker.failures`). A user without a connection
    of their own who is mapped to a Salesforce user is recorded through the tenant's
    integration connection, their Tasks owned by that user (`salesforce_integration`).

    When the org cannot be written to right now (key field missing, API budget used up),
    the adapter refuses every call with that error, so each email that needed Salesforce
    shows it as its Unresolved reason with the next retry time.
    """
    from worker.salesforce.crm import open_crm

    route = salesforce_route(session, user)
    if route is None:
        return None
    connection, owner_id = route
    session.commit()  # the read ends here: opening may call Salesforce (its setup check)
    try:
        return open_crm(rt, session, user.tenant, connection, now, owner_id)
    except ProviderError as error:
        if failures.response(error, Stage.SALESFORCE) == Response.RECONNECT_SALESFORCE:
            raise  # `worker.jobs` marks the connection, as for any Salesforce call
        return RefusingCrm(error)


def salesforce_lost(session: Session, user: User, error: ProviderError) -> None:
    """The Salesforce tokens the user's mail is recorded with (theirs, or the tenant's
    integration's) no longer work: show "reconnect" with the fix; no more calls."""
    route = salesforce_route(session, user)
    if route is not None:
        connection_state.lost(route[0], error.message)
    session.commit()


class RefusingCrm:
    """A Salesforce that answers every call with one error (see `crm_for`)."""

    shared_activities = False
    owner_id = ""

    def __init__(self, error: ProviderError):
        self.error = error

    def find_people(self, addresses, fresh=False):
        raise self.error

    def write_tasks(self, writes):
        raise self.error

    def delete_tasks(self, task_ids):
        raise self.error
