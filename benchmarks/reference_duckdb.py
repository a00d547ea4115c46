"""Run reference_duckdb.sql: the reconciliation as DuckDB SQL, on the same persons and members partitions."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from string import Template

import polars as pl

from benchmarks.stages import BENCH_PII_KEY

SQL = Path(__file__).with_name("reference_duckdb.sql")

# The built-in closest to rapidfuzz's token_sort_ratio (1 - Indel distance / (len a + len b), on sorted tokens).
# Indel counts a substitution as 2 edits and Levenshtein as 1, so for the substitutions and dropped letters that
# names differ by, 1 - 2 * levenshtein / (len a + len b) is the Indel ratio exactly when the edits are all
# substitutions, and a little lower (stricter) when letters are inserted or dropped.
SIMILARITY = "1 - 2 * levenshtein(a, b) / greatest(length(a) + length(b), 1)"
SIMILARITY_DOC = "1 - 2 * levenshtein / (len a + len b), the Indel ratio when every edit is a substitution"


def _hmac_pads(secret: bytes) -> tuple[str, str]:
    """Hex of key XOR ipad and key XOR opad (RFC 2104), so SQL's sha256 can compute an HMAC-SHA256."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def render(persons: Path, members: Path, output: Path, similarity: str = SIMILARITY) -> str:
    """The SQL with its ${...} values filled in from the project's rules, names module and the benchmark key."""
    from cakupan import names
    from cakupan.settings import load_rules

    rules = load_rules()
    variants = " ".join(f"WHEN '{short}' THEN '{full}'" for short, full in names._TOKEN_VARIANTS.items())
    spellings = list(names._OLD_SPELLING.items())
    ipad, opad = _hmac_pads(BENCH_PII_KEY)
    return Template(SQL.read_text()).substitute(
        persons=persons.as_posix(),
        members=members.as_posix(),
        output=output.as_posix(),
        name_match_min=rules.name_match_min,
        probable_name_min=rules.probable_name_min,
        prefix_titles=names._PREFIX_TITLES,
        suffix_titles=names._SUFFIX_TITLES,
        token_variants=f"CASE t {variants} ELSE t END",
        old_spelling_open="replace(" * len(spellings),
        old_spelling_close="".join(f", '{old}', '{new}')" for old, new in spellings),
        similarity=similarity,
        similarity_doc=SIMILARITY_DOC,
        ipad=ipad,
        opad=opad,
    )


MEMORY_LIMIT = "8GiB"


def run(work: Path, output: Path, similarity: str = SIMILARITY) -> None:
    """Reconcile WORK/persons/ with WORK/members/ (their Parquet partitions) in DuckDB into ``output``."""
    import duckdb

    sql = render(work / "persons" / "*.parquet", work / "members" / "*.parquet", output, similarity)
    with duckdb.connect() as con:
        # The memory cakupan's whole run is held to; beyond it DuckDB spills to disk (by default it takes 80% of RAM).
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{work / 'duckdb_spill'}'")
        con.execute(sql)
    shutil.rmtree(work / "duckdb_spill", ignore_errors=True)


def compare(ours: Path, theirs: Path) -> dict[str, object]:
    """Status counts of both results and how many people the two put in different statuses."""
    a = pl.read_parquet(ours, columns=["nik", "status", "person_key"]).with_columns(pl.col("status").cast(pl.String))
    b = pl.read_parquet(theirs, columns=["nik", "status", "person_key"])
    joined = a.join(b, on="nik", how="full", suffix="_duckdb")
    differ = joined.filter(
        pl.col("status").is_null() | pl.col("status_duckdb").is_null() | (pl.col("status") != pl.col("status_duckdb"))
    )
    transitions = (
        differ.group_by(pl.col("status").fill_null("-"), pl.col("status_duckdb").fill_null("-"))
        .len()
        .sort("len", descending=True)
    )
    return {
        "statuses": dict(sorted(a.group_by("status").len().iter_rows())),
        "statuses_duckdb": dict(sorted(b.group_by("status").len().iter_rows())),
        "persons": a.height,
        "persons_duckdb": b.height,
        "different_status": differ.height,
        "transitions": [f"{x} -> {y}: {n}" for x, y, n in transitions.iter_rows()],
        "person_key_equal": bool(
            joined.filter(pl.col("person_key").is_not_null() & pl.col("person_key_duckdb").is_not_null())
            .select((pl.col("person_key") == pl.col("person_key_duckdb")).all())
            .item()
        ),
    }
