"""End-to-end runs of the training flow under one Prefect test harness, MLflow in a temporary SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow
import pytest
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.paths import project_root
from veilflow.tasks.data.io import generate_customers

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = pytest.mark.slow

SMALL = {
    "dataset.n_rows": 800,
    "explain.sample_rows": 100,
    "training.candidates": [
        {"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}},
        {"name": "mlp", "kind": "torch_mlp", "params": {"hidden": [16], "epochs": 4, "batch_size": 128, "patience": 2}},
    ],
    "gates.floors": {"roc_auc": 0.6},
}


def _config(**extra):
    return load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", {**SMALL, **extra})


def _all_artifacts(client: MlflowClient, run_id: str, path: str = "") -> list[str]:
    out = []
    for item in client.list_artifacts(run_id, path):
        out.extend(_all_artifacts(client, run_id, item.path) if item.is_dir else [item.path])
    return out


def test_training_flow_when_customers_then_run_recorded_and_model_registered(prefect_harness, tracking_uri, tmp_path):
    from veilflow.flows.training import TrainingResult, training

    config = _config(**{"registry.model_name": "e2e-customers", "registry.experiment": "e2e-customers"})
    state = training(config, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, TrainingResult)

    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    # Params: the config, flattened.
    assert run.data.params["seed"] == "42"
    assert run.data.params["dataset.n_rows"] == "800"
    # Tags: Prefect flow-run id, code version, config hash, fingerprint.
    assert run.data.tags["veilflow.prefect_flow_run_id"] == str(state.state_details.flow_run_id)
    assert run.data.tags["mlflow.source.git.commit"] != ""
    assert run.data.tags["veilflow.git_dirty"] in {"true", "false", "unknown"}
    assert len(run.data.tags["veilflow.data_fingerprint"]) == 64
    # Metrics.
    assert 0.5 < run.data.metrics["test.roc_auc"] <= 1.0
    assert run.data.metrics["data.rows"] == 800
    assert run.data.metrics["validation.raw.critical_failed"] == 0
    # Artifacts.
    artifacts = set(_all_artifacts(client, result.run_id))
    for expected in [
        "config/pipeline.json",
        "validation/raw.json",
        "validation/anonymized.json",
        "validation/validation_raw.html",
        "pii/audit.json",
        "pii/leak_guard.json",
        "gates/decision.json",
        "model_card/model_card.md",
        "model_card/model_card.html",
    ]:
        assert expected in artifacts, expected
    assert any(a.startswith("evaluation/") and a.endswith(".png") for a in artifacts)
    # Dataset input: the anonymized frame's digest, with the raw fingerprint as a tag.
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    assert {t.key for t in inputs[0].tags} >= {"mlflow.data.context", "veilflow.fingerprint"}
    schema_cols = {c["name"] for c in json.loads(inputs[0].dataset.schema)["mlflow_colspec"]}
    assert "full_name" not in schema_cols and "ssn" not in schema_cols
    # Registry: first run promotes on floors.
    assert result.decision == "promoted"
    mv = client.get_model_version_by_alias("e2e-customers", "champion")
    assert str(mv.version) == result.version
    assert client.get_model_version_by_alias("e2e-customers", "challenger").version == mv.version
    assert mv.tags["veilflow.data_fingerprint"] == run.data.tags["veilflow.data_fingerprint"]
    # The model loads and predicts probabilities from anonymized features.
    model = mlflow.pyfunc.load_model("models:/e2e-customers@champion")
    example = model.input_example
    assert example is not None and "email" not in example.columns
    probs = model.predict(example)
    assert len(probs) == len(example)

    # Every candidate is a logged model in its nested run, and loads and predicts in a fresh process.
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert sorted(c.data.tags["veilflow.candidate"] for c in children) == ["logreg", "mlp"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == list(
            range(1, len(client.get_metric_history(child.info.run_id, "val_loss")) + 1)
        ) or child.data.tags["veilflow.kind"] != "torch_mlp"
    model_ids = [
        m.model_id
        for c in children
        for m in client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{c.info.run_id}'")
    ]
    assert len(model_ids) == 2
    script = (
        "import sys, mlflow.pyfunc\n"
        "for uri in sys.argv[1:]:\n"
        "    m = mlflow.pyfunc.load_model(uri)\n"
        "    p = m.predict(m.input_example)\n"
        "    assert len(p) == len(m.input_example) and 0 <= float(p.min().min() if hasattr(p, 'min') else min(p)) <= 1\n"
        "print('ok', len(sys.argv) - 1)\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    done = subprocess.run(
        [sys.executable, "-c", script, *[f"models:/{m}" for m in model_ids]], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok 2"
    # Explained: SHAP for the linear model, Captum Integrated Gradients for the PyTorch one.
    assert "explain/logreg/importance_logreg.csv" in artifacts and "explain/mlp/importance_mlp.csv" in artifacts
    assert "explain.logreg.shap_linear.seconds" in run.data.metrics
    assert "explain.mlp.captum_integrated_gradients.seconds" in run.data.metrics


def test_training_flow_when_critical_expectation_fails_then_failed_and_nothing_registered(prefect_harness, tracking_uri):
    from veilflow.flows.training import training

    config = _config(**{"dataset.defect_rate": 0.6, "registry.model_name": "e2e-bad", "registry.experiment": "e2e-bad"})
    state = training(config, return_state=True)
    assert state.is_failed()
    assert "DataValidationError" in (state.message or "") or "critical" in (state.message or "")
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name("e2e-bad")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FAILED"
    reason = runs[0].data.tags["veilflow.failure_reason"]
    assert reason.startswith("DataValidationError") and "tenure_months" in reason
    assert "\n" not in reason
    assert client.search_model_versions("name='e2e-bad'") == []


def test_training_flow_when_breast_cancer_then_promoted(prefect_harness, tracking_uri):
    from veilflow.flows.training import training

    config = load_config(PROJECT_ROOT / "deploy/configs/breast_cancer.yaml", {"explain.sample_rows": 80})
    state = training(config, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result.decision == "promoted"
    assert result.primary_value > 0.95


def test_training_flow_when_csv_file_then_same_as_generated(prefect_harness, tracking_uri, tmp_path):
    from veilflow.flows.training import training

    path = tmp_path / "customers.csv"
    generate_customers(600, seed=3).to_csv(path, index=False)
    before = path.read_bytes()
    config = _config(
        **{
            "dataset.source": "file",
            "dataset.path": str(path),
            "registry.model_name": "e2e-csv",
            "registry.experiment": "e2e-csv",
        }
    )
    state = training(config, return_state=True)
    assert state.is_completed(), state.message
    assert path.read_bytes() == before  # the input file is never touched
    run = MlflowClient(tracking_uri).get_run(state.result().run_id)
    assert run.data.metrics["data.rows"] == 600
