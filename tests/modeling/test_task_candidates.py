"""Every candidate kind on multiclass and regression labels: fit, output shape, label mapping, explanations, audit."""

from __future__ import annotations

import subprocess
import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from veilflow.core.config import parse_config
from veilflow.tasks.data.labels import check_label
from veilflow.tasks.modeling.candidates import model_task, predict_output, top_score, train_candidate
from veilflow.tasks.modeling.explain import explain_global
from veilflow.tasks.modeling.reason_codes import predict_with_reason_codes, reason_codes
from veilflow.tasks.modeling.task_metrics import compute_task_metrics
from veilflow.tasks.ops.model_audit import audit_membership

KINDS = {
    "logistic_regression": {"C": 1.0},
    "hist_gradient_boosting": {"max_iter": 20},
    "torch_mlp": {"hidden": [8], "epochs": 15, "lr": 0.02, "verbose": False},
}


def _frame(task: str, n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    if task == "multiclass":
        score = x1 + 0.5 * (colour == "red")
        y = np.where(score < -0.4, "low", np.where(score < 0.5, "mid", "high"))
    else:
        y = 30 * x1 - 10 * x2 + 5 * (colour == "red") + rng.normal(0, 3, size=n) + 100
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "y": y})


def _fit(kind: str, task: str):
    frame = _frame(task)
    spec = check_label(frame["y"], task)
    frame["y"] = spec.encode(frame["y"])
    train, val, test = frame.iloc[:160], frame.iloc[160:190], frame.iloc[190:]
    trained = train_candidate(
        kind, KINDS[kind], train, val, ["x1", "x2"], ["colour"], None, "y", seed=3, task=task, label_spec=spec.to_dict()
    )
    return trained, spec, train, val, test


