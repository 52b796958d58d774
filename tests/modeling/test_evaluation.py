"""Tests for veilflow.tasks.modeling.evaluation: metrics, bootstrap intervals, slices, perturbations, robustness and plots."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from veilflow.tasks.modeling.evaluation import (
    METRIC_DIRECTION,
    METRIC_NAMES,
    _resample_weights,
    _WeightedScorer,
    bootstrap_ci,
    compute_metrics,
    expected_calibration_error,
    perturb_frame,
    robustness_report,
    slice_metrics,
)
from veilflow.tasks.modeling.plots import plot_evaluation


def _noisy_scores(n: int, seed: int, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    p = np.clip(0.35 + 0.35 * (y - 0.35) + rng.normal(0, 0.2, n), 0, 1)
    return y, (np.round(p, 2) if ties else p)


# ---------------------------------------------------------------- compute_metrics


def test_compute_metrics_when_four_rows_then_hand_computed_values():
    y = [0, 0, 1, 1]
    p = [0.1, 0.6, 0.4, 0.9]
    m = compute_metrics(y, p)
    # At 0.5 the predictions are [0, 1, 0, 1]: one of each of TP, FP, FN, TN.
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(0.5)
    # 3 of 4 (positive, negative) pairs are ordered correctly.
    assert m["roc_auc"] == pytest.approx(0.75)
    # Descending: 0.9 positive (P=1, R=.5), 0.6 negative, 0.4 positive (P=2/3, R=1).
    assert m["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.4)) / 2)
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    # One row per bin; |y - p| summed over bins: 0.1 + 0.6 + 0.6 + 0.1, over 4 rows.
    assert m["ece"] == pytest.approx(1.4 / 4)
    assert set(m) == set(METRIC_NAMES)


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        ("accuracy", lambda y, p: skm.accuracy_score(y, p >= 0.5)),
        ("precision", lambda y, p: skm.precision_score(y, p >= 0.5)),
        ("recall", lambda y, p: skm.recall_score(y, p >= 0.5)),
        ("f1", lambda y, p: skm.f1_score(y, p >= 0.5)),
        ("roc_auc", skm.roc_auc_score),
        ("pr_auc", skm.average_precision_score),
        ("log_loss", skm.log_loss),
        ("brier", skm.brier_score_loss),
    ],
)
def test_compute_metrics_when_random_scores_then_equals_sklearn(metric, reference):
    y, p = _noisy_scores(500, seed=3)
    assert compute_metrics(y, p)[metric] == pytest.approx(reference(y, p), rel=1e-12)


def test_compute_metrics_when_threshold_raised_then_fewer_positive_predictions():
    y, p = _noisy_scores(400, seed=4)
    low, high = compute_metrics(y, p, threshold=0.3), compute_metrics(y, p, threshold=0.7)
    assert high["precision"] > low["precision"]
    assert high["recall"] < low["recall"]
    # Threshold-free metrics do not move.
    assert high["roc_auc"] == low["roc_auc"]


def test_ece_when_perfectly_calibrated_then_zero():
    # In bin [0.2, 0.3) 1 of 4 rows is positive at p=0.25; in [0.7, 0.8) 3 of 4 at p=0.75.
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    p = [0.25] * 4 + [0.75] * 4
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    assert compute_metrics(y, p)["ece"] == pytest.approx(0.0, abs=1e-12)


def test_ece_when_overconfident_then_gap_between_confidence_and_rate():
    # Everything scored 0.9 but only half the rows are positive: ECE = |0.5 - 0.9|.
    y = [1, 0] * 10
    p = [0.9] * 20
    assert expected_calibration_error(y, p) == pytest.approx(0.4)


def test_ece_when_probability_is_one_then_falls_in_last_bin():
    # 1.0 must land in the closed last bin [0.9, 1.0], not an eleventh one.
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 1], [0.2, 0.8], "differ in length"),  # length mismatch
        ([1, 1, 1], [0.2, 0.8, 0.9], "single class"),  # roc_auc undefined
        ([0, 1], [0.2, 1.7], "outside [0, 1]"),  # probability above 1
        ([0, 1], [-0.3, 0.8], "outside [0, 1]"),  # probability below 0
        ([0, 1], [0.2, float("nan")], "NaN"),  # NaN probability
        ([0, float("nan")], [0.2, 0.8], "NaN"),  # NaN label
        ([0, 2], [0.2, 0.8], "only 0/1"),  # label outside {0, 1}
        ([], [], "empty"),  # nothing to score
        (["no", "yes"], [0.2, 0.8], "numeric"),  # text labels
    ],
)
def test_compute_metrics_when_invalid_input_then_one_line_error_without_values(y, p, message):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        compute_metrics(y, p)
    text = str(info.value)
    assert "\n" not in text
    assert "1.7" not in text and "-0.3" not in text


def test_compute_metrics_when_threshold_outside_unit_interval_then_error():
    with pytest.raises(ValueError, match="threshold"):
        compute_metrics([0, 1], [0.2, 0.8], threshold=1.5)


# ---------------------------------------------------------------- bootstrap_ci


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_weighted_scorer_when_resampled_then_equals_sklearn_on_materialised_resample(metric):
    # The vectorised bootstrap must score each resample exactly as compute_metrics would (ties included).
    y, p = _noisy_scores(300, seed=5, ties=True)
    weights = _resample_weights(np.random.default_rng(0), [np.arange(len(y))], len(y), 4)
    values = _WeightedScorer(metric, y.astype(float), p, 0.5)(weights)
    for r in range(4):
        rows = np.repeat(np.arange(len(y)), weights[r].astype(int))
        assert values[r] == pytest.approx(compute_metrics(y[rows], p[rows])[metric], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("metric", METRIC_NAMES)
@pytest.mark.parametrize("stratified", [True, False])
def test_bootstrap_ci_when_scored_then_interval_contains_point_estimate(metric, stratified):
    y, p = _noisy_scores(800, seed=6)
    low, high = bootstrap_ci(y, p, metric, n_boot=300, seed=1, stratified=stratified)
    point = compute_metrics(y, p)[metric]
    assert low < point < high


def test_bootstrap_ci_when_same_seed_then_identical_and_other_seed_differs():
    y, p = _noisy_scores(500, seed=7)
    first = bootstrap_ci(y, p, "roc_auc", n_boot=200, seed=11)
    again = bootstrap_ci(y, p, "roc_auc", n_boot=200, seed=11)
    other = bootstrap_ci(y, p, "roc_auc", n_boot=200, seed=12)
    assert first == again
    assert first != other


def test_bootstrap_ci_when_more_rows_then_narrower_interval():
    small = bootstrap_ci(*_noisy_scores(200, seed=8), "roc_auc", n_boot=300, seed=0)
    large = bootstrap_ci(*_noisy_scores(5000, seed=8), "roc_auc", n_boot=300, seed=0)
    assert (large[1] - large[0]) < (small[1] - small[0])


def test_bootstrap_ci_when_plain_resampling_with_one_positive_then_degenerate_resamples_skipped():
    # About a third of plain resamples of 20 rows miss the single positive: they are skipped, not NaN.
    y = np.array([1] + [0] * 19)
    p = np.linspace(0.05, 0.95, 20)[::-1]
    low, high = bootstrap_ci(y, p, "roc_auc", n_boot=200, seed=0, stratified=False)
    assert 0.0 <= low <= high <= 1.0
    assert not math.isnan(low) and not math.isnan(high)


def test_bootstrap_ci_when_10k_rows_then_fast():
    y, p = _noisy_scores(10_000, seed=9)
    started = time.perf_counter()
    bootstrap_ci(y, p, "roc_auc", n_boot=1000, seed=0)
    # ~0.3 s alone on 2 cores; the bound leaves room for a shared machine.
    assert time.perf_counter() - started < 10.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "auc"}, "unknown metric"),  # typo in the metric name
        ({"metric": "roc_auc", "n_boot": 5}, "n_boot"),  # too few resamples to mean anything
        ({"metric": "roc_auc", "alpha": 1.5}, "alpha"),  # not a probability
    ],
)
def test_bootstrap_ci_when_bad_arguments_then_error(kwargs, message):
    y, p = _noisy_scores(50, seed=10)
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(y, p, **kwargs)


def test_bootstrap_ci_when_single_class_then_error():
    with pytest.raises(ValueError, match="single class"):
        bootstrap_ci([0, 0, 0], [0.1, 0.2, 0.3], "brier")


# ---------------------------------------------------------------- slice_metrics


def _slice_frame() -> pd.DataFrame:
    """Group a: selection 0.6, TPR 0.8, FPR 0.4; group b: selection 0.2, TPR 0.3, FPR 0.1; group c: 10 rows."""

    def group(name: str, tp: int, fn: int, fp: int, tn: int) -> pd.DataFrame:
        y = [1] * (tp + fn) + [0] * (fp + tn)
        p = [0.9] * tp + [0.1] * fn + [0.8] * fp + [0.2] * tn
        return pd.DataFrame({"group": name, "y": y, "p": p})

    return pd.concat([group("a", 40, 10, 20, 30), group("b", 15, 35, 5, 45), group("c", 5, 0, 5, 0)], ignore_index=True)


def test_slice_metrics_when_known_selection_gap_then_parity_and_opportunity_differences():
    df = _slice_frame()
    report = slice_metrics(df["y"], df["p"], df["group"])
    t = report.table
    assert t.loc["a", "selection_rate"] == pytest.approx(0.6)
    assert t.loc["b", "selection_rate"] == pytest.approx(0.2)
    assert t.loc["a", "tpr"] == pytest.approx(0.8) and t.loc["b", "tpr"] == pytest.approx(0.3)
    assert t.loc["a", "fpr"] == pytest.approx(0.4) and t.loc["b", "fpr"] == pytest.approx(0.1)
    assert t.loc["a", "n"] == 100 and t.loc["a", "positive_rate"] == pytest.approx(0.5)
    assert report.demographic_parity_difference == pytest.approx(0.4)
    assert report.equal_opportunity_difference == pytest.approx(0.5)
    assert report.max_gap == pytest.approx(0.5)


def test_slice_metrics_when_group_below_min_size_then_reported_but_excluded_from_gaps():
    df = _slice_frame()
    report = slice_metrics(df["y"], df["p"], df["group"], min_group_size=30)
    # Group c selects everyone (rate 1.0); counted, it would raise the parity gap to 0.8.
    assert report.table.loc["c", "selection_rate"] == pytest.approx(1.0)
    assert not report.table.loc["c", "included"]
    assert report.excluded_groups == ("c",)
    assert report.demographic_parity_difference == pytest.approx(0.4)
    assert any("excluded" in note and "c" in note for note in report.notes)
    counted = slice_metrics(df["y"], df["p"], df["group"], min_group_size=5)
    assert counted.demographic_parity_difference == pytest.approx(0.8)


def test_slice_metrics_when_group_label_missing_then_own_group_and_auc_nan_for_one_class():
    y = [1, 0, 1, 0, 1, 1]
    p = [0.9, 0.1, 0.7, 0.4, 0.8, 0.6]
    groups = ["x", "x", "x", "x", None, None]
    report = slice_metrics(y, p, groups, min_group_size=1)
    assert report.table.loc["<missing>", "n"] == 2
    # The missing group holds positives only: its ROC AUC and FPR are undefined.
    assert math.isnan(report.table.loc["<missing>", "roc_auc"])
    assert math.isnan(report.table.loc["<missing>", "fpr"])
    assert report.table.loc["x", "roc_auc"] == pytest.approx(1.0)
    assert "fairness.demographic_parity_difference" in report.as_metrics()


def test_slice_metrics_when_one_group_then_gaps_undefined_with_note():
    report = slice_metrics([0, 1] * 20, [0.3, 0.7] * 20, ["only"] * 40)
    assert report.demographic_parity_difference is None and report.max_gap is None
    assert any("undefined" in note for note in report.notes)


def test_slice_metrics_when_groups_length_differs_then_error():
    with pytest.raises(ValueError, match="groups and y_true differ"):
        slice_metrics([0, 1, 0], [0.1, 0.9, 0.2], ["a", "b"])


# ---------------------------------------------------------------- perturb_frame / robustness_report


def _feature_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 73, n).astype("int64"),
            "monthly_charges": rng.normal(65, 20, n),
            "plan": rng.choice(["basic", "premium"], n),
            "notes": pd.Series(["customer asked to cancel the service next month"] * n, dtype="str"),
        }
    )


def test_perturb_frame_when_called_then_input_unchanged_and_values_changed():
    frame = _feature_frame()
    frame.loc[3, "monthly_charges"] = np.nan
    before = frame.copy(deep=True)
    out = perturb_frame(frame, ["tenure_months", "monthly_charges"], "notes", seed=1, noise_scale=0.2, token_drop=0.3)
    pd.testing.assert_frame_equal(frame, before)
    assert (out["monthly_charges"] != frame["monthly_charges"]).sum() > 190
    assert (out["tenure_months"] != frame["tenure_months"]).sum() > 100
    # Schema holds: integer columns stay integer, text stays text, missing stays missing.
    assert out.dtypes.equals(frame.dtypes)
    assert np.isnan(out.loc[3, "monthly_charges"])
    tokens_before = frame["notes"].str.split().str.len().sum()
    tokens_after = out["notes"].str.split().str.len().sum()
    assert 0.6 * tokens_before < tokens_after < 0.8 * tokens_before
    pd.testing.assert_series_equal(out["plan"], frame["plan"])


def test_perturb_frame_when_same_seed_then_same_output():
    frame = _feature_frame()
    a = perturb_frame(frame, ["monthly_charges"], "notes", seed=5)
    b = perturb_frame(frame, ["monthly_charges"], "notes", seed=5)
    c = perturb_frame(frame, ["monthly_charges"], "notes", seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


@pytest.mark.parametrize(
    ("numeric", "text", "message"),
    [
        (["absent"], None, "not in frame"),  # numeric column missing
        ([], "absent", "not in frame"),  # text column missing
        (["plan"], None, "not numeric"),  # categorical column cannot take Gaussian noise
        ([], "tenure_months", "not text"),  # numeric column given as text
    ],
)
def test_perturb_frame_when_bad_columns_then_error(numeric, text, message):
    with pytest.raises(ValueError, match=message):
        perturb_frame(_feature_frame(), numeric, text, seed=0)


def _signal_frame(n: int = 400, seed: int = 100) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    y = (x > 0).astype(int)
    words = np.where(y == 1, "please cancel my account now", "thanks for the quick help today")
    # A non-default index: perturbation and prediction must keep rows aligned.
    index = np.arange(100, 100 + n)
    return pd.DataFrame({"x": x, "notes": pd.Series(words, index=index, dtype="str")}, index=index), y


def _predict(frame: pd.DataFrame) -> np.ndarray:
    # Perfect on clean data: the sign of x plus a text cue that token dropping can remove.
    cue = frame["notes"].str.contains("cancel").to_numpy()
    return 1 / (1 + np.exp(-(3 * frame["x"].to_numpy() + 0.5 * cue)))


def test_robustness_report_when_perturbed_then_metric_drops():
    frame, y = _signal_frame()
    report = robustness_report(_predict, frame, y, ["x"], "notes", seed=0, noise_scale=0.5, token_drop=0.5)
    assert report["base"] == pytest.approx(compute_metrics(y, _predict(frame))["roc_auc"])
    assert report["drop_numeric"] > 0.01
    assert report["perturbed_numeric"] == pytest.approx(report["base"] - report["drop_numeric"])
    # x alone separates the classes, so losing the text cue costs nothing here...
    assert report["drop_text"] == pytest.approx(0.0)
    assert report["max_drop"] == report["drop_numeric"]


def test_robustness_report_when_model_reads_text_then_token_drop_hurts():
    frame, y = _signal_frame()

    def text_only(f: pd.DataFrame) -> np.ndarray:
        return np.where(f["notes"].str.contains("cancel").to_numpy(), 0.8, 0.2)

    report = robustness_report(text_only, frame, y, [], "notes", seed=0, token_drop=0.5)
    # ...but a model that reads only the text loses the cue in about half the positive rows.
    assert report["base"] == pytest.approx(1.0)
    assert 0.15 < report["drop_text"] < 0.35
    assert report["drop_numeric"] is None and report["max_drop"] == report["drop_text"]


def test_robustness_report_when_lower_is_better_metric_then_drop_is_increase():
    frame, y = _signal_frame()
    report = robustness_report(_predict, frame, y, ["x"], None, seed=0, metric="brier", noise_scale=0.5)
    assert report["perturbed_numeric"] > report["base"]
    assert report["drop_numeric"] == pytest.approx(report["perturbed_numeric"] - report["base"])
    assert report["drop_text"] is None and report["perturbed_text"] is None


def test_robustness_report_when_predict_fn_returns_wrong_length_then_error():
    frame, y = _signal_frame()
    with pytest.raises(ValueError, match="predict_fn returned"):
        robustness_report(lambda f: np.zeros(3), frame, y, ["x"], None, seed=0)


def test_metric_direction_table_covers_every_metric():
    assert set(METRIC_DIRECTION) == set(compute_metrics([0, 1], [0.2, 0.8]))


# ---------------------------------------------------------------- plot_evaluation


def test_plot_evaluation_when_called_then_four_pngs_written(tmp_path):
    y, p = _noisy_scores(300, seed=12)
    paths = plot_evaluation(y, p, tmp_path / "plots", prefix="logreg_")
    assert [path.name for path in paths] == [
        "logreg_confusion_matrix.png",
        "logreg_roc.png",
        "logreg_precision_recall.png",
        "logreg_calibration.png",
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5_000


@pytest.mark.parametrize(
    ("y", "prefix", "message"),
    [
        ([0, 0, 0, 0], "", "single class"),  # ROC undefined
        ([0, 1, 0, 1], "../escape_", "prefix"),  # path characters in the prefix
    ],
)
def test_plot_evaluation_when_bad_input_then_error_and_nothing_written(tmp_path, y, prefix, message):
    with pytest.raises(ValueError, match=message):
        plot_evaluation(y, [0.1, 0.9, 0.2, 0.8], tmp_path / "plots", prefix=prefix)
    assert not (tmp_path / "plots").exists()
