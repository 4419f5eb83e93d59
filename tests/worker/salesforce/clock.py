"""A clock the tests set by hand, for code that takes `now` as a callable."""

from __future__ import annotations

from datetime import datetime


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now
