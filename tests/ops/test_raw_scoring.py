"""The one raw-record code path (`score_raw_records`): per-row errors that name columns and checks (never
values), identical predictions to the anonymized-input path, and the same answer per record whatever the
request it came in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _configs import DEFAULTS

from veilflow.core.config import load_config, resolve_path
from veilflow.core.errors import DataValidationError
from veilflow.tasks.data.io import generate_customers

KEY = b"unit-test-key-0123456789abcdef-not-a-secret"
# Distinctive raw values planted in the rows: none may come back in an error or an answer.
PLANTED = {
    "full_name": "Zebulon Quixotewhistle",
    "email": "zebulon.quixotewhistle@planted-veilflow.example",
    "tenure_months": "eleven-PLANTED-months",
    "contract_type": "lifetime-PLANTED",
    "notes": "Zebulon Quixotewhistle asked for a refund, call 415-555-0199",
}


@pytest.fixture(scope="module")
def fitted():
    """A logistic regression fitted on anonymized demo data, the pattern-only analyzer and a GX context."""
    from veilflow.engines.gx import build_gx_context
    from veilflow.engines.presidio import build_analyzer
    from veilflow.tasks.ops.scoring import ChampionModel
    from veilflow.tasks.ops.training_steps import fit_candidate
    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.redaction import anonymize_frame

    config = load_config(DEFAULTS, {"privacy.nlp_model": "none"})
    with pytest.warns(UserWarning, match="PATTERN-ONLY"):
        analyzer = build_analyzer("none")
    policy = load_policy(resolve_path(config.dataset.pii_policy))
    anonymized, _ = anonymize_frame(generate_customers(400, seed=1), policy, analyzer, KEY)
    trained = fit_candidate("logistic_regression", {"C": 1.0}, anonymized, anonymized.head(80), config)
    champion = ChampionModel("unit-customers", "7", "run", "unknown", config, trained.model)
    return {"champion": champion, "analyzer": analyzer, "gx": build_gx_context(), "policy": policy}


def _scorer(fitted, mode: str):
    from veilflow.tasks.ops.raw_scoring import prepare_scorer

    return prepare_scorer(fitted["champion"], KEY, fitted["gx"], fitted["analyzer"], mode=mode)  # type: ignore[arg-type]


def _batch(n: int = 40, seed: int = 5) -> pd.DataFrame:
    return generate_customers(n, seed=seed).drop(columns=["churned"])


def _planted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype({"tenure_months": object, "notes": object})
    out.loc[0, "full_name"], out.loc[0, "email"], out.loc[0, "notes"] = PLANTED["full_name"], PLANTED["email"], PLANTED["notes"]
    out.loc[1, "tenure_months"] = PLANTED["tenure_months"]  # wrong type
    out.loc[2, "contract_type"] = PLANTED["contract_type"]  # not in the suite's set
    out.loc[3, "notes"] = 42  # a number where text belongs
    out.loc[4, "customer_id"] = None  # the id is required
    return out


def _text_of(*frames: pd.DataFrame) -> str:
    return "\n".join(f.to_json(orient="records", default_handler=str) for f in frames)


def test_contract_when_demo_config_then_id_required_features_as_the_suite_says_pii_columns_optional(fitted):
    import json

    from veilflow.core.config import resolve_path
    from veilflow.tasks.ops.raw_scoring import RawContract, raw_contract

    contract = _scorer(fitted, "records").contract
    # The demo suite requires only the id in every row; its features may be null (training imputed them).
    assert set(contract.required) == {"customer_id"}
    assert {"full_name", "email", "phone", "street_address", "zip_code", "ssn", "date_of_birth", "gender", "churned"} <= set(
        contract.optional
    )
    assert "age_band" not in contract.columns  # created by the policy, not a raw column
    assert contract.kinds["tenure_months"] == "number" and contract.kinds["notes"] == "text"
    # ids, categories, structured PII and the label take any value, as training accepted them (integer ids).
    assert contract.kinds["customer_id"] == contract.kinds["email"] == contract.kinds["churned"] == "any"
    # Every raw model feature is a feature of the contract: a batch must hold it as a column, a record need not.
    assert set(contract.features) == {
        "tenure_months",
        "monthly_charges",
        "num_support_tickets",
        "contract_type",
        "payment_method",
        "plan",
        "notes",
    }
    assert RawContract.from_dict(contract.to_dict()) == contract

    # A feature the suite requires in every row (not-null, no `mostly`) is required; `mostly` keeps it optional.
    config = fitted["champion"].pipeline_config
    suite = json.loads(resolve_path(config.dataset.raw_suite).read_text(encoding="utf-8"))
    strict = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "plan"}}
    loose = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "contract_type", "mostly": 0.9}}
    suite["expectations"] += [strict, loose]
    required = raw_contract(config, fitted["policy"], suite).required
    assert set(required) == {"customer_id", "plan"}


def test_score_raw_records_when_clean_batch_then_identical_to_anonymized_input_path(fitted):
    from veilflow.tasks.modeling.candidates import predict_positive
    from veilflow.tasks.ops.raw_scoring import score_raw_records
    from veilflow.tasks.ops.scoring import score_frame
    from veilflow.tasks.privacy.redaction import anonymize_frame

    batch = _batch()
    scored = score_raw_records(batch, _scorer(fitted, "batch"), raise_on_critical=True)
    assert scored.errors.empty and len(scored.predictions) == len(batch)
    # The anonymized-input path: the same policy, analyzer and key, then the registered pipeline.
    anonymized, _ = anonymize_frame(batch, fitted["policy"], fitted["analyzer"], KEY)
    reference = score_frame(fitted["champion"], anonymized, top_k=3)
    pd.testing.assert_frame_equal(scored.predictions.reset_index(drop=True), reference)  # exact, to the last digit
    features = anonymized[fitted["champion"].pipeline_config.dataset.feature_columns]
    np.testing.assert_array_equal(
        scored.predictions["probability"].to_numpy(), predict_positive(fitted["champion"].pipeline, features)
    )


def test_score_raw_records_when_rows_fail_checks_then_per_row_errors_name_column_and_check_never_value(fitted):
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    batch = _planted(_batch(12))
    scored = score_raw_records(batch, _scorer(fitted, "records"))
    records = scored.records()
    assert len(records) == 12 and records["row"].tolist() == list(range(12))
    errors = records.set_index("row")["error"]
    assert errors[1] == "type(tenure_months)=number"
    assert errors[2].startswith("expect_column_values_to_be_in_set(contract_type)")
    assert errors[3].startswith("type(notes)=text")
    assert "required(customer_id)" in errors[4] and "expect_column_values_to_not_be_null(customer_id)" in errors[4]
    assert errors[0] is None and records.loc[0, "probability"] is not None  # a planted name in a note still scores
    failed = records[records["error"].notna()]
    assert set(failed["row"]) == {1, 2, 3, 4} and failed["probability"].isna().all()
    assert scored.error_counts()["type(tenure_months)=number"] == 1
    text = _text_of(records) + "\n".join(scored.report.model_dump_json() for _ in [0])
    for value in PLANTED.values():
        assert value not in text
    assert "CUST-" not in text  # ids come back as keyed pseudonyms
    assert isinstance(records.loc[5, "prediction"], int | np.integer)


def test_score_raw_records_when_fields_absent_then_optional_ones_score_and_required_ones_error(fitted):
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    scorer = _scorer(fitted, "records")
    one = _batch(1, seed=8)
    full = score_raw_records(one, scorer).records()
    without_optional = score_raw_records(
        one.drop(columns=["phone", "email", "ssn", "street_address", "full_name"]), scorer
    ).records()
    assert without_optional.loc[0, "error"] is None
    assert without_optional.loc[0, "probability"] == full.loc[0, "probability"]  # no feature comes from those columns
    # A null note fails the suite's row check (training quarantined such rows too), not veilflow's own.
    without_notes = score_raw_records(one.drop(columns=["notes"]), scorer).records()
    assert without_notes.loc[0, "error"] == "expect_column_values_to_not_be_null(notes, mostly=0.95)"
    assert without_notes.loc[0, "probability"] is None
    without_required = score_raw_records(one.drop(columns=["customer_id"]), scorer).records()
    assert without_required.loc[0, "error"].startswith("required(customer_id)")
    assert without_required.loc[0, "probability"] is None


def test_score_raw_records_when_records_scored_alone_or_together_then_identical(fitted):
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    batch = _batch(25, seed=9)
    together = score_raw_records(batch, _scorer(fitted, "batch")).predictions
    records = _scorer(fitted, "records")
    with_label = batch.assign(churned=1)  # a served record's label is ignored
    alone = pd.concat([score_raw_records(with_label.iloc[[i]], records).predictions for i in (0, 7, 24)])
    # Values to the last digit (a reason column that is all missing in one frame differs in dtype only).
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True), together.iloc[[0, 7, 24]].reset_index(drop=True), check_dtype=False
    )


def test_score_raw_records_when_batch_breaks_critical_check_then_one_line_without_values(fitted):
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    batch = _batch(20)
    batch.loc[5, "customer_id"] = batch.loc[2, "customer_id"]
    with pytest.raises(DataValidationError) as err:
        score_raw_records(batch, _scorer(fitted, "batch"), raise_on_critical=True)
    message = str(err.value)
    assert "\n" not in message and "customer_id" in message and batch.loc[2, "customer_id"] not in message
    # The same rows as records: the duplicates are those two rows' errors, the rest scores.
    records = score_raw_records(batch, _scorer(fitted, "records")).records()
    assert set(records.loc[records["error"].notna(), "row"]) == {2, 5}


def _gx_only(monkeypatch):
    """Make every suite GX's alone (nothing compiled): the reference for the compiled row checks."""
    import veilflow.tasks.data.row_checks as row_checks

    monkeypatch.setattr(
        row_checks, "compile_row_checks", lambda suite: row_checks.CompiledSuite(suite=suite, checks=(), rest=suite)
    )


