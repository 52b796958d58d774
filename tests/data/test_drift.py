"""Tests for veilflow.tasks.data.drift: training profile, PSI / KS / chi-squared comparison, data-quality drift and the plot."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from veilflow.tasks.data.drift import (
    OTHER,
    PREDICTION_FEATURE,
    DriftReport,
    build_profile,
    compare_to_profile,
    plot_drift,
    population_stability_index,
)
from veilflow.tasks.data.io import generate_customers

NUMERIC = ["tenure_months", "monthly_charges", "num_support_tickets"]
CATEGORICAL = ["contract_type", "payment_method", "plan", "age_band"]
TEXT = "notes"
N = 2000


def _features(seed: int, n: int = N) -> pd.DataFrame:
    """Model features of generate_customers in the anonymized shape (age_band instead of date_of_birth)."""
    df = generate_customers(n, seed)
    years = pd.to_datetime(df["date_of_birth"]).dt.year
    df["age_band"] = ((2025 - years) // 10 * 10).astype(str) + "s"
    return df[[*NUMERIC, *CATEGORICAL, TEXT]].copy()


def _scores(seed: int, a: float, b: float, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).beta(a, b, n)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return _features(seed=1)


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    # A second seed of the same generator: the same distribution, different rows.
    return _features(seed=2)


@pytest.fixture(scope="module")
def profile(train: pd.DataFrame) -> dict:
    return build_profile(train, NUMERIC, CATEGORICAL, TEXT, _scores(0, 2, 5))


def _row(report: DriftReport, feature: str):
    return next(r for r in report.rows if r.feature == feature)


# ---------------------------------------------------------------- population_stability_index


def test_psi_when_hand_computed_shares_then_matches_formula():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3.
    assert population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(3), rel=1e-3)


def test_psi_when_identical_shares_then_zero():
    assert population_stability_index([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(0.0, abs=1e-12)


def test_psi_when_bin_empty_then_finite_and_large():
    psi = population_stability_index([0.5, 0.5, 0.0], [0.4, 0.4, 0.2])
    assert math.isfinite(psi)
    assert psi > 1.0


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ([0.5, 0.5], [1.0]),  # different number of bins
        ([], []),  # no bins at all
        ([0.5, 0.5], [1.5, -0.5]),  # negative share
        ([0.5, float("nan")], [0.5, 0.5]),  # non-finite share
    ],
)
def test_psi_when_invalid_shares_then_value_error(expected, actual):
    with pytest.raises(ValueError, match="PSI"):
        population_stability_index(expected, actual)


# ---------------------------------------------------------------- build_profile


def test_build_profile_when_customers_then_strict_json_with_bins_sample_and_rates(profile: dict):
    text = json.dumps(profile, allow_nan=False)  # raises on NaN/inf
    assert json.loads(text) == profile
    assert profile["schema_version"] == 1 and profile["n_rows"] == N
    charges = profile["numeric"]["monthly_charges"]
    # Deciles: 9 inner edges between the open ends (null = -inf / +inf), 10 shares of ~10% each.
    assert charges["edges"][0] is None and charges["edges"][-1] is None
    assert len(charges["edges"]) == 11 and len(charges["expected"]) == 10
    assert sum(charges["expected"]) == pytest.approx(1.0)
    assert max(charges["expected"]) < 0.12
    assert len(charges["sample"]) == 1000 and charges["sample"] == sorted(charges["sample"])
    assert charges["null_rate"] == 0.0 and charges["min"] <= charges["mean"] <= charges["max"]
    # 0..7 support tickets: the duplicate decile edges merge into one edge per distinct value.
    tickets = profile["numeric"]["num_support_tickets"]["edges"]
    assert len(tickets) < 11 and tickets[1:-1] == sorted(set(tickets[1:-1]))
    contract = profile["categorical"]["contract_type"]["frequencies"]
    assert set(contract) == {"month-to-month", "one-year", "two-year", OTHER}
    assert sum(contract.values()) == pytest.approx(1.0)
    tokens = profile["text"][TEXT]["token_count"]
    assert sum(tokens["expected"]) == pytest.approx(1.0) and tokens["min"] >= 1
    assert profile["predictions"]["n"] == N


def test_build_profile_when_category_under_one_percent_then_grouped_as_other():
    rng = np.random.default_rng(3)
    # 600 "a", 394 "b", 6 "rare" (0.6% < 1%).
    values = np.array(["a"] * 600 + ["b"] * 394 + ["rare"] * 6)
    frame = pd.DataFrame({"cat": rng.permutation(values), "x": rng.normal(size=1000)})
    prof = build_profile(frame, ["x"], ["cat"], None, None)
    assert prof["categorical"]["cat"]["frequencies"] == pytest.approx({"a": 0.6, "b": 0.394, OTHER: 0.006})
    assert "rare" not in json.dumps(prof)


def test_build_profile_when_sentinel_words_in_text_then_absent_from_json(train: pd.DataFrame):
    frame = train.copy()
    sentinels = ["zqxvortal", "plimbrook", "quendrafix"]
    frame.loc[frame.index[:30], TEXT] = [f"customer {sentinels[i % 3]} asked about billing" for i in range(30)]
    frame.loc[frame.index[30], TEXT] = " ".join(sentinels)
    dumped = json.dumps(build_profile(frame, NUMERIC, CATEGORICAL, TEXT, None))
    for word in sentinels:
        assert word not in dumped
    # No whole note (they are all long, distinctive strings) appears either.
    assert not any(note in dumped for note in frame[TEXT].head(200))


def test_build_profile_when_same_input_twice_then_identical_and_input_untouched(train: pd.DataFrame):
    before = train.copy()
    preds = _scores(0, 2, 5)
    first = json.dumps(build_profile(train, NUMERIC, CATEGORICAL, TEXT, preds, seed=7))
    second = json.dumps(build_profile(train, NUMERIC, CATEGORICAL, TEXT, preds, seed=7))
    assert first == second
    pd.testing.assert_frame_equal(train, before)
    # The seed is what draws the reference sample: another seed gives another sample.
    other = build_profile(train, NUMERIC, CATEGORICAL, TEXT, preds, seed=8)
    assert other["numeric"]["monthly_charges"]["sample"] != json.loads(first)["numeric"]["monthly_charges"]["sample"]


@pytest.mark.parametrize(
    ("mutate", "kwargs", "error", "match"),
    [
        # a configured feature the frame lacks
        (lambda f: f.drop(columns=["plan"]), {}, ValueError, r"missing feature column\(s\): plan"),
        # no rows
        (lambda f: f.iloc[0:0], {}, ValueError, "empty"),
        # numeric feature stored as strings
        (lambda f: f.assign(tenure_months=f["tenure_months"].astype(str)), {}, ValueError, "listed as numeric"),
        # text column that is not text
        (lambda f: f.assign(notes=1), {}, ValueError, "must hold strings"),
        # numeric feature that is entirely null
        (lambda f: f.assign(monthly_charges=np.nan), {}, ValueError, "no non-null values"),
        # fewer than two bins
        (lambda f: f, {"bins": 1}, ValueError, "bins must be"),
        # the same column as numeric and categorical
        (lambda f: f, {"categorical": [*CATEGORICAL, "tenure_months"]}, ValueError, "more than once"),
        # a frame that is not a DataFrame
        (lambda f: f.to_dict(), {}, TypeError, "pandas DataFrame"),
        # a feature list that is a bare string
        (lambda f: f, {"numeric": "tenure_months"}, TypeError, "list of column names"),
        # predictions as a list, not an array
        (lambda f: f, {"predictions": [0.1, 0.2]}, TypeError, "numpy array"),
        # predict_proba-shaped (n, 2) predictions
        (lambda f: f, {"predictions": np.zeros((10, 2))}, ValueError, "1-D scores"),
    ],
)
def test_build_profile_when_invalid_input_then_one_line_error(train, mutate, kwargs, error, match):
    args = {"numeric": NUMERIC, "categorical": CATEGORICAL, "text": TEXT, "predictions": None, **kwargs}
    with pytest.raises(error, match=match) as exc:
        build_profile(mutate(train.head(50).copy()), **args)
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- compare_to_profile


def test_compare_when_same_distribution_then_no_drift(profile: dict, batch: pd.DataFrame):
    report = compare_to_profile(profile, batch, _scores(1, 2, 5))
    assert not report.drift_detected
    assert report.drifted_features == []
    assert report.max_psi < 0.05
    assert report.prediction_psi is not None and report.prediction_psi < 0.05
    assert report.quality_issues == []
    assert {r.feature for r in report.rows} == {*NUMERIC, *CATEGORICAL, TEXT, PREDICTION_FEATURE}
    assert all(r.p_value > 0.01 for r in report.rows if r.test is not None)


def test_compare_when_numeric_shifted_two_std_then_only_that_feature_drifts(profile, train, batch):
    shifted = batch.assign(monthly_charges=batch["monthly_charges"] + 2 * train["monthly_charges"].std())
    report = compare_to_profile(profile, shifted, None)
    row = _row(report, "monthly_charges")
    assert row.psi > 0.2 and row.test == "ks" and row.p_value < 0.01
    assert row.drifted and row.significant
    assert report.drifted_features == ["monthly_charges"]
    assert report.drift_detected and report.max_psi == row.psi
    assert all(r.psi < 0.1 for r in report.rows if r.feature != "monthly_charges")
    # Values beyond the training maximum are a data-quality finding too.
    assert row.out_of_range_share > 0.1
    assert [q.split(":")[0] for q in report.quality_issues] == ["monthly_charges"]


@pytest.mark.parametrize(
    ("shares", "drifted"),
    [
        # training mix is about 55/26/19: a large swing, caught by both PSI and chi-squared
        ([0.2, 0.4, 0.4], True),
        # a subtle swing: PSI stays under 0.2, the chi-squared test still flags it at n=2000
        ([0.48, 0.30, 0.22], False),
    ],
)
def test_compare_when_category_mix_changes_then_chi_squared_detects(profile, batch, shares, drifted):
    mix = np.random.default_rng(5).choice(["month-to-month", "one-year", "two-year"], size=len(batch), p=shares)
    report = compare_to_profile(profile, batch.assign(contract_type=mix), None)
    row = _row(report, "contract_type")
    assert row.test == "chi2" and row.p_value < 0.01 and row.significant
    assert row.drifted is drifted and (row.psi > 0.2) is drifted
    assert report.drifted_features == (["contract_type"] if drifted else [])


def test_compare_when_unseen_category_then_counted_as_other_and_detected(profile, batch):
    plans = batch["plan"].to_numpy(copy=True)
    plans[: len(plans) // 3] = "enterprise"  # never seen in training
    report = compare_to_profile(profile, batch.assign(plan=plans), None)
    row = _row(report, "plan")
    assert row.drifted and row.p_value < 0.01 and row.n_now == len(batch)


def test_compare_when_predictions_shift_then_prediction_drift_detected(profile, batch):
    report = compare_to_profile(profile, batch, _scores(1, 5, 2))
    assert report.prediction_psi > 0.2
    assert report.drift_detected
    # The features did not move: the verdict comes from the predictions alone.
    assert report.drifted_features == []
    assert _row(report, PREDICTION_FEATURE).drifted


def test_compare_when_notes_twice_as_long_then_text_length_drifts(profile, batch):
    longer = batch.assign(notes=batch[TEXT] + " " + batch[TEXT])
    report = compare_to_profile(profile, longer, None)
    assert _row(report, TEXT).psi > 0.2
    assert report.drifted_features == [TEXT]


def test_compare_when_nulls_appear_then_quality_issue_without_psi_drift(profile, batch):
    charges = batch["monthly_charges"].to_numpy(copy=True)
    charges[::5] = np.nan  # 20% nulls, the rest unchanged
    report = compare_to_profile(profile, batch.assign(monthly_charges=charges), None)
    row = _row(report, "monthly_charges")
    assert row.null_rate_train == 0.0 and row.null_rate_now == pytest.approx(0.2)
    assert row.n_now == len(batch) - len(batch) // 5
    assert not row.drifted
    assert report.quality_issues == ["monthly_charges: null rate 0.000 -> 0.200"]


def test_compare_when_profile_round_trips_through_json_then_same_report(profile, batch):
    preds = _scores(1, 2, 5)
    direct = compare_to_profile(profile, batch, preds)
    loaded = compare_to_profile(json.loads(json.dumps(profile)), batch, preds)
    assert loaded == direct
    # The report itself round-trips (computed fields are ignored on input) and tabulates.
    assert DriftReport.model_validate(direct.model_dump()) == direct
    table = direct.to_frame()
    assert list(table.columns[:9]) == [
        "feature",
        "kind",
        "psi",
        "test",
        "statistic",
        "p_value",
        "null_rate_train",
        "null_rate_now",
        "out_of_range_share",
    ]
    assert len(table) == len(direct.rows) and table["drifted"].sum() == 0


def _without_plan(p: dict) -> dict:
    p = copy.deepcopy(p)
    del p["categorical"]["plan"]
    return p


@pytest.mark.parametrize(
    ("make_profile", "make_frame", "kwargs", "error", "match"),
    [
        # the config names a feature the (older) profile does not cover
        (
            _without_plan,
            lambda f: f,
            {"features": [*NUMERIC, *CATEGORICAL, TEXT]},
            ValueError,
            r"profile has no entry for config feature\(s\) plan",
        ),
        # the batch lacks a profiled column
        (lambda p: p, lambda f: f.drop(columns=["age_band"]), {}, ValueError, r"missing profiled column\(s\): age_band"),
        # an empty batch
        (lambda p: p, lambda f: f.iloc[0:0], {}, ValueError, "empty"),
        # a numeric feature arriving as strings
        (lambda p: p, lambda f: f.assign(monthly_charges=f["monthly_charges"].astype(str)), {}, ValueError, "listed as numeric"),
        # predictions for a different number of rows
        (lambda p: p, lambda f: f, {"predictions": np.full(7, 0.5)}, ValueError, "7 values for"),
        # predictions against a profile made without them
        (
            lambda p: {**p, "predictions": None},
            lambda f: f,
            {"predictions": np.full(N, 0.5)},
            ValueError,
            "no prediction distribution",
        ),
        # a profile from another schema version
        (lambda p: {**p, "schema_version": 99}, lambda f: f, {}, ValueError, "schema_version 99"),
        # a profile missing its sections
        (lambda p: {"schema_version": 1}, lambda f: f, {}, ValueError, "malformed"),
        # a profile that is not a dict
        (lambda p: json.dumps(p), lambda f: f, {}, TypeError, "must be a dict"),
        # a batch that is not a DataFrame
        (lambda p: p, lambda f: f.to_numpy(), {}, TypeError, "pandas DataFrame"),
        # a p-value outside (0, 1)
        (lambda p: p, lambda f: f, {"p_value": 1.5}, ValueError, "p_value must be"),
    ],
)
def test_compare_when_invalid_input_then_one_line_error(profile, batch, make_profile, make_frame, kwargs, error, match):
    args = {"predictions": None, **kwargs}
    with pytest.raises(error, match=match) as exc:
        compare_to_profile(make_profile(profile), make_frame(batch), **args)
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- plot_drift


def test_plot_drift_when_report_then_png_written(profile, batch, tmp_path: Path):
    report = compare_to_profile(profile, batch, _scores(1, 5, 2))
    out = plot_drift(report, tmp_path / "sub" / "drift.png")
    assert out == tmp_path / "sub" / "drift.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000


@pytest.mark.parametrize(
    ("report", "name", "error", "match"),
    [
        # a plain dict instead of a DriftReport
        ({"rows": []}, "drift.png", TypeError, "DriftReport"),
        # a file name that is not a PNG
        (
            DriftReport(rows=[], psi_threshold=0.2, p_value_threshold=0.01, n_rows_train=1, n_rows_now=1),
            "drift.svg",
            ValueError,
            r"\.png",
        ),
        # nothing to draw
        (
            DriftReport(rows=[], psi_threshold=0.2, p_value_threshold=0.01, n_rows_train=1, n_rows_now=1),
            "drift.png",
            ValueError,
            "no rows",
        ),
    ],
)
def test_plot_drift_when_invalid_input_then_error(report, name, error, match, tmp_path: Path):
    with pytest.raises(error, match=match):
        plot_drift(report, tmp_path / name)
    assert not (tmp_path / name).exists()
