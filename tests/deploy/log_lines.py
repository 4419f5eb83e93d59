"""What a process wrote with MAILFERRY_LOG_FORMAT=json, read back (docs/operations.md, "Logs"):
each line one JSON object with at least time, level, logger and message."""

from __future__ import annotations

import json

#: The fields every line of mailferry/logging_setup.py's JsonFormatter has.
LINE_FIELDS = {"time", "level", "logger", "message"}


def json_records(text: str, who: str) -> list[dict]:
    """Every non-empty line of `text` (what `who` wrote) as its JSON object; fails on the first
    line that is not one, or lacks one of LINE_FIELDS."""
    records = []
    for line in filter(None, text.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"{who} wrote a line that is not JSON: {line!r}") from None
        assert isinstance(record, dict) and LINE_FIELDS <= set(record), f"{who}: {line!r}"
        records.append(record)
    return records
