"""Faults: transient MLflow failures are retried with backoff; a crash mid-training or mid-evaluation leaves the
registry untouched and the MLflow run FAILED with its reason. The MLflow store is real (SQLite); only the one
client method under test is wrapped to fail a set number of times before calling through.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from bad_inputs import base_frame, gates_for_small_data
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from veilflow.core.config import load_config
from veilflow.core.paths import project_root
from veilflow.engines import tracking

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT

MODEL = "faults-customers"
SMALL = {
    "explain.sample_rows": 60,
    "training.candidates": [
        {"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}},
        {"name": "mlp", "kind": "torch_mlp", "params": {"hidden": [16], "epochs": 4, "batch_size": 128, "patience": 2}},
    ],
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": MODEL,
    "registry.experiment": MODEL,
}
# What MLflow's REST client raises when the tracking server is down.
UNREACHABLE = "API request to http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch failed with exception ConnectionError: [Errno 111] Connection refused"


def _flaky(monkeypatch: pytest.MonkeyPatch, method: str, failures: int) -> list[tuple[float, str]]:
    """Make `MlflowClient.<method>` raise a connection error `failures` times, then call the real method."""
    real = getattr(MlflowClient, method)
    calls: list[tuple[float, str]] = []

    def flaky(self: MlflowClient, *args: Any, **kwargs: Any) -> Any:
        if sum(1 for _, outcome in calls if outcome == "fail") < failures:
            calls.append((time.monotonic(), "fail"))
            raise MlflowException(UNREACHABLE)
        calls.append((time.monotonic(), "ok"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, method, flaky)
    return calls


def test_with_retries_when_server_unreachable_twice_then_logged_after_backoff(tracking_uri, monkeypatch):
    client = MlflowClient(tracking_uri)
    exp = client.create_experiment("faults-unit")
    run_id = client.create_run(exp).info.run_id
    calls = _flaky(monkeypatch, "log_batch", failures=2)

    tracking.log_metrics(client, run_id, {"rows": 300.0})

    assert [outcome for _, outcome in calls] == ["fail", "fail", "ok"]
    gaps = [b[0] - a[0] for a, b in zip(calls, calls[1:])]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0, gaps  # exponential backoff: 0.5 s, then 1 s
    monkeypatch.undo()
    assert MlflowClient(tracking_uri).get_run(run_id).data.metrics["rows"] == 300.0


def test_with_retries_when_error_is_not_transient_then_raised_at_once(tracking_uri, monkeypatch):
    client = MlflowClient(tracking_uri)
    run_id = client.create_run(client.create_experiment("faults-permanent")).info.run_id

    def invalid(self, *args, **kwargs):
        invalid.calls += 1
        raise MlflowException("INVALID_PARAMETER_VALUE: metric value must be a number")

    invalid.calls = 0
    monkeypatch.setattr(MlflowClient, "log_batch", invalid)
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        tracking.log_metrics(client, run_id, {"rows": 1.0})
    assert invalid.calls == 1


def _config(overrides: dict[str, Any]):
    return load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", {**SMALL, **overrides})


@pytest.fixture(scope="module")
def seeded(prefect_harness, tmp_path_factory):
    """A module-wide MLflow store whose model has a champion, and a good 300-row input with its config overrides."""
    from veilflow.flows.training import training

    root = tmp_path_factory.mktemp("faults-store")
    with pytest.MonkeyPatch.context() as mp:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("VEILFLOW_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        good = root / "good.csv"
        base_frame().to_csv(good, index=False)
        overrides = {"dataset.source": "file", "dataset.path": str(good), **gates_for_small_data(root)}
        state = training(_config(overrides), return_state=True)
        assert state.is_completed(), state.message
        assert state.result().decision == "promoted"
        yield MlflowClient(uri), state.result(), overrides


def _versions(client: MlflowClient) -> list[str]:
    return sorted(v.version for v in client.search_model_versions(f"name='{MODEL}'"))


@pytest.mark.slow
def test_training_when_mlflow_unreachable_during_log_model_then_retried_and_completed(seeded, monkeypatch):
    from veilflow.flows.training import training

    client, _, overrides = seeded
    # Four failures exhaust the in-process retries (0.5 s, 1 s, 2 s backoff), so the MLflow-facing task
    # fails once and Prefect retries it (1 s delay); the fifth call fails too, the sixth gets through.
    calls = _flaky(monkeypatch, "log_outputs", failures=5)
    one = [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}]  # one sequence of calls
    state = training(_config({**overrides, "registry.register": False, "training.candidates": one}), return_state=True)

    assert state.is_completed(), state.message
    # Every candidate logs its model too, so the first model logged (a candidate's, inside the
    # `train-candidate` task) meets the outage; every later call gets through.
    outcomes = [outcome for _, outcome in calls]
    assert outcomes[:6] == ["fail"] * 5 + ["ok"]
    # then the best model (anonymized-input) and its serving model (raw records)
    assert set(outcomes[6:]) == {"ok"} and len(outcomes) == 6 + 2
    gaps = [b[0] - a[0] for a, b in zip(calls, calls[1:])]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0 and gaps[2] >= 2.0, gaps
    assert gaps[3] >= 1.0, gaps  # Prefect's task retry delay
    run = client.get_run(state.result().run_id)
    assert run.info.status == "FINISHED" and "veilflow.failure_reason" not in run.data.tags
    assert len(run.outputs.model_outputs) >= 1


def _crash(monkeypatch: pytest.MonkeyPatch, target: str, kind: str | None = None) -> None:
    module, name = target.rsplit(".", 1)
    real = getattr(__import__(module, fromlist=[name]), name)

    def crash(*args: Any, **kwargs: Any) -> Any:
        if kind is None or (args and args[0] == kind):
            raise RuntimeError(f"injected crash in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, crash)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("veilflow.tasks.modeling.candidates.train_candidate", "torch_mlp"),  # one candidate's fit crashes; the other finished
        ("veilflow.tasks.modeling.evaluation.bootstrap_ci", None),  # evaluation crashes after training finished
    ],
    ids=["training", "evaluation"],
)
def test_training_when_step_crashes_then_run_failed_and_registry_untouched(seeded, monkeypatch, target, kind):
    from veilflow.flows.training import training

    client, seed_result, overrides = seeded
    versions_before = _versions(client)
    champion_before = client.get_model_version_by_alias(MODEL, "champion").version
    _crash(monkeypatch, target, kind)

    # Resume off: the seed run already fitted these candidates, and a cached fit would never crash.
    state = training(_config({**overrides, "training.resume": False}), return_state=True)

    assert state.is_failed()
    name = target.rsplit(".", 1)[1]
    assert f"injected crash in {name}" in (state.message or "")
    runs = client.search_runs(
        [seed_result.experiment_id],
        filter_string=f"tags.`veilflow.prefect_flow_run_id` = '{state.state_details.flow_run_id}'",
    )
    assert len(runs) == 1
    assert runs[0].info.status == "FAILED"
    assert runs[0].data.tags["veilflow.failure_reason"] == f"RuntimeError: injected crash in {name}"
    if kind is not None:  # the crashed candidate's nested run is FAILED too, the other one FINISHED
        children = client.search_runs(
            [seed_result.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{runs[0].info.run_id}'"
        )
        statuses = {c.data.tags.get("mlflow.runName", c.info.run_name): c.info.status for c in children}
        assert "FAILED" in statuses.values() and "FINISHED" in statuses.values(), statuses
    assert _versions(client) == versions_before
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion_before
