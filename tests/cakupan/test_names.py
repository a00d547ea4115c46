import polars as pl
import pytest

from cakupan.names import name_key, similarity


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("H. Ahmad Yani", "AHMAD YANI"),
        ("Hj. Siti Aminah, S.Pd", "SITI AMINAH"),
        ("Drs. H. Budi Santoso, M.Pd.", "BUDI SANTOSO"),
        ("MUH. RIZKI", "MUHAMMAD RIZKI"),
        ("Moch Rizki", "MUHAMMAD RIZKI"),
        ("Abd Muis", "ABDUL MUIS"),
        ("  rahmat   hidayat ", "RAHMAT HIDAYAT"),
        ("Manta'a", "MANTAA"),
        ("", None),
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
