"""Column helpers shared by the model modules: closed vocabularies and value clean-up."""

from __future__ import annotations

from sqlalchemy import Enum

#: Longest valid email address (RFC 5321 path limit); also the indexed width of addresses.
ADDRESS_LENGTH = 320
#: Indexed width of names and sort keys: long enough to order by, short enough for a
#: btree entry however hostile the input (PostgreSQL refuses index rows over ~2.7 kB).
SORT_KEY_LENGTH = 128
NAME_LENGTH = 256


def one_of(name: str, *values: str) -> Enum:
    """A string column restricted to `values`, by a CHECK constraint named after `name`.

    A CHECK rather than a PostgreSQL enum type: adding a value later is then the same
    batch migration on both databases. Python-side validation rejects a typo before the
    flush; the CHECK also guards raw SQL.
    """
    return Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=32,
    )


def clamp(value: str | None, length: int) -> str | None:
    """`value` cut to `length` characters, so an enormous header cannot break an insert."""
    if value is None:
        return None
    return value[:length]


def normalise_address(value: str | None) -> str | None:
    """An address or domain as Mailferry compares them: trimmed and lower-cased."""
    if value is None:
        return None
    return value.strip().lower()
