"""Data validation with Great Expectations 1.x: JSON suites in, counts-only reports and row quarantine out."""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from veilflow.core.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

_DATA_SOURCE = "veilflow"
_ASSET = "frame"
_BATCH_DEFINITION = "whole-frame"

# COMPLETE is the only format that returns every failing row index (SUMMARY/BASIC stop at 20); it also
# returns the failing *values*, which are read here for nothing but the index list and then dropped.
_RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "return_unexpected_index_query": False,
}
_SEVERITY = {True: "critical", False: "warning"}
_MISSING_COLUMN = re.compile(r"column .* does not exist", re.IGNORECASE)
_METRIC_NAME = re.compile(r"metric_name='([A-Za-z0-9_.]+)'")
_MAX_EXCEPTION_CHARS = 200


@functools.cache
def register_veilflow_expectations() -> tuple[str, ...]:
    """Register veilflow's custom GX expectation types (once per process) and return their type names.

    GX 1.24 core has no way to say "this column must be absent", which the anonymized contract needs
    for dropped PII columns. Defining the class registers it with GX, so it is done here, on first use,
    rather than at import time.
    """
    from great_expectations.compatibility.pydantic import Field as GxField
    from great_expectations.compatibility.pydantic import StrictStr
    from great_expectations.expectations.expectation import BatchExpectation

    class ExpectColumnToNotExist(BatchExpectation):
        """Expect the named column to be absent from the table (a dropped PII column must not come back)."""

        # Real types, not strings: this module's postponed annotations would hide the local import from GX's pydantic.
        __annotations__ = {"column": StrictStr}
        column = GxField(min_length=1, description="The column that must be absent.")

        metric_dependencies = ("table.columns",)
        success_keys = ("column",)
        domain_keys = ("batch_id",)
        args_keys = ("column",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None) -> dict:
            return {"success": self._get_success_kwarg("column") not in metrics["table.columns"]}

    return (ExpectColumnToNotExist.expectation_type,)


def batch_definition(context: Any) -> Any:
    """The whole-dataframe batch definition of veilflow's data source, created on first use."""
    try:
        source = context.data_sources.get(_DATA_SOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(_DATA_SOURCE)
    try:
        asset = source.get_asset(_ASSET)
    except LookupError:
        asset = source.add_dataframe_asset(_ASSET)
    try:
        return asset.get_batch_definition(_BATCH_DEFINITION)
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe(_BATCH_DEFINITION)


@dataclass(frozen=True)
class ExpectationSpec:
    """What veilflow needs to know about one expectation of a suite, besides GX's own object."""

    key: str
    type: str
    column: str | None
    critical: bool
    why: str
    mostly: float | None


@dataclass(frozen=True)
class LoadedSuite:
    """A GX `ExpectationSuite` loaded from JSON, with a stable key and a critical flag per expectation."""

    name: str
    path: Path
    suite: Any
    specs: tuple[ExpectationSpec, ...]

    @property
    def critical(self) -> dict[str, bool]:
        """Expectation key -> whether a failure stops the flow."""
        return {s.key: s.critical for s in self.specs}


def _expectation_key(type_: str, kwargs: dict[str, Any]) -> str:
    column = kwargs.get("column")
    label = f"{type_}({column})" if column is not None else type_
    if kwargs.get("mostly") is not None:
        label = f"{label[:-1]}, mostly={kwargs['mostly']})" if column is not None else f"{label}(mostly={kwargs['mostly']})"
    return label


def _check_expectation_entry(entry: Any, i: int, path: Path) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise ConfigError(f"expectation #{i} has no 'type': {path}")
    meta = entry.get("meta")
    if not isinstance(meta, dict) or not isinstance(meta.get("critical"), bool):
        raise ConfigError(f"expectation #{i} ({entry['type']}) needs a boolean meta.critical: {path}")
    if not isinstance(meta.get("why"), str) or not meta["why"].strip():
        raise ConfigError(f"expectation #{i} ({entry['type']}) needs a non-empty meta.why: {path}")
    severity = entry.get("severity")
    if severity is not None and severity != _SEVERITY[meta["critical"]]:
        raise ConfigError(
            f"expectation #{i} ({entry['type']}) has severity '{severity}' but meta.critical={meta['critical']}: {path}"
        )


def load_suite(path: Path) -> LoadedSuite:
    """Load a GX-native JSON suite and check that GX kept every expectation in it.

    Args:
        path: a file written in the format of `ExpectationSuite.to_json_dict()`; each expectation
            carries `meta: {"critical": bool, "why": str}`.

    Returns:
        The suite with a stable key per expectation (also set as the GX expectation id).

    Raises:
        ConfigError: missing file, invalid JSON, missing meta, invalid kwargs, or an expectation
            GX dropped (GX only logs unknown expectation types; the count check turns that into an error).
    """
    from great_expectations.core.expectation_suite import ExpectationSuite

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"expectation suite file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"expectation suite is not valid JSON (line {exc.lineno}, column {exc.colno}): {path}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"expectation suite is not UTF-8 text: {path}") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise ConfigError(f"expectation suite has no 'name': {path}")
    entries = data.get("expectations")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"expectation suite has no 'expectations' list: {path}")
    for i, entry in enumerate(entries):
        _check_expectation_entry(entry, i, path)

    register_veilflow_expectations()
    try:
        suite = ExpectationSuite(**data)
    except Exception as exc:  # GX raises several types for bad kwargs; the file is config, not data
        first = (str(exc).splitlines() or [""])[0][:_MAX_EXCEPTION_CHARS]
        raise ConfigError(f"expectation suite could not be built ({type(exc).__name__}: {first}): {path}") from None
    if len(suite.expectations) != len(entries):
        kept = {e.expectation_type for e in suite.expectations}
        dropped = sorted({e["type"] for e in entries} - kept)
        raise ConfigError(
            f"GX loaded {len(suite.expectations)} of {len(entries)} expectations "
            f"({len(entries) - len(suite.expectations)} dropped; unknown types: {', '.join(dropped) or 'none'}): {path}"
        )

    specs: list[ExpectationSpec] = []
    seen: dict[str, int] = {}
    for entry, expectation in zip(entries, suite.expectations, strict=True):
        kwargs = entry.get("kwargs") or {}
        key = _expectation_key(entry["type"], kwargs)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}#{seen[key]}"
        # GX copies the id into each result, which is how results are matched back to the file's entries.
        expectation.id = key
        specs.append(
            ExpectationSpec(
                key=key,
                type=entry["type"],
                column=kwargs.get("column"),
                critical=entry["meta"]["critical"],
                why=entry["meta"]["why"],
                mostly=kwargs.get("mostly"),
            )
        )
    return LoadedSuite(name=data["name"], path=path, suite=suite, specs=tuple(specs))


