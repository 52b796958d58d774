"""Tests for veilflow.tasks.data.validation: the three GX suites, suite loading, counts-only reports, HTML and quarantine."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from veilflow.core.errors import ConfigError, DataValidationError
from veilflow.engines.gx import build_gx_context
from veilflow.tasks.data.io import generate_customers, load_breast_cancer_frame
from veilflow.tasks.data.validation import (
    LoadedSuite,
    ValidationReport,
    load_suite,
    quarantine_rows,
    validate_frame,
)
from veilflow.tasks.data.validation_docs import build_data_docs, render_validation_html

EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"
SENTINEL = "ZQXSENTINEL"  # planted in bad frames; must never reach anything serialized
TEST_KEY = "test-key-0123456789abcdef-not-a-secret"


# ---------------------------------------------------------------- fixtures (built once per module)


@pytest.fixture(scope="module")
def gx_context():
    return build_gx_context()


@pytest.fixture(scope="module")
def suites() -> dict[str, LoadedSuite]:
    return {
        name: load_suite(EXPECTATIONS / f"{name}.json") for name in ("customers.raw", "customers.anonymized", "breast_cancer.raw")
    }


@pytest.fixture(scope="module")
def raw_good() -> pd.DataFrame:
    return generate_customers(300, seed=11, defect_rate=0.0)


@pytest.fixture(scope="module")
def bc_good() -> pd.DataFrame:
    return load_breast_cancer_frame()


def _pseudo(value: str) -> str:
    return hashlib.sha256(f"k|{value}".encode()).hexdigest()[:32]


def _anonymize_in_code(raw: pd.DataFrame) -> pd.DataFrame:
    """The anonymized contract, produced without Presidio: pseudonyms, zip prefix, age band, tagged notes."""
    out = raw.drop(columns=["full_name", "street_address", "ssn", "date_of_birth"])
    for col in ("customer_id", "email", "phone"):
        out[col] = raw[col].map(_pseudo)
    out["zip_code"] = raw["zip_code"].str[:3]
    age = 2025 - pd.to_datetime(raw["date_of_birth"]).dt.year
    out["age_band"] = [f"{a // 10 * 10}-{a // 10 * 10 + 9}" if a < 80 else "80+" for a in age.tolist()]
    out["notes"] = "Asked about the bill; reach <PERSON> at <EMAIL_ADDRESS> or <PHONE_NUMBER>, card <CREDIT_CARD>."
    return out


# ---------------------------------------------------------------- frame variants for the suite table


def _with(df: pd.DataFrame, column: str, rows: list[int], value: object) -> pd.DataFrame:
    out = df.copy()
    if not isinstance(value, (int, float)) or pd.isna(value):
        out[column] = out[column].astype(object)
    out.loc[out.index[rows], column] = value
    return out


def raw_as_is(raw: pd.DataFrame) -> pd.DataFrame:
    return raw


def raw_label_missing(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.drop(columns=["churned"])


def raw_label_non_binary(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(raw, "churned", [0, 5], 2)


def raw_label_null(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(raw, "churned", [3], np.nan)


def raw_tenure_text(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(raw, "tenure_months", [1, 2], f"{SENTINEL}-tenure")


def raw_tenure_mostly_out_of_range(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(raw, "tenure_months", list(range(0, len(raw), 2)) + [1], 500)


def raw_duplicate_id(raw: pd.DataFrame) -> pd.DataFrame:
    out = raw.copy()
    out.loc[out.index[1], "customer_id"] = out.loc[out.index[0], "customer_id"]
    return out


def raw_empty(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.iloc[0:0]


def raw_small_defects(raw: pd.DataFrame) -> pd.DataFrame:
    out = _with(raw, "email", [4], "not-an-email")
    return _with(out, "contract_type", [7], "lifetime")


def anon_as_is(raw: pd.DataFrame) -> pd.DataFrame:
    return _anonymize_in_code(raw)


def anon_ssn_column_kept(raw: pd.DataFrame) -> pd.DataFrame:
    return _anonymize_in_code(raw).assign(ssn=raw["ssn"])


def anon_dob_not_dropped(raw: pd.DataFrame) -> pd.DataFrame:
    return _anonymize_in_code(raw).assign(date_of_birth=raw["date_of_birth"])


def anon_raw_customer_id(raw: pd.DataFrame) -> pd.DataFrame:
    return _anonymize_in_code(raw).assign(customer_id=raw["customer_id"])


def anon_uppercase_email_token(raw: pd.DataFrame) -> pd.DataFrame:
    out = _anonymize_in_code(raw)
    return _with(out, "email", [0], out["email"].iloc[0].upper())


def anon_null_emails(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(_anonymize_in_code(raw), "email", [0, 1, 2], None)


def anon_full_zip(raw: pd.DataFrame) -> pd.DataFrame:
    return _anonymize_in_code(raw).assign(zip_code=raw["zip_code"])


def anon_dob_in_age_band(raw: pd.DataFrame) -> pd.DataFrame:
    return _anonymize_in_code(raw).assign(age_band=raw["date_of_birth"])


def anon_email_in_notes(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(_anonymize_in_code(raw), "notes", [3], "Please reply to mary.smith12@example.com today.")


def anon_ssn_in_notes(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(_anonymize_in_code(raw), "notes", [3], "Verified SSN 157-27-2317 on the call.")


def anon_card_in_notes(raw: pd.DataFrame) -> pd.DataFrame:
    return _with(_anonymize_in_code(raw), "notes", [3], "Card on file 4111 1111 1111 1111 was declined.")


def anon_label_missing(raw: pd.DataFrame) -> pd.DataFrame:
    return _anonymize_in_code(raw).drop(columns=["churned"])


def bc_as_is(bc: pd.DataFrame) -> pd.DataFrame:
    return bc


def bc_feature_null(bc: pd.DataFrame) -> pd.DataFrame:
    return _with(bc, "mean_radius", [0], np.nan)


def bc_feature_missing(bc: pd.DataFrame) -> pd.DataFrame:
    return bc.drop(columns=["worst_symmetry"])


def bc_label_non_binary(bc: pd.DataFrame) -> pd.DataFrame:
    return _with(bc, "malignant", [0], 3)


def bc_duplicate_sample(bc: pd.DataFrame) -> pd.DataFrame:
    out = bc.copy()
    out.loc[1, "sample_id"] = out.loc[0, "sample_id"]
    return out


def bc_negative_feature(bc: pd.DataFrame) -> pd.DataFrame:
    return _with(bc, "mean_area", [2], -1.0)


# (suite, base frame, variant, critical checks pass?, expectation key that must fail or None)
SUITE_CASES = [
    # generated customers with no defects: every expectation passes
    ("customers.raw", "raw", raw_as_is, True, None),
    # one malformed e-mail and one unknown contract type: warnings only
    ("customers.raw", "raw", raw_small_defects, True, "expect_column_values_to_be_in_set(contract_type)"),
    # the label column is gone: the column-existence check stops the flow
    ("customers.raw", "raw", raw_label_missing, False, "expect_column_to_exist(churned)"),
    # a label of 2 is not binary
    ("customers.raw", "raw", raw_label_non_binary, False, "expect_column_values_to_be_in_set(churned)"),
    # a missing label cannot be learned from
    ("customers.raw", "raw", raw_label_null, False, "expect_column_values_to_not_be_null(churned)"),
    # text in a numeric column: GX cannot compare, the critical (mostly=0.5) range check fails
    ("customers.raw", "raw", raw_tenure_text, False, "expect_column_values_to_be_between(tenure_months, mostly=0.5)"),
    # over half the tenures out of range: garbage, critical
    (
        "customers.raw",
        "raw",
        raw_tenure_mostly_out_of_range,
        False,
        "expect_column_values_to_be_between(tenure_months, mostly=0.5)",
    ),
    # a duplicated customer id
    ("customers.raw", "raw", raw_duplicate_id, False, "expect_column_values_to_be_unique(customer_id)"),
    # no rows at all
    ("customers.raw", "raw", raw_empty, False, "expect_table_row_count_to_be_between"),
    # the agreed anonymized contract
    ("customers.anonymized", "raw", anon_as_is, True, None),
    # null e-mails stay null after pseudonymization and are allowed
    ("customers.anonymized", "raw", anon_null_emails, True, None),
    # a dropped PII column came back
    ("customers.anonymized", "raw", anon_ssn_column_kept, False, "expect_column_to_not_exist(ssn)"),
    # date_of_birth kept next to age_band
    ("customers.anonymized", "raw", anon_dob_not_dropped, False, "expect_column_to_not_exist(date_of_birth)"),
    # raw ids instead of pseudonyms
    ("customers.anonymized", "raw", anon_raw_customer_id, False, "expect_column_values_to_match_regex(customer_id)"),
    # a pseudonym must be lowercase hex
    ("customers.anonymized", "raw", anon_uppercase_email_token, False, "expect_column_values_to_match_regex(email)"),
    # a full 5-digit zip is a quasi-identifier
    ("customers.anonymized", "raw", anon_full_zip, False, "expect_column_values_to_match_regex(zip_code)"),
    # a raw date in age_band
    ("customers.anonymized", "raw", anon_dob_in_age_band, False, "expect_column_values_to_match_regex(age_band)"),
    # an e-mail address survived redaction in notes
    ("customers.anonymized", "raw", anon_email_in_notes, False, "expect_column_values_to_not_match_regex(notes)"),
    # an SSN survived redaction in notes
    ("customers.anonymized", "raw", anon_ssn_in_notes, False, "expect_column_values_to_not_match_regex(notes)#2"),
    # a card number survived redaction in notes
    ("customers.anonymized", "raw", anon_card_in_notes, False, "expect_column_values_to_not_match_regex(notes)#3"),
    # the label is checked after anonymization too
    ("customers.anonymized", "raw", anon_label_missing, False, "expect_column_to_exist(churned)"),
    # scikit-learn's breast-cancer frame as loaded
    ("breast_cancer.raw", "bc", bc_as_is, True, None),
    # one missing measurement: the models have no imputer
    ("breast_cancer.raw", "bc", bc_feature_null, False, "expect_column_values_to_not_be_null(mean_radius)"),
    # a feature column is gone
    ("breast_cancer.raw", "bc", bc_feature_missing, False, "expect_column_to_exist(worst_symmetry)"),
    # a label of 3
    ("breast_cancer.raw", "bc", bc_label_non_binary, False, "expect_column_values_to_be_in_set(malignant)"),
    # duplicated sample ids leak between splits
    ("breast_cancer.raw", "bc", bc_duplicate_sample, False, "expect_column_values_to_be_unique(sample_id)"),
    # a negative measurement is a warning (row quarantined at scoring), not a stop
    ("breast_cancer.raw", "bc", bc_negative_feature, True, "expect_column_values_to_be_between(mean_area)"),
]


@pytest.mark.parametrize(
    ("suite_name", "base", "variant", "critical_ok", "failing_key"),
    SUITE_CASES,
    ids=[f"{c[0]}-{c[2].__name__}" for c in SUITE_CASES],
)
def test_suite_when_fixture_validated_then_expected_outcome(
    suite_name: str,
    base: str,
    variant: Callable[[pd.DataFrame], pd.DataFrame],
    critical_ok: bool,
    failing_key: str | None,
    suites: dict[str, LoadedSuite],
    gx_context,
    raw_good: pd.DataFrame,
    bc_good: pd.DataFrame,
) -> None:
    frame = variant(raw_good if base == "raw" else bc_good)
    report = validate_frame(frame, suites[suite_name], gx_context)
    assert report.critical_success is critical_ok
    assert report.evaluated == len(suites[suite_name].specs)
    if failing_key is None:
        assert report.success, [o.key for o in report.expectations if not o.success]
        return
    failed = {o.key for o in report.expectations if not o.success}
    assert failing_key in failed
    if critical_ok:
        assert failing_key in report.warnings
        report.raise_if_critical("test")  # must not raise: warnings never stop the flow
    else:
        assert failing_key in report.critical_failures
        with pytest.raises(DataValidationError, match=r"test: \d+ critical expectation"):
            report.raise_if_critical("test")


def test_raw_suite_when_generated_with_defects_then_critical_pass_and_warnings_counted(suites, gx_context) -> None:
    df = generate_customers(2000, seed=3, defect_rate=0.02)
    report = validate_frame(df, suites["customers.raw"], gx_context)
    by_key = {o.key: o for o in report.expectations}
    injected = 40  # round(0.02 * 2000) rows per defect kind
    assert report.critical_success
    assert "expect_column_values_to_be_in_set(contract_type)" in report.warnings
    tenure = by_key["expect_column_values_to_be_between(tenure_months, mostly=0.95)"]
    assert tenure.success and tenure.unexpected_count == injected
    assert by_key["expect_column_values_to_match_regex(email, mostly=0.95)"].unexpected_count == injected
    assert by_key["expect_column_values_to_not_be_null(monthly_charges, mostly=0.95)"].unexpected_count == injected
    assert report.rows_flagged > 0


def test_raw_suite_when_generated_without_defects_then_everything_passes(suites, gx_context) -> None:
    report = validate_frame(generate_customers(2000, seed=3, defect_rate=0.0), suites["customers.raw"], gx_context)
    assert report.success and report.successful == report.evaluated
    assert report.rows_flagged == 0 and report.failing_rows == {}
    assert all(o.unexpected_count in (0, None) for o in report.expectations)


def test_anonymized_suite_when_real_policy_output_then_no_critical_failure(suites, gx_context) -> None:
    from veilflow.engines.presidio import build_analyzer
    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.redaction import anonymize_frame

    raw = generate_customers(120, seed=21, defect_rate=0.0)
    policy = load_policy(EXPECTATIONS / "policies" / "customers.pii.yaml")
    anonymized, _ = anonymize_frame(raw, policy, build_analyzer("none"), TEST_KEY)
    report = validate_frame(anonymized, suites["customers.anonymized"], gx_context)
    assert report.critical_success, report.critical_failures


# ---------------------------------------------------------------- load_suite


@pytest.mark.parametrize("name", ["customers.raw", "customers.anonymized", "breast_cancer.raw"])
def test_load_suite_when_repo_file_then_every_expectation_kept_with_flags(name: str, suites) -> None:
    data = json.loads((EXPECTATIONS / f"{name}.json").read_text())
    loaded = suites[name]
    assert loaded.name == name == data["name"]
    assert len(loaded.suite.expectations) == len(loaded.specs) == len(data["expectations"])
    assert [s.critical for s in loaded.specs] == [e["meta"]["critical"] for e in data["expectations"]]
    assert len(set(loaded.critical)) == len(loaded.specs)  # keys are unique
    # GX-native: the loaded suite serializes back to the same expectation types and kwargs.
    again = loaded.suite.to_json_dict()["expectations"]
    assert [(e["type"], e["kwargs"]) for e in again] == [(e["type"], e["kwargs"]) for e in data["expectations"]]


def _write_suite(tmp_path: Path, expectations: list[dict], name: str = "t.raw") -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "expectations": expectations, "meta": {}}))
    return path


_OK = {"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "meta": {"critical": True, "why": "needed"}}

LOAD_ERRORS = [
    # no such file
    ("missing", None, "not found"),
    # truncated JSON
    ("bad_json", '{"name": "t.raw", "expectations": [', "not valid JSON"),
    # GX silently drops an unknown type; the count check names it
    (
        "unknown_type",
        [_OK, {"type": "expect_column_to_be_bogus", "kwargs": {"column": "a"}, "meta": {"critical": True, "why": "x"}}],
        r"loaded 1 of 2 expectations \(1 dropped; unknown types: expect_column_to_be_bogus\)",
    ),
    # a kwarg GX does not know raises in GX: turned into a one-line ConfigError
    (
        "bad_kwargs",
        [{"type": "expect_column_to_exist", "kwargs": {"colum": "a"}, "meta": {"critical": True, "why": "x"}}],
        "could not be built",
    ),
    # every expectation must say whether it is critical
    (
        "no_critical",
        [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "meta": {"why": "x"}}],
        "boolean meta.critical",
    ),
    # ... and why it exists
    ("no_why", [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "meta": {"critical": False}}], "meta.why"),
    # GX severity contradicting meta.critical
    ("severity_mismatch", [{**_OK, "severity": "warning"}], "severity 'warning' but meta.critical=True"),
    # an empty suite guards nothing
    ("empty", [], "no 'expectations' list"),
]


@pytest.mark.parametrize(("case", "content", "message"), LOAD_ERRORS, ids=[c[0] for c in LOAD_ERRORS])
def test_load_suite_when_bad_file_then_config_error_one_line(tmp_path: Path, case: str, content, message: str) -> None:
    if content is None:
        path = tmp_path / "absent.json"
    elif isinstance(content, str):
        path = tmp_path / "broken.json"
        path.write_text(content)
    else:
        path = _write_suite(tmp_path, content)
    with pytest.raises(ConfigError, match=message) as info:
        load_suite(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- validate_frame


def test_validate_when_column_missing_then_failed_expectation_not_crash(suites, gx_context, raw_good) -> None:
    report = validate_frame(raw_good.drop(columns=["monthly_charges"]), suites["customers.raw"], gx_context)
    by_key = {o.key: o for o in report.expectations}
    null_check = by_key["expect_column_values_to_not_be_null(monthly_charges, mostly=0.95)"]
    assert not null_check.success
    assert null_check.exception == "column 'monthly_charges' does not exist in the frame"
    assert "expect_column_to_exist(monthly_charges)" in report.critical_failures
    with pytest.raises(DataValidationError) as info:
        report.raise_if_critical("raw")
    assert "expect_column_to_exist(monthly_charges) [column missing]" in str(info.value)
    assert "\n" not in str(info.value)


def test_validate_when_sentinels_planted_then_no_value_in_anything_serialized(
    suites, gx_context, raw_good, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = raw_good.copy()
    for col in ("tenure_months", "monthly_charges", "email", "contract_type", "churned", "customer_id", "date_of_birth"):
        bad = _with(bad, col, [5, 6], f"{SENTINEL}-{col}")
    caplog.set_level(logging.DEBUG)
    report = validate_frame(bad, suites["customers.raw"], gx_context, id_column="customer_id")
    assert not report.critical_success
    assert report.failing_rows and report.failing_ids  # the values exist in memory, for quarantine ...
    assert any(SENTINEL in i for ids in report.failing_ids.values() for i in ids)
    summary = json.dumps(report.to_summary_dict())
    html = render_validation_html(report, tmp_path / "report.html").read_text()
    with pytest.raises(DataValidationError) as info:
        report.raise_if_critical("raw")
    for text in (summary, report.model_dump_json(), repr(report), html, str(info.value), caplog.text):
        assert SENTINEL not in text  # ... and nowhere else
    docs = build_data_docs(report, suites["customers.raw"], tmp_path / "docs").read_text()
    assert SENTINEL not in docs and "customers.raw" in docs
    assert "failing_rows" not in summary and "failing_ids" not in summary
    for forbidden in ("unexpected_list", "partial_unexpected_list", "unexpected_index_list"):
        assert forbidden not in summary


def test_validate_when_id_column_given_then_failing_ids_match_rows(suites, gx_context, raw_good) -> None:
    bad = raw_label_non_binary(raw_good)
    report = validate_frame(bad, suites["customers.raw"], gx_context, id_column="customer_id")
    key = "expect_column_values_to_be_in_set(churned)"
    assert report.failing_rows[key] == [0, 5]
    assert report.failing_ids[key] == bad["customer_id"].iloc[[0, 5]].tolist()


def test_validate_when_frame_given_then_input_not_mutated(suites, gx_context, raw_good) -> None:
    frame = raw_tenure_text(raw_good).set_axis(range(1000, 1000 + len(raw_good)))
    before = frame.copy()
    validate_frame(frame, suites["customers.raw"], gx_context)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    ("df", "id_column", "error"),
    [
        ({"a": [1]}, None, TypeError),  # a dict is not a DataFrame
        (pd.DataFrame({"a": [1]}), "customer_id", ValueError),  # id column absent
    ],
)
def test_validate_when_bad_arguments_then_error(suites, gx_context, df, id_column, error) -> None:
    with pytest.raises(error):
        validate_frame(df, suites["customers.raw"], gx_context, id_column=id_column)


def test_build_gx_context_when_used_then_ephemeral_and_no_gx_folder(tmp_path: Path, monkeypatch, suites, raw_good) -> None:
    monkeypatch.chdir(tmp_path)
    context = build_gx_context()
    validate_frame(raw_good, suites["customers.raw"], context)
    validate_frame(raw_good, suites["customers.raw"], context)  # the data source is reused, not re-added
    assert type(context).__name__ == "EphemeralDataContext"
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- HTML


def test_render_html_when_report_then_counts_page_with_escaping(tmp_path: Path, gx_context, raw_good) -> None:
    suite_path = _write_suite(
        tmp_path,
        [
            {
                "type": "expect_column_to_exist",
                "kwargs": {"column": "churned"},
                "meta": {"critical": True, "why": "<script>alert(1)</script>"},
            },
            {
                "type": "expect_column_to_exist",
                "kwargs": {"column": "absent"},
                "meta": {"critical": False, "why": "warn & count"},
            },
        ],
        name="t<b>.raw",
    )
    report = validate_frame(raw_good, load_suite(suite_path), gx_context)
    out = render_validation_html(report, tmp_path / "nested" / "dir" / "v.html")
    page = out.read_text()
    assert out.exists() and page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "t&lt;b&gt;.raw" in page and "warn &amp; count" in page
    assert "1 of 2" in page and "warning(s)" in page
    assert "http://" not in page and "https://" not in page  # offline: nothing fetched from a CDN


def test_build_data_docs_when_report_of_other_suite_then_value_error(tmp_path: Path, suites, gx_context, bc_good) -> None:
    report = validate_frame(bc_good, suites["breast_cancer.raw"], gx_context)
    with pytest.raises(ValueError, match="does not match suite 'customers.raw'"):
        build_data_docs(report, suites["customers.raw"], tmp_path)
    assert build_data_docs(report, suites["breast_cancer.raw"], tmp_path).name == "breast_cancer.raw.data-docs.html"


# ---------------------------------------------------------------- quarantine


def test_quarantine_when_defects_then_split_by_row_with_reasons(suites, gx_context, raw_good) -> None:
    bad = _with(raw_good, "email", [4], "not-an-email")
    bad = _with(bad, "tenure_months", [9], -5)
    bad = bad.set_axis([f"r{i}" for i in range(len(bad))])  # non-integer labels must survive
    report = validate_frame(bad, suites["customers.raw"], gx_context)
    clean, quarantined = quarantine_rows(bad, report)
    assert list(quarantined.index) == ["r4", "r9"]
    assert len(clean) + len(quarantined) == len(bad) and not set(clean.index) & set(quarantined.index)
    assert quarantined.loc["r4", "quarantine_reason"] == "expect_column_values_to_match_regex(email, mostly=0.95)"
    assert quarantined.loc["r9", "quarantine_reason"] == (
        "expect_column_values_to_be_between(tenure_months, mostly=0.95); "
        "expect_column_values_to_be_between(tenure_months, mostly=0.5)"
    )
    assert "quarantine_reason" not in bad.columns and "quarantine_reason" not in clean.columns

    clean_c, quarantined_c = quarantine_rows(bad, report, critical_only=True)
    assert list(quarantined_c.index) == ["r9"]  # the e-mail check is only a warning
    assert quarantined_c.loc["r9", "quarantine_reason"] == "expect_column_values_to_be_between(tenure_months, mostly=0.5)"
    assert len(clean_c) == len(bad) - 1


def test_quarantine_when_nothing_failed_then_all_clean(suites, gx_context, raw_good) -> None:
    report = validate_frame(raw_good, suites["customers.raw"], gx_context)
    clean, quarantined = quarantine_rows(raw_good, report)
    pd.testing.assert_frame_equal(clean, raw_good)
    assert len(quarantined) == 0 and "quarantine_reason" in quarantined.columns


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda df: df.iloc[:-1], "rows but the validation report covers"),  # a different frame than the validated one
        (lambda df: df.assign(quarantine_reason="x"), "already has a 'quarantine_reason'"),  # would overwrite a column
    ],
)
def test_quarantine_when_frame_does_not_match_report_then_value_error(suites, gx_context, raw_good, mangle, message) -> None:
    report: ValidationReport = validate_frame(raw_good, suites["customers.raw"], gx_context)
    with pytest.raises(ValueError, match=message):
        quarantine_rows(mangle(raw_good), report)


def test_import_when_module_loaded_then_gx_not_imported_and_nothing_written(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import sys, veilflow.tasks.data.validation; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert os.listdir(tmp_path) == []