def _defects(n: int = 60) -> pd.DataFrame:
    """Rows that break every kind of row check of the raw suite (nulls, range, set, regex, duplicates)."""
    out = _batch(n, seed=12).astype({"tenure_months": "float64", "num_support_tickets": "float64"})
    out.loc[0, "tenure_months"] = -3.0
    out.loc[1, "monthly_charges"] = 5000.0
    out.loc[2, "num_support_tickets"] = -1.0
    out.loc[3, "contract_type"] = "lifetime"
    out.loc[4, "payment_method"] = ""
    out.loc[5, "plan"] = "Premium"
    out.loc[6, "gender"] = "unknown"
    out.loc[7, "email"] = "not-an-email"
    out.loc[8, "zip_code"] = "1234"
    out.loc[9, "date_of_birth"] = "1990-13-01"
    out.loc[10, "customer_id"] = out.loc[11, "customer_id"]
    out.loc[12, "notes"] = None
    out.loc[13, "monthly_charges"] = np.nan
    out.loc[14, "customer_id"] = None
    return out


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.records(), b.records())
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    pd.testing.assert_series_equal(a.errors, b.errors)
    assert a.report.model_dump(exclude={"seconds"}) == b.report.model_dump(exclude={"seconds"})
    assert a.report.failing_rows == b.report.failing_rows


