"""Alert emails (worker/alerts.py): smtplib to the server `MAILFERRY_SMTP_URL` names.

    MAILFERRY_SMTP_URL=smtp://[user:password@]host[:port][?starttls=yes&from=alerts@example.com]

Port 25 unless given. `starttls=yes` upgrades the connection before anything is sent, the
server's certificate checked against the worker's outbound CA bundle (the one its Graph and
Salesforce calls trust), and is required before a password is sent. The sender defaults to
`mailferry@<the host of MAILFERRY_BASE_URL>`. Unset: alert emails are not sent (webhooks
still are), and each run's log says why.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from mailferry.config import ConfigError

VARIABLE = "MAILFERRY_SMTP_URL"
_TIMEOUT_SECONDS = 15
_YES, _NO = {"yes", "true", "1", "on"}, {"no", "false", "0", "off", ""}


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def smtp_server(base_url: str, environ: Mapping[str, str] = os.environ) -> SmtpServer | None:
    """The server alert emails go through, or None when none is set; raises ConfigError
    naming the variable when its value cannot be used."""
    raw = environ.get(VARIABLE, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ConfigError(f"{VARIABLE}={_shown(raw)} is not smtp://host[:port]: e.g. smtp://mail.example.com:587?starttls=yes")
    try:
        port = parts.port or 25
    except ValueError:
        raise ConfigError(f"{VARIABLE}={_shown(raw)}: the port is not a number from 1 to 65535") from None
    query = {key: values[-1].strip() for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    starttls = query.get("starttls", "").lower()
    if starttls not in _YES | _NO:
        raise ConfigError(f"{VARIABLE}: starttls={starttls!r} is neither yes nor no")
    if parts.password and starttls not in _YES:
        raise ConfigError(f"{VARIABLE} has a password but no starttls=yes: it would cross the network in clear")
    sender = query.get("from") or f"mailferry@{urlsplit(base_url).hostname}"
    return SmtpServer(parts.hostname, port, starttls in _YES, sender,
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)


def _shown(raw: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(raw)
    return raw.replace(f":{parts.password}@", ":…@") if parts.password else raw


def send(server: SmtpServer, ca_file: Path | str | None, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = server.sender, to, subject
    message.set_content(body)
    with smtplib.SMTP(server.host, server.port, timeout=_TIMEOUT_SECONDS) as smtp:
        if server.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=str(ca_file) if ca_file else None))
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(message)
