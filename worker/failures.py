"""What a failed call to Microsoft or Salesforce does to a sync run, decided in one place.

Every provider failure arrives as a `ProviderError` of one kind (mailferry/provider_errors.py).
Where it happened and its kind give the response; the code that made the call only carries
it out:

| kind                                         | fetch (Graph delta)            | subscriptions              | Salesforce (open, look up, write, delete) |
|----------------------------------------------|--------------------------------|----------------------------|-------------------------------------------|
| auth                                         | stop the run: the mailbox shows "reconnect" (`mailbox_state.fail`) | stop the run, likewise | the connection shows "reconnect" (`connection_state.lost`); the emails that need Salesforce wait for it |
| cursor (delta token expired)                 | resync the folder (once a run) | —                          | —                                         |
| temporary, unknown, budget, setup, not_found | stop the run: the mailbox backs off, honouring Retry-After | log it; polling goes on | the emails that needed the call: Unresolved `system_error`, retried with backoff (`email_state.write_failed`) |
"""

from __future__ import annotations

from enum import StrEnum

from mailferry.provider_errors import ErrorKind, ProviderError


class Stage(StrEnum):
    FETCH = "fetch"
    SUBSCRIPTIONS = "subscriptions"
    SALESFORCE = "salesforce"


class Response(StrEnum):
    STOP_RUN = "stop_run"  # raise it: `worker.jobs` ends the run through `mailbox_state.fail`
    RESYNC_FOLDER = "resync_folder"
    CARRY_ON = "carry_on"  # logged by the caller; the run goes on
    RECONNECT_SALESFORCE = "reconnect_salesforce"
    EMAILS_UNRESOLVED = "emails_unresolved"


def response(error: ProviderError, stage: Stage) -> Response:
    if stage == Stage.SALESFORCE:
        return Response.RECONNECT_SALESFORCE if error.kind == ErrorKind.AUTH else Response.EMAILS_UNRESOLVED
    if error.kind == ErrorKind.AUTH:
        return Response.STOP_RUN
    if stage == Stage.FETCH:
        return Response.RESYNC_FOLDER if error.kind == ErrorKind.CURSOR else Response.STOP_RUN
    return Response.CARRY_ON
