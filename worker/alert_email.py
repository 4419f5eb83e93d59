"""Alert emails (worker/alerts.py): smtplib to the server `MAILFERRY_SMTP_URL` names, read
and checked at start-up with the rest of the configuration (`Config.smtp`, mailferry/config.py):

    MAILFERRY_SMTP_URL=smtp://[user:password@]host[:port][?starttls=yes&from=alerts@example.com]

`starttls=yes` upgrades the connection before anything is sent, the server's certificate
checked against the worker's outbound CA bundle (the one its Graph and Salesforce calls
trust). Unset: alert emails are not sent (webhooks still are), and each run's log says why.
"""

from __future__ import annotations

import smtplib
import ssl
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Iterator

from mailferry.config import SmtpServer

VARIABLE = "MAILFERRY_SMTP_URL"
TIMEOUT_SECONDS = 15


@contextmanager
def connected(server: SmtpServer, ca_file: Path | str | None,
              timeout: float = TIMEOUT_SECONDS) -> Iterator[smtplib.SMTP]:
    """A session with the server, upgraded to TLS verified with `ca_file` (None: the public
    CAs) when `starttls=yes`; `mailferry doctor` checks the server through it too."""
    with smtplib.SMTP(server.host, server.port, timeout=timeout) as smtp:
        if server.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=str(ca_file) if ca_file else None))
        yield smtp


def send(server: SmtpServer, ca_file: Path | str | None, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = server.sender, to, subject
    message.set_content(body)
    with connected(server, ca_file) as smtp:
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(message)
