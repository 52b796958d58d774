"""The compiled row checks (`veilflow.tasks.data.row_checks`) against GX itself: for every row-level
expectation of the repo's raw suites, on good and deliberately bad frames (nulls of every kind, out of
range, infinities, wrong set members, regex mismatches, empty strings, trailing newlines, duplicates,
`mostly` on both sides of its threshold, all-null columns, empty frames, single records, other dtypes),
the same outcome (success, counts, percentages) and the same failing rows as GX's `validate_frame`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from veilflow.core.config import resolve_path
from veilflow.tasks.data.io import generate_customers, load_breast_cancer_frame
from veilflow.tasks.data.row_checks import (
    BETWEEN,
    IN_SET,
    MATCH_REGEX,
    NOT_NULL,
    UNIQUE,
    CompiledSuite,
    OutsideDomain,
    compile_row_checks,
    evaluate_row_checks,
    validate_suite,
)
from veilflow.tasks.data.validation import LoadedSuite, load_suite, validate_frame

SUITES = {"customers": "expectations/customers.raw.json", "breast_cancer": "expectations/breast_cancer.raw.json"}
N = 40  # rows of the edge-case frames
# Rows used for each kind of defect in the "violations" frames (disjoint, so each defect is judged alone).
ROWS = {BETWEEN: range(7), IN_SET: range(7, 11), MATCH_REGEX: range(11, 17), NOT_NULL: [17], UNIQUE: [18, 19, 20]}


def _is_row_level(type_: str) -> bool:
    from veilflow.tasks.ops.raw_scoring import is_row_level

    return is_row_level(type_)


@cache
def _entries(name: str) -> tuple[dict, ...]:
    data = json.loads(resolve_path(SUITES[name]).read_text(encoding="utf-8"))
    return tuple(e for e in data["expectations"] if _is_row_level(e["type"]))


@cache
def _row_suite(name: str, tmp: str) -> LoadedSuite:
    """The suite's row-level expectations (label included), as a GX suite of their own."""
    data = json.loads(resolve_path(SUITES[name]).read_text(encoding="utf-8"))
    data["expectations"] = list(_entries(name))
    data["name"] = f"{data['name']}.rows"
    path = Path(tmp) / f"{name}.rows.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return load_suite(path)


def _base(name: str, n: int = N) -> pd.DataFrame:
    if name == "customers":
        return generate_customers(n, seed=11)
    return load_breast_cancer_frame().head(n).reset_index(drop=True)


def _by_column(name: str) -> dict[str, list[tuple[str, dict]]]:
    out: dict[str, list[tuple[str, dict]]] = {}
    for e in _entries(name):
        out.setdefault(e["kwargs"]["column"], []).append((e["type"], e["kwargs"]))
    return out


def _numeric(checks: list[tuple[str, dict]], frame: pd.DataFrame, column: str) -> bool:
    sets = [k["value_set"] for t, k in checks if t == IN_SET]
    return (
        any(t == BETWEEN for t, _ in checks)
        or bool(sets and all(isinstance(v, int | float) for v in sets[0]))
        or (pd.api.types.is_numeric_dtype(frame[column]) and not sets)
    )


def _valid(checks: list[tuple[str, dict]], frame: pd.DataFrame, column: str) -> object:
    """A value of the base frame that passes the column's checks."""
    return frame[column].iloc[-1]


def _bad(checks: list[tuple[str, dict]], frame: pd.DataFrame, column: str) -> object:
    """A non-null value that fails the column's value check (None where a null is its only defect)."""
    kinds = dict(checks)
    if BETWEEN in kinds:
        k = kinds[BETWEEN]
        return float(k["min_value"]) - 1.0 if k.get("min_value") is not None else float(k["max_value"]) + 1.0
    if IN_SET in kinds:
        return 7 if _numeric(checks, frame, column) else "zzz-not-in-set"
    if MATCH_REGEX in kinds:
        return "zzz does not match"
    if UNIQUE in kinds:
        return frame[column].iloc[0]  # a duplicate
    return None


