"""The validation references: a suite's expectations as plain polars expressions, and frames that all pass or all
fail it.

Each expectation type of expectations/suites/*.json is translated generically (column, value set, regex, bounds
with $PARAMETER values, pair columns), so the polars version reads the very suite Great Expectations reads and
returns the same failures frame (row_id, reason, level, pesan, perbaikan). Missing values are skipped as GX skips
them, except by not_null.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from expectations.gx import FAILURES_SCHEMA, suite_columns, suite_definition

SUPPORTED = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_to_be_equal",
)


def _value(value: Any, parameters: dict[str, Any]) -> Any:
    return parameters[value["$PARAMETER"]] if isinstance(value, dict) and "$PARAMETER" in value else value


def failing(expectation: dict[str, Any], parameters: dict[str, Any]) -> pl.Expr:
    """True on the rows that fail one expectation."""
    kind, kwargs = expectation["type"], expectation["kwargs"]
    if kind == "expect_column_pair_values_to_be_equal":
        a, b = pl.col(kwargs["column_A"]), pl.col(kwargs["column_B"])
        if kwargs.get("ignore_row_if", "both_values_are_missing") == "either_value_is_missing":
            return a.is_not_null() & b.is_not_null() & (a != b)
        return ~(a.is_null() & b.is_null()) & a.ne_missing(b)
    column = pl.col(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return column.is_null()
    if kind == "expect_column_values_to_be_in_set":
        return column.is_not_null() & ~column.is_in(kwargs["value_set"])
    if kind == "expect_column_values_to_match_regex":
        return column.is_not_null() & ~column.str.contains(kwargs["regex"])
    if kind == "expect_column_values_to_be_between":
        low, high = _value(kwargs.get("min_value"), parameters), _value(kwargs.get("max_value"), parameters)
        inside = pl.lit(True)
        if low is not None:
            inside &= column > low if kwargs.get("strict_min") else column >= low
        if high is not None:
            inside &= column < high if kwargs.get("strict_max") else column <= high
        return column.is_not_null() & ~inside
    raise ValueError(f"no polars translation of {kind}")


def validate_with_polars(suite: str, frame: pl.DataFrame, parameters: dict[str, Any] | None = None) -> pl.DataFrame:
    """The failures frame of expectations.gx.validate (row_id = row position), computed by polars alone.

    Rows are deduplicated and sorted on small integer codes of the expectations' messages, and the texts joined
    on last: a frame where every row fails holds one row per (row, expectation), millions at M.
    """
    expectations = suite_definition(suite)["expectations"]
    messages = (
        pl.DataFrame(
            {
                "_rule": list(range(len(expectations))),
                "reason": [e["meta"]["reason"] for e in expectations],
                "level": [e["meta"].get("level", "E") for e in expectations],
                "pesan": [e["meta"].get("pesan") for e in expectations],
                "perbaikan": [e["meta"].get("perbaikan") for e in expectations],
            },
            schema_overrides={"pesan": pl.String, "perbaikan": pl.String},
        )
        # Expectations with the same message are one failure, ordered as GX's failures are: reason, pesan.
        .with_columns(pl.struct("reason", "level", "pesan", "perbaikan").rank("dense").alias("_message"))
        .sort("reason", "pesan", nulls_last=False)
        .with_columns(pl.int_range(pl.len()).alias("_order"))
    )
    rule_message = dict(zip(messages["_rule"], messages["_message"], strict=True))
    texts = messages.unique("_message", keep="first").select(
        "_message", "_order", *(pl.col(c).cast(FAILURES_SCHEMA[c]) for c in FAILURES_SCHEMA.keys() - {"row_id"})
    )
    parts = [
        frame.lazy()
        .select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_id"), failing(e, parameters or {}).alias("_failed"))
        .filter(pl.col("_failed"))
        .select("row_id", pl.lit(rule_message[i], pl.UInt32).alias("_message"))
        for i, e in enumerate(expectations)
    ]
    return (
        pl.concat(parts)
        .unique()
        .join(texts.lazy().with_columns(pl.col("_message").cast(pl.UInt32)), on="_message")
        .sort("row_id", "_order")
        .select(list(FAILURES_SCHEMA))
        .collect()
    )


def all_pass(frame: pl.DataFrame, suite: str, parameters: dict[str, Any]) -> pl.DataFrame:
    """A frame as tall as ``frame`` of its rows that fail nothing (drawn with replacement, deterministically)."""
    failures = validate_with_polars(suite, frame, parameters)
    good = frame.with_row_index("_row").join(
        failures.select(pl.col("row_id").cast(pl.UInt32).alias("_row")).unique(), on="_row", how="anti"
    )
    return good.drop("_row").sample(n=frame.height, with_replacement=True, seed=0)


def all_fail(frame: pl.DataFrame, suite: str) -> pl.DataFrame:
    """A frame as tall as ``frame`` in which every row fails every expectation of the submission suite."""
    if suite != "submission_rows":
        raise ValueError("all_fail knows the submission_rows suite only")
    n = frame.height
    values: dict[str, Any] = {
        "nik": None,
        "nik_from_number": True,
        "nik_checked": "62030X",
        "nik_province": "00",
        "nik_date_valid": False,
        "names_per_nik": 3,
        "nama": None,
        "birth_date": None,
        "age_days": -5,
        "age_years": 99,
        "sex_stated": "?",
        "sex_valid": "P",
        "sex_source": "nik",
        "nik_sex": "L",
        "nik_dmy": "010180",
        "stated_dmy": "020280",
        "kode_desa": None,
    }
    columns = suite_columns(suite)
    schema = frame.select(columns).schema
    return pl.select(pl.repeat(values[c], n, dtype=schema[c]).alias(c) for c in columns)
