from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cakupan.reconcile import (
    _NEAR_WINDOWS,
    _PICK_WINDOWS,
    DECISIONS_SCHEMA,
    RESULT_ORDER,
    _block,
    _keep_one_edit_apart,
    _numbered,
    member_states,
    reconcile,
    resolve_member_duplicates,
)
from cakupan.settings import load_rules

RUN = date(2026, 11, 27)
RULES = load_rules()


def members(*rows: dict) -> pl.DataFrame:
    base = {
        "kpj": "10000000001",
        "nama": "AHMAD YANI",
        "tgl_lahir": date(1980, 5, 17),
        "tgl_kepesertaan": date(2025, 3, 1),
        "tgl_berakhir": date(2026, 12, 31),
        "masa_grace": None,
        "status": "AKTIF",
        "pembayar": "PEMKAB KAPUAS",
        "segmen": "SA",
    }
    frame = pl.DataFrame(
        [{**base, **r} for r in rows],
        schema_overrides={c: pl.Date for c in ("tgl_lahir", "tgl_kepesertaan", "tgl_berakhir", "masa_grace")},
    )
    return member_states(frame, RUN, grace_months=3, regency_payer="PEMKAB KAPUAS", regency_segment="SA")


def persons(*rows: dict) -> pl.DataFrame:
    base = {
        "nama": "Ahmad Yani",
        "birth_date": date(1980, 5, 17),
        "sex": "L",
        "kode_desa": "62.03.01.2001",
        "kode_kecamatan": "62.03.01",
        "pekerjaan": "PETANI",
    }
    return pl.DataFrame([{**base, **r} for r in rows])


def status_of(result: pl.DataFrame, nik: str) -> str:
    return str(result.filter(pl.col("nik") == nik)["status"].item())


@pytest.mark.parametrize(
    ("end", "grace", "state"),
    [
        (date(2026, 11, 27), None, "covered"),  # the last day of protection still protects
        (date(2026, 10, 31), None, "grace"),  # ended, but within end + 3 months
        (date(2026, 8, 26), None, "lapsed"),  # 26 Nov is past end + 3 months
        (date(2026, 10, 31), date(2026, 11, 15), "lapsed"),  # the export's own MASA_GRACE wins
    ],
)
def test_member_state_on_the_run_date(end: date, grace: date | None, state: str) -> None:
    frame = members({"nik": "6203011705800003", "tgl_berakhir": end, "masa_grace": grace})
    assert frame["state"].item() == state


def test_member_without_dates_is_covered_when_status_says_aktif() -> None:
    frame = members(
        {"nik": "6203011705800003", "tgl_berakhir": None, "tgl_kepesertaan": None, "status": "AKTIF"},
        {"nik": "6203011705800011", "tgl_berakhir": None, "tgl_kepesertaan": None, "status": "NON AKTIF"},
    )
    assert frame["state"].to_list() == ["covered", "lapsed"]


def test_paid_by_regency_from_payer_or_segment() -> None:
    frame = members(
        {"nik": "1", "pembayar": "Pemkab Kapuas ", "segmen": None},
        {"nik": "2", "pembayar": "PT SAWIT", "segmen": "SA"},
        {"nik": "3", "pembayar": "PEMDES TAMBAN", "segmen": "SD"},
    )
    assert frame["paid_by_regency"].to_list() == [True, True, False]


def test_export_duplicates_resolve_to_what_protects_today() -> None:
    frame = members(
        {"nik": "6203011705800003", "kpj": "10000000001", "tgl_berakhir": date(2024, 1, 31)},  # lapsed
        {"nik": "6203011705800003", "kpj": "10000000002", "tgl_berakhir": date(2026, 12, 31)},  # covered
        {"nik": "6203011705800011", "kpj": "10000000003", "tgl_berakhir": date(2027, 1, 31)},
        {"nik": "6203011705800011", "kpj": "10000000004", "tgl_berakhir": date(2027, 1, 31)},  # tie: higher KPJ
    )
    unique, dropped = resolve_member_duplicates(frame)
    assert dropped == 2
    assert dict(unique.select("nik", "kpj").iter_rows()) == {
        "6203011705800003": "10000000002",
        "6203011705800011": "10000000004",
    }


