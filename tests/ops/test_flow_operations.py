"""End-to-end scoring and monitoring flows against a champion trained once for the module (temporary SQLite store)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from _configs import DEFAULTS
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.paths import project_root
from veilflow.tasks.data.io import generate_customers

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = pytest.mark.slow

MODEL = "ops-customers"
SMALL = {
    "dataset.n_rows": 800,
    "explain.sample_rows": 100,
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": MODEL,
    "registry.experiment": MODEL,
}


@pytest.fixture(scope="module")
def champion(prefect_harness, tmp_path_factory):
    """Train and promote one small model; MLflow env points at a store of this module's own."""
    from veilflow.flows.training import training

    tmp = tmp_path_factory.mktemp("ops")
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "VEILFLOW_ARTIFACT_ROOT")}
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["VEILFLOW_ARTIFACT_ROOT"] = (tmp / "artifacts").as_uri()
    try:
        state = training(load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", SMALL), return_state=True)
        assert state.is_completed(), state.message
        result = state.result()
        assert result.decision == "promoted", result.failed_gates
        yield {"uri": uri, "tmp": tmp, "result": result}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _artifacts_of(flow_run_id) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in arts}


def test_training_when_promoted_then_profile_stored_with_version_and_summary_published(champion):
    from veilflow.tasks.ops.monitoring import PROFILE_TAG, load_version_profile

    client = MlflowClient(champion["uri"])
    result = champion["result"]
    mv = client.get_model_version(MODEL, result.version)
    assert mv.tags[PROFILE_TAG] == "profile/training_profile.json"
    profile = load_version_profile(client, MODEL, result.version)
    assert set(profile["numeric"]) == {"tenure_months", "monthly_charges", "num_support_tickets"}
    assert "age_band" in profile["categorical"] and "notes" in profile["text"]
    assert profile["predictions"]["n"] == profile["n_rows"]
    run = client.get_run(result.run_id)
    arts = _artifacts_of(run.data.tags["veilflow.prefect_flow_run_id"])
    md = arts["training-summary"].data
    for heading in ("## Validation", "## PII audit", "## Held-out test metrics", "## Promotion gates", "promoted"):
        assert heading in md, heading
    assert f"/runs/{result.run_id})" in str(arts["mlflow-run"].data)  # a link artifact is stored as a Markdown link


