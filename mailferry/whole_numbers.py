"""Whole numbers that people type or scripts send (ids, numeric settings), read strictly.

Python's `int()` accepts more than people mean and fails where callers do not expect it: it
reads any Unicode decimal digit (`٣`, full-width `３`), `str.isdigit()` also passes
superscripts that `int()` then refuses (`²`), more than 4,300 digits raise `ValueError`, and
a 30-digit id is a valid int that SQLite cannot bind (it overflows at the query, a 500).
Every id and numeric setting therefore goes through `whole_number`: ASCII digits only, no
more digits than the upper bound has, inside a range. It never raises.
"""

from __future__ import annotations

from typing import Any

#: The largest id of a BIGINT key (PostgreSQL bigint; every SQLite INTEGER).
MAX_ID = 2**63 - 1
#: The largest id of an INTEGER key on PostgreSQL (int4: binding more is an error there).
MAX_INTEGER_ID = 2**31 - 1


def whole_number(value: Any, low: int, high: int) -> int | None:
    """`value` (an int, or text of ASCII digits with surrounding spaces) as an int in
    [low, high], else None. Booleans are not numbers here, nor are signs or decimals."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if low <= value <= high else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        # Too many digits to be in range: refused before int() reads them all.
        return None
    number = int(digits)
    return number if low <= number <= high else None


def identifier(value: Any, highest: int = MAX_ID) -> int | None:
    """A row id (1 to `highest`) from text or an int, else None."""
    return whole_number(value, 1, highest)
