"""One logging set-up for every Mailferry process (web, worker, scheduler, doctor).

Lines go to standard error (systemd's journal, or the supervisor of `mailferry run`), as text
by default or as one JSON object per line with MAILFERRY_LOG_FORMAT=json. A sync run puts
its tenant, mailbox, run id and, while it records one, the message's row id into the log
context (`log_context`, `add_to_context`); every line logged meanwhile carries them, from our
code and from libraries alike, because a filter on the handler copies them onto each record.

What never goes into a line: tokens, client secrets, clientStates and email bodies. Our
calls log ids and counts only; tests/worker/test_observability.py scans a whole run's JSON
lines at debug level for every secret and body of the demo world.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Iterator

#: The fields a sync run adds to its lines, in the order the text format shows them.
CONTEXT_FIELDS = ("tenant", "mailbox_id", "run_id", "message_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(context)s%(message)s"

_context: ContextVar[dict[str, object]] = ContextVar("mailferry_log_context", default={})
# Attributes every LogRecord has: anything else on a record came from `extra=` (or the filter).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "context"}


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to every line logged inside the block (nested blocks add to the outer's)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def add_to_context(**fields: object) -> None:
    """Add fields learnt partway through a `log_context` block (the tenant, once read); the
    block's end drops them with the rest."""
    _context.set({**_context.get(), **fields})


class ContextFilter(logging.Filter):
    """Copies the log context onto each record: `record.tenant` … (None when unset), and
    `record.context`, the text format's `tenant=… mailbox_id=… ` prefix."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name))
        record.context = "".join(f"{name}={getattr(record, name)} " for name in CONTEXT_FIELDS
                                 if getattr(record, name) is not None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context
    fields that are set, any `extra=` fields, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


#: The format `configure_logging` last set in this process: gunicorn's own logger, which
#: gunicorn builds from its settings alone, follows it (cli/serve.py).
_configured_format = "text"


def configured_format() -> str:
    """"text" or "json": what this process's lines are (text until `configure_logging` ran)."""
    return _configured_format


# Alembic announces its dialect at INFO ("Context impl SQLiteImpl.") whenever a migration
# context opens, which every process's start-up schema check does: noise there, kept at debug.
QUIET_BELOW_DEBUG = ("alembic",)


def configure_logging(log_format: str, level: str, stream=None) -> logging.Handler:
    """Replace the root logger's handlers with one that writes `log_format` ("text" or
    "json") at `level` to `stream` (standard error); returns the handler."""
    global _configured_format
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    _configured_format = log_format
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_BELOW_DEBUG:
        logging.getLogger(name).setLevel(logging.NOTSET if level.upper() == "DEBUG" else logging.WARNING)
    return handler