class ExpectationOutcome(BaseModel):
    """One expectation's result: counts and flags only, never a data value."""

    model_config = ConfigDict(frozen=True)

    key: str
    type: str
    column: str | None
    critical: bool
    why: str
    mostly: float | None
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    missing_count: int | None = None
    exception: str | None = None

    @classmethod
    def of(
        cls,
        spec: ExpectationSpec,
        success: bool,
        *,
        element_count: int | None = None,
        unexpected_count: int | None = None,
        unexpected_percent: float | None = None,
        missing_count: int | None = None,
        exception: str | None = None,
    ) -> ExpectationOutcome:
        """The outcome of `spec` (its key, type, column, critical flag, why and `mostly`) with these counts."""
        return cls(
            key=spec.key,
            type=spec.type,
            column=spec.column,
            critical=spec.critical,
            why=spec.why,
            mostly=spec.mostly,
            success=success,
            element_count=element_count,
            unexpected_count=unexpected_count,
            unexpected_percent=unexpected_percent,
            missing_count=missing_count,
            exception=exception,
        )


class ValidationReport(BaseModel):
    """Counts-only result of validating one frame with one suite.

    `failing_rows` (positions 0..n-1 of the validated frame, per expectation key) and `failing_ids`
    (the `id_column` values of those rows) exist in memory for quarantine only: they are excluded from
    `model_dump`/`model_dump_json` and from `repr`, so nothing serialized carries them.
    """

    model_config = ConfigDict(frozen=True)

    suite_name: str
    row_count: int
    column_count: int
    evaluated: int
    successful: int
    success: bool
    critical_success: bool
    critical_failures: list[str]
    warnings: list[str]
    rows_flagged: int
    rows_flagged_critical: int
    seconds: float
    expectations: list[ExpectationOutcome]
    failing_rows: dict[str, list[int]] = Field(default_factory=dict, exclude=True, repr=False)
    failing_ids: dict[str, list[str]] = Field(default_factory=dict, exclude=True, repr=False)

    @classmethod
    def from_outcomes(
        cls,
        suite_name: str,
        outcomes: list[ExpectationOutcome],
        failing_rows: dict[str, list[int]],
        *,
        rows: int,
        columns: int,
        seconds: float,
        failing_ids: dict[str, list[str]] | None = None,
    ) -> ValidationReport:
        """The report of these outcomes, in suite order: pass/fail counts, critical failures, warnings and the
        rows flagged (by any / by a critical expectation) follow from them and from `failing_rows`."""
        critical_keys = {o.key for o in outcomes if o.critical}
        critical_failures = [o.key for o in outcomes if o.critical and not o.success]
        flagged = set().union(*failing_rows.values()) if failing_rows else set()
        flagged_critical = set().union(*(v for k, v in failing_rows.items() if k in critical_keys))
        return cls(
            suite_name=suite_name,
            row_count=rows,
            column_count=columns,
            evaluated=len(outcomes),
            successful=sum(o.success for o in outcomes),
            success=all(o.success for o in outcomes),
            critical_success=not critical_failures,
            critical_failures=critical_failures,
            warnings=[o.key for o in outcomes if not o.critical and not o.success],
            rows_flagged=len(flagged),
            rows_flagged_critical=len(flagged_critical),
            seconds=seconds,
            expectations=outcomes,
            failing_rows=failing_rows,
            failing_ids=failing_ids if failing_ids is not None else {},
        )

    def to_summary_dict(self) -> dict[str, Any]:
        """JSON-ready summary (counts, flags, expectation keys); no row positions, ids or values."""
        return self.model_dump(mode="json")

    def raise_if_critical(self, stage: str) -> None:
        """Raise when a critical expectation failed.

        Raises:
            DataValidationError: one line naming each failed critical expectation with its counts.
        """
        if self.critical_success:
            return
        by_key = {o.key: o for o in self.expectations}
        parts = [_failure_phrase(by_key[k]) for k in self.critical_failures]
        raise DataValidationError(
            f"{stage}: {len(parts)} critical expectation(s) of suite '{self.suite_name}' failed: {'; '.join(parts)}"
        )


