"""Determinism and replay: the same config and data give the same metrics to the last digit, for every
candidate (scikit-learn and PyTorch), and `veilflow replay` proves it from what a run logged."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.errors import DataLoadError
from veilflow.core.paths import project_root
from veilflow.tasks.data.io import generate_customers

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = pytest.mark.slow

CANDIDATES = [
    {"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}},
    {"name": "hgb", "kind": "hist_gradient_boosting", "params": {"max_iter": 30}},
    {"name": "mlp", "kind": "torch_mlp", "params": {"hidden": [16], "epochs": 4, "batch_size": 64, "patience": 2}},
]


def _config(path):
    return load_config(
        PROJECT_ROOT / "deploy/configs/customers.yaml",
        {
            "dataset.source": "file",
            "dataset.path": str(path),
            "explain.sample_rows": 40,
            "training.candidates": CANDIDATES,
            "gates.floors": {"roc_auc": 0.55},
            "registry.model_name": "replay",
            "registry.experiment": "replay",
        },
    )


def test_replay_when_same_config_and_data_then_every_metric_identical(prefect_harness, tracking_uri, tmp_path):
    from veilflow.flows.replay import replay_run
    from veilflow.flows.training import training

    path = tmp_path / "customers.parquet"
    generate_customers(700, seed=11).to_parquet(path, index=False)
    state = training(_config(path), return_state=True)
    assert not state.is_failed(), state.message
    original = state.result()

    report = replay_run(original.run_id)

    assert report["identical"], report["differences"]
    assert report["max_abs_diff"] == 0.0
    client = MlflowClient(tracking_uri)
    first = client.get_run(original.run_id).data.metrics
    second = client.get_run(report["replay_run"]).data.metrics
    for cand in ("logreg", "hgb", "mlp"):
        for metric in ("roc_auc", "log_loss", "brier"):
            key = f"{cand}.val.{metric}"
            assert key in first and first[key] == second[key], key
    assert first["test.roc_auc"] == second["test.roc_auc"]
    # Every test.* and *.val.* metric was compared, not a handful.
    assert report["compared"] >= 3 * 9 + 9
    # The replay registers nothing and points back at its original.
    replay_run_record = client.get_run(report["replay_run"])
    assert replay_run_record.data.tags["veilflow.replay_of"] == original.run_id
    assert [v.run_id for v in client.search_model_versions("name='replay'")] == [original.run_id]


def test_replay_when_data_changed_then_refused_before_training(prefect_harness, tracking_uri, tmp_path):
    from veilflow.flows.replay import replay_run
    from veilflow.flows.training import training

    path = tmp_path / "customers.csv"
    frame = generate_customers(500, seed=12)
    frame.to_csv(path, index=False)
    config = _config(path).model_copy(
        update={"training": _config(path).training.model_copy(update={"candidates": _config(path).training.candidates[:1]})}
    )
    state = training(config, return_state=True)
    assert not state.is_failed(), state.message
    run_id = state.result().run_id
    frame.iloc[:-1].to_csv(path, index=False)  # one row fewer

    client = MlflowClient(tracking_uri)
    runs_before = len(client.search_runs([client.get_experiment_by_name("replay").experiment_id]))
    with pytest.raises(DataLoadError, match="fingerprint changed"):
        replay_run(run_id)
    assert len(client.search_runs([client.get_experiment_by_name("replay").experiment_id])) == runs_before