def test_each_status_from_a_few_rows() -> None:
    listed = persons(
        {"nik": "6203011705800003"},  # covered member, same name with a title -> active
        {"nik": "6203011705800011", "nama": "Siti Aminah"},  # grace
        {"nik": "6203011705800029", "nama": "Budi Santoso"},  # lapsed
        {"nik": "6203011705800037", "nama": "Rina Marlina"},  # member is someone else -> identity_conflict
        {"nik": "6203011705800045", "nama": "Dewi Lestari"},  # nobody -> not_enrolled
    )
    export = members(
        {"nik": "6203011705800003", "nama": "H. AHMAD YANI"},
        {"nik": "6203011705800011", "nama": "SITI AMINAH", "tgl_berakhir": date(2026, 10, 31), "kpj": "2"},
        {"nik": "6203011705800029", "nama": "BUDI SANTOSO", "tgl_berakhir": date(2025, 1, 31), "kpj": "3"},
        {"nik": "6203011705800037", "nama": "JOKO SUSILO", "kpj": "4"},
        {"nik": "6203019999800052", "nama": "ANDI WIJAYA", "kpj": "5"},  # regency pays, nobody proposed
        {"nik": "6203019999800061", "nama": "LAPSED UNLISTED", "kpj": "6", "tgl_berakhir": date(2024, 1, 31)},
    )
    result = reconcile(listed, export, RULES)
    assert {n: status_of(result, n) for n in result["nik"]} == {
        "6203011705800003": "active",
        "6203011705800011": "grace",
        "6203011705800029": "lapsed",
        "6203011705800037": "identity_conflict",
        "6203011705800045": "not_enrolled",
        "6203019999800052": "enrolled_not_submitted",
    }
    active = result.filter(pl.col("nik") == "6203011705800003").row(0, named=True)
    assert (active["match_method"], active["name_similarity"], active["kpj"]) == ("nik_exact", 1.0, "10000000001")


@pytest.mark.parametrize(
    ("member_nik", "expected"),
    [
        ("6203011705800030", "probable_match"),  # last two digits swapped: one adjacent transposition
        ("6203017105800003", "probable_match"),  # swap across the middle (digits 7-8) is still found
        ("6203011705800004", "probable_match"),  # one substituted digit
        ("6203011705800040", "not_enrolled"),  # two substitutions: too far
    ],
)
def test_probable_match_allows_one_typo_only(member_nik: str, expected: str) -> None:
    listed = persons({"nik": "6203011705800003"})
    export = members({"nik": member_nik, "nama": "AHMAD YANI"})
    result = reconcile(listed, export, RULES)
    assert status_of(result, "6203011705800003") == expected
    # A member claimed by a probable match is not also reported as paid for but unproposed.
    if expected == "probable_match":
        assert result.height == 1
        assert result["match_method"].item() == "nik_near"


def test_common_birth_date_and_similar_name_with_a_distant_nik_is_not_a_match() -> None:
    # 1 July is the default birth date Dukcapil gave people who did not know theirs.
    listed = persons({"nik": "6203014107800003", "nama": "Siti Rahmah", "birth_date": date(1980, 7, 1), "sex": "P"})
    export = members({"nik": "6203084107800915", "nama": "SITI RAHMAH", "tgl_lahir": date(1980, 7, 1)})
    result = reconcile(listed, export, RULES)
    assert status_of(result, "6203014107800003") == "not_enrolled"


def test_probable_match_needs_the_same_birth_date() -> None:
    listed = persons({"nik": "6203011705800003"})
    export = members({"nik": "6203011705800030", "tgl_lahir": date(1980, 5, 18)})
    assert status_of(reconcile(listed, export, RULES), "6203011705800003") == "not_enrolled"


def test_twice_transposed_nik_is_not_a_probable_match() -> None:
    # 6203011705800003 with digits 13-14 and 15-16 swapped: two typos, too far to call it the same person.
    listed = persons({"nik": "6203011705800003"})
    export = members({"nik": "6203011705803000"})
    assert status_of(reconcile(listed, export, RULES), "6203011705800003") == "not_enrolled"


def test_the_submitted_name_is_never_changed() -> None:
    listed = persons({"nik": "6203011705800003", "nama": "H.Moch. Ahmad Yani, S.Pd."})
    export = members({"nik": "6203011705800003", "nama": "MUHAMMAD AHMAD YANI"})
    row = reconcile(listed, export, RULES).row(0, named=True)
    # The key drops the title and expands MOCH., so the names agree; the name itself stays as the village wrote it.
    assert (row["status"], row["name_similarity"]) == ("active", 1.0)
    assert (row["nama"], row["member_nama"]) == ("H.Moch. Ahmad Yani, S.Pd.", "MUHAMMAD AHMAD YANI")


