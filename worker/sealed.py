"""Opening what the database holds sealed (tokens, subscription client states, email bodies)
inside a sync run, and what a worker does when it cannot.

A value no key of this worker opens almost always means this host's MAILFERRY_ENCRYPTION_KEYS
was not updated when a new key was put first on the others (`mailferry secrets rotate`,
docs/operations.md): the secret is fine, this worker is not. So the user is not asked to
reconnect and no connection or mailbox changes state: the run is handed back as it was (like
a shutdown, `WorkerLacksKey` is no `Exception`, so worker/jobs.py releases the mailbox
untouched), the worker logs why and stops after this job (RQ's shutdown command, the warm
shutdown of a SIGTERM), and a worker with the keys takes the mailbox at its next poll.
"""

from __future__ import annotations

import logging
from typing import Any

from mailferry.crypto import SecretUnreadable, key_fingerprint, looks_sealed

log = logging.getLogger(__name__)


class WorkerLacksKey(BaseException):
    """This worker cannot open a stored secret: the run stops, nothing is marked, and the
    worker stops after the job."""


def unseal(rt, sealed: bytes, what: str) -> Any:
    """The value sealed in `sealed` (`what` names it for the operator)."""
    try:
        return rt.box.open(sealed)
    except SecretUnreadable:
        stop_worker(rt, what)


def open_body(rt, stored: str | None) -> str | None:
    """The plain body of a row's `body_text` (a Fernet token as text; None stays None)."""
    if stored is None:
        return None
    if not looks_sealed(stored):
        # Stored by a release before bodies were sealed: upgrading runs `mailferry secrets
        # rotate`, which seals them; reading them as plain text here would keep that path alive.
        stop_worker(rt, "an email body stored in plain text before bodies were sealed",
                    fix="Run `mailferry secrets rotate` once (the upgrade step that seals them), "
                        "then start the worker again.")
    try:
        return rt.box.open_text(stored)
    except SecretUnreadable:
        stop_worker(rt, "a sealed email body")


def stop_worker(rt, what: str, fix: str | None = None) -> None:
    """Log why, ask RQ to stop this worker once the job ends, and end the run untouched."""
    keys = ", ".join(key_fingerprint(key) for key in rt.config.encryption_keys)
    message = (f"This worker cannot open {what} with its MAILFERRY_ENCRYPTION_KEYS (fingerprints {keys}). "
               + (fix or "Another host has a newer key first: give this host the same MAILFERRY_ENCRYPTION_KEYS "
                         "(the new key first, the old ones after it) and start the worker again; "
                         "`mailferry secrets rotate` prints the newest key's fingerprint.")
               + " No connection or mailbox was changed; the worker stops after this job.")
    log.error(message)
    _ask_rq_to_stop(rt)
    raise WorkerLacksKey(message)


def _ask_rq_to_stop(rt) -> None:
    from rq import get_current_job
    from rq.command import send_shutdown_command

    job = get_current_job()
    if job is not None and job.worker_name:  # None when the run was called directly (tests, the CLI)
        send_shutdown_command(rt.redis, job.worker_name)


__all__ = ["WorkerLacksKey", "open_body", "stop_worker", "unseal"]
