"""The privacy of the model on the real training flow (Prefect test harness, MLflow in SQLite): a memorising model
is registered but rejected by the membership-inference gate; with privacy.require_dp a DP model is promoted with
its ε on the version and in the model card, and replays to the same ε and figures; secure mode without its
package fails the run with one line."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.paths import project_root

pytestmark = pytest.mark.slow

CONFIG = project_root() / "deploy/configs/customers.yaml"
# Regularised: generalises, so the audit finds little (LiRA AUC ~0.55 measured at these sizes).
REGULARISED = {"name": "logreg", "kind": "logistic_regression", "params": {"C": 0.05}}
# Unregularised boosting on few rows: every training row ends in a leaf of its own (train ROC AUC 1.0); measured
# reference-attack AUC ~0.82 and loss-attack AUC ~0.73 on 280 training rows.
MEMORISER = {
    "name": "memoriser",
    "kind": "hist_gradient_boosting",
    "params": {
        "max_iter": 200,
        "learning_rate": 0.5,
        "max_leaf_nodes": None,
        "max_depth": None,
        "min_samples_leaf": 1,
        "l2_regularization": 0.0,
        "early_stopping": False,
    },
}
DP_LOGREG = {
    "name": "dp_logreg",
    "kind": "dp_logistic_regression",
    "params": {"target_epsilon": 3.0, "epochs": 10, "batch_size": 64, "lr": 0.1},
}
DP_MLP = {
    "name": "dp_mlp",
    "kind": "torch_mlp_dp",
    "params": {"hidden": [32], "target_epsilon": 3.0, "epochs": 8, "batch_size": 64, "lr": 0.005},
}


def _config(model: str, **overrides):
    base = {
        "explain.sample_rows": 40,
        "gates.floors": {"roc_auc": 0.55},
        "registry.model_name": model,
        "registry.experiment": model,
    }
    return load_config(CONFIG, {**base, **overrides})


def _run(config):
    from veilflow.flows.training import training

    state = training(config, return_state=True)
    assert not state.is_failed(), state.message
    result = state.result()
    return state, getattr(result, "data", result)


def _gates(client: MlflowClient, run_id: str) -> dict[str, dict]:
    with open(client.download_artifacts(run_id, "gates/decision.json"), encoding="utf-8") as handle:
        return {g["name"]: g for g in json.load(handle)["gates"]}


def _children(client: MlflowClient, run) -> dict[str, object]:
    found = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    return {c.data.tags["veilflow.candidate"]: c for c in found}


def test_memorising_model_is_registered_but_rejected_by_the_membership_gate(prefect_harness, tracking_uri) -> None:
    model = "mia-memoriser"
    client = MlflowClient(tracking_uri)
    _, first = _run(_config(model, **{"dataset.n_rows": 600, "training.candidates": [REGULARISED]}))
    assert first.decision == "promoted", first.failed_gates
    first_gates = _gates(client, first.run_id)
    print("regularised:", first_gates["membership_inference"]["detail"])
    assert first_gates["membership_inference"]["passed"]

    state, second = _run(_config(model, **{"dataset.n_rows": 600, "training.candidates": [MEMORISER]}))

    assert state.name == "Rejected" and second.decision == "rejected"
    assert "membership_inference" in second.failed_gates
    assert str(client.get_model_version_by_alias(model, "champion").version) == first.version  # champion unchanged
    mv = client.get_model_version(model, second.version)  # registered, as challenger, with the verdict
    assert mv.aliases == ["challenger"] and mv.tags["veilflow.decision"] == "rejected"
    assert "membership_inference" in mv.tags["veilflow.failed_gates"].split(",")
    gate = _gates(client, second.run_id)["membership_inference"]
    run = client.get_run(second.run_id)
    print(
        "memoriser:",
        gate["detail"],
        {k: round(v, 4) for k, v in run.data.metrics.items() if k.startswith("mia.") and "_ci" not in k},
    )
    assert gate["passed"] is False and gate["op"] == "<=" and gate["threshold"] == 0.6
    assert gate["value"] >= 0.66 and float(mv.tags["veilflow.mia.max_auc"]) == pytest.approx(gate["value"], abs=1e-4)
    assert run.data.metrics["mia.lira_offline.auc"] > 0.6  # the reference-model attack on its own is over the line
    # Recorded per candidate in its nested run, with the ROC plot.
    child = _children(client, run)["memoriser"]
    assert child.data.metrics["mia.lira_offline.auc"] == run.data.metrics["mia.lira_offline.auc"]
    assert "privacy/mia_roc.png" in {a.path for a in client.list_artifacts(child.info.run_id, "privacy")}


def test_require_dp_promotes_a_dp_model_with_its_epsilon_recorded_and_replays_exactly(prefect_harness, tracking_uri) -> None:
    from veilflow.flows.replay import replay_run

    model = "dp-required"
    client = MlflowClient(tracking_uri)
    config = _config(
        model, **{"dataset.n_rows": 600, "privacy.require_dp": True, "training.candidates": [REGULARISED, DP_LOGREG, DP_MLP]}
    )
    _, result = _run(config)

    run = client.get_run(result.run_id)
    best = run.data.tags["veilflow.best_candidate"]
    assert best in {"dp_logreg", "dp_mlp"}  # only DP candidates are eligible
    assert result.decision == "promoted", result.failed_gates
    gates = _gates(client, result.run_id)
    assert gates["dp.required"]["passed"] and gates["dp.max_epsilon"]["passed"] and gates["membership_inference"]["passed"]
    mv = client.get_model_version_by_alias(model, "champion")
    assert str(mv.version) == result.version and mv.tags["veilflow.kind"] in {"dp_logistic_regression", "torch_mlp_dp"}
    epsilon, delta = float(mv.tags["veilflow.dp.epsilon"]), float(mv.tags["veilflow.dp.delta"])
    assert 2.4 <= epsilon <= 3.0 + 1e-6 and 0 < delta < 1 / 420
    assert mv.tags["veilflow.dp"] == "true" and mv.tags["veilflow.dp.accountant"] == "rdp"
    assert gates["dp.max_epsilon"]["value"] == pytest.approx(epsilon, rel=1e-5)
    # The model card says it, on the run and on the version.
    card = open(client.download_artifacts(result.run_id, "model_card/model_card.md"), encoding="utf-8").read()
    assert "## Privacy of the model" in card and f"ε = {epsilon:.4f}" in card and "What ε does not cover" in card
    assert f"ε = {epsilon:.4f}" in (mv.description or "")
    # Per candidate: ε per epoch in the nested run (step = epoch), the final ε last; every candidate audited.
    children = _children(client, run)
    for name, epochs in (("dp_logreg", 10), ("dp_mlp", 8)):
        child = children[name]
        history = client.get_metric_history(child.info.run_id, "dp.epsilon")
        assert [m.step for m in history] == list(range(1, epochs + 1))
        assert history[-1].value == child.data.metrics["dp.epsilon"] == run.data.metrics[f"{name}.dp.epsilon"]
        assert child.data.tags["veilflow.dp"] == "true" and child.data.tags["veilflow.dp.accountant"] == "rdp"
        assert {"dp.delta", "dp.noise_multiplier"} <= set(child.data.metrics)
    for child in children.values():
        assert "mia.lira_offline.tpr_at_1pct_fpr" in child.data.metrics
    assert "veilflow.dp" not in children["logreg"].data.tags

    # Same seed and config: the replay gets the same ε and the same metrics and attack figures, bit for bit.
    report = replay_run(result.run_id)
    assert report["identical"] and report["passed"] and report["tolerance"] == 0.0, report["differences"]
    replayed = client.get_run(report["replay_run"]).data.metrics
    for key in (f"{best}.dp.epsilon", "mia.lira_offline.auc", "mia.loss.tpr_at_1pct_fpr", "test.roc_auc"):
        assert replayed[key] == run.data.metrics[key], key


def test_secure_mode_without_torchcsprng_fails_the_run_with_one_line(prefect_harness, tracking_uri) -> None:
    from veilflow.flows.training import training

    model = "dp-secure"
    secure = {**DP_LOGREG, "params": {**DP_LOGREG["params"], "secure_mode": True}}
    state = training(_config(model, **{"training.candidates": [secure]}), return_state=True)
    assert state.is_failed()
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(model).experiment_id])
    reason = runs[0].data.tags["veilflow.failure_reason"]
    assert reason.startswith("ConfigError") and "torchcsprng" in reason and "\n" not in reason
    assert runs[0].info.status == "FAILED" and "data.rows" not in runs[0].data.metrics  # refused before any data
    assert client.search_model_versions(f"name='{model}'") == []