def test_scoring_when_batch_has_defects_then_bad_rows_quarantined_with_reason_and_rest_scored(champion, tmp_path):
    from veilflow.flows.scoring import ScoringConfig, scoring

    batch = generate_customers(300, seed=11, defect_rate=0.05)
    raw_path = tmp_path / "batch.csv"
    batch.to_csv(raw_path, index=False)
    out = tmp_path / "scored" / "predictions.parquet"
    state = scoring(ScoringConfig(model_name=MODEL, input_path=raw_path, output_path=out), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()

    assert result.rows_in == 300 and result.rows_quarantined > 0
    assert result.rows_scored + result.rows_quarantined == 300
    preds = pd.read_parquet(out)
    assert len(preds) == result.rows_scored
    assert {"probability", "prediction", "reason_1", "reason_2", "reason_3", "model_version"} <= set(preds.columns)
    assert preds["probability"].between(0, 1).all()
    assert preds["reason_1"].notna().mean() > 0.5
    assert set(preds["reason_1"].dropna()) <= set(load_config(DEFAULTS).dataset.feature_columns)
    # Ids are pseudonyms, never the raw customer ids.
    assert not set(preds["customer_id"]) & set(batch["customer_id"])
    quarantined = pd.read_parquet(result.quarantine_path)
    assert len(quarantined) == result.rows_quarantined
    assert quarantined["quarantine_reason"].str.len().gt(0).all()
    assert "full_name" not in quarantined.columns and not set(quarantined["customer_id"]) & set(batch["customer_id"])
    assert quarantined["source_row"].between(0, 299).all()

    client = MlflowClient(champion["uri"])
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["veilflow.model_name"] == MODEL
    assert run.data.tags["veilflow.model_version"] == champion["result"].version
    assert run.data.metrics["rows_quarantined"] == result.rows_quarantined
    arts = _artifacts_of(state.state_details.flow_run_id)
    assert "scoring-summary" in arts and "scoring-summary-mlflow-run" in arts
    assert "## PII audit" in arts["scoring-summary"].data


def test_scoring_when_batch_has_no_label_then_validated_without_it_and_scored(champion, tmp_path):
    from veilflow.flows.scoring import ScoringConfig, scoring

    batch = generate_customers(120, seed=21).drop(columns=["churned"])
    raw_path = tmp_path / "unlabelled.parquet"
    batch.to_parquet(raw_path, index=False)
    out = tmp_path / "predictions.parquet"
    state = scoring(ScoringConfig(model_name=MODEL, input_path=raw_path, output_path=out), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result.rows_scored + result.rows_quarantined == 120
    assert len(pd.read_parquet(out)) == result.rows_scored > 100


def test_scoring_when_column_missing_then_fails_with_one_line_and_nothing_written(champion, tmp_path):
    from veilflow.flows.scoring import ScoringConfig, scoring

    raw_path = tmp_path / "batch.csv"
    generate_customers(50, seed=3).drop(columns=["notes"]).to_csv(raw_path, index=False)
    out = tmp_path / "predictions.parquet"
    state = scoring(ScoringConfig(model_name=MODEL, input_path=raw_path, output_path=out), return_state=True)
    assert state.is_failed()
    assert "critical" in state.message and "notes" in state.message
    assert not out.exists()


def _score_with(path: Path, out: Path, execution):
    from veilflow.flows.scoring import ScoringConfig, scoring

    return scoring(ScoringConfig(model_name=MODEL, input_path=path, output_path=out, execution=execution), return_state=True)


def test_scoring_when_partitioned_on_threads_and_dask_then_identical_to_whole_batch(champion, tmp_path):
    pytest.importorskip("prefect_dask")
    from veilflow.core.config import ExecutionConfig

    batch = generate_customers(400, seed=31, defect_rate=0.05).drop(columns=["churned"])
    path = tmp_path / "batch.parquet"
    batch.to_parquet(path, index=False, row_group_size=100)  # 4 row groups -> 4 partitions of 100
    runs = {
        "whole": ExecutionConfig(),
        "thread": ExecutionConfig(partition_rows=100),
        "dask": ExecutionConfig(runner="dask", workers=2, partition_rows=100),
    }
    outputs = {}
    for name, execution in runs.items():
        out = tmp_path / name / "predictions.parquet"
        state = _score_with(path, out, execution)
        assert state.is_completed(), f"{name}: {state.message}"
        outputs[name] = (state.result(), pd.read_parquet(out), pd.read_parquet(out.with_suffix(".quarantine.parquet")))

    whole, whole_preds, whole_quarantine = outputs["whole"]
    assert whole.rows_quarantined > 0 and whole.rows_scored + whole.rows_quarantined == 400
    client = MlflowClient(champion["uri"])
    for name in ("thread", "dask"):
        result, preds, quarantine = outputs[name]
        # Row for row: the same predictions, reason codes and quarantined rows with the same reasons.
        pd.testing.assert_frame_equal(preds, whole_preds, obj=f"{name} predictions")
        pd.testing.assert_frame_equal(quarantine, whole_quarantine, obj=f"{name} quarantine")
        tags = client.get_run(result.run_id).data.tags
        assert tags["veilflow.execution.runner"] == name and tags["veilflow.execution.partitions"] == "4"
        # The whole batch's fingerprint, combined from the partitions' row hashes.
        assert tags["veilflow.data_fingerprint"] == client.get_run(whole.run_id).data.tags["veilflow.data_fingerprint"]
        assert client.get_run(result.run_id).data.metrics["partitions.count"] == 4


def test_scoring_when_id_duplicated_across_partitions_then_fails_like_whole_batch_and_nothing_written(champion, tmp_path):
    from veilflow.core.config import ExecutionConfig

    batch = generate_customers(200, seed=41).drop(columns=["churned"])
    batch.loc[150, "customer_id"] = batch.loc[10, "customer_id"]  # partition 0 and partition 1 share an id
    path = tmp_path / "dup.parquet"
    batch.to_parquet(path, index=False, row_group_size=100)
    out = tmp_path / "predictions.parquet"
    state = _score_with(path, out, ExecutionConfig(partition_rows=100))
    assert state.is_failed()
    assert "critical" in state.message and "customer_id" in state.message
    assert "\n" not in state.message.strip()
    assert not out.exists()


def test_monitoring_when_batch_like_training_then_no_drift_and_no_retraining(champion):
    from veilflow.flows.monitoring import MonitoringConfig, monitoring

    state = monitoring(MonitoringConfig(model_name=MODEL, generate_rows=800, drift=0.0), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert not result.drift_detected, result
    assert result.max_psi < 0.2
    assert result.retraining.startswith("not needed")
    client = MlflowClient(champion["uri"])
    run = client.get_run(result.run_id)
    assert run.data.tags["veilflow.model_version"] == champion["result"].version
    names = {a.path for a in client.list_artifacts(result.run_id, "drift")}
    assert {"drift/report.json", "drift/report.csv", "drift/psi.png"} <= names


def test_monitoring_when_strong_drift_and_no_deployment_then_reports_retraining_not_triggered(champion):
    from veilflow.flows.monitoring import MonitoringConfig, monitoring

    state = monitoring(MonitoringConfig(model_name=MODEL, generate_rows=600, drift=1.0), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result.drift_detected
    assert {"monthly_charges", "tenure_months"} <= set(result.drifted_features)
    assert result.prediction_psi is not None and result.prediction_psi > 0.2
    assert not result.retraining_triggered
    assert result.retraining.startswith("retraining could not be triggered: deployment 'training/nightly'")
    arts = _artifacts_of(state.state_details.flow_run_id)
    md = arts["drift-report"].data
    assert "drift detected" in md and "retraining could not be triggered" in md and "| monthly_charges |" in md
    run = MlflowClient(champion["uri"]).get_run(result.run_id)
    assert run.data.tags["veilflow.drift_detected"] == "true"
    assert run.data.metrics["drift.max_psi"] > 0.2


def test_cli_score_and_monitor_when_champion_exists_then_report_lines_and_exit_codes(champion, tmp_path, capsys):
    from veilflow.cli.main import main

    raw_path = tmp_path / "batch.parquet"
    generate_customers(120, seed=5).to_parquet(raw_path)
    out = tmp_path / "p.parquet"
    assert main(["score", "--model", MODEL, "--input", str(raw_path), "--output", str(out)]) == 0
    assert f"scored 120 of 120 rows with {MODEL}" in capsys.readouterr().out and out.exists()
    # The same batch per partition (row groups of 40 -> 3 partitions on the thread pool): the same predictions.
    generate_customers(120, seed=5).to_parquet(raw_path, row_group_size=40)
    out_parts = tmp_path / "p-parts.parquet"
    assert main(["score", "--model", MODEL, "--input", str(raw_path), "--output", str(out_parts), "--partition-rows", "40"]) == 0
    assert f"scored 120 of 120 rows with {MODEL}" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(out_parts), pd.read_parquet(out))

    code = main(["monitor", "--model", MODEL, "--rows", "300", "--drift", "1.0", "--strict"])
    printed = capsys.readouterr().out
    assert code == 5, printed
    assert "drift DETECTED" in printed and "retraining: retraining could not be triggered" in printed
