"""A suite's row-level expectations as vectorized pandas predicates, with GX's own semantics and without
GX's fixed cost per `validate` call (it builds a metric graph every time: ~0.3 s for one served record).

`compile_row_checks` turns the expectations it knows (below) into `RowCheck`s once per suite; the others
(table-level ones, and any type or argument it does not know) stay in a GX suite of their own.
`validate_suite` then gives the report `validate_frame` would give for the whole suite: same keys,
outcomes, counts and failing rows, in the suite's order. A frame outside what a compiled check
reproduces exactly (a missing or duplicated column, a dtype GX handles another way) is validated by GX
as a whole, for that call.

What each compiled check reproduces (GX 1.x, pandas engine):

- `expect_column_values_to_not_be_null`: a row fails on `isnull()` (None, NaN, NaT, pd.NA; "" is a value);
  counts over every row, no `missing_count`;
- the others see the non-null rows only (nulls are `missing_count`, never unexpected):
  `expect_column_values_to_be_in_set`: `isin(value_set)`; `expect_column_values_to_be_between`: numeric
  `int64`/`float64` columns only (GX compares any other dtype value by value), `strict_min`/`strict_max`;
  `expect_column_values_to_match_regex`: `astype(str).str.contains(regex)` (a search, as GX does);
  `expect_column_values_to_be_unique`: every row of a repeated value fails (`duplicated(keep=False)`);
- `mostly`: success when (rows considered - unexpected) / rows considered >= mostly, vacuously true on
  no rows (GX's `_mostly_success`); unexpected_percent over the rows considered.

Counts and row positions only: no value leaves a predicate.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from veilflow.tasks.data.validation import (
    ExpectationOutcome,
    ExpectationSpec,
    LoadedSuite,
    ValidationReport,
    validate_frame,
)

log = logging.getLogger(__name__)

NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
MATCH_REGEX = "expect_column_values_to_match_regex"
UNIQUE = "expect_column_values_to_be_unique"
# Per compiled type, the kwargs it understands; an expectation with any other kwarg (row_condition,
# condition_parser, windows, ...) stays with GX.
SUPPORTED: Mapping[str, frozenset[str]] = {
    NOT_NULL: frozenset({"column", "mostly"}),
    UNIQUE: frozenset({"column", "mostly"}),
    IN_SET: frozenset({"column", "mostly", "value_set"}),
    BETWEEN: frozenset({"column", "mostly", "min_value", "max_value", "strict_min", "strict_max"}),
    MATCH_REGEX: frozenset({"column", "mostly", "regex"}),
}


class OutsideDomain(Exception):
    """A frame this compiled check cannot judge exactly as GX would: GX validates the call instead."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class RowCheck:
    """One compiled row-level expectation: its spec, column, `mostly` and predicate arguments."""

    spec: ExpectationSpec
    column: str
    mostly: float
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def type(self) -> str:
        return self.spec.type

    def unexpected(self, null: np.ndarray, values: pd.Series) -> tuple[np.ndarray, int]:
        """(mask of failing rows, rows considered: all rows for not-null, the non-null rows otherwise).

        Args:
            null: the column's `isnull()` mask; values: its non-null cells (`_column`).

        Raises:
            OutsideDomain: the column has a dtype GX treats another way.
        """
        if self.type == NOT_NULL:
            return null, len(null)
        meets = _PREDICATES[self.type](values, dict(self.args))
        bad = np.zeros(len(null), dtype=bool)
        bad[np.flatnonzero(~null)] = ~np.asarray(meets, dtype=bool)
        return bad, len(values)


def _column(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, pd.Series]:
    """(the column's null mask, its non-null cells), as GX's pandas engine filters them for a map metric."""
    if name not in frame.columns or not isinstance(frame[name], pd.Series):
        raise OutsideDomain(f"column '{name}' is missing or repeated")
    column = frame[name]
    null = column.isnull().to_numpy(dtype=bool)
    return null, column[~null] if null.any() else column  # (filtering nothing out gives the same cells)


def _in_set(values: pd.Series, args: dict[str, Any]) -> Any:
    return values.isin(args["value_set"])


