"""Everything one Microsoft sandbox app holds, reachable from any request as `state()`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

EXTENSION = "mailferry_microsoft_sandbox"


@dataclass
class Tunables:
    """Knobs tests and demos change through `POST /_sandbox/settings`."""

    access_token_lifetime_s: int = 3599
    # Current learn table for Outlook messages (reference §1.8: older docs say 4,230).
    subscription_max_minutes: int = 10_080
    mailbox_concurrency: int = 4
    retry_after_s: int = 1  # Retry-After on the sandbox's own MailboxConcurrency answers
    validation_timeout_s: float = 10.0
    notification_timeout_s: float = 3.0
    notification_attempts: int = 3

    def reset(self) -> None:
        """Back to the defaults (in place: other objects hold this instance)."""
        self.__init__()

    def update(self, values: dict) -> list[str]:
        """Apply known keys; returns the unknown ones."""
        unknown = []
        for name, value in values.items():
            current = getattr(self, name, None)
            if current is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                unknown.append(name)
            else:
                setattr(self, name, type(current)(value))
        return unknown


def state():
    return current_app.extensions[EXTENSION]
