"""Email bodies are sealed at rest and dropped after the final write (SPEC 13), on SQLite and
on PostgreSQL: after a sync of the demo world (plus a recorded, an Unresolved and an
excluded probe), no body is in the database in plain text (the SQLite file's bytes, every
column of PostgreSQL's table as text), every stored body is a token the worker's key opens,
and an email with a final outcome holds none."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from mailferry.crypto import looks_sealed
from mailferry.models import Message
from sandbox.seed import build_world
from tests.db_fixtures import empty_database
from tests.worker.demo_rep import REP
from worker import jobs

PROBES = {  # subject: (sender, categories, body, the outcome it gets)
    "Probe: recorded body": (None, [], "Recorded probe body: the renewal quote is 48,200 EUR", "synced"),
    "Probe: unresolved body": ("dana@unknown-prospect.example", [], "Unresolved probe body: my IBAN changed",
                               "unresolved"),
    "Probe: excluded body": (None, ["DoNotSync"], "Excluded probe body: keep this one out of the CRM", "excluded"),
}
FINAL = ("synced", "excluded", "ignored", "expired")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """The pipeline's database, on each backend in turn."""
    with empty_database(request.param, tmp_path) as url:
        yield url


def _deliver_probes(clouds) -> None:
    contact = next(c for c in clouds.records("Contact") if c.get("Email") and "'" not in c["Email"])
    for subject, (sender, categories, body, _) in PROBES.items():
        clouds.deliver(REP, **{"from": {"address": sender or contact["Email"], "name": "Probe"},
                               "to": [{"address": REP}], "subject": subject, "body": body, "categories": categories})


def _body_lines() -> set[str]:
    """Lines of the demo world's bodies and the probes' long enough to be telling, but for
    those a subject or a participant holds too (the hostile-input mails repeat theirs)."""
    mails = build_world(seed=1).mails
    bodies = [mail.body_text for mail in mails] + [body for _, _, body, _ in PROBES.values()]
    people = [a for mail in mails for a in (mail.sender, *mail.to, *mail.cc) if a is not None]
    elsewhere = "\n".join([mail.subject for mail in mails] + [f"{a.name}\n{a.address}" for a in people])
    lines = {line.strip() for body in bodies for line in body.splitlines() if len(line.strip()) >= 30}
    return {line for line in lines if line not in elsewhere}


def _stored_text(runtime) -> str:
    """Everything the database holds for the messages: the SQLite file's bytes and its WAL's
    (pages written since the last checkpoint, free pages included), or every PostgreSQL row
    of the table as text."""
    url = make_url(runtime.config.database_url)
    if url.get_backend_name() == "sqlite":
        files = [Path(url.database), Path(url.database + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1")
    with runtime.engine.connect() as db:
        return "\n".join(db.execute(text("SELECT m::text FROM messages m")).scalars())


def test_no_body_is_stored_in_plain_text_and_final_outcomes_hold_none(pipeline, clouds):
    runtime, mailbox_ids = pipeline
    _deliver_probes(clouds)
    for mailbox_id in mailbox_ids:  # every demo user's mailbox, the rep's with the probes
        result = jobs.sync_mailbox(mailbox_id)
        assert "error" not in result, result
    with runtime.sessions() as session:
        rows = session.execute(select(Message)).scalars().all()
    outcomes = {row.subject: row.status for row in rows if row.subject in PROBES}
    assert outcomes == {subject: outcome for subject, (*_, outcome) in PROBES.items()}
    assert {row.status for row in rows} & {"synced", "unresolved"} == {"synced", "unresolved"}

    for row in rows:
        if row.status in FINAL:
            assert row.body_text is None, (row.subject, row.status)
        elif row.body_text is not None:
            assert looks_sealed(row.body_text), row.subject
            runtime.box.open_text(row.body_text)  # the worker's key opens it
    unresolved = next(row for row in rows if row.subject == "Probe: unresolved body")
    assert runtime.box.open_text(unresolved.body_text) == PROBES["Probe: unresolved body"][2]
    kept = [row for row in rows if row.body_text is not None]
    print(f"{len(rows)} rows, {len(kept)} holding a sealed body, statuses {sorted({r.status for r in kept})}")
    assert kept, "no row kept a body: the check below would prove nothing"

    stored = _stored_text(runtime)
    assert "Probe: unresolved body" in stored  # the subject is there in plain text: the check can see text
    found = sorted(line for line in _body_lines() if line in stored)
    assert not found, f"bodies in plain text in the database: {found[:5]}"
    print(f"{len(_body_lines())} body lines looked for in {len(stored)} characters: none found")
