"""The one module that talks to Great Expectations.

Suites are reviewed JSON files in ``expectations/suites/``; every expectation carries its reason code and level in
``meta``. A run loads them into an ephemeral context and gets back, per expectation, the positions of the rows that
failed it: the row-level reasons come from GX's results, not from a second copy of the rules.

GX is not thread-safe (a datasource keeps one "active batch", so two threads validate each other's frames), so
every call goes through one lock. Importing GX costs seconds, so it happens on first use, not at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import polars as pl

from expectations.patterns import digit_shape, treats_digits_alike

SUITES_DIR = Path(__file__).parent / "suites"
Detail = Literal["all", "failed"]
_GX_LOCK = threading.Lock()

# Positions only: without index columns GX reports failing rows as RangeIndex positions, which stays fast when
# every row fails (with index columns and unexpected values it takes tens of seconds on large failing files).
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "return_unexpected_index_query": False,
    "exclude_unexpected_values": True,
}
# Row-level detail kept out of the Data Docs: positions of failing rows (and, in other formats, their values,
# which would be NIKs and names). The docs show counts and shares per expectation.
_ROW_DETAIL_KEYS = (
    "unexpected_index_list",
    "partial_unexpected_index_list",
    "unexpected_list",
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "unexpected_index_query",
    "unexpected_rows",
    "partial_unexpected_rows",
)
DOCS_SITE = "cakupan"
# Validation results kept inside the docs folder (counts only) so the next run can rebuild the index with them.
DOCS_RESULTS_DIR = "validation_results"
DOCS_KEEP_RUNS = 90


@dataclass(frozen=True)
class ExpectationOutcome:
    """What one expectation found in one validation."""

    reason: str
    level: str
    expectation: str
    column: str
    success: bool
    unexpected_count: int
    element_count: int


@dataclass(frozen=True)
class SuiteResult:
    """A suite's verdict on a frame.

    failures: one row per (failing row, expectation): row_id (the row's position in the frame validated), reason,
        level, and the expectation's Bahasa Indonesia message (pesan) and fix (perbaikan) from the suite's meta;
        the four texts are Categorical (``FAILURES_SCHEMA``): cast them to String before joining them with text.
    validation: GX's ExpectationSuiteValidationResult without row-level detail, for the Data Docs.
    """

    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]
    failures: pl.DataFrame
    validated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    validation: Any = field(default=None, repr=False, compare=False)

    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


# The texts are categorical: a file whose every row fails 13 rules has 13 failures per row, each with the same four
# texts, and as strings their views alone took 800 MB per million rows to write out.
FAILURES_SCHEMA: dict[str, pl.DataType] = {
    "row_id": pl.Int64(),
    "reason": pl.Categorical(),
    "level": pl.Categorical(),
    "pesan": pl.Categorical(),
    "perbaikan": pl.Categorical(),
}


def suite_definition(name: str) -> dict[str, Any]:
    """The suite as committed: name, meta (with its version), notes and expectations."""
    data: dict[str, Any] = json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def suite_names() -> list[str]:
    """Every committed suite."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.json"))


def suite_columns(name: str) -> list[str]:
    """The columns a suite reads, in first-use order."""
    columns: list[str] = []
    for expectation in suite_definition(name)["expectations"]:
        kwargs = expectation["kwargs"]
        for column in (
            kwargs.get("column"),
            kwargs.get("column_A"),
            kwargs.get("column_B"),
            *kwargs.get("column_list", []),
        ):
            if column and column not in columns:
                columns.append(column)
    return columns


def _quiet(context: Any) -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _suite(name: str) -> Any:
    """The committed suite as a GX ExpectationSuite; an expectation GX does not accept is an error, not a skip.

    (GX logs and drops an invalid expectation while building a suite: a typo would silently remove a rule.)
    """
    from great_expectations.core.expectation_suite import ExpectationSuite

    _context()  # GX builds suites only once a context exists
    definition = suite_definition(name)
    suite = ExpectationSuite(
        name=name,
        expectations=definition["expectations"],
        meta=definition.get("meta", {}),
        notes=definition.get("notes"),
    )
    if len(suite.expectations) != len(definition["expectations"]):
        raise ValueError(f"suite {name}: GX accepted {len(suite.expectations)} of {len(definition['expectations'])}")
    return suite


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch (twice per validation) with pandas' row hashing: 80% of validating a
    # million NIKs. The same kind of fingerprint from polars' multi-threaded row hash costs a few milliseconds.
    if getattr(pandas_execution_engine, "hash_pandas_dataframe", None) is not None:
        pandas_execution_engine.hash_pandas_dataframe = _fingerprint(pandas_execution_engine.hash_pandas_dataframe)
    _keep_configurations()
    return _quiet(gx.get_context(mode="ephemeral"))