def test_lazy_frames_give_the_same_result() -> None:
    listed = persons({"nik": "6203011705800003"}, {"nik": "6203011705800045", "nama": "Dewi Lestari"})
    export = members({"nik": "6203011705800003"}, {"nik": "6203011705800054", "nama": "DEWI LESTARI", "kpj": "2"})
    eager = reconcile(listed, export, RULES)
    assert reconcile(listed.lazy(), export.lazy(), RULES).equals(eager)
    assert set(eager["status"].cast(pl.String)) == {"active", "probable_match"}


def test_frames_in_nik_order_are_merged_and_give_what_frames_out_of_order_give() -> None:
    listed = persons(
        {"nik": "6203011705800003"},
        {"nik": "6203011705800011", "nama": "Siti Aminah"},
        {"nik": "6203011705800045", "nama": "Dewi Lestari"},
    )
    export = members(
        {"nik": "6203011705800003"},
        {"nik": "6203011705800011", "nama": "SITI AMINAH", "kpj": "2"},
        {"nik": "6203011705800054", "nama": "DEWI LESTARI", "kpj": "3"},
    )
    # Told sorted only when it is: a wrong flag would make polars' merge join miss matches.
    assert _numbered(listed, "nik")["_nik_number"].flags["SORTED_ASC"]
    assert not _numbered(listed.reverse(), "nik")["_nik_number"].flags["SORTED_ASC"]
    in_order = reconcile(listed, export, RULES)
    assert in_order.equals(reconcile(listed.reverse(), export.reverse(), RULES))
    assert list(in_order["status"].cast(pl.String)) == ["active", "active", "probable_match"]


# Review decisions: a reviewer's verdict on a pair (listed nik, member kpj) from the review queue.
CONFLICT_NIK = "6203011705800037"
NEAR_NIK = "6203011705800003"


def decisions(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"nik": n, "kpj": k, "decision": d, "decided_by": "Rina (Dinsos)", "decided_at": datetime(2026, 11, 20)}
            for n, k, d in rows
        ],
        schema=DECISIONS_SCHEMA,
    )


def conflict_case() -> tuple[pl.DataFrame, pl.DataFrame]:
    listed = persons({"nik": CONFLICT_NIK, "nama": "Rina Marlina"})
    export = members({"nik": CONFLICT_NIK, "nama": "RINA MARLINA BR SIANTURI", "kpj": "10000000004"})
    return listed, export


def test_identity_conflict_goes_to_review_without_a_decision() -> None:
    listed, export = conflict_case()
    row = reconcile(listed, export, RULES).row(0, named=True)
    assert row["status"] == "identity_conflict"
    assert row["name_similarity"] < RULES.name_match_min
    assert row["decision"] is None


def test_identity_conflict_confirmed_takes_the_members_state() -> None:
    listed, export = conflict_case()
    row = reconcile(listed, export, RULES, decisions((CONFLICT_NIK, "10000000004", "same_person"))).row(0, named=True)
    # The member is covered on the run date; the match is still by NIK, and says it was decided.
    assert (row["status"], row["match_method"], row["kpj"]) == ("active", "nik_exact", "10000000004")
    assert (row["decision"], row["decision_kpj"], row["decided_by"]) == ("same_person", "10000000004", "Rina (Dinsos)")


def test_identity_conflict_rejected_is_not_enrolled_and_the_member_stays_claimed() -> None:
    listed, export = conflict_case()
    result = reconcile(listed, export, RULES, decisions((CONFLICT_NIK, "10000000004", "different_person")))
    # One NIK is one person_key: the member with the listed NIK is not reported again as enrolled_not_submitted,
    # although the regency pays for it.
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["status"], row["match_method"], row["kpj"], row["name_similarity"]) == (
        "not_enrolled",
        "none",
        None,
        None,
    )
    assert (row["decision"], row["decision_kpj"]) == ("different_person", "10000000004")


