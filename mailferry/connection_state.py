"""The connection state machine: the one module that changes a Connection's status.

    (none) or any ──the user connects──► connected
    connected ──its tokens stop working (refresh refused, revoked, unreadable)──► needs_reconnect
    connected, needs_reconnect ──the user disconnects──► disconnected

`status_detail` says what to do about a broken connection; it is cleared when the
connection works again. Our copy of the tokens goes with a disconnect.
"""

from __future__ import annotations

from datetime import datetime

from mailferry.models import Connection

CONNECTED, NEEDS_RECONNECT, DISCONNECTED = "connected", "needs_reconnect", "disconnected"


def connected(connection: Connection, sealed_secrets: bytes, now: datetime) -> None:
    connection.sealed_secrets = sealed_secrets
    connection.status = CONNECTED
    connection.status_detail = None
    connection.connected_at = now


def lost(connection: Connection, fix: str) -> None:
    """The provider no longer honours the tokens: show `fix`; nothing calls it until then."""
    connection.status = NEEDS_RECONNECT
    connection.status_detail = fix


def disconnected(connection: Connection) -> None:
    connection.status = DISCONNECTED
    connection.status_detail = None
    connection.sealed_secrets = None
