"""Tests for veilflow.tasks.modeling.gates: every gate blocks on its own, first runs, tags, promotion compare, and the real smoke test."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from veilflow.core.config import GateConfig
from veilflow.engines.smoke import read_example
from veilflow.tasks.modeling.gates import (
    GateDecision,
    SmokeResult,
    compare_for_promotion,
    evaluate_gates,
    run_smoke_test,
)

GATES = GateConfig(
    floors={"roc_auc": 0.6, "log_loss": 0.7},
    max_regression=0.01,
    max_fairness_gap=0.25,
    max_robustness_drop=0.1,
    max_calibration_error=0.15,
    smoke_latency_ms=500.0,
)
CANDIDATE = {"roc_auc": 0.81, "log_loss": 0.45, "brier": 0.15, "ece": 0.05, "f1": 0.6}
CHAMPION = {"roc_auc": 0.80, "log_loss": 0.46, "brier": 0.16, "ece": 0.06, "f1": 0.58}
GOOD_SMOKE = SmokeResult(passed=True, latency_ms=12.5, n_rows=5)
ALL_GATES = [
    "floor.roc_auc",
    "floor.log_loss",
    "regression.roc_auc",
    "fairness",
    "robustness",
    "calibration",
    "leak",
    "smoke",
    "smoke.latency",
]


def _decide(**overrides) -> GateDecision:
    kwargs = {
        "candidate_metrics": CANDIDATE,
        "champion_metrics": CHAMPION,
        "gates": GATES,
        "primary_metric": "roc_auc",
        "fairness_gap": 0.1,
        "robustness_drop": 0.02,
        "leak_passed": True,
        "smoke": GOOD_SMOKE,
    }
    kwargs.update(overrides)
    return evaluate_gates(**kwargs)


def test_evaluate_gates_when_everything_good_then_passed_with_every_gate_recorded():
    decision = _decide()
    assert decision.passed
    assert [r.name for r in decision.results] == ALL_GATES
    assert all(r.passed and not r.skipped for r in decision.results)
    assert decision.summary == f"passed all {len(ALL_GATES)} gates"


@pytest.mark.parametrize(
    ("overrides", "failed_gate", "numbers"),
    [
        # floor fails: roc_auc under its 0.6 floor
        ({"candidate_metrics": {**CANDIDATE, "roc_auc": 0.55}}, "floor.roc_auc", ["0.5500", "0.6000"]),
        # a lower-is-better floor is a ceiling: log_loss above 0.7 fails
        ({"candidate_metrics": {**CANDIDATE, "log_loss": 0.9}}, "floor.log_loss", ["0.9000", "0.7000"]),
        # a floor metric the candidate did not report cannot pass
        ({"candidate_metrics": {k: v for k, v in CANDIDATE.items() if k != "log_loss"}}, "floor.log_loss", ["missing"]),
        # regression fails: 0.78 vs champion 0.85 with 0.01 allowed
        (
            {"champion_metrics": {**CHAMPION, "roc_auc": 0.85}, "candidate_metrics": {**CANDIDATE, "roc_auc": 0.78}},
            "regression.roc_auc",
            ["0.7800", "0.8400"],
        ),
        # regression on a lower-is-better primary: log_loss 0.50 vs champion 0.46 (bound 0.47) fails
        (
            {"primary_metric": "log_loss", "candidate_metrics": {**CANDIDATE, "log_loss": 0.50}},
            "regression.log_loss",
            ["0.5000", "0.4700"],
        ),
        # fairness fails: gap 0.3 over 0.25
        ({"fairness_gap": 0.3}, "fairness", ["0.3000", "0.2500"]),
        # robustness fails: drop 0.2 over 0.1
        ({"robustness_drop": 0.2}, "robustness", ["0.2000", "0.1000"]),
        # calibration fails: ece 0.2 over 0.15
        ({"candidate_metrics": {**CANDIDATE, "ece": 0.2}}, "calibration", ["0.2000", "0.1500"]),
        # leak fails: the PII scan found something
        ({"leak_passed": False}, "leak", ["leak scan found PII"]),
        # smoke fails: the model did not load
        ({"smoke": SmokeResult(passed=False, error="load failed (MlflowException: alias not found)")}, "smoke", ["load failed"]),
        # smoke latency exceeded: 900 ms against the 500 ms budget of the config
        ({"smoke": SmokeResult(passed=True, latency_ms=900.0, n_rows=5)}, "smoke.latency", ["900.0000", "500.0000"]),
        # smoke never ran: promotion without it is refused
        ({"smoke": None}, "smoke", ["not run"]),
    ],
)
def test_evaluate_gates_when_one_gate_fails_then_blocked_and_summary_names_it(overrides, failed_gate, numbers):
    decision = _decide(**overrides)
    assert not decision.passed
    assert failed_gate in [r.name for r in decision.failed]
    # Every gate is still evaluated and recorded after the failure.
    assert len(decision.results) == len(ALL_GATES)
    assert "\n" not in decision.summary
    assert failed_gate in decision.summary
    for number in numbers:
        assert number in decision.summary
    assert decision.as_tags()[f"gate.{failed_gate}"].startswith("fail")


def test_evaluate_gates_when_several_fail_then_all_named():
    decision = _decide(fairness_gap=0.4, leak_passed=False, candidate_metrics={**CANDIDATE, "roc_auc": 0.5})
    assert {r.name for r in decision.failed} == {"floor.roc_auc", "regression.roc_auc", "fairness", "leak"}
    assert decision.summary.startswith("rejected, 4 gate(s) failed:")


def test_evaluate_gates_when_no_champion_then_regression_skipped_and_passes():
    decision = _decide(champion_metrics=None, candidate_metrics={**CANDIDATE, "roc_auc": 0.61})
    regression = next(r for r in decision.results if r.name == "regression.roc_auc")
    assert decision.passed
    assert regression.passed and regression.skipped
    assert regression.detail == "skipped: no champion"
    assert "regression.roc_auc skipped" in decision.summary
    assert decision.as_tags()["gate.regression.roc_auc"] == "pass skipped: no champion"


def test_evaluate_gates_when_champion_lacks_primary_metric_then_regression_fails():
    decision = _decide(champion_metrics={"f1": 0.5})
    assert [r.name for r in decision.failed] == ["regression.roc_auc"]


def test_evaluate_gates_when_limits_disabled_or_unmeasured_then_skipped():
    gates = GATES.model_copy(update={"max_fairness_gap": None, "max_calibration_error": None})
    decision = _decide(gates=gates, fairness_gap=0.9, robustness_drop=None, candidate_metrics={**CANDIDATE, "ece": 0.9})
    by_name = {r.name: r for r in decision.results}
    assert decision.passed
    assert by_name["fairness"].detail == "skipped: disabled"
    assert by_name["calibration"].detail == "skipped: disabled"
    assert by_name["robustness"].detail == "skipped: not measured"


def test_evaluate_gates_when_smoke_not_required_then_skipped():
    decision = _decide(smoke=None, require_smoke=False)
    assert decision.passed
    assert {r.name for r in decision.results if r.skipped} == {"smoke", "smoke.latency"}


def test_evaluate_gates_when_metric_is_nan_then_fails():
    decision = _decide(candidate_metrics={**CANDIDATE, "roc_auc": math.nan})
    assert {"floor.roc_auc", "regression.roc_auc"} <= {r.name for r in decision.failed}


def test_gate_decision_as_tags_when_rendered_then_value_relation_threshold():
    tags = _decide().as_tags()
    assert tags["gate.floor.roc_auc"] == "pass 0.8100>=0.6000"
    assert tags["gate.floor.log_loss"] == "pass 0.4500<=0.7000"
    assert tags["gate.regression.roc_auc"] == "pass 0.8100>=0.7900"
    assert tags["gate.leak"] == "pass leak scan clean"
    assert tags["gate.decision"] == "pass"
    assert set(tags) == {f"gate.{n}" for n in ALL_GATES} | {"gate.decision", "gate.summary"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"primary_metric": "auc"}, "unknown metric"),  # typo in the primary metric
        ({"gates": GateConfig(floors={"accuracy_score": 0.5})}, "unknown metric"),  # typo in a floor
    ],
)
def test_evaluate_gates_when_unknown_metric_then_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        _decide(**overrides)


@pytest.mark.parametrize(
    ("candidate", "champion", "metric", "tolerance", "expected"),
    [
        (0.82, 0.80, "roc_auc", 0.0, True),  # better, higher is better
        (0.80, 0.80, "roc_auc", 0.0, True),  # tie: no worse
        (0.79, 0.80, "roc_auc", 0.0, False),  # worse, no tolerance
        (0.795, 0.80, "roc_auc", 0.01, True),  # worse but within tolerance
        (0.40, 0.45, "log_loss", 0.0, True),  # lower log loss is better
        (0.50, 0.45, "log_loss", 0.0, False),  # higher log loss is worse
        (0.50, None, "roc_auc", 0.0, True),  # no champion yet
        (math.nan, 0.80, "roc_auc", 0.0, False),  # unscored candidate never promotes
        (0.80, math.nan, "roc_auc", 0.0, False),  # unscored champion: refuse, do not guess
    ],
)
def test_compare_for_promotion_when_values_then_direction_aware(candidate, champion, metric, tolerance, expected):
    assert compare_for_promotion(candidate, champion, metric, tolerance) is expected


@pytest.mark.parametrize(
    ("metric", "tolerance", "message"),
    [
        ("auc", 0.0, "unknown metric"),  # typo
        ("roc_auc", -0.1, "tolerance"),  # a negative tolerance would demand improvement silently
    ],
)
def test_compare_for_promotion_when_bad_arguments_then_error(metric, tolerance, message):
    with pytest.raises(ValueError, match=message):
        compare_for_promotion(0.8, 0.7, metric, tolerance)


# ---------------------------------------------------------------- smoke test against a real MLflow store


@pytest.fixture(scope="module")
def registered_model(tmp_path_factory) -> dict:
    """A tiny sklearn model logged to a temporary SQLite store, registered, with alias challenger."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from mlflow.tracking._tracking_service import utils as tracking_utils
    from sklearn.linear_model import LogisticRegression

    tmp = tmp_path_factory.mktemp("smoke")
    uri = f"sqlite:///{tmp}/mlflow.db"
    # set_tracking_uri changes a module global and the MLFLOW_TRACKING_URI variable; both are put back
    # exactly afterwards so later tests (which point MLflow through the environment) are unaffected.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        experiment = mlflow.create_experiment("smoke", artifact_location=(tmp / "artifacts").as_uri())
        rng = np.random.default_rng(0)
        x = pd.DataFrame({"tenure_months": rng.integers(1, 72, 60).astype("float64"), "monthly_charges": rng.normal(65, 20, 60)})
        y = (x["tenure_months"] < 20).astype(int)
        model = LogisticRegression().fit(x, y)
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(x, model.predict(x)),
                pip_requirements=["scikit-learn"],
                serialization_format="cloudpickle",
                registered_model_name="smoke-tiny",
            )
        MlflowClient(tracking_uri=uri).set_registered_model_alias("smoke-tiny", "challenger", info.registered_model_version)
    example = tmp / "example.parquet"
    x.head(5).to_parquet(example)
    return {"uri": uri, "example": example, "tmp": tmp}