def test_a_decision_about_another_kpj_changes_nothing() -> None:
    # The export now resolves this NIK to another KPJ than the one the reviewer saw: the verdict is stale.
    listed, export = conflict_case()
    result = reconcile(listed, export, RULES, decisions((CONFLICT_NIK, "10000000099", "same_person")))
    assert result.drop("decision", "decision_kpj", "decided_by", "decided_at").equals(
        reconcile(listed, export, RULES).drop("decision", "decision_kpj", "decided_by", "decided_at")
    )
    assert result["decision"].item() is None


def near_case(**member: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    listed = persons({"nik": NEAR_NIK})
    # Last two digits swapped; regency-paid and covered unless overridden.
    export = members({"nik": "6203011705800030", "kpj": "10000000007", **member})
    return listed, export


def test_probable_match_confirmed_takes_the_members_state() -> None:
    listed, export = near_case(tgl_berakhir=date(2026, 10, 31))  # in grace on the run date
    result = reconcile(listed, export, RULES, decisions((NEAR_NIK, "10000000007", "same_person")))
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["status"], row["match_method"], row["member_nik"]) == ("grace", "nik_near", "6203011705800030")
    assert row["decision"] == "same_person"


def test_probable_match_rejected_frees_the_member_again() -> None:
    listed, export = near_case()
    result = reconcile(listed, export, RULES, decisions((NEAR_NIK, "10000000007", "different_person")))
    # The person still has to be registered; the member the regency pays for is proposed by nobody after all.
    assert {n: status_of(result, n) for n in result["nik"]} == {
        NEAR_NIK: "not_enrolled",
        "6203011705800030": "enrolled_not_submitted",
    }
    person = result.filter(pl.col("nik") == NEAR_NIK).row(0, named=True)
    assert (person["match_method"], person["kpj"]) == ("none", None)
    assert (person["decision"], person["decision_kpj"]) == ("different_person", "10000000007")


def test_rejected_near_member_that_nobody_pays_for_is_not_reported() -> None:
    listed, export = near_case(pembayar="MANDIRI", segmen="BPU")
    result = reconcile(listed, export, RULES, decisions((NEAR_NIK, "10000000007", "different_person")))
    assert result["nik"].to_list() == [NEAR_NIK]


def test_confirmed_near_pair_holds_even_when_the_rules_would_not_find_it() -> None:
    # Two listed people are one typo from the same member, so the rules see no unique pair; a reviewer settled it.
    listed = persons({"nik": NEAR_NIK}, {"nik": "6203011705800012"})
    export = members({"nik": "6203011705800002", "kpj": "10000000007"})
    ambiguous = reconcile(listed, export, RULES)
    assert {n: status_of(ambiguous, n) for n in ambiguous["nik"]} == {
        NEAR_NIK: "not_enrolled",
        "6203011705800012": "not_enrolled",
        "6203011705800002": "enrolled_not_submitted",
    }
    result = reconcile(listed, export, RULES, decisions((NEAR_NIK, "10000000007", "same_person")))
    assert {n: status_of(result, n) for n in result["nik"]} == {NEAR_NIK: "active", "6203011705800012": "not_enrolled"}


def test_rejecting_one_candidate_leaves_the_other_as_probable_match() -> None:
    listed = persons({"nik": NEAR_NIK})
    export = members(
        {"nik": "6203011705800030", "kpj": "10000000007"},  # swap of the last two digits
        {"nik": "6203011705800004", "kpj": "10000000008"},  # last digit substituted
    )
    assert status_of(reconcile(listed, export, RULES), NEAR_NIK) == "not_enrolled"  # ambiguous
    result = reconcile(listed, export, RULES, decisions((NEAR_NIK, "10000000007", "different_person")))
    row = result.filter(pl.col("nik") == NEAR_NIK).row(0, named=True)
    assert (row["status"], row["kpj"], row["decision"]) == ("probable_match", "10000000008", None)


def test_the_later_of_two_decisions_on_a_pair_holds() -> None:
    listed, export = conflict_case()
    both = pl.concat(
        [
            decisions((CONFLICT_NIK, "10000000004", "same_person")),
            decisions((CONFLICT_NIK, "10000000004", "different_person")).with_columns(
                pl.lit(datetime(2026, 11, 25)).alias("decided_at")
            ),
        ]
    )
    assert status_of(reconcile(listed, export, RULES, both), CONFLICT_NIK) == "not_enrolled"