@pytest.mark.parametrize("kind", list(KINDS))
def test_candidate_when_multiclass_then_k_probabilities_mapping_and_predicted_class_reasons(kind):
    trained, spec, _, _, test = _fit(kind, "multiclass")
    assert spec.classes == ("high", "low", "mid")
    proba = predict_output(trained.model, test)
    assert proba.shape == (len(test), 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert model_task(trained.model) == "multiclass"
    assert trained.model.veilflow_label_ == spec.to_dict()
    assert compute_task_metrics("multiclass", test["y"], proba)["accuracy"] > 0.6
    assert np.array_equal(top_score(proba, "multiclass"), proba.max(axis=1))
    out, reasons = predict_with_reason_codes(trained.model, test.head(5))
    assert np.allclose(out, proba[:5]) and list(reasons.columns) == ["reason_1", "reason_2", "reason_3"]
    assert reason_codes(trained.model, test).notna().any(axis=None)


@pytest.mark.parametrize("kind", list(KINDS))
def test_candidate_when_regression_then_values_no_probabilities_and_explained(kind, tmp_path):
    trained, spec, _, _, test = _fit(kind, "regression")
    assert spec.task == "regression"
    assert not hasattr(trained.model, "predict_proba")
    pred = predict_output(trained.model, test)
    assert pred.shape == (len(test),)
    assert compute_task_metrics("regression", test["y"], pred)["r2"] > 0.5
    exp = explain_global(trained, test, tmp_path, sample_rows=30, seed=0)
    assert set(exp.table["feature"]) == {"x1", "x2", "colour"}
    assert exp.table.iloc[0]["feature"] == "x1"  # the strongest effect
    assert np.isfinite(exp.table["mean_abs_importance"]).all()


def test_candidate_when_dp_kind_and_not_binary_then_refused():
    frame = _frame("regression")
    with pytest.raises(ValueError, match="binary labels only"):
        train_candidate("dp_logistic_regression", {}, frame, frame.iloc[:0], ["x1"], [], None, "y", 0, task="regression")


def test_label_mapping_when_model_pickled_and_loaded_in_fresh_process_then_original_labels():
    trained, *_ = _fit("logistic_regression", "multiclass")
    blob = cloudpickle.dumps(trained.model)
    code = (
        "import sys, cloudpickle, pandas as pd\n"
        "from veilflow.core.labels import LabelSpec\n"
        "model = cloudpickle.loads(sys.stdin.buffer.read())\n"
        "spec = LabelSpec.from_dict(model.veilflow_label_)\n"
        "frame = pd.DataFrame({'x1': [-3.0, 0.0, 3.0], 'x2': [0.0, 0.0, 0.0], 'colour': ['blue', 'blue', 'blue']})\n"
        "print(','.join(spec.decode(model.predict_proba(frame).argmax(axis=1))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True, timeout=120)
    assert done.stdout.decode().strip().splitlines()[-1] == "low,mid,high"


def _audit_config(task: str):
    return parse_config(
        {
            "seed": 1,
            "dataset": {
                "name": "t",
                "path": "x.csv",
                "id_column": "id",
                "label": "y",
                "task": task,
                "numeric_features": ["x1", "x2"],
                "categorical_features": ["colour"],
                "raw_suite": "s.json",
            },
            "privacy": {"mia": {"n_boot": 0, "reference_models": 2}},
        }
    )


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_membership_audit_when_task_then_loss_and_lira_scored(task):
    trained, spec, train, val, test = _fit("hist_gradient_boosting", task)
    config = _audit_config(task).with_label_spec(spec)
    audit = audit_membership("hist_gradient_boosting", KINDS["hist_gradient_boosting"], trained.model, train, val, test, config)
    for report in audit.reports:
        assert 0.0 <= report.auc <= 1.0
        assert report.n_members == report.n_non_members == len(test)


def test_model_card_when_multiclass_and_two_attributes_then_task_mapping_and_slices_per_attribute():
    from veilflow.tasks.modeling.gates import SmokeResult, evaluate_gates
    from veilflow.tasks.modeling.model_card import render_model_card
    from veilflow.tasks.modeling.task_metrics import group_gap_report

    trained, spec, _, _, test = _fit("logistic_regression", "multiclass")
    proba = predict_output(trained.model, test)
    metrics = compute_task_metrics("multiclass", test["y"], proba)
    rows = []
    for attribute, groups in {"sex": np.resize(["f", "m"], len(test)), "region": np.resize(["n", "s"], len(test))}.items():
        report = group_gap_report("multiclass", test["y"], proba, groups, min_group_size=5)
        rows += [{"attribute": attribute, **r} for r in report.table.reset_index(names="group").to_dict("records")]
    decision = evaluate_gates(
        metrics, None, parse_config(_audit_config("multiclass").model_dump()).gates, "f1_macro", None, None, True,
        SmokeResult(passed=True, latency_ms=1.0, n_rows=5), task="multiclass", floors={"roc_auc_ovr": 0.6},
        fairness_gaps={"sex": 0.1, "region": 0.05},
    )  # fmt: skip
    summary = {"task": "multiclass", "label_mapping": "; ".join(f"{i} = {c}" for i, c in enumerate(spec.classes))}
    md, html = render_model_card(
        "m", "1", summary, metrics, {"f1_macro": (0.7, 0.9)}, pd.DataFrame(rows), pd.DataFrame(), decision, {}, {}
    )
    assert "0 = high; 1 = low; 2 = mid" in md and "multiclass" in md
    assert "f1\\_macro" in md and "roc\\_auc\\_ovr" in md  # Markdown escapes underscores
    assert "fairness.sex" in md and "fairness.region" in md
    assert md.count("| sex |") == 2 and md.count("| region |") == 2  # two groups per attribute
    assert "<html" in html.lower()


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_prediction_drift_when_task_then_one_score_per_row_profiled_and_compared(task):
    from veilflow.tasks.data.drift import build_profile, compare_to_profile
    from veilflow.tasks.ops.monitoring import prediction_scores

    trained, _, train, _, test = _fit("hist_gradient_boosting", task)
    scores = prediction_scores(trained.model, train)
    assert scores.shape == (len(train),)
    if task == "multiclass":  # the top-class probability
        assert np.allclose(scores, predict_output(trained.model, train).max(axis=1))
    else:  # the predicted value
        assert np.allclose(scores, predict_output(trained.model, train))
    profile = build_profile(train, ["x1", "x2"], ["colour"], None, scores, seed=0)
    shifted = test.assign(x1=test["x1"] + 3.0)
    report = compare_to_profile(profile, shifted, prediction_scores(trained.model, shifted), psi_threshold=0.2)
    assert report.prediction_psi is not None and report.prediction_psi > 0.2
