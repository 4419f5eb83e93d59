"""Identifiers for the seeded world: Salesforce record Ids and Entra GUIDs.

Everything is derived from a `random.Random` so one seed always yields the same ids.
"""

from __future__ import annotations

import random
import uuid

# Salesforce's own base-62 digit order (0-9, A-Z, a-z): ids read in this order sort the way
# the org creates them, which keeps seeded ids looking like real ones.
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The 32 symbols of the 18-character suffix, indexed by a 5-bit value.
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

KEY_PREFIXES = {
    "User": "005",
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Case": "500",
}


def base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    if number:
        raise ValueError(f"{number} does not fit in {width} base-62 digits")
    return "".join(reversed(digits))


def checksum_suffix(id15: str) -> str:
    """The 3 characters that make a 15-character id case-insensitive (CASESAFEID).

    Each 5-character chunk gives one suffix character: bit i is set when the chunk's i-th
    character (counting from the left, least significant bit first) is an upper-case letter.
    """
    if len(id15) != 15:
        raise ValueError(f"a 15-character id is needed, got {len(id15)} characters")
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def is_valid_sf_id(value: object, prefix: str | None = None) -> bool:
    """True for an 18-character id whose suffix matches (and whose prefix, when given)."""
    if not isinstance(value, str) or len(value) != 18:
        return False
    if any(char not in BASE62 for char in value[:15]):
        return False
    if prefix is not None and not value.startswith(prefix):
        return False
    return checksum_suffix(value[:15]) == value[15:]


class SalesforceIds:
    """Hands out 18-character ids per sObject type, sequential like an org's own.

    Layout of the 15 significant characters: key prefix (3) + a seed-chosen instance part
    (2, like the pod characters real ids carry) + "0000" + a 6-digit base-62 counter. The
    counter starts at a seed-chosen offset so ids mix digits and both letter cases, which
    makes the checksum suffix vary as it does in real orgs.
    """

    def __init__(self, rng: random.Random):
        self._instance = rng.choice("0123456789") + rng.choice("abcdefghijklmnopqrstuvwxyz")
        self._next = {sobject: rng.randrange(62**4, 62**5) for sobject in KEY_PREFIXES}

    def new(self, sobject: str) -> str:
        counter = self._next[sobject]
        self._next[sobject] = counter + 1
        id15 = KEY_PREFIXES[sobject] + self._instance + "0000" + base62(counter, 6)
        return id15 + checksum_suffix(id15)


def guid(rng: random.Random) -> str:
    """A version-4-shaped GUID drawn from `rng` (never uuid4: it would break determinism)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
