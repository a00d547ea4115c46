"""Name comparison keys and similarity. The submitted name is never changed; only the key is normalised.

Indonesian civil records allow titles (H., Hj., Drs., S.Pd.) on KTP and, before Permendagri 73/2022, abbreviations
such as MUH. for Muhammad and ABD for Abdul, so the same person is written several ways across lists and BPJS.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

# Academic and religious titles before or after the name (Permendagri 73/2022 allows them on KTP/KK).
# A prefix title ends with a dot or a space; "H.AHMAD" (no space after the dot) is common in typed lists.
_PREFIX_TITLES = r"^(?:(?:H|HJ|HAJI|HAJJAH|DR|DRS|DRA|IR|PROF|USTADZ|UST)(?:\.\s*|\s+))+"
_SUFFIX_TITLES = (
    r"(?:,?\s+(?:S|M|A|D)\.\s?[A-Z]{1,5}\.?(?:\s?[A-Z]{1,4}\.?)?|,?\s+(?:SE|SH|ST|SAG|SPD|SPDI|SKM|AMD|MM|MPD)\.?)+$"
)

# Spelling variants that name the same person (domain.md §7.3); applied token by token.
_TOKEN_VARIANTS: dict[str, str] = {
    "M": "MUHAMMAD",
    "MUH": "MUHAMMAD",
    "MUHD": "MUHAMMAD",
    "MOH": "MUHAMMAD",
    "MOHD": "MUHAMMAD",
    "MOCH": "MUHAMMAD",
    "MOHAMAD": "MUHAMMAD",
    "MOHAMMAD": "MUHAMMAD",
    "MOCHAMAD": "MUHAMMAD",
    "MOCHAMMAD": "MUHAMMAD",
    "MUHAMAD": "MUHAMMAD",
    "MUHAMMAD": "MUHAMMAD",
    "MHD": "MUHAMMAD",
    "ABD": "ABDUL",
}

# Pre-1972 spelling survives in older records ("Soekarno" = "Sukarno", "Djoko" = "Joko", "Tjahjo" = "Cahjo").
_OLD_SPELLING = {"OE": "U", "DJ": "J", "TJ": "C"}


# The column holding a name's key: validation makes it for every row it checks, and the persons it accepts carry it
# into matching, which then does not make it again.
NAME_KEY = "name_key"


def name_key(expr: pl.Expr) -> pl.Expr:
    """The comparison key of a name: upper case, titles and punctuation dropped, known abbreviations expanded."""
    # An apostrophe joins a name ("Manta'a" is one word), so it is dropped, not turned into a space.
    upper = expr.str.to_uppercase().str.replace_all(r"['`’]", "").str.strip_chars()
    untitled = upper.str.replace(_PREFIX_TITLES, "").str.replace(_SUFFIX_TITLES, "")
    spaced = untitled.str.replace_all(r"[^A-Z ]", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    tokens = spaced.str.split(" ").list.eval(pl.element().replace(_TOKEN_VARIANTS))
    key = tokens.list.join(" ")
    for old, new in _OLD_SPELLING.items():
        key = key.str.replace_all(old, new, literal=True)
    # Not when(len > 0).then(key): that evaluates the whole key twice (half of its cost over a million names).
    return key.replace("", None)


def similarity(left: pl.Series, right: pl.Series) -> pl.Series:
    """Element-wise name similarity in [0, 1] of two aligned key columns; null where either side is null.

    token_sort_ratio ignores word order ("YANI AHMAD" = "AHMAD YANI"), which lists and BPJS often swap.
    """
    both = left.is_not_null() & right.is_not_null()
    # Equal keys score 1.0 without asking rapidfuzz: most pairs matched by NIK carry the same name.
    differ = both & (left != right)
    scores = np.where(both.to_numpy(), 1.0, np.nan)
    if differ.any():
        idx = differ.arg_true().to_numpy()
        scores[idx] = (
            process.cpdist(
                left.filter(differ).to_list(), right.filter(differ).to_list(), scorer=fuzz.token_sort_ratio, workers=1
            )
            / 100.0
        )
    return pl.Series(scores).fill_nan(None).round(4)


def key_similarity(keys: pl.Series, names: pl.Series, other: pl.Series) -> pl.Series:
    """``similarity`` of ``keys`` (the keys of ``names``) and the keys of the aligned names ``other``.

    A name's key is made from its upper case, so where ``other`` is ``names`` in other letters (most pairs found by
    NIK: BPJS writes names in capitals) its key is one of ``keys`` already: making keys is most of the cost of
    comparing a national list's names.
    """
    # ``other`` is compared as it is: where it is ``names`` in lower or mixed case, its key is made and comes out the
    # same (a key starts from the upper case). BPJS writes names in capitals, so that is rare, and putting six million
    # of them in upper case took 0.4 s of a national run.
    differ = (names.str.to_uppercase() != other).fill_null(True)
    other_keys = keys
    if differ.any():
        other_keys = keys.clone().scatter(
            differ.arg_true(), pl.select(name_key(pl.lit(other.filter(differ)))).to_series()
        )
    return similarity(keys, other_keys)


def key_similarity_of(keys: str, names: str, other: str) -> pl.Expr:
    """``key_similarity`` of three columns as an expression, so it can sit inside a lazy query plan."""
    columns = pl.struct(pl.col(keys).alias("keys"), pl.col(names).alias("names"), pl.col(other).alias("other"))
    return columns.map_batches(
        lambda batch: key_similarity(*(batch.struct.field(f) for f in ("keys", "names", "other"))),
        return_dtype=pl.Float64,
        is_elementwise=True,
    )
