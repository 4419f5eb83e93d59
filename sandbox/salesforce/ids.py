"""Salesforce record Ids: 15 case-sensitive characters plus a 3-character suffix that makes
them case-insensitive (18 characters), starting with the sObject's key prefix."""

from __future__ import annotations

import re
import threading

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_SHAPE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")

def to_18(id15: str) -> str:
    """Append the case-safety suffix: one character per 5-character chunk, encoding which of
    its characters are upper case."""
    suffix = ""
    for start in (0, 5, 10):
        bits = 0
        for offset, char in enumerate(id15[start:start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix += _SUFFIX_ALPHABET[bits]
    return id15 + suffix


def normalize(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character Id; None when it is not Id-shaped."""
    if not isinstance(value, str) or not _ID_SHAPE.match(value):
        return None
    if len(value) == 15:
        return to_18(value)
    # The suffix records which stem characters are upper case, so an 18-character Id names
    # the same record whatever case it was typed in: restore the stem's case from it.
    stem = ""
    for chunk in range(3):
        bits = _SUFFIX_ALPHABET.find(value[15 + chunk].upper())
        if bits < 0:
            return None
        for offset, char in enumerate(value[chunk * 5:chunk * 5 + 5]):
            stem += char.upper() if bits & (1 << offset) else char.lower()
    return to_18(stem)


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


class IdMaker:
    """Makes fresh Ids per key prefix; `Mf` in the middle keeps them apart from seeded Ids."""

    def __init__(self, last: int = 0) -> None:
        self.last = last  # the number of the newest Id made (kept across restarts)
        self._lock = threading.Lock()

    def make(self, prefix: str) -> str:
        with self._lock:
            self.last += 1
            number = self.last
        return to_18(f"{prefix}Mf0000{_base62(number, 6)}")


# The fixed org of the sandbox (Salesforce org Ids start with `00D`).
ORG_ID = to_18("00DMf0000000001")
