"""After Save, the worker's next run decides the rows again and they leave the list: the real
process stage (no Salesforce needed for these outcomes) run on the rows the page changed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.models import Message, User
from mailferry.user_context import decision_context
from tests.server.history.helpers import csrf_token, row_ids
from worker.process import ProcessCounts, process_mailbox


def _run_worker(engine, history_world) -> None:
    with Session(engine) as session:
        user = session.get(User, history_world.user.id)
        process_mailbox(session, history_world.mailbox.id, user, decision_context(session, user), None, utcnow(),
                        session.commit, ProcessCounts())
        session.commit()


def test_ignored_domain_and_ignored_email_leave_unresolved_for_good_after_the_next_run(history_client, history_world, engine, sync_queue):
    history_world.unmatched(address="ann@northwind.example")
    only_northwind = history_world.message(participants=[{"address": "ann@northwind.example", "name": "Ann", "role": "from"}],
                                   reason="no_match", next_attempt_at=utcnow().replace(year=2099))
    ignored = history_world.message(participants=[{"address": "bo@globex.example", "name": "Bo", "role": "from"}],
                            reason="no_match", next_attempt_at=utcnow().replace(year=2099))
    still = history_world.message(participants=[{"address": "cy@contoso.example", "name": "Cy", "role": "from"}],
                          reason="no_match", next_attempt_at=utcnow().replace(year=2099))
    history_world.commit()
    history_client.post("/history/unresolved/save", data={"csrf_token": csrf_token(history_client), "ignore_email": [str(ignored.id)],
                                                  "ignore_domain": ["northwind.example"]})
    _run_worker(engine, history_world)
    with Session(engine) as session:
        assert (session.get(Message, only_northwind.id).status, session.get(Message, only_northwind.id).reason) == (
            "skipped", "no_candidates")
        assert (session.get(Message, ignored.id).status, session.get(Message, ignored.id).pending_operation) == (
            "ignored", None)
    assert row_ids(history_client.get("/history/unresolved").get_data(as_text=True)) == [still.id]