def test_run_smoke_test_when_challenger_alias_then_passed(registered_model):
    result = run_smoke_test("models:/smoke-tiny@challenger", registered_model["example"], registered_model["uri"], 5000.0)
    assert result.passed, result.error
    assert result.n_rows == 5
    assert 0.0 < result.latency_ms < 5000.0
    assert result.error is None


def test_run_smoke_test_when_alias_missing_then_failed_with_reason(registered_model):
    result = run_smoke_test("models:/smoke-tiny@nonexistent", registered_model["example"], registered_model["uri"], 5000.0)
    assert not result.passed
    assert result.error.startswith("load failed")
    assert "nonexistent" in result.error
    assert "\n" not in result.error


def test_run_smoke_test_when_latency_budget_exceeded_then_failed(registered_model):
    result = run_smoke_test("models:/smoke-tiny@challenger", registered_model["example"], registered_model["uri"], 1e-6)
    assert not result.passed
    assert result.latency_ms is not None and result.latency_ms > 1e-6
    assert "budget" in result.error


def test_run_smoke_test_when_example_missing_then_failed_without_starting_process(registered_model, tmp_path):
    result = run_smoke_test("models:/smoke-tiny@challenger", tmp_path / "absent.parquet", registered_model["uri"], 5000.0)
    assert not result.passed
    assert "input example not found" in result.error


@pytest.mark.parametrize(
    "payload",
    [
        {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4.5]]},  # MLflow input_example.json (split)
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4.5]]}},  # serving_input_example.json
        {"dataframe_records": [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}]},  # serving records layout
        [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}],  # plain records
    ],
)
def test_read_example_when_json_layouts_then_same_frame(tmp_path, payload):
    path = tmp_path / "example.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    frame = read_example(path)
    assert list(frame.columns) == ["a", "b"]
    assert frame.shape == (2, 2)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("example.txt", "a,b", "unsupported input example format"),  # unknown suffix
        ("example.json", '{"rows": 3}', "records or a columns/data mapping"),  # JSON of the wrong shape
    ],
)
def test_read_example_when_bad_file_then_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_example(path)


def test_smoke_main_when_bad_uri_then_json_line_and_exit_code_one(capsys, registered_model, monkeypatch):
    from veilflow.engines.smoke import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered_model["uri"])
    code = main(["--model-uri", "models:/no-such-model@challenger", "--input", str(registered_model["example"])])
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1
    assert record["veilflow_smoke"] is True and record["ok"] is False
    assert record["error"].startswith("load failed")