def _between(values: pd.Series, args: dict[str, Any]) -> Any:
    # GX's vectorized branch; other dtypes (object, nullable, float32, bool, datetimes) go value by value there.
    if values.dtype not in (int, float):
        raise OutsideDomain(f"dtype {values.dtype} is compared value by value by GX")
    lo, hi, strict_lo, strict_hi = args["min_value"], args["max_value"], args["strict_min"], args["strict_max"]
    if lo is None:
        return values < hi if strict_hi else values <= hi
    if hi is None:
        return lo < values if strict_lo else lo <= values
    return (lo < values if strict_lo else lo <= values) & (values < hi if strict_hi else values <= hi)


def _match_regex(values: pd.Series, args: dict[str, Any]) -> Any:
    return values.astype(str).str.contains(args["regex"])


def _unique(values: pd.Series, args: dict[str, Any]) -> Any:
    return ~values.duplicated(keep=False)


_PREDICATES: Mapping[str, Callable[[pd.Series, dict[str, Any]], Any]] = {
    IN_SET: _in_set,
    BETWEEN: _between,
    MATCH_REGEX: _match_regex,
    UNIQUE: _unique,
}


def _compile_one(expectation: Any, spec: ExpectationSpec) -> RowCheck | None:
    """The check of one GX expectation, or None when it stays with GX."""
    allowed = SUPPORTED.get(spec.type)
    kwargs = dict(getattr(getattr(expectation, "configuration", None), "kwargs", None) or {})
    if allowed is None or not set(kwargs) <= allowed or not isinstance(kwargs.get("column"), str):
        return None
    if any(getattr(expectation, name, None) is not None for name in ("row_condition", "condition_parser", "windows")):
        return None
    mostly = getattr(expectation, "mostly", 1)
    if not _number(mostly) or not 0 <= mostly <= 1:
        return None
    args: dict[str, Any] = {}
    if spec.type == IN_SET:
        value_set = getattr(expectation, "value_set", None)
        if not isinstance(value_set, list):  # None (vacuous in GX) or a suite parameter
            return None
        args["value_set"] = list(value_set)
    elif spec.type == BETWEEN:
        lo, hi = getattr(expectation, "min_value", None), getattr(expectation, "max_value", None)
        strict = (getattr(expectation, "strict_min", False), getattr(expectation, "strict_max", False))
        if (lo is None and hi is None) or not all(v is None or _number(v) for v in (lo, hi)):
            return None
        if lo is not None and hi is not None and lo > hi:  # GX reports its own error for that
            return None
        if not all(isinstance(s, bool) for s in strict):
            return None
        args.update(min_value=lo, max_value=hi, strict_min=strict[0], strict_max=strict[1])
    elif spec.type == MATCH_REGEX:
        regex = getattr(expectation, "regex", None)
        if not isinstance(regex, str):
            return None
        try:
            re.compile(regex)
        except re.error:
            return None
        args["regex"] = regex
    return RowCheck(spec=spec, column=kwargs["column"], mostly=float(mostly), args=tuple(args.items()))


@dataclass(frozen=True)
class CompiledSuite:
    """A suite split once: the row checks veilflow evaluates, and the GX suite of everything else."""

    suite: LoadedSuite = field(repr=False)
    checks: tuple[RowCheck, ...]
    rest: LoadedSuite | None = field(repr=False)  # None: every expectation is compiled


def _subsuite(suite: LoadedSuite, keys: set[str]) -> LoadedSuite | None:
    """The GX suite of the expectations with these keys (same name, ids and specs), or None for none."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    if not keys:
        return None
    data = suite.suite.to_json_dict()
    data.pop("id", None)
    data["expectations"] = [e for e in data["expectations"] if e.get("id") in keys]
    gx_suite = ExpectationSuite(**data)
    return LoadedSuite(name=suite.name, path=suite.path, suite=gx_suite, specs=tuple(s for s in suite.specs if s.key in keys))


def compile_row_checks(suite: LoadedSuite) -> CompiledSuite:
    """Compile a loaded suite's row-level expectations (once per suite; not per call)."""
    by_key = {e.id: e for e in suite.suite.expectations}
    checks: list[RowCheck] = []
    for spec in suite.specs:
        check = _compile_one(by_key.get(spec.key), spec)
        if check is not None:
            checks.append(check)
    compiled = {c.spec.key for c in checks}
    rest = _subsuite(suite, {s.key for s in suite.specs} - compiled)
    log.debug(
        "suite %s: %d row checks compiled, %d expectations left to GX", suite.name, len(checks), len(suite.specs) - len(checks)
    )
    return CompiledSuite(suite=suite, checks=tuple(checks), rest=rest)