def _prepare(frame: pd.DataFrame, name: str, dtype: str) -> pd.DataFrame:
    """Checked columns as float64 and text as generated ("native"), as object, or as pandas nullable dtypes."""
    out = frame.copy()
    for column, checks in _by_column(name).items():
        numeric = _numeric(checks, out, column)
        if dtype == "object":
            out[column] = out[column].astype(object)
        elif dtype == "nullable":
            out[column] = out[column].astype("Float64" if numeric else "string[python]")
        elif numeric:
            out[column] = out[column].astype("float64")
    return out


def _violations(name: str, dtype: str) -> pd.DataFrame:
    frame = _prepare(_base(name), name, dtype)
    for column, checks in _by_column(name).items():
        numeric = _numeric(checks, frame, column)
        for type_, kwargs in checks:
            rows = list(ROWS[type_])
            if type_ == BETWEEN:
                lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
                values = [
                    float(lo) - 1.0 if lo is not None else float(hi) + 1.0,
                    float(hi) + 1.0 if hi is not None else float(lo) - 0.5,
                    float(lo) if lo is not None else float(hi),  # on the bound: passes
                    float(hi) if hi is not None else float(lo) + 1e-9,
                    np.inf,
                    -np.inf,
                    np.nan,
                ]
            elif type_ == IN_SET:
                member = kwargs["value_set"][0]
                values = [7, -1, 1.0, 2] if numeric else ["zzz", str(member).upper(), f" {member}", ""]
            elif type_ == MATCH_REGEX:
                ok = str(_valid(checks, frame, column))
                values = ["zzz", "", f"{ok}\n", f"x{ok}", f"{ok} ", " "]
            elif type_ == NOT_NULL:
                values = [None if not numeric else np.nan]
            else:  # UNIQUE: three rows share one value
                values = [frame[column].iloc[20]] * 2
                rows = rows[:2]
            for row, value in zip(rows, values, strict=True):
                frame.loc[row, column] = value
    return frame


def _nulls(name: str, dtype: str) -> pd.DataFrame:
    """Every kind of null (None, NaN, pd.NA) and the empty / blank strings that are not null."""
    frame = _prepare(_base(name), name, dtype)
    for column, checks in _by_column(name).items():
        numeric = _numeric(checks, frame, column)
        kinds = [None, np.nan, pd.NA] if dtype != "native" or not numeric else [np.nan, np.nan, np.nan]
        if dtype == "native" and not numeric:
            kinds = [None, np.nan, None]
        for row, value in enumerate(kinds):
            frame.loc[row, column] = value
        if not numeric:
            frame.loc[3, column], frame.loc[4, column] = "", "   "
    return frame


def _mostly(name: str, bad: int, null: bool) -> pd.DataFrame:
    """20 rows, `bad` of them failing (a null, or a failing value) in every checked column."""
    frame = _prepare(_base(name, 20), name, "native")
    for column, checks in _by_column(name).items():
        value = None if null else _bad(checks, frame, column)
        if value is None and _numeric(checks, frame, column):
            value = np.nan
        for row in range(bad):
            frame.loc[row, column] = value
    return frame


def _all_null(name: str) -> pd.DataFrame:
    frame = _prepare(_base(name, 12), name, "native")
    for column, checks in _by_column(name).items():
        frame[column] = np.nan if _numeric(checks, frame, column) else None
    return frame


def _single(name: str, bad: bool) -> pd.DataFrame:
    frame = _prepare(_base(name, 3).iloc[[1]].reset_index(drop=True), name, "native")
    if bad:
        for column, checks in _by_column(name).items():
            value = _bad(checks, frame, column)
            frame.loc[0, column] = np.nan if value is None and _numeric(checks, frame, column) else value
    return frame