# While GX validates under _kept_configurations: each expectation's configuration, by the expectation's id (the
# expectation itself is kept with it, so that an id is never reused by another expectation meanwhile).
_KEPT: dict[int, tuple[Any, Any]] | None = None


def _keep_configurations() -> None:
    """Make an expectation build its configuration once per validation instead of once per read.

    GX 1.24 rebuilds an expectation's ExpectationConfiguration (a pydantic ``dict()`` of every field, value sets
    included) each time it reads one of its keyword arguments: about 130 times per expectation while building the
    metric graph of one validation, a third of the time GX takes on a suite whose data is small. Within
    ``_kept_configurations`` the first one built is reused; GX reads these configurations and copies them where it
    changes them (its suite parameters are filled in on a copy before validation). Outside it, GX's own property
    is called.
    """
    from great_expectations.expectations.expectation import Expectation

    own: Callable[[Any], Any] = vars(Expectation)["configuration"].fget
    if getattr(own, "_kept", False):
        return

    def configuration(self: Any) -> Any:
        kept = _KEPT
        if kept is None:
            return own(self)
        found = kept.get(id(self))
        if found is None or found[0] is not self:
            found = kept[id(self)] = (self, own(self))
        return found[1]

    configuration._kept = True  # type: ignore[attr-defined]
    Expectation.configuration = property(configuration)  # type: ignore[method-assign,assignment]


@contextmanager
def _kept_configurations() -> Iterator[None]:
    """Within it, an expectation's configuration is built once (``_keep_configurations``); callers hold the lock."""
    global _KEPT
    _KEPT = {}
    try:
        yield
    finally:
        _KEPT = None


def _fingerprint(gx_own: Callable[[Any], str]) -> Callable[[Any], str]:
    """A pandas frame's content fingerprint for GX's batch markers: MD5 of polars' row hashes and column names;
    GX's own where polars cannot read the frame. GX takes the fingerprint of one frame twice per validation: the
    second time is the first's."""
    last: list[tuple[weakref.ref[Any], str]] = []

    def fingerprint(pdf: Any) -> str:
        if last and last[0][0]() is pdf:
            return last[0][1]
        try:
            hashes = pl.from_pandas(pdf, include_index=False).hash_rows(seed=0).to_numpy()
        except Exception:  # an object column polars cannot type: leave it to GX
            return gx_own(pdf)
        digest = hashlib.md5("\x1f".join(map(str, pdf.columns)).encode(), usedforsecurity=False)
        digest.update(hashes.tobytes())
        last[:] = [(weakref.ref(pdf), digest.hexdigest())]
        return last[0][1]

    return fingerprint


@cache
def _validation(name: str) -> tuple[Any, Any]:
    """(suite, batch definition of an in-memory dataframe asset) for one suite, registered once per process."""
    context = _context()
    suite = context.suites.add(_suite(name))
    batch = (
        context.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(f"{name}_frame")
        .add_batch_definition_whole_dataframe("whole")
    )
    return suite, batch


