import polars as pl
import pytest
from rapidfuzz import fuzz

from cakupan.names import name_key, similarity, similarity_of


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


def test_similarity_of_is_the_same_inside_a_lazy_plan() -> None:
    frame = pl.LazyFrame({"a": ["AHMAD YANI", None, "SITI"], "b": ["YANI AHMAD", "X", "SITI AMINAH"]})
    got = frame.select(similarity_of("a", "b").alias("s")).collect()["s"]
    expected = similarity(pl.Series(["AHMAD YANI", None, "SITI"]), pl.Series(["YANI AHMAD", "X", "SITI AMINAH"]))
    assert got.to_list() == expected.to_list()


def test_equal_keys_score_one_as_rapidfuzz_scores_them() -> None:
    keys = ["SITI AMINAH", "", " ", "AHMAD  YANI"]
    left = pl.Series([*keys, "SITI", None])
    right = pl.Series([*keys, "SITI AMINAH", None])
    scores = similarity(left, right).to_list()
    assert scores[:4] == [fuzz.token_sort_ratio(k, k) / 100.0 for k in keys] == [1.0] * 4
    assert scores[4] == round(fuzz.token_sort_ratio("SITI", "SITI AMINAH") / 100.0, 4) < 1.0
    assert scores[5] is None