def _one_edit_apart(left: str, right: str) -> bool:
    """The definition, digit by digit: one substitution, or one swap of two adjacent digits."""
    differ = [i for i in range(16) if left[i] != right[i]]
    if len(differ) == 1:
        return True
    i = differ[0] if len(differ) == 2 else -1
    return differ == [i, i + 1] and left[i] == right[i + 1] and left[i + 1] == right[i]


nik_strategy = st.text(alphabet="0123456789", min_size=16, max_size=16)


@st.composite
def nik_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """A NIK and another one to three edits (substitutions or adjacent swaps) away, or unrelated."""
    left = draw(nik_strategy)
    right = list(left)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, 14))
        if draw(st.booleans()):
            right[i], right[i + 1] = right[i + 1], right[i]
        else:
            right[i] = draw(st.sampled_from("0123456789"))
    return left, "".join(right) if draw(st.integers(0, 9)) else draw(nik_strategy)


@given(st.lists(nik_pairs(), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_keep_one_edit_apart_is_the_digit_by_digit_definition(pairs: list[tuple[str, str]]) -> None:
    frame = pl.LazyFrame(pairs, schema=["a", "b"], orient="row").with_row_index()
    found = set(_keep_one_edit_apart(frame, "a", "b").collect()["index"])
    assert found == {i for i, (a, b) in enumerate(pairs) if _one_edit_apart(a, b)}


@st.composite
def one_edit(draw: st.DrawFn) -> tuple[str, str]:
    """A NIK and another one edit away: one digit anywhere changed, or two neighbours anywhere swapped."""
    left = draw(nik_strategy)
    right = list(left)
    if draw(st.booleans()):
        i = draw(st.integers(0, 14))
        right[i], right[i + 1] = right[i + 1], right[i]
    else:
        right[draw(st.integers(0, 15))] = draw(st.sampled_from("0123456789"))
    return left, "".join(right)


@given(st.lists(one_edit(), min_size=1, max_size=50), st.dates(date(1900, 1, 1), date(2030, 12, 31)))
@settings(max_examples=200, deadline=None)
def test_nik_one_edit_apart_share_a_near_block_and_a_pick_block(pairs: list[tuple[str, str]], born: date) -> None:
    frame = pl.DataFrame(pairs, schema=["a", "b"], orient="row", schema_overrides={"a": pl.String, "b": pl.String})

    def shared(windows: tuple[tuple[int, int], ...]) -> list[bool]:
        same = [_block(pl.lit(born), pl.col("a"), w) == _block(pl.lit(born), pl.col("b"), w) for w in windows]
        return frame.select(pl.any_horizontal(same)).to_series().to_list()

    assert all(shared(_NEAR_WINDOWS))
    # The members the near pass may use are picked on the wider blocks: they must hold every near pair.
    assert all(shared(_PICK_WINDOWS))


def test_a_block_keeps_the_digits_outside_its_window_with_the_birth_date() -> None:
    nik = pl.lit("6203011705800037")
    blocks = pl.select([_block(pl.lit(date(1970, 1, 2)), nik, w).alias(str(w)) for w in ((0, 9), (7, 6), (14, 2))]).row(
        0
    )
    assert blocks == (1 * 10**7 + 5800037, 1 * 10**10 + 6203011 * 1000 + 37, 1 * 10**14 + 62030117058000)


def test_result_order_is_status_then_nik_text() -> None:
    statuses = ["active", "grace", "not_enrolled"]
    frame = pl.DataFrame(
        {
            "status": pl.Series(
                ["grace", "active", "active", "grace", "not_enrolled", "active", None], dtype=pl.Enum(statuses)
            ),
            "nik": [
                "6203011705800003",
                "9903011705800003",
                "0003011705800003",
                "6203011705800002",
                None,
                "1103011705800003",
                "6203011705800001",
            ],
        }
    ).sample(fraction=1.0, shuffle=True, seed=1)
    assert frame.sort(RESULT_ORDER).equals(frame.sort("status", "nik"))


def test_a_birth_date_before_1970_still_finds_a_near_match() -> None:
    listed = persons({"nik": "6203011705580003", "birth_date": date(1958, 5, 17)})
    export = members({"nik": "6203011705580030", "tgl_lahir": date(1958, 5, 17)})  # last two digits swapped
    result = reconcile(listed, resolve_member_duplicates(export)[0], RULES)
    assert result["status"].to_list() == ["probable_match"]