def _outcome(check: RowCheck, rows: int, considered: int, unexpected: int) -> ExpectationOutcome:
    """The outcome GX reports (`_format_map_output`) for these counts."""
    spec = check.spec
    if rows == 0 or considered == 0:
        success = True  # vacuously true, as in GX
    else:
        success = (float(considered) - float(unexpected)) / float(considered) >= check.mostly
    percent = unexpected / considered * 100 if rows > 0 and considered > 0 else None
    return ExpectationOutcome.of(
        spec,
        success,
        element_count=rows,
        unexpected_count=unexpected,
        unexpected_percent=percent,
        missing_count=None if check.type == NOT_NULL else rows - considered,
    )


def evaluate_row_checks(
    frame: pd.DataFrame, checks: tuple[RowCheck, ...]
) -> tuple[dict[str, ExpectationOutcome], dict[str, list[int]]]:
    """Evaluate compiled checks on a frame with a 0..n-1 index (not modified).

    Returns:
        (outcome per key, failing row positions per key with any).

    Raises:
        OutsideDomain: a check cannot judge this frame exactly as GX would.
    """
    outcomes: dict[str, ExpectationOutcome] = {}
    failing: dict[str, list[int]] = {}
    columns: dict[str, tuple[np.ndarray, pd.Series]] = {}  # each column filtered once per call
    judged: dict[str, tuple[np.ndarray, int]] = {}  # one predicate per call, whatever its `mostly`s
    for check in checks:
        try:
            if check.column not in columns:
                columns[check.column] = _column(frame, check.column)
            same = repr((check.type, check.column, check.args))
            if same not in judged:
                judged[same] = check.unexpected(*columns[check.column])
            bad, considered = judged[same]
        except OutsideDomain:
            raise
        except Exception as exc:  # a predicate pandas cannot compute: GX reports it its own way
            raise OutsideDomain(f"{check.spec.key}: {type(exc).__name__}") from None
        count = int(bad.sum())
        outcomes[check.spec.key] = _outcome(check, len(frame), considered, count)
        if count:
            failing[check.spec.key] = np.flatnonzero(bad).tolist()
    return outcomes, failing


def validate_suite(frame: pd.DataFrame, compiled: CompiledSuite, context: Any) -> ValidationReport:
    """`validate_frame(frame, compiled.suite, context)`'s report, the compiled checks evaluated here and
    the rest (if any) by one GX call; the whole suite by GX when the frame is outside the checks' domain.

    Args:
        frame: the frame; it is not modified.
        compiled: from `compile_row_checks`.
        context: from `build_gx_context` (used only when something is left to GX).
    """
    suite = compiled.suite
    local = frame.reset_index(drop=True)
    started = time.perf_counter()
    try:
        outcomes, failing = evaluate_row_checks(local, compiled.checks)
    except OutsideDomain as exc:
        log.info("row checks: %s; GX validates this call", exc)
        return validate_frame(local, suite, context)
    seconds = time.perf_counter() - started
    if compiled.rest is not None:
        gx_report = validate_frame(local, compiled.rest, context)
        outcomes.update({o.key: o for o in gx_report.expectations})
        failing.update(gx_report.failing_rows)
        seconds += gx_report.seconds
    ordered = [outcomes[s.key] for s in suite.specs]
    failing_rows = {s.key: failing[s.key] for s in suite.specs if failing.get(s.key)}
    report = ValidationReport.from_outcomes(
        suite.name, ordered, failing_rows, rows=len(local), columns=local.shape[1], seconds=round(seconds, 3)
    )
    log.debug(
        "row checks: %d rows, %d compiled checks, %d left to GX, %d rows flagged (%.3f s)",
        report.row_count,
        len(compiled.checks),
        len(suite.specs) - len(compiled.checks),
        report.rows_flagged,
        seconds,
    )
    return report