@cache
def _part_of(name: str, only: tuple[int, ...]) -> Any:
    """The expectations at positions ``only`` of a suite, as a suite of their own (built once per process)."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    expectations = suite_definition(name)["expectations"]
    return ExpectationSuite(name=name, expectations=[expectations[i] for i in only])


def warm_up() -> None:
    """Import GX and register every suite now rather than in the first task that validates.

    ``cakupan run`` calls this while its temporary Prefect API starts, which it waits for anyway.
    """
    with _GX_LOCK:
        for name in suite_names():
            _validation(name)


# Expectation types whose verdict on a row reads that row's own values only: GX can judge each distinct value once.
PER_ROW_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_be_between",
        "expect_column_pair_values_to_be_equal",
    }
)
_ROW = "__row"


# Expectation types whose verdict on a value reads only whether it is missing: GX judges one missing and one present
# value for all of a column's rows (a million NIKs are two values to GX, not a million).
NULLNESS_TYPES = frozenset({"expect_column_values_to_not_be_null"})
# Expectation types whose verdict on a pair reads only which of its values are missing and whether the two are
# equal: GX judges one pair of each kind (a million birth dates against their NIKs' are at most five pairs).
EQUALITY_TYPES = frozenset({"expect_column_pair_values_to_be_equal"})
# Expectation types that, with a regex that cannot tell one digit from another (``treats_digits_alike``), read only
# a text's shape: GX judges one text of each ``digit_shape`` (a million NIKs under their format rule are a few).
REGEX_TYPES = frozenset({"expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"})
# Pairs of column types whose values polars and pandas find equal alike: text with text, booleans with booleans. A
# float NaN is not equal to itself in pandas; whole numbers with a missing value become floats in pandas, which
# cannot tell apart two 16-digit numbers; text and numbers do not compare in polars.
_TEXT_DTYPES = (pl.String, pl.Categorical, pl.Enum)

Judged = Literal["values", "nullness", "equality", "digit_shape"]


@dataclass(frozen=True)
class _Group:
    """Expectations that read the same columns, and what their verdict on a row reads of them (``judged``): the
    values, or only of what kind they are (see ``NULLNESS_TYPES``, ``EQUALITY_TYPES``, ``REGEX_TYPES``)."""

    columns: tuple[str, ...]
    indices: tuple[int, ...]
    judged: Judged = "values"

    def by_kind(self, frame: pl.DataFrame) -> bool:
        """Whether GX judges one value (or pair) of each kind of this group's values in ``frame``."""
        dtypes = [frame.schema[c] for c in self.columns]
        if self.judged == "equality":
            return all(isinstance(d, _TEXT_DTYPES) for d in dtypes) or all(d == pl.Boolean for d in dtypes)
        if self.judged == "digit_shape":
            return dtypes == [pl.String()]
        return self.judged == "nullness"

    def kinds(self, schema: pl.Schema) -> list[pl.Expr]:
        """The kind of each row's values (``by_kind`` groups), as columns: rows of one kind get one verdict."""
        columns = [(pl.col(c), schema[c]) for c in self.columns]
        if self.judged == "nullness":
            return [_absent(*columns[0]).alias("kind")]
        if self.judged == "equality":
            return [_pair_kind(*columns[0], *columns[1]).alias("kind")]
        return digit_shape(columns[0][0])


def _judged(expectations: list[dict[str, Any]]) -> Judged:
    types = {e["type"] for e in expectations}
    if types <= NULLNESS_TYPES:
        return "nullness"
    if types <= EQUALITY_TYPES:
        return "equality"
    regexes = [e["kwargs"].get("regex") for e in expectations if e["type"] in REGEX_TYPES]
    if types <= REGEX_TYPES | NULLNESS_TYPES and all(isinstance(r, str) and treats_digits_alike(r) for r in regexes):
        return "digit_shape"
    return "values"


@cache
def _value_groups(name: str) -> tuple[_Group, ...] | None:
    """The suite's expectations grouped by the columns they read, in suite order; None when one of them judges a
    row by more than that row's values (a uniqueness rule, a row condition)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    expectations = suite_definition(name)["expectations"]
    for index, expectation in enumerate(expectations):
        kwargs = expectation["kwargs"]
        if expectation["type"] not in PER_ROW_TYPES or kwargs.get("row_condition"):
            return None
        columns = (kwargs["column"],) if "column" in kwargs else (kwargs["column_A"], kwargs["column_B"])
        groups.setdefault(columns, []).append(index)
    return tuple(
        _Group(columns, tuple(indices), _judged([expectations[i] for i in indices]))
        for columns, indices in groups.items()
    )


def _rows_holding(frame: pl.DataFrame, values: pl.DataFrame) -> pl.Series:
    """Positions in ``frame`` of the rows holding one of the rows of ``values`` in its columns (null matches null),
    in ascending order."""
    if values.is_empty():
        return pl.Series(_ROW, [], pl.Int64)
    held = (
        frame[values.columns[0]].is_in(values.to_series().implode(), nulls_equal=True)
        if values.width == 1
        else frame.select(
            pl.struct(values.columns).is_in(
                values.select(pl.struct(values.columns)).to_series().implode(), nulls_equal=True
            )
        ).to_series()
    )
    return _positions(held)


def _positions(held: pl.Series) -> pl.Series:
    """The positions where ``held`` is true, flagged as sorted (they are), so that sorting them costs nothing."""
    return held.arg_true().cast(pl.Int64).alias(_ROW).set_sorted()


@lru_cache(maxsize=1)
def _every_row(height: int) -> pl.Series:
    """0 .. height-1: the positions of a frame's rows. One Series for all the expectations that every row of a
    frame fails (its readers only read it): a million rows failing thirteen rules were 100 MB of fresh memory,
    and faulting it in took as long as GX did."""
    return pl.int_range(height, dtype=pl.Int64, eager=True).alias(_ROW).set_sorted()


def _absent(values: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Whether each value is missing as GX on pandas sees it: null, or a float NaN (pandas reads it as missing)."""
    return values.is_null() | values.is_nan() if dtype.is_float() else values.is_null()