_TABLE_FAILURE = {
    "expect_column_to_exist": "column missing",
    "expect_column_to_not_exist": "column present",
    "expect_table_columns_to_match_set": "contract columns missing",
    "expect_table_row_count_to_be_between": "row count out of range",
}


def _failure_phrase(o: ExpectationOutcome) -> str:
    if o.exception:
        detail = o.exception
    elif o.unexpected_count is not None and o.element_count is not None:
        detail = f"{o.unexpected_count} of {o.element_count} rows unexpected"
    else:
        detail = _TABLE_FAILURE.get(o.type, "failed")
    return f"{o.key} [{detail}]".replace("\n", " ")


def _exception_line(exception_info: Any, spec: ExpectationSpec) -> str | None:
    """One line describing a GX exception, built so that it cannot quote a data value."""
    if not isinstance(exception_info, dict):
        return None
    if "raised_exception" in exception_info:
        entries = [(None, exception_info)] if exception_info.get("raised_exception") else []
    else:
        entries = [(k, v) for k, v in exception_info.items() if isinstance(v, dict)]
    for metric_id, info in entries:
        message = str(info.get("exception_message") or "")
        first = (message.strip().splitlines() or [""])[0]
        traceback_lines = str(info.get("exception_traceback") or "").strip().splitlines()
        exc_type = traceback_lines[-1].split(":", 1)[0].rsplit(".", 1)[-1] if traceback_lines else "Exception"
        metric_match = _METRIC_NAME.search(str(metric_id or ""))
        metric = metric_match.group(1) if metric_match else "a metric"
        if spec.column is not None and _MISSING_COLUMN.search(first):
            return f"column '{spec.column}' does not exist in the frame"
        # GX's own messages are fixed text; pandas/numpy messages may quote a cell ("could not convert
        # string to float: '...'"), so any message with quotes or digits is withheld.
        if first and len(first) <= _MAX_EXCEPTION_CHARS and not re.search(r"['\"`\d]", first):
            return f"{exc_type} computing {metric}: {first}"
        return f"{exc_type} computing {metric} (message withheld: it may quote data)"
    return None


def _as_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if np.isnan(f) else f


