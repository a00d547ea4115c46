import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from cakupan.names import key_similarity, key_similarity_of, name_key, similarity


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("H. Ahmad Yani", "AHMAD YANI"),
        ("Hj. Siti Aminah, S.Pd", "SITI AMINAH"),
        ("Drs. H. Budi Santoso, M.Pd.", "BUDI SANTOSO"),
        ("MUH. RIZKI", "MUHAMMAD RIZKI"),
        ("Moch Rizki", "MUHAMMAD RIZKI"),
        ("Abd Muis", "ABDUL MUIS"),
        ("ABD. MUIS", "ABDUL MUIS"),
        ("M. Rizki", "MUHAMMAD RIZKI"),
        ("MOH. RIZKI", "MUHAMMAD RIZKI"),
        ("H.AHMAD YANI", "AHMAD YANI"),  # no space after the title's dot
        ("Hj.Siti Aminah", "SITI AMINAH"),
        ("Drs.H.Budi Santoso", "BUDI SANTOSO"),
        ("Siti Aminah, S.Pd.I", "SITI AMINAH"),
        ("Soekarno", "SUKARNO"),  # pre-1972 spelling: oe = u, dj = j, tj = c
        ("Djoko Tjahjono", "JOKO CAHJONO"),
        ("Hendra Haris", "HENDRA HARIS"),  # a name that starts like a title keeps it
        ("  rahmat   hidayat ", "RAHMAT HIDAYAT"),
        ("Manta'a", "MANTAA"),
        ("", None),
        ("Hj. ", None),  # a title alone leaves no name to compare
        ("123", None),
    ],
)
def test_name_key_drops_titles_and_expands_abbreviations(given: str, key: str | None) -> None:
    assert pl.select(name_key(pl.lit(given))).item() == key


def test_similarity_is_elementwise_and_ignores_word_order() -> None:
    left = pl.Series(["AHMAD YANI", "AHMAD YANI", None])
    right = pl.Series(["YANI AHMAD", "JOKO WIDODO", "X"])
    scores = similarity(left, right).to_list()
    assert scores[0] == 1.0
    assert scores[1] < 0.5
    assert scores[2] is None


NAMES = [
    *("H. Ahmad Yani", "H. AHMAD YANI", "Yani Ahmad", "Hj. ", "HJ. ", ""),
    *("Siti Aminah, S.Pd", "SITI AMINAH", "Soekarno", None),
]


def keys_then_similarity(left: list[str | None], right: list[str | None]) -> list[float | None]:
    keys = pl.DataFrame({"a": left, "b": right}, schema={"a": pl.String, "b": pl.String}).select(
        name_key(pl.col("a")), name_key(pl.col("b")).alias("k")
    )
    return similarity(keys["a"], keys["k"]).to_list()


@given(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES)), max_size=12))
def test_key_similarity_is_the_similarity_of_both_keys(pairs: list[tuple[str | None, str | None]]) -> None:
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    names, other = pl.Series(left, dtype=pl.String), pl.Series(right, dtype=pl.String)
    got = key_similarity(pl.select(name_key(pl.lit(names))).to_series(), names, other)
    assert got.to_list() == keys_then_similarity(left, right)


def test_key_similarity_of_is_the_same_inside_a_lazy_plan() -> None:
    left = ["H. Ahmad Yani", None, "Siti", "Hj. ", "Budi", "Joko Susilo"]
    right = ["YANI AHMAD", "X", "SITI AMINAH", "HJ. ", "BUDI", "JOKO SUSILO"]
    frame = pl.LazyFrame({"a": left, "b": right}).with_columns(name_key(pl.col("a")).alias("key"))
    got = frame.select(key_similarity_of("key", "a", "b")).collect().to_series()
    assert got.to_list() == keys_then_similarity(left, right)
    assert got[0] == 1.0 and got[1] is None and got[3] is None and got[4] == 1.0 and got[5] == 1.0


def test_equal_keys_score_one_as_rapidfuzz_scores_them() -> None:
    keys = ["SITI AMINAH", "", " ", "AHMAD  YANI"]
    left = pl.Series([*keys, "SITI", None])
    right = pl.Series([*keys, "SITI AMINAH", None])
    scores = similarity(left, right).to_list()
    assert scores[:4] == [fuzz.token_sort_ratio(k, k) / 100.0 for k in keys] == [1.0] * 4
    assert scores[4] == round(fuzz.token_sort_ratio("SITI", "SITI AMINAH") / 100.0, 4) < 1.0
    assert scores[5] is None
