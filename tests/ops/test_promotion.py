"""Promotion end to end: gates that fail on purpose, better and worse second runs, rollback, manual
promotion, status, and two runs racing to promote. Real Prefect (test harness), real MLflow (SQLite)."""

from __future__ import annotations

import json
import threading

import pytest
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.errors import PromotionRejected
from veilflow.core.paths import project_root

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = pytest.mark.slow

FAST = {
    "dataset.n_rows": 600,
    "explain.sample_rows": 40,
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "gates.floors": {"roc_auc": 0.55},
}
# Heavy regularisation: a valid but clearly weaker model on the same data.
WEAK = [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 0.0005}}]


def _config(model: str, **extra):
    return load_config(
        PROJECT_ROOT / "deploy/configs/customers.yaml",
        {**FAST, "registry.model_name": model, "registry.experiment": model, **extra},
    )


def _run(config):
    from veilflow.flows.training import training

    state = training(config, return_state=True)
    assert not state.is_failed(), state.message
    return state, state.result()


def _champion(client: MlflowClient, model: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(model, "champion").version)
    except Exception:
        return None


def _decision(client: MlflowClient, run_id: str) -> dict:
    path = client.download_artifacts(run_id, "gates/decision.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# Each gate set so that no real model can pass it; all the others keep their defaults.
GATE_CASES = [
    ("floor.roc_auc", {"gates.floors": {"roc_auc": 0.999}}),
    ("fairness", {"gates.max_fairness_gap": 0.0}),
    ("robustness", {"gates.max_robustness_drop": -1.0}),  # a drop can never be below -1
    ("calibration", {"gates.max_calibration_error": 1e-9}),
    ("smoke.latency", {"gates.smoke_latency_ms": 0.001}),
]


@pytest.mark.parametrize(("gate", "override"), GATE_CASES, ids=[c[0] for c in GATE_CASES])
def test_gate_when_failed_on_purpose_then_rejected_and_reported(prefect_harness, tracking_uri, gate, override):
    model = f"gate-{gate.replace('.', '-')}"
    state, result = _run(_config(model, **override))
    client = MlflowClient(tracking_uri)

    assert state.name == "Rejected"
    assert result.decision == "rejected"
    assert gate in result.failed_gates
    assert gate in state.message
    # Recorded: the version stays challenger only, the run and version say which gate and by how much.
    assert _champion(client, model) is None
    mv = client.get_model_version_by_alias(model, "challenger")
    assert str(mv.version) == result.version
    assert gate in mv.tags["veilflow.failed_gates"].split(",")
    assert mv.tags["veilflow.decision"] == "rejected"
    row = next(g for g in _decision(client, result.run_id)["gates"] if g["name"] == gate)
    assert row["passed"] is False
    assert row["threshold"] is not None and row["value"] is not None


def test_promotion_when_first_better_then_worse_runs_then_champion_tracks_best(prefect_harness, tracking_uri):
    model = "promotion-sequence"
    client = MlflowClient(tracking_uri)

    # 1. First run: no champion, floors only -> promoted.
    _, weak = _run(_config(model, **{"training.candidates": WEAK}))
    assert weak.decision == "promoted"
    assert _champion(client, model) == weak.version
    first_gates = {g["name"]: g for g in _decision(client, weak.run_id)["gates"]}
    assert first_gates["regression.roc_auc"]["skipped"] is True

    # 2. A better model -> promoted over the champion, which it re-scored on the same held-out data.
    _, strong = _run(_config(model))
    assert strong.primary_value > weak.primary_value
    assert strong.decision == "promoted", strong.failed_gates
    assert _champion(client, model) == strong.version
    run = client.get_run(strong.run_id)
    assert run.data.metrics["champion.test.roc_auc"] == pytest.approx(weak.primary_value, abs=1e-12)
    assert client.get_model_version(model, strong.version).tags["veilflow.previous_champion"] == weak.version

    # 3. A worse one -> rejected by the regression gate; champion stays.
    state, worse = _run(_config(model, **{"training.candidates": WEAK, "seed": 43}))
    assert state.name == "Rejected"
    assert worse.failed_gates == ["regression.roc_auc"]
    assert _champion(client, model) == strong.version

    # 4. Manual promotion of the rejected version is refused without --force, allowed with a reason.
    from veilflow.tasks.ops import registry

    with pytest.raises(PromotionRejected, match="regression.roc_auc"):
        registry.promote_version(model, worse.version)
    assert _champion(client, model) == strong.version
    registry.promote_version(model, worse.version, force_reason="incident 42: pin for comparison")
    assert _champion(client, model) == worse.version
    assert client.get_model_version(model, worse.version).tags["veilflow.forced_reason"].startswith("incident 42")

    # 5. Rollback moves champion to the previous champion and records why.
    message = registry.rollback(model, reason="forced version underperforms")
    assert f"{worse.version} -> {strong.version}" in message
    assert _champion(client, model) == strong.version
    tags = client.get_model_version(model, worse.version).tags
    assert tags["veilflow.rolled_back"] == "true"
    assert tags["veilflow.rollback_reason"] == "forced version underperforms"
    registry.rollback(model, reason="back to the first")
    assert _champion(client, model) == weak.version
    with pytest.raises(PromotionRejected, match="no previous champion"):
        registry.rollback(model, reason="nothing left")

    # 6. Status lists every version with its aliases and gate summary.
    rows = {r["version"]: r for r in registry.status_rows(model)}
    assert set(rows) == {weak.version, strong.version, worse.version}
    assert "champion" in rows[weak.version]["aliases"]
    text = registry.format_status(model)
    assert "regression.roc_auc" in text and "champion" in text


def test_promotion_when_two_runs_finish_together_then_champion_is_best_that_passed(prefect_harness, tracking_uri):
    """Two flows race through compare-and-promote; the lock makes the loser re-check against the winner."""
    from veilflow.flows.training import training

    model = "promotion-race"
    client = MlflowClient(tracking_uri)
    configs = {"weak": _config(model, **{"training.candidates": WEAK}), "strong": _config(model)}
    states: dict[str, object] = {}
    start = threading.Barrier(2)

    def go(key: str) -> None:
        start.wait()
        states[key] = training(configs[key], return_state=True)

    threads = [threading.Thread(target=go, args=(k,)) for k in configs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    results = {k: s.result() for k, s in states.items()}
    assert all(not s.is_failed() for s in states.values())

    champion = _champion(client, model)
    assert champion == results["strong"].version
    versions = client.search_model_versions(f"name='{model}'")
    assert len(versions) == 2
    # Whatever the order, the weak run never holds champion at the end and the strong one was promoted.
    assert results["strong"].decision == "promoted"
    if results["weak"].decision == "promoted":
        # The weak run won the race to an empty registry; the strong one then beat it.
        assert client.get_model_version(model, champion).tags["veilflow.previous_champion"] == results["weak"].version
