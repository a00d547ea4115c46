"""Regexes that cannot tell one digit from another, and the shapes of texts such a rule reads."""

from __future__ import annotations

import re

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from expectations.patterns import digit_shape, treats_digits_alike

ALIKE = [
    r"^[0-9]{16}$",  # a NIK
    r"^\d{11}$",  # a KPJ
    r"^[\w-]+$",
    r"^[^0-9]+$",
    r"^.{16}$",
    r"(?=\d)\d+x?",
    r"^[a-z0-9]*$",
    r"^(?:[A-Z]{2}|\d{3})-\d+$",
]
NOT_ALIKE = [
    r"^6203",  # the digits themselves
    r"^[1-9][0-9]{15}$",  # no leading zero: 0 is not like 1
    r"^[0-5]$",
    r"(\d)\1",  # the same digit twice
    r"[[:digit:]]",  # read otherwise by pyarrow's RE2
    r"^x{,3}$",  # RE2 reads "{,3}" as text, with a digit in it
    r"^[0-9]{16",  # not a regex
]


@pytest.mark.parametrize("regex", ALIKE)
def test_rules_that_ask_where_digits_are_treat_them_alike(regex: str) -> None:
    assert treats_digits_alike(regex)


@pytest.mark.parametrize("regex", NOT_ALIKE)
def test_rules_that_ask_which_digit_it_is_do_not(regex: str) -> None:
    assert not treats_digits_alike(regex)


def _swap_digits(text: str, to: str) -> str:
    return re.sub("[0-9]", lambda m: to[int(m.group())], text)


@given(
    regex=st.sampled_from(ALIKE + NOT_ALIKE[:-1]),
    text=st.text(alphabet="0123456789ab-\n xAZ", max_size=20),
    to=st.permutations("0123456789").map("".join),
)
def test_a_rule_that_treats_digits_alike_gives_a_text_with_other_digits_the_same_verdict(
    regex: str, text: str, to: str
) -> None:
    if treats_digits_alike(regex):
        assert bool(re.search(regex, text)) == bool(re.search(regex, _swap_digits(text, to)))


def test_texts_of_one_shape_are_digits_of_one_length_or_the_same_other_text() -> None:
    texts = pl.Series(["6203011705800003", "1111222233334444", "62030X", "62030X", None, "", "12"])
    shapes = pl.select(digit_shape(pl.lit(texts)))
    assert shapes.rows() == [
        (16, None),
        (16, None),
        (None, "62030X"),
        (None, "62030X"),
        (None, None),
        (None, ""),
        (2, None),
    ]
    assert shapes.unique().height == 5