@pytest.mark.parametrize("mode", ["records", "batch"])
def test_score_raw_records_when_compiled_row_checks_then_identical_to_gx_alone(fitted, mode, monkeypatch):
    """Per-row errors, quarantine reasons (in suite order), reports and predictions: the same as with GX
    validating the whole suite, for served records and for batches (whose table checks GX still runs)."""
    from veilflow.tasks.data.validation import quarantine_rows
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    frames = [_defects(), _planted(_batch(12)), _batch(1, seed=3), _defects().iloc[[3]], _defects().iloc[[10, 11]]]
    compiled = [score_raw_records(f, _scorer(fitted, mode)) for f in frames]
    with monkeypatch.context() as m:
        _gx_only(m)
        reference = [score_raw_records(f, _scorer(fitted, mode)) for f in frames]
    for a, b in zip(compiled, reference, strict=True):
        _same(a, b)
    assert compiled[0].errors.index.tolist() == list(range(15))  # each planted defect is its row's error
    if mode == "batch":  # what `veilflow score` writes to the quarantine file
        for a, b in zip(compiled, reference, strict=True):
            pd.testing.assert_frame_equal(quarantine_rows(a.anonymized, a.report)[1], quarantine_rows(b.anonymized, b.report)[1])


def test_score_raw_records_when_records_then_no_gx_call(fitted, monkeypatch):
    import veilflow.tasks.data.row_checks as row_checks
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    scorer = _scorer(fitted, "records")

    def refuse(*args, **kwargs):
        raise AssertionError("GX was called for a served request")

    monkeypatch.setattr(row_checks, "validate_frame", refuse)
    for frame in (_batch(1, seed=4), _defects(), _planted(_batch(12))):
        score_raw_records(frame, scorer)