def _absent_in(frame: pl.DataFrame, column: str) -> pl.Series:
    return frame.select(_absent(pl.col(column), frame.schema[column])).to_series()


def _missing(frame: pl.DataFrame, kwargs: dict[str, Any]) -> int:
    """Rows GX leaves out of an expectation's share (its ``missing_count``): null values, or pairs it ignores."""
    if "column" in kwargs:
        return int(_absent_in(frame, kwargs["column"]).sum())
    a, b = _absent_in(frame, kwargs["column_A"]), _absent_in(frame, kwargs["column_B"])
    ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
    if ignore == "neither":
        return 0
    return int((a | b).sum() if ignore == "either_value_is_missing" else (a & b).sum())


def _succeeds(element: int, missing: int, unexpected: int, mostly: float) -> bool:
    """GX's verdict on a map expectation from its counts (``_mostly_success``; nothing considered passes)."""
    considered = element - missing
    if element == 0 or considered == 0:
        return True
    return (considered - unexpected) / considered >= mostly


def recount(result: Any, element: int, missing: int, unexpected: int) -> None:
    """Give a map expectation's GX result other row counts: its shares and verdict as GX computes them."""
    details = dict(result.result or {})
    considered = element - missing
    total = unexpected / element * 100 if element else None
    share = (unexpected / considered * 100 if considered else None) if "missing_count" in details else total
    details.update(element_count=element, unexpected_count=unexpected, unexpected_percent=share if element else None)
    if "missing_count" in details:
        details.update(
            missing_count=missing,
            missing_percent=missing / element * 100 if element else None,
            unexpected_percent_total=total,
            unexpected_percent_nonmissing=share if element else None,
        )
    result.result = details
    result.success = _succeeds(element, missing, unexpected, float(result.expectation_config.kwargs.get("mostly") or 1))


