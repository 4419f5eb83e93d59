"""Ids and numeric settings are read strictly: ASCII digits, bounded length, in range; never
a crash (mailferry/whole_numbers.py)."""

from __future__ import annotations

import pytest

from mailferry.whole_numbers import MAX_ID, identifier, whole_number


@pytest.mark.parametrize("text", ["1", " 42 ", "0007", str(MAX_ID), 42])
def test_ascii_digits_and_ints_in_range_are_read(text):
    assert identifier(text) == int(str(text).strip())


@pytest.mark.parametrize("text", [
    "²",  # str.isdigit() says yes, int() says no
    "١٢",  # Arabic-Indic digits: int() would read 12
    "３",  # full-width
    "9" * 30,  # a valid int SQLite cannot bind
    "9" * 5000,  # over Python's 4,300-digit int() limit
    str(MAX_ID + 1), "0", "-1", "+1", "1.0", "1e3", "", "  ", "0x10", True, False, 1.0, None, [1], MAX_ID + 1,
])
def test_anything_else_is_none_not_an_exception(text):
    assert identifier(text) is None


def test_the_range_is_the_callers():
    assert whole_number("1440", 1, 1440) == 1440
    assert whole_number("1441", 1, 1440) is None
    assert whole_number("0" * 5000 + "5", 1, 1440) == 5  # leading zeros are not digits that count