def _records_reference(scored) -> pd.DataFrame:
    """`ScoredRecords.records()` as first written (column by column), the reference for the one-frame build."""
    index = pd.RangeIndex(scored.rows)
    out = pd.DataFrame({"row": np.arange(scored.rows, dtype="int64")}, index=index)
    if scored.id_column and scored.id_column in scored.anonymized.columns:
        out[scored.id_column] = scored.anonymized[scored.id_column].astype(object).reindex(index)
    for column in ["probability", "prediction", *(f"reason_{i}" for i in range(1, scored.top_k + 1))]:
        values = (
            scored.predictions[column]
            if column in scored.predictions.columns
            else pd.Series(index=scored.predictions.index, dtype=object)
        )
        out[column] = values.astype(object).reindex(index)
    out["model_name"] = scored.model_name
    out["model_version"] = scored.model_version
    out["error"] = scored.errors.reindex(index).astype(object)
    return out.astype(object).where(out.notna(), None)


def test_records_when_built_in_one_frame_then_identical_cells_and_types(fitted):
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    scorer = _scorer(fitted, "records")
    all_bad = _batch(3).assign(customer_id=None)
    for frame in (_batch(1), _planted(_batch(12)), _defects(), all_bad, _batch(2).iloc[0:0]):
        scored = score_raw_records(frame, scorer)
        got, want = scored.records(), _records_reference(scored)
        pd.testing.assert_frame_equal(got, want)
        assert [[type(v) for v in row] for row in got.itertuples(index=False)] == [
            [type(v) for v in row] for row in want.itertuples(index=False)
        ]


def test_score_raw_records_when_id_is_an_integer_then_it_scores_as_training_accepted_it(fitted):
    """Integer ids (a user's CSV) are ids, not text: no type error, and the row scores."""
    from veilflow.tasks.ops.raw_scoring import score_raw_records

    batch = _batch(6, seed=12)
    as_text = score_raw_records(batch, _scorer(fitted, "records")).records()
    batch["customer_id"] = np.arange(100_001, 100_007)
    as_int = score_raw_records(batch, _scorer(fitted, "records")).records()
    assert as_int["error"].isna().all(), as_int["error"].tolist()
    # The id is not a feature: the same rows get the same probabilities whatever the id's type.
    assert as_int["probability"].tolist() == as_text["probability"].tolist()