def _judge_values(name: str, frame: pl.DataFrame, parameters: dict[str, Any]) -> Any:
    """The suite's GX result on ``frame``, GX judging each distinct value of each expectation's columns once.

    Every expectation here reads its row's own values, so a value fails in every row that holds it. GX sees the
    distinct values; the counts and shares are then those of the rows (``recount``), and
    ``unexpected_index_list`` holds the positions in ``frame`` of the rows whose values failed. Lists repeat
    most values (village codes, sexes, birth dates), and GX on pandas copies the whole frame for every metric:
    a million rows took 4.2 s as one frame and 0.6 s by value.

    A column whose expectations read only whether a value is missing (``NULLNESS_TYPES``) goes to GX as one
    missing and one present value of it; a pair of columns whose expectations read only which values are missing
    and whether the two are equal (``EQUALITY_TYPES``, on text or boolean columns, which pandas compares as polars
    does) as one pair of each kind (``_pair_kind``): on a province's 39,000 distinct pairs, GX's pair rule cost
    more than all the other small groups together; a column whose format rule cannot tell one digit from another
    (``REGEX_TYPES``) as one text of each ``digit_shape``. Other columns whose values are mostly distinct go to GX
    as they are, first: finding their distinct values would not pay. Expectations whose columns have about as
    many values to judge share one GX call: each column holds its own values, padded with nulls to the longest;
    a failing position past a column's values is padding. Where every value judged fails (a file whose every row
    fails), every row fails: no row is looked up.

    GX runs in this thread, one call at a time; polars finds the other groups' values and the rows of GX's
    verdicts in another meanwhile: GX's Python and polars' native code share two cores (a million rows: 11-16%
    faster than one after the other).
    """
    groups = _value_groups(name)
    assert groups is not None
    as_is = _mostly_distinct(frame, groups)
    calls: list[tuple[Any, tuple[int, ...]]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gx-values") as polars_side:
        mapped = []

        def judge(judging: dict[_Group, tuple[pl.DataFrame, RowsOf]]) -> None:
            ordered = list(judging)
            for members in _packed([g.columns for g in ordered], [judging[g][0].height for g in ordered]):
                chosen = [ordered[m] for m in members]
                indices = tuple(sorted(i for g in chosen for i in g.indices))
                pdf = pl.concat([judging[g][0] for g in chosen], how="horizontal_extend").to_pandas()
                with _GX_LOCK:
                    validated = _run_suite(name, pdf, parameters, "all", indices)
                calls.append((validated, indices))
                mapped.append(polars_side.submit(_on_rows, frame, validated, indices, chosen, judging))

        later = polars_side.submit(_values_to_judge, frame, [g for g in groups if g not in as_is])
        judge(_as_they_are(frame, as_is))
        judge(later.result())
        for done in mapped:
            done.result()
    judged: list[Any] = [None] * sum(len(group.indices) for group in groups)
    for validated, indices in calls:
        for index, result in zip(indices, validated.results, strict=True):
            judged[index] = result
    validation = calls[0][0]
    validation.results = judged
    settle(validation)
    return validation


RowsOf = Callable[[pl.Series], pl.Series]


def _on_rows(
    frame: pl.DataFrame,
    validated: Any,
    indices: tuple[int, ...],
    chosen: list[_Group],
    judging: dict[_Group, tuple[pl.DataFrame, RowsOf]],
) -> None:
    """Turn one GX call's verdicts on values into verdicts on the rows of ``frame`` (``recount``)."""
    group_of = {i: g for g in chosen for i in g.indices}
    for index, result in zip(indices, validated.results, strict=True):
        if result.exception_info and result.exception_info.get("raised_exception"):
            continue
        values, rows_of = judging[group_of[index]]
        positions = pl.Series((result.result or {}).get("unexpected_index_list") or [], dtype=pl.Int64)
        positions = positions.filter(positions < values.height)
        # Every value failed (a file where every row fails): every row holds one, no need to look them up.
        rows = _every_row(frame.height) if positions.len() == values.height else rows_of(positions)
        # GX leaves rows out of an expectation's share only where it reports them (missing_count): not for its
        # not-null rule, whose share is of every row.
        missing = _missing(frame, result.expectation_config.kwargs) if "missing_count" in (result.result or {}) else 0
        recount(result, frame.height, missing, rows.len())
        result.result["unexpected_index_list"] = rows


_SAMPLE_ROWS = 100_000


def _mostly_distinct(frame: pl.DataFrame, groups: Sequence[_Group]) -> set[_Group]:
    """The groups judged by value whose values are mostly distinct, as the first ``_SAMPLE_ROWS`` rows show them (a
    pair's judged by its two hashes combined: a struct's hash took as long as all the single columns together).
    Only how fast GX judges them depends on it."""
    by_value = [g for g in groups if not g.by_kind(frame)]
    if not by_value:
        return set()
    sample = frame.head(_SAMPLE_ROWS)
    estimates = sample.select(
        (
            pl.col(g.columns[0])
            if len(g.columns) == 1
            else pl.col(g.columns[0]).hash(1).xor(pl.col(g.columns[1]).hash(2))
        )
        .approx_n_unique()
        .alias(str(i))
        for i, g in enumerate(by_value)
    ).row(0)
    return {g for g, estimate in zip(by_value, estimates, strict=True) if 2 * estimate > sample.height}


def _as_they_are(frame: pl.DataFrame, groups: set[_Group]) -> dict[_Group, tuple[pl.DataFrame, RowsOf]]:
    """Groups whose values GX judges row by row: a failing position is a row."""
    return {g: (frame.select(g.columns), lambda positions: positions.alias(_ROW)) for g in groups}


def _values_to_judge(frame: pl.DataFrame, groups: Sequence[_Group]) -> dict[_Group, tuple[pl.DataFrame, RowsOf]]:
    """Per group, the values GX judges of its columns (its distinct values, or one value or pair of each kind),
    and the rows of ``frame`` that hold the values at given positions of them."""
    # One query per group, run together: polars spreads them over the cores, where one after the other each ran
    # on a million rows alone (twice as long).
    by_kind = [group.by_kind(frame) for group in groups]
    found = pl.collect_all(
        _first_of_each_kind(frame, group) if kind else frame.lazy().select(group.columns).unique()
        for group, kind in zip(groups, by_kind, strict=True)
    )
    return {
        group: _one_of_each(frame, group, values) if kind else _distinct(frame, values)
        for group, kind, values in zip(groups, by_kind, found, strict=True)
    }


def _first_of_each_kind(frame: pl.DataFrame, group: _Group) -> pl.LazyFrame:
    """The first row of ``frame`` of each kind of ``group``'s values: its kind, its position (``_at``) and its
    values (``_value0``, ...)."""
    kinds = group.kinds(frame.schema)
    return (
        frame.lazy()
        .select(*kinds, *(pl.col(c).alias(f"_value{i}") for i, c in enumerate(group.columns)))
        .with_row_index("_at")
        .unique(subset=_names(kinds), keep="first", maintain_order=True)
    )


def _distinct(frame: pl.DataFrame, values: pl.DataFrame) -> tuple[pl.DataFrame, RowsOf]:
    """Distinct ``values`` of some columns of ``frame``, and the rows holding the values at given positions."""

    def rows_of(positions: pl.Series) -> pl.Series:
        return _rows_holding(frame, values[positions])

    return values, rows_of


def _names(expressions: list[pl.Expr]) -> list[str]:
    return [e.meta.output_name() for e in expressions]


def _pair_kind(a: pl.Expr, a_dtype: pl.DataType, b: pl.Expr, b_dtype: pl.DataType) -> pl.Expr:
    """What GX's pair-equality verdict on a row reads: which of the two values are missing, and, when neither is,
    whether they are equal (one of five kinds)."""
    absent_a, absent_b = _absent(a, a_dtype), _absent(b, b_dtype)
    equal = ~absent_a & ~absent_b & (a == b).fill_null(False)
    return absent_a.cast(pl.UInt8) * 4 + absent_b.cast(pl.UInt8) * 2 + equal.cast(pl.UInt8)


def _one_of_each(frame: pl.DataFrame, group: _Group, first: pl.DataFrame) -> tuple[pl.DataFrame, RowsOf]:
    """The values of ``group`` in the first row of ``frame`` of each kind (``first``: one row per kind, in the
    order they first occur), and the rows of the same kind as the values at given positions of them. Each row's
    kind is worked out again only when a kind fails."""
    kind_columns = _names(group.kinds(frame.schema))
    values = first.select(pl.col(f"_value{i}").alias(c) for i, c in enumerate(group.columns))

    def rows_of(positions: pl.Series) -> pl.Series:
        kinds = frame.select(group.kinds(frame.schema))
        return _rows_holding(kinds, first.select(kind_columns)[positions])

    return values, rows_of


def settle(validation: Any) -> None:
    """A suite result's verdict and statistics, again from its expectations' verdicts (after ``recount``)."""
    passed = sum(bool(r.success) for r in validation.results)
    evaluated = len(validation.results)
    validation.success = passed == evaluated
    validation.statistics.update(
        evaluated_expectations=evaluated,
        successful_expectations=passed,
        unsuccessful_expectations=evaluated - passed,
        success_percent=passed / evaluated * 100 if evaluated else None,  # as GX computes it, to the last bit
    )


# A group joins a GX call whose longest column has at most this many times its distinct values.
_PACK = 8


def _packed(groups: Sequence[tuple[str, ...]], heights: Sequence[int]) -> list[list[int]]:
    """Groups (their columns, by position) that share a GX call: longest first, with no column twice in one call."""
    calls: list[list[int]] = []
    for g in sorted(range(len(groups)), key=lambda g: -heights[g]):
        last = calls[-1] if calls else None
        if (
            last is not None
            and heights[g] * _PACK >= heights[last[0]]
            and not any(set(groups[g]) & set(groups[m]) for m in last)
        ):
            last.append(g)
        else:
            calls.append([g])
    return calls


def _run_suite(
    name: str, pdf: Any, parameters: dict[str, Any], detail: Detail = "all", only: tuple[int, ...] | None = None
) -> Any:
    """One GX validation (of the expectations at positions ``only``, else all of them); callers hold the lock.

    Batch.validate rather than ValidationDefinition.run: the latter also serialises the whole result into the
    context's result store (a deep copy and JSON dump of every failing row position), which made a file whose
    every row fails four times slower to validate than a good one, and kept every result in memory.

    detail "failed": every expectation gets a verdict only (GX then computes a third of the metrics), and those
    that failed or tolerate failing rows (``mostly``) are validated again for their counts and row positions.
    """
    suite, batch_definition = _validation(name)
    if only is not None:
        suite = _part_of(name, only)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": pdf})
    with _kept_configurations():
        return _validate_batch(name, batch, suite, parameters, detail)


def _validate_batch(name: str, batch: Any, suite: Any, parameters: dict[str, Any], detail: Detail) -> Any:
    if detail == "all":
        return batch.validate(suite, result_format=_RESULT_FORMAT, expectation_parameters=parameters)
    from great_expectations.core.expectation_suite import ExpectationSuite

    verdicts = batch.validate(suite, result_format={"result_format": "BOOLEAN_ONLY"}, expectation_parameters=parameters)
    again = [i for i, r in enumerate(verdicts.results) if not r.success or "mostly" in r.expectation_config.kwargs]
    if again:
        subset = ExpectationSuite(
            name=name, expectations=[verdicts.results[i].expectation_config.to_json_dict() for i in again]
        )
        detailed = batch.validate(subset, result_format=_RESULT_FORMAT, expectation_parameters=parameters)
        for i, result in zip(again, detailed.results, strict=True):
            verdicts.results[i] = result
    return verdicts


def validate(
    name: str, frame: pl.DataFrame, parameters: dict[str, Any] | None = None, *, detail: Detail = "all"
) -> SuiteResult:
    """Validate ``frame`` with suite ``name``; row ids in ``failures`` are row positions in ``frame``.

    Only the columns the suite reads are handed to GX (the frame may carry more). Safe to call from several
    threads: GX itself is called by one thread at a time.

    ``detail="failed"`` suits many expectations over a small frame that nearly always passes (the coverage
    invariants): outcomes and failures are the same, but an expectation that passed outright carries no counts
    (unexpected_count 0, element_count the frame's height) and its GX result holds its verdict only.

    Example:
        >>> result = validate("submission_rows", prepared, {"age_min": 18, "age_max": 65})
        >>> result.failures.filter(pl.col("level") == "E")["row_id"].unique()  # rows to reject
    """
    validated_at = datetime.now(UTC)
    if detail == "all" and _value_groups(name) is not None:
        result = _judge_values(name, frame, parameters or {})
    else:
        with _GX_LOCK:
            result = _run_suite(name, frame.select(suite_columns(name)).to_pandas(), parameters or {}, detail)
    outcomes: list[ExpectationOutcome] = []
    positions_of: dict[Message, list[pl.Series]] = {}
    for r in result.results:
        config = r.expectation_config
        meta = config.meta or {}
        kwargs = config.kwargs
        details = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"GX expectation {config.type} on {name} raised: {r.exception_info['exception_message']}"
            )
        outcome = ExpectationOutcome(
            reason=meta.get("reason", config.type),
            level=meta.get("level", "E"),
            expectation=config.type,
            column=kwargs.get("column") or f"{kwargs.get('column_A')},{kwargs.get('column_B')}",
            success=bool(r.success),
            unexpected_count=int(details.get("unexpected_count") or 0),
            element_count=int(details.get("element_count") or frame.height),
        )
        outcomes.append(outcome)
        positions = details.get("unexpected_index_list")
        if positions is not None and len(positions):
            message = (outcome.reason, outcome.level, meta.get("pesan"), meta.get("perbaikan"))
            rows = positions if isinstance(positions, pl.Series) else pl.Series(_ROW, positions, dtype=pl.Int64)
            positions_of.setdefault(message, []).append(rows)
        r.result = {k: v for k, v in details.items() if k not in _ROW_DETAIL_KEYS}
    return SuiteResult(
        suite=name,
        success=bool(result.success),
        outcomes=outcomes,
        failures=_failures(positions_of, frame.height),
        validated_at=validated_at,
        validation=result,
    )


