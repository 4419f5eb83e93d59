"""How soon the sync engine notices a dead worker: one knob, read once, here.

A worker that dies (SIGKILL, a lost machine) leaves its mailbox lock in Redis until the lock
expires (`worker.locks`), and the mailbox's stage "in progress" until the recovery sweep
resets it (`mailbox_state.STALE_AFTER`); the scheduler's periodic jobs (`worker.scheduler`)
then run the mailbox again. The defaults are the product's and suit production.

The reliability tests kill workers on purpose and cannot wait half a minute per recovery,
so `MAILFERRY_TIMING_SCALE` (default 1) multiplies every one of these durations: 0.1 makes
a dead worker's lock expire after 3 s and the scheduler look for due mailboxes every 3 s.
It changes nothing of SPEC section 4 (retry backoff, re-match, attempt window, retention).
"""

from __future__ import annotations

import os

from mailferry.config import ConfigError

VARIABLE = "MAILFERRY_TIMING_SCALE"


def _read_scale(raw: str) -> float:
    if not raw.strip():
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{VARIABLE}={raw!r} is not a number: leave it unset (1) or use e.g. 0.1") from None
    if not 0.01 <= value <= 100:
        raise ConfigError(f"{VARIABLE}={value} is out of range: use a number from 0.01 to 100 (1 is the default)")
    return value


SCALE = _read_scale(os.environ.get(VARIABLE, ""))


def scaled(seconds: float) -> float:
    """A product duration in seconds, times MAILFERRY_TIMING_SCALE."""
    return seconds * SCALE
