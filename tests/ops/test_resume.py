"""Resume: after a failure, re-running the same job reuses the candidate fits that already finished
(Prefect cache keyed on fingerprints, candidate config and code — never on frames) and gives the same result."""

from __future__ import annotations

from typing import Any

import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from veilflow.core.config import load_config
from veilflow.core.paths import project_root

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = pytest.mark.slow

OVERRIDES = {
    "dataset.n_rows": 600,
    "seed": 7,
    "explain.sample_rows": 40,
    "training.candidates": [
        {"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}},
        {"name": "mlp", "kind": "torch_mlp", "params": {"hidden": [16], "epochs": 5, "batch_size": 64, "patience": 5}},
    ],
    "gates.floors": {"roc_auc": 0.55},
    "registry.model_name": "resume",
    "registry.experiment": "resume",
}


def _task_states(flow_run_id: Any) -> dict[str, str]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {r.name: r.state.name for r in runs if r.state is not None}


def test_resume_when_rerun_after_failure_then_fits_reused_and_same_result(prefect_harness, tracking_uri, monkeypatch):
    import veilflow.tasks.modeling.candidates
    import veilflow.tasks.modeling.evaluation
    from veilflow.flows.training import training

    config = load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", OVERRIDES)
    fits = []
    real_fit = veilflow.tasks.modeling.candidates.train_candidate
    monkeypatch.setattr(
        veilflow.tasks.modeling.candidates, "train_candidate", lambda *a, **k: fits.append(a[0]) or real_fit(*a, **k)
    )

    # 1. Evaluation crashes after both candidates were fitted: the run fails.
    real_ci = veilflow.tasks.modeling.evaluation.bootstrap_ci

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected crash in evaluation")

    monkeypatch.setattr(veilflow.tasks.modeling.evaluation, "bootstrap_ci", crash)
    failed = training(config, return_state=True)
    assert failed.is_failed()
    assert sorted(fits) == ["logistic_regression", "torch_mlp"]

    # 2. Same config, same data, crash gone: the fits are reused (no fit runs), everything else reruns.
    monkeypatch.setattr(veilflow.tasks.modeling.evaluation, "bootstrap_ci", real_ci)
    fits.clear()
    resumed = training(config, return_state=True)
    assert resumed.is_completed(), resumed.message
    assert fits == []
    states = _task_states(resumed.state_details.flow_run_id)
    fit_states = {name: state for name, state in states.items() if name.startswith("fit-candidate")}
    assert sorted(fit_states.values()) == ["Cached", "Cached"], states
    assert all(state == "Completed" for name, state in states.items() if name.startswith(("load-data", "anonymize", "evaluate")))
    result = resumed.result()
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["veilflow.reused_steps"] == "fit-candidate:logreg,fit-candidate:mlp"
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert {c.data.tags["veilflow.reused"] for c in children} == {"cached fit"}
    # The reused MLP still shows its per-epoch losses in the new run.
    mlp = next(c for c in children if c.data.tags["veilflow.candidate"] == "mlp")
    assert len(client.get_metric_history(mlp.info.run_id, "val_loss")) >= 1

    # 3. The same result as a run that fits from scratch.
    fresh = training(
        config.model_copy(update={"training": config.training.model_copy(update={"resume": False})}), return_state=True
    )
    assert len(fits) == 2
    fresh_run = client.get_run(fresh.result().run_id)
    for key in ("test.roc_auc", "test.log_loss", "logreg.val.roc_auc", "mlp.val.roc_auc", "mlp.val.log_loss"):
        assert run.data.metrics[key] == fresh_run.data.metrics[key], key
    assert fresh_run.data.tags["veilflow.reused_steps"] == "none"


def test_resume_when_data_changes_then_nothing_reused(prefect_harness, tracking_uri):
    from veilflow.flows.training import training

    base = {**OVERRIDES, "training.candidates": OVERRIDES["training.candidates"][:1], "registry.model_name": "resume-b"}
    first = training(load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", base), return_state=True)
    assert not first.is_failed(), first.message
    second = training(
        load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", {**base, "dataset.n_rows": 601}), return_state=True
    )
    assert not second.is_failed(), second.message
    states = _task_states(second.state_details.flow_run_id)
    assert [s for n, s in states.items() if n.startswith("fit-candidate")] == ["Completed"]
    run = MlflowClient(tracking_uri).get_run(second.result().run_id)
    assert run.data.tags["veilflow.reused_steps"] == "none"