Message = tuple[str, str, str | None, str | None]  # reason, level, pesan, perbaikan


def _union(lists: list[pl.Series], height: int) -> pl.Series:
    """The positions in any of ``lists`` (two expectations with the same message may fail the same row), in
    ascending order: marked in a mask of the frame's rows, so that two lists of a million rows cost no hashing."""
    if len(lists) == 1:
        return lists[0].cast(pl.Int64).sort()
    marked = pl.repeat(False, height, dtype=pl.Boolean, eager=True)
    for positions in lists:
        marked.scatter(positions, True)
    return marked.arg_true().cast(pl.Int64).set_sorted()


def _failures(positions_of: dict[Message, list[pl.Series]], height: int) -> pl.DataFrame:
    """FAILURES_SCHEMA rows, one per failing row and message: by reason and pesan, then row_id.

    Built one message at a time, its texts repeated rather than looked up per row: a file whose every row fails
    has millions of failures, and a sort or a lookup over all of them made it take twice as long as a good file.
    """
    if not positions_of:
        return pl.DataFrame(schema=FAILURES_SCHEMA)
    blocks = []
    for message in sorted(positions_of, key=lambda m: (m[0], m[2] or "", m[1], m[3] or "")):
        rows = _union(positions_of[message], height).alias("row_id")
        blocks.append(
            rows.to_frame().with_columns(
                pl.lit(text, dtype=FAILURES_SCHEMA[column]).alias(column)
                for column, text in zip(("reason", "level", "pesan", "perbaikan"), message, strict=True)
            )
        )
    return pl.concat(blocks, rechunk=False)