VARIANTS = {
    "good": lambda n: _base(n),
    "good-native": lambda n: _prepare(_base(n), n, "native"),
    "violations": lambda n: _violations(n, "native"),
    "violations-object": lambda n: _violations(n, "object"),
    "violations-nullable": lambda n: _violations(n, "nullable"),
    "nulls": lambda n: _nulls(n, "native"),
    "nulls-object": lambda n: _nulls(n, "object"),
    "mostly-1-of-20-bad": lambda n: _mostly(n, 1, null=False),
    "mostly-2-of-20-bad": lambda n: _mostly(n, 2, null=False),
    "mostly-10-of-20-bad": lambda n: _mostly(n, 10, null=False),
    "mostly-11-of-20-bad": lambda n: _mostly(n, 11, null=False),
    "mostly-1-of-20-null": lambda n: _mostly(n, 1, null=True),
    "mostly-2-of-20-null": lambda n: _mostly(n, 2, null=True),
    "mostly-11-of-20-null": lambda n: _mostly(n, 11, null=True),
    "all-null": _all_null,
    "empty": lambda n: _base(n).iloc[0:0],
    "single-good": lambda n: _single(n, bad=False),
    "single-bad": lambda n: _single(n, bad=True),
}
# Where a compiled check may hand the call to GX: `between` on a dtype GX compares value by value.
FALLBACK_OK = {("violations-object", BETWEEN), ("violations-nullable", BETWEEN), ("nulls-object", BETWEEN)}


@pytest.fixture(scope="module")
def gx_context():
    from veilflow.engines.gx import build_gx_context

    return build_gx_context()


@pytest.fixture(scope="module")
def suites(tmp_path_factory) -> dict[str, LoadedSuite]:
    tmp = str(tmp_path_factory.mktemp("suites"))
    return {name: _row_suite(name, tmp) for name in SUITES}


@pytest.fixture(scope="module")
def frames() -> dict[tuple[str, str], pd.DataFrame]:
    return {(name, v): build(name) for name in SUITES for v, build in VARIANTS.items()}


@pytest.fixture(scope="module")
def gx_reports(suites, frames, gx_context):
    """GX's reports, one `validate_frame` call per suite and frame."""
    return {key: validate_frame(frame, suites[key[0]], gx_context) for key, frame in frames.items()}


CASES = [(name, e) for name in SUITES for e in _entries(name)]


def _key(entry: dict) -> str:
    from veilflow.tasks.data.validation import _expectation_key

    return _expectation_key(entry["type"], entry["kwargs"])


@pytest.mark.parametrize(("suite_name", "entry"), CASES, ids=[f"{n}:{_key(e)}" for n, e in CASES])
def test_row_check_when_compared_with_gx_then_same_outcome_and_failing_rows(suite_name, entry, suites, frames, gx_reports):
    suite = suites[suite_name]
    key = _key(entry)
    checks = {c.spec.key: c for c in compile_row_checks(suite).checks}
    assert key in checks, "every row-level expectation of the repo's suites compiles"
    judged = 0
    for variant in VARIANTS:
        gx = gx_reports[(suite_name, variant)]
        expected = next(o for o in gx.expectations if o.key == key)
        assert expected.exception is None, f"{variant}: GX raised on its own fixture"
        try:
            outcomes, failing = evaluate_row_checks(frames[(suite_name, variant)], (checks[key],))
        except OutsideDomain:
            assert (variant, entry["type"]) in FALLBACK_OK, f"{variant}: unexpected hand-over to GX"
            continue
        judged += 1
        assert outcomes[key] == expected, variant
        assert failing.get(key, []) == gx.failing_rows.get(key, []), variant
    assert judged >= len(VARIANTS) - 3


