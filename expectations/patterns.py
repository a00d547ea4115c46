"""Which regular expressions cannot tell one ASCII digit from another.

A format rule such as a NIK's ``^[0-9]{16}$`` gives ``6203011705800003`` the verdict it gives ``0000000000000000``:
it asks where digits are, never which. For such a rule a million distinct NIKs are a handful of shapes (all digits
of one length, or some other text), and GX need judge only one value of each (``expectations.gx``).
"""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]  # the parser's opcodes (pandas reads patterns so too)
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import polars as pl

_DIGITS = tuple(range(ord("0"), ord("9") + 1))

# Whether a category of a character set holds every ASCII digit (True) or none (False).
_CATEGORY_HOLDS_DIGITS = {
    sre.CATEGORY_DIGIT: True,
    sre.CATEGORY_UNI_DIGIT: True,
    sre.CATEGORY_WORD: True,
    sre.CATEGORY_UNI_WORD: True,
    sre.CATEGORY_LOC_WORD: True,
    sre.CATEGORY_NOT_SPACE: True,
    sre.CATEGORY_UNI_NOT_SPACE: True,
    sre.CATEGORY_NOT_LINEBREAK: True,
    sre.CATEGORY_UNI_NOT_LINEBREAK: True,
    sre.CATEGORY_NOT_DIGIT: False,
    sre.CATEGORY_UNI_NOT_DIGIT: False,
    sre.CATEGORY_NOT_WORD: False,
    sre.CATEGORY_UNI_NOT_WORD: False,
    sre.CATEGORY_LOC_NOT_WORD: False,
    sre.CATEGORY_SPACE: False,
    sre.CATEGORY_UNI_SPACE: False,
    sre.CATEGORY_LINEBREAK: False,
    sre.CATEGORY_UNI_LINEBREAK: False,
}


def treats_digits_alike(regex: str) -> bool:
    """Whether ``regex`` matches a text exactly when it matches the text with any ASCII digit swapped for another.

    True when no literal in it is a digit, every character set holds all ten digits or none, and nothing refers
    back to what a group matched. Conservative: anything it does not know, or that pyarrow's RE2 (which GX on
    pandas uses) reads otherwise than Python (a POSIX class, "{,n}"), makes it False.
    """
    # A POSIX class, or a repeat with no lower bound: pyarrow's RE2 reads "[[:digit:]]" as a class and "x{,3}" as
    # the text "x{,3}", where Python's parser reads other things.
    if "[:" in regex or "{," in regex:
        return False
    try:
        return _alike(_parser.parse(regex))
    except (re.error, _Unknown):
        return False


class _Unknown(Exception):
    pass


def _alike(tokens: Any) -> bool:
    for op, av in tokens:
        if op in (sre.LITERAL, sre.NOT_LITERAL):
            if av in _DIGITS:
                return False
        elif op is sre.IN:
            if len({_set_holds(av, digit) for digit in _DIGITS}) > 1:
                return False
        elif op in (sre.ANY, sre.AT):
            continue
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            if not _alike(av[2]):
                return False
        elif op is sre.SUBPATTERN:
            if not _alike(av[3]):
                return False
        elif op is sre.ATOMIC_GROUP:
            if not _alike(av):
                return False
        elif op is sre.BRANCH:
            if not all(_alike(branch) for branch in av[1]):
                return False
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            if not _alike(av[1]):
                return False
        else:  # a back-reference, a conditional group, anything not listed
            return False
    return True


def _set_holds(items: Any, char: int) -> bool:
    """Whether the character set ``items`` (as the parser gives it) holds ``char``."""
    negate, held = False, False
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            held |= av == char
        elif op is sre.RANGE:
            held |= av[0] <= char <= av[1]
        elif op is sre.CATEGORY and av in _CATEGORY_HOLDS_DIGITS:
            held |= _CATEGORY_HOLDS_DIGITS[av]
        else:
            raise _Unknown(op)
    return held != negate


def digit_shape(text: pl.Expr) -> list[pl.Expr]:
    """For each text, what a rule that treats digits alike can read of it: the length of a text of ASCII digits
    only (``digits``), or else the text itself (``other``; null for a missing text). Two texts of the same shape
    get the same verdict from such a rule."""
    only_digits = text.str.contains(r"^[0-9]+$")
    return [
        pl.when(only_digits).then(text.str.len_bytes()).alias("digits"),
        pl.when(~only_digits).then(text).alias("other"),
    ]