# ---------------------------------------------------------------------------------------------- Data Docs


def _docs_context(site: Path) -> Any:
    """A context whose validation results live in ``site/validation_results`` and whose docs site is ``site``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.data_context.data_context.ephemeral_data_context import EphemeralDataContext
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults())
    config.stores[config.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site / DOCS_RESULTS_DIR)},
    }
    config.data_docs_sites = {
        DOCS_SITE: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": _view("IndexPageView")},
            "site_section_builders": {
                "expectations": {"view": _view("PageView")},
                "validations": {"view": _view("PageView")},
                "profiling": {"view": _view("PageView")},
            },
        }
    }
    return _quiet(EphemeralDataContext(project_config=config))


def _view(name: str) -> dict[str, str]:
    """A page view of expectations/views.py: GX's own, compiling each template once per process."""
    return {"module_name": "expectations.views", "class_name": name}


def _prune(site: Path, run_name: str, keep_runs: int) -> None:
    """Drop this run name's earlier pages (a rerun replaces them) and all but the newest ``keep_runs`` runs."""
    for section in (DOCS_RESULTS_DIR, "validations"):
        for suite_dir in (site / section).glob("*"):
            runs = sorted(p for p in suite_dir.iterdir() if p.is_dir()) if suite_dir.is_dir() else []
            stale = [p for p in runs if p.name == run_name]
            kept = [p for p in runs if p.name != run_name]
            stale += kept[: max(0, len(kept) - (keep_runs - 1))]
            for path in stale:
                shutil.rmtree(path)