def test_row_checks_when_fixtures_are_bad_then_they_break_every_kind_of_check(gx_reports):
    """The fixtures are not vacuous: GX itself fails each kind of check on them, with and without `mostly`."""
    failed = {
        (o.type, o.mostly is not None)
        for (name, variant), r in gx_reports.items()
        if variant == "violations"
        for o in r.expectations
        if r.failing_rows.get(o.key)
    }
    assert {(t, False) for t in (BETWEEN, IN_SET, NOT_NULL, UNIQUE)} <= failed
    assert {(t, True) for t in (BETWEEN, IN_SET, MATCH_REGEX)} <= failed
    mostly = {
        (variant, o.success)
        for (name, variant), r in gx_reports.items()
        if name == "customers"
        for o in r.expectations
        if o.mostly == 0.95 and o.type == BETWEEN
    }
    assert ("mostly-1-of-20-bad", True) in mostly and ("mostly-2-of-20-bad", False) in mostly


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("suite_name", list(SUITES))
def test_validate_suite_when_row_level_suite_then_report_equals_gx(suite_name, variant, suites, frames, gx_reports, gx_context):
    report = validate_suite(frames[(suite_name, variant)], compile_row_checks(suites[suite_name]), gx_context)
    expected = gx_reports[(suite_name, variant)]
    assert report.model_dump(exclude={"seconds"}) == expected.model_dump(exclude={"seconds"})
    assert report.failing_rows == expected.failing_rows


@pytest.mark.parametrize("suite_name", list(SUITES))
def test_validate_suite_when_whole_batch_suite_then_table_checks_by_gx_and_report_equals_gx(suite_name, frames, gx_context):
    """The batch suite: table-level expectations stay with one GX call; the merged report is GX's, in file order."""
    suite = load_suite(resolve_path(SUITES[suite_name]))
    compiled = compile_row_checks(suite)
    assert compiled.rest is not None and all(not _is_row_level(s.type) for s in compiled.rest.specs)
    for variant in ("good", "violations", "mostly-2-of-20-bad", "single-bad", "empty"):
        frame = frames[(suite_name, variant)]
        expected = validate_frame(frame, suite, gx_context)
        report = validate_suite(frame, compiled, gx_context)
        assert [o.key for o in report.expectations] == [s.key for s in suite.specs]
        assert report.model_dump(exclude={"seconds"}) == expected.model_dump(exclude={"seconds"}), variant
        assert report.failing_rows == expected.failing_rows, variant


def test_validate_suite_when_column_missing_then_gx_validates_the_call(suites, frames, gx_context):
    suite = suites["customers"]
    frame = frames[("customers", "violations")].drop(columns=["email"])
    expected = validate_frame(frame, suite, gx_context)
    report = validate_suite(frame, compile_row_checks(suite), gx_context)
    assert report.model_dump(exclude={"seconds"}) == expected.model_dump(exclude={"seconds"})
    assert any(o.exception and "email" in o.exception for o in report.expectations)


def test_compile_when_unsupported_expectations_then_they_stay_with_gx(tmp_path, gx_context):
    entries = [
        ("expect_column_values_to_be_between", {"column": "tenure_months", "min_value": 0, "max_value": 24, "strict_min": True}),
        ("expect_column_values_to_be_in_set", {"column": "plan", "value_set": ["basic"], "mostly": 0.4}),
        ("expect_column_values_to_not_match_regex", {"column": "notes", "regex": "refund"}),
        ("expect_column_value_lengths_to_be_between", {"column": "zip_code", "min_value": 5, "max_value": 5}),
        ("expect_column_values_to_be_between", {"column": "tenure_months", "min_value": 30, "max_value": 10}),
        (
            "expect_column_values_to_match_regex",
            {"column": "email", "regex": "@", "row_condition": 'col("plan")=="basic"', "condition_parser": "great_expectations"},
        ),
        ("expect_table_row_count_to_be_between", {"min_value": 1}),
    ]
    data = {
        "name": "mixed",
        "expectations": [{"type": t, "kwargs": k, "meta": {"critical": False, "why": "test"}} for t, k in entries],
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    suite = load_suite(path)
    compiled = compile_row_checks(suite)
    assert [c.spec.type for c in compiled.checks] == [BETWEEN, IN_SET]
    assert isinstance(compiled, CompiledSuite) and compiled.rest is not None and len(compiled.rest.specs) == 5
    frame = _violations("customers", "native").assign(tenure_months=list(range(N)))
    expected = validate_frame(frame, suite, gx_context)
    report = validate_suite(frame, compiled, gx_context)
    assert report.model_dump(exclude={"seconds"}) == expected.model_dump(exclude={"seconds"})
    assert report.failing_rows == expected.failing_rows and report.failing_rows