def validate_frame(
    df: pd.DataFrame,
    suite: LoadedSuite,
    context: Any,
    id_column: str | None = None,
) -> ValidationReport:
    """Validate a frame with a whole suite in one GX call and keep counts (plus failing rows in memory).

    Args:
        df: the frame; it is not modified.
        suite: from `load_suite`.
        context: from `build_gx_context`.
        id_column: if given, `report.failing_ids` holds this column's values for failing rows (in memory only).

    Returns:
        A `ValidationReport`; a missing column shows up as a failed expectation, not an exception.

    Raises:
        TypeError: `df` is not a DataFrame.
        ValueError: `id_column` is not a column of `df`.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"validate_frame needs a pandas DataFrame, got {type(df).__name__}")
    if id_column is not None and id_column not in df.columns:
        raise ValueError(f"id_column '{id_column}' is not a column of the frame")
    # GX reports failing rows by index label; a fresh RangeIndex makes them positions, whatever the
    # caller's index (duplicates, strings). Copy-on-write makes this a cheap view.
    frame = df.reset_index(drop=True)
    started = time.perf_counter()
    batch = batch_definition(context).get_batch(batch_parameters={"dataframe": frame})
    # One call for the whole suite: GX hashes the whole frame once per validate call.
    result = batch.validate(suite.suite, result_format=_RESULT_FORMAT)
    seconds = time.perf_counter() - started

    by_key = {r.expectation_config.id: r for r in result.results}
    outcomes: list[ExpectationOutcome] = []
    failing_rows: dict[str, list[int]] = {}
    for spec in suite.specs:
        r = by_key.get(spec.key)
        if r is None:  # not expected: every expectation yields a result; treat a gap as a failure
            outcomes.append(_outcome(spec, success=False, details={}, exception="GX returned no result for this expectation"))
            continue
        details = r.result or {}
        outcomes.append(_outcome(spec, bool(r.success), details, _exception_line(r.exception_info, spec)))
        indices = details.get("unexpected_index_list")
        if indices:
            # Plain ints (never dicts of values): the frame was given a RangeIndex above.
            failing_rows[spec.key] = sorted({int(i) for i in indices if isinstance(i, (int, np.integer))})
        # Drop GX's copy of the failing values as soon as the indices are read.
        details.pop("unexpected_list", None)
        details.pop("partial_unexpected_list", None)
        details.pop("partial_unexpected_counts", None)

    failing_ids: dict[str, list[str]] = {}
    if id_column is not None:
        ids = frame[id_column]
        failing_ids = {k: ids.iloc[v].astype(str).tolist() for k, v in failing_rows.items()}
    report = ValidationReport.from_outcomes(
        suite.name,
        outcomes,
        failing_rows,
        rows=len(frame),
        columns=frame.shape[1],
        seconds=round(seconds, 3),
        failing_ids=failing_ids,
    )
    log.info(
        "validated %d rows x %d columns with %s: %d/%d expectations passed, %d critical failures, %d warnings (%.2f s)",
        report.row_count,
        report.column_count,
        suite.name,
        report.successful,
        report.evaluated,
        len(report.critical_failures),
        len(report.warnings),
        seconds,
    )
    return report


def _outcome(spec: ExpectationSpec, success: bool, details: dict[str, Any], exception: str | None) -> ExpectationOutcome:
    return ExpectationOutcome.of(
        spec,
        success,
        element_count=_as_int(details.get("element_count")),
        unexpected_count=_as_int(details.get("unexpected_count")),
        unexpected_percent=_as_float(details.get("unexpected_percent")),
        missing_count=_as_int(details.get("missing_count")),
        exception=exception,
    )


def quarantine_rows(
    df: pd.DataFrame,
    report: ValidationReport,
    critical_only: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a frame into clean rows and rows that failed a row-level expectation.

    A row is quarantined when it is among an expectation's failing rows, even if that expectation
    passed overall thanks to `mostly`. Table-level failures (missing column, row count) have no rows:
    `raise_if_critical` handles those.

    Args:
        df: the validated frame, or a frame derived from it with the same rows in the same order
            (e.g. its anonymized version); its index is kept.
        report: from `validate_frame` on that frame.
        critical_only: quarantine only for failed critical row checks.

    Returns:
        (clean rows, quarantined rows with a `quarantine_reason` column listing expectation keys, "; "-joined).

    Raises:
        ValueError: the frame's row count differs from the report's, or it already has `quarantine_reason`.
    """
    if len(df) != report.row_count:
        raise ValueError(
            f"frame has {len(df)} rows but the validation report covers {report.row_count}; quarantine needs the validated rows"
        )
    if "quarantine_reason" in df.columns:
        raise ValueError("frame already has a 'quarantine_reason' column")
    critical = {o.key: o.critical for o in report.expectations}
    reasons: dict[int, list[str]] = {}
    for o in report.expectations:  # suite order, so reasons read in the order of the file
        if critical_only and not critical.get(o.key, False):
            continue
        for pos in report.failing_rows.get(o.key, []):
            reasons.setdefault(pos, []).append(o.key)
    mask = np.zeros(len(df), dtype=bool)
    positions = np.fromiter(sorted(reasons), dtype=np.int64, count=len(reasons))
    mask[positions] = True
    clean = df.iloc[~mask]
    quarantined = df.iloc[mask].assign(quarantine_reason=["; ".join(reasons[p]) for p in positions.tolist()])
    return clean, quarantined
