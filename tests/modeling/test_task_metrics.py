"""Metrics, primary-metric direction, gates and fairness gaps per task type (binary, multiclass, regression)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from veilflow.core.config import GateConfig, parse_config
from veilflow.core.errors import ConfigError
from veilflow.core.labels import DEFAULT_PRIMARY, TASK_METRICS, LabelSpec
from veilflow.tasks.modeling.evaluation import metric_direction, robustness_report
from veilflow.tasks.modeling.gates import SmokeResult, evaluate_gates
from veilflow.tasks.modeling.task_metrics import (
    bootstrap_ci_task,
    compute_task_metrics,
    group_gap_report,
    multiclass_metrics,
    regression_metrics,
    top_label_ece,
)
from veilflow.tasks.ops.training_steps import better

RNG = np.random.default_rng(0)
Y3 = np.array([0, 1, 2] * 40)
P3 = np.clip(np.eye(3)[Y3] * 0.6 + RNG.dirichlet([1, 1, 1], size=len(Y3)) * 0.4, 0, 1)
Y_REG = RNG.normal(100, 20, size=200)
F_REG = Y_REG + RNG.normal(0, 5, size=200)


def test_multiclass_metrics_when_probabilities_then_match_sklearn():
    m = multiclass_metrics(Y3, P3)
    assert set(m) == set(TASK_METRICS["multiclass"])
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(Y3, P3.argmax(1)))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(Y3, P3.argmax(1), average="macro"))
    assert m["roc_auc_ovr"] == pytest.approx(skm.roc_auc_score(Y3, P3, multi_class="ovr", average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(Y3, P3))
    assert m["brier"] == pytest.approx(((P3 - np.eye(3)[Y3]) ** 2).sum(1).mean())
    assert 0.0 <= m["ece"] <= 1.0


def test_top_label_ece_when_confident_and_right_then_zero_when_confident_and_wrong_then_large():
    y = np.array([0, 1, 2, 0])
    assert top_label_ece(y, np.eye(3)[y]) == pytest.approx(0.0)
    assert top_label_ece(y, np.eye(3)[(y + 1) % 3]) == pytest.approx(1.0)


def test_multiclass_metrics_when_labels_not_codes_then_error():
    with pytest.raises(ValueError, match="class codes"):
        multiclass_metrics(np.array([0, 5]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"\(n, k\)"):
        multiclass_metrics(np.array([0, 1]), np.array([0.2, 0.7]))


def test_regression_metrics_when_predictions_then_rmse_mae_r2():
    m = regression_metrics(Y_REG, F_REG)
    assert m["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(Y_REG, F_REG)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(Y_REG, F_REG))
    assert m["r2"] == pytest.approx(skm.r2_score(Y_REG, F_REG))
    # Predicting the mean scores r2 = 0: the default floor's "beats the mean" line.
    assert regression_metrics(Y_REG, np.full_like(Y_REG, Y_REG.mean()))["r2"] == pytest.approx(0.0)


def test_regression_metrics_when_non_finite_then_error():
    with pytest.raises(ValueError, match="non-finite"):
        regression_metrics([1.0, 2.0], [1.0, np.nan])


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("roc_auc", "higher"), ("f1_macro", "higher"), ("roc_auc_ovr", "higher"), ("r2", "higher"),
     ("rmse", "lower"), ("mae", "lower"), ("log_loss", "lower"), ("brier", "lower")],
)  # fmt: skip
def test_metric_direction_when_task_metric_then_known_and_better_follows_it(metric, direction):
    assert metric_direction(metric) == direction
    assert better(1.0, 2.0, metric) is (direction == "lower")


def test_default_primary_metric_per_task():
    assert DEFAULT_PRIMARY == {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "rmse"}


@pytest.mark.parametrize(
    ("task", "y", "out", "metric"), [("multiclass", Y3, P3, "f1_macro"), ("regression", Y_REG, F_REG, "rmse")]
)
def test_bootstrap_ci_task_when_seeded_then_reproducible_and_brackets_point(task, y, out, metric):
    point = compute_task_metrics(task, y, out)[metric]
    low, high = bootstrap_ci_task(task, y, out, metric, n_boot=200, seed=1)
    assert low <= point <= high
    assert (low, high) == bootstrap_ci_task(task, y, out, metric, n_boot=200, seed=1)


def test_bootstrap_ci_task_when_metric_of_other_task_then_error():
    with pytest.raises(ValueError, match="not a regression metric"):
        bootstrap_ci_task("regression", Y_REG, F_REG, "roc_auc", n_boot=20)


def _gates(task, metrics, champion=None, floors=None, **kw):
    return evaluate_gates(
        metrics,
        champion,
        GateConfig(),
        DEFAULT_PRIMARY[task],
        fairness_gap=None,
        robustness_drop=0.0,
        leak_passed=True,
        smoke=SmokeResult(passed=True, latency_ms=1.0, n_rows=5),
        task=task,
        floors=floors,
        **kw,
    )


def test_gates_when_regression_then_r2_floor_calibration_not_applicable_and_rmse_lower_is_better():
    ok = _gates("regression", {"rmse": 10.0, "mae": 8.0, "r2": 0.3}, champion={"rmse": 10.5}, floors={"r2": 0.0})
    by = {g.name: g for g in ok.results}
    assert ok.passed, ok.summary
    assert by["floor.r2"].op == ">=" and by["floor.r2"].passed
    assert by["calibration"].skipped and "not applicable for regression" in by["calibration"].detail
    assert by["regression.rmse"].op == "<=" and by["regression.rmse"].threshold == pytest.approx(10.51)
    # Worse than the champion by more than max_regression (0.01): rejected, in the right direction.
    worse = _gates("regression", {"rmse": 11.0, "mae": 8.0, "r2": 0.3}, champion={"rmse": 10.5}, floors={"r2": 0.0})
    assert not worse.passed and [g.name for g in worse.failed] == ["regression.rmse"]
    # Worse than the mean: the r2 floor fails.
    below = _gates("regression", {"rmse": 10.0, "mae": 8.0, "r2": -0.2}, floors={"r2": 0.0})
    assert [g.name for g in below.failed] == ["floor.r2"]


def test_gates_when_multiclass_then_baseline_accuracy_and_top_label_calibration():
    metrics = {**multiclass_metrics(Y3, P3)}
    ok = _gates("multiclass", metrics, floors={"roc_auc_ovr": 0.6}, baseline_accuracy=1 / 3)
    by = {g.name: g for g in ok.results}
    assert by["baseline.accuracy"].passed and by["baseline.accuracy"].op == ">"
    assert not by["calibration"].skipped and by["calibration"].value == pytest.approx(metrics["ece"])
    # At the majority-class rate there is no skill: the gate fails.
    none = _gates("multiclass", {**metrics, "accuracy": 0.5}, floors={"roc_auc_ovr": 0.6}, baseline_accuracy=0.5)
    assert "baseline.accuracy" in [g.name for g in none.failed]


def test_gates_when_several_sensitive_attributes_then_one_fairness_gate_each_and_a_failing_one():
    decision = _gates("binary", {"roc_auc": 0.8, "ece": 0.01}, floors={"roc_auc": 0.6}, fairness_gaps={"sex": 0.05, "race": 0.4})
    by = {g.name: g for g in decision.results}
    assert "fairness" not in by
    assert by["fairness.sex"].passed
    assert not by["fairness.race"].passed and by["fairness.race"].value == pytest.approx(0.4)
    assert [g.name for g in decision.failed] == ["fairness.race"]


def test_group_gap_report_when_regression_then_relative_mae_gap():
    y = np.array([10.0, 10.0, 10.0, 10.0])
    f = np.array([11.0, 11.0, 13.0, 13.0])  # group a errs by 1, group b by 3; overall MAE 2
    report = group_gap_report("regression", y, f, ["a", "a", "b", "b"], min_group_size=1)
    assert report.gap == pytest.approx((3 - 1) / 2)
    assert report.table.loc["b", "mae"] == pytest.approx(3.0)
    assert "fairness.mae_gap" in report.as_metrics()


def test_group_gap_report_when_multiclass_then_accuracy_gap_and_small_groups_excluded():
    y = np.array([0, 1, 2, 0, 1, 2])
    p = np.eye(3)[[0, 1, 2, 1, 1, 2]]
    report = group_gap_report("multiclass", y, p, ["a", "a", "a", "b", "b", "c"], min_group_size=2)
    assert report.gap == pytest.approx(1.0 - 0.5)
    assert report.excluded_groups == ("c",)


def test_robustness_report_when_regression_then_relative_rmse_drop():
    frame = pd.DataFrame({"x": np.linspace(0, 1, 50)})
    y = frame["x"].to_numpy() * 100

    report = robustness_report(lambda f: f["x"].to_numpy() * 100, frame, y, ["x"], None, seed=0, metric="rmse", task="regression")
    assert report["base"] == pytest.approx(0.0)
    noisy = robustness_report(
        lambda f: f["x"].to_numpy() * 100 + 1.0, frame, y, ["x"], None, seed=0, metric="rmse", task="regression"
    )
    assert noisy["drop_numeric"] > 0 and noisy["drop_numeric"] < 10  # a share of the base rmse, not label units


def _config(task, **extra):
    data = {
        "dataset": {"name": "t", "path": "x.csv", "id_column": "id", "label": "y", "task": task, "raw_suite": "s.json"},
        **extra,
    }
    return parse_config(data)


@pytest.mark.parametrize(
    ("task", "extra", "fragment"),
    [
        ("regression", {"gates": {"floors": {"roc_auc": 0.6}}}, "gates.floors names 'roc_auc', not a regression metric"),
        ("multiclass", {"gates": {"floors": {"f1": 0.5}}}, "not a multiclass metric"),
        ("binary", {"training": {"primary_metric": "rmse"}}, "'rmse' is not a binary metric"),
        (
            "regression",
            {"training": {"candidates": [{"name": "dp", "kind": "dp_logistic_regression"}]}},
            "dp_logistic_regression supports binary labels only",
        ),
        ("auto", {"training": {"primary_metric": "nonsense"}}, "not a metric of any task"),
    ],
)
def test_config_when_setting_not_of_the_task_then_one_line_error_at_load(task, extra, fragment):
    with pytest.raises(ConfigError) as err:
        _config(task, **extra)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_config_when_auto_resolved_then_task_defaults_and_unknown_floor_refused():
    config = _config("auto", gates={"floors": {"roc_auc": 0.7}})
    assert config.task == "binary" and config.primary_metric == "roc_auc" and config.floors == {"roc_auc": 0.7}
    resolved = _config("auto").with_label_spec(LabelSpec("y", "regression"))
    assert (resolved.task, resolved.primary_metric, resolved.floors) == ("regression", "rmse", {"r2": 0.0})
    assert resolved.config_hash() == _config("auto").config_hash()  # the resolved label is not a field
    with pytest.raises(ConfigError, match="not a regression metric"):
        config.with_label_spec(LabelSpec("y", "regression"))


def test_config_when_sensitive_attribute_and_list_then_merged_and_never_features():
    config = _config("auto")
    ds = config.dataset.model_copy(update={"sensitive_attribute": "sex", "sensitive_attributes": ["race", "sex"]})
    assert ds.sensitive_columns == ["sex", "race"]
    with pytest.raises(ConfigError, match="sensitive attribute 'race' cannot be a feature"):
        parse_config(
            {
                "dataset": {
                    "name": "t",
                    "path": "x.csv",
                    "id_column": "id",
                    "label": "y",
                    "raw_suite": "s.json",
                    "categorical_features": ["race"],
                    "sensitive_attributes": ["race"],
                }
            }
        )
