import hashlib
import hmac

import polars as pl

from cakupan.pii import person_key, person_key_of

NIKS = ["6203011705800003", "6203015203900001", None, "3171234567890123"]


def test_person_key_is_the_rfc_2104_hmac_sha256_of_the_nik_and_null_stays_null() -> None:
    keys = person_key(pl.Series("nik", NIKS), b"kunci-rahasia-dinsos")
    expected = [
        None if n is None else hmac.new(b"kunci-rahasia-dinsos", n.encode(), hashlib.sha256).hexdigest() for n in NIKS
    ]
    assert keys.to_list() == expected
    assert keys.name == "nik"


def test_another_key_gives_unrelated_pseudonyms_and_a_lazy_column_the_same_ones() -> None:
    frame = pl.DataFrame({"nik": NIKS})
    one = frame.lazy().select(person_key_of(pl.col("nik"), b"kunci-a")).collect()["nik"]
    other = person_key(frame["nik"], b"kunci-b")
    assert one.to_list() == person_key(frame["nik"], b"kunci-a").to_list()
    assert all(a != b for a, b in zip(one, other, strict=True) if a is not None)