def build_data_docs(
    results: Sequence[SuiteResult],
    site: Path,
    *,
    run_name: str,
    previous: Path | None = None,
    keep_runs: int = DOCS_KEEP_RUNS,
) -> Path:
    """Build the static Data Docs site in ``site`` from one run's validation results; returns its index.html.

    The site holds a page per suite (the reviewed rules) and per validation (counts and shares of failing rows
    per expectation; never row values, so no NIK or name). ``previous`` is the published site: its earlier
    runs are carried over, so the index lists the last ``keep_runs`` runs, and a rerun of ``run_name`` (the run
    date) replaces that run's pages. Built once per run from all its results, not per file.

    Example:
        >>> build_data_docs([result], staging / "reports" / "data_docs", run_name="2026-11-27",
        ...                 previous=data_dir / "reports" / "data_docs")
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    site.mkdir(parents=True, exist_ok=True)
    if previous is not None and previous.is_dir() and previous.resolve() != site.resolve():
        # static/ (4 MB of CSS and fonts) is rewritten by every build; copying it too would be wasted work.
        shutil.copytree(
            previous, site, dirs_exist_ok=True, ignore=lambda d, names: ["static"] if Path(d) == previous else []
        )
    _prune(site, run_name, keep_runs)
    with _GX_LOCK:
        context = _docs_context(site)
        suite_keys = []
        for name in suite_names():
            context.suites.add(_suite(name))
            suite_keys.append(ExpectationSuiteIdentifier(name))
        result_keys = []
        for result in results:
            run_id = RunIdentifier(run_name=run_name, run_time=result.validated_at)
            result.validation.meta["run_id"] = run_id
            result.validation.meta["validation_time"] = result.validated_at
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(result.suite),
                run_id=run_id,
                batch_identifier=result.suite,
            )
            context.validation_results_store.set(key, result.validation)
            result_keys.append(key)
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=[*suite_keys, *result_keys])
    return site / "index.html"


def validation_page(site: Path, result: SuiteResult, run_name: str) -> Path | None:
    """The Data Docs page of one validation built by ``build_data_docs``, if it exists."""
    pages = sorted((site / "validations" / result.suite / run_name).glob(f"*/{result.suite}.html"))
    return pages[-1] if pages else None
