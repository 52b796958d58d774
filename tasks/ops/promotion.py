"""Registration and gating: register the best candidate as `challenger`, judge every gate, promote or reject.

Plain Python called by the `register-and-gate` Prefect task; `champion` moves only when every gate passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig
from veilflow.engines import tracking
from veilflow.tasks.ops.steps import input_example
from veilflow.tasks.ops.training_steps import CandidateResult, positive_column

log = logging.getLogger("veilflow")


def _score_champion(
    client: tracking.TrackingClient, model_name: str, version: str, test: pd.DataFrame, config: PipelineConfig
) -> dict[str, float]:
    from veilflow.tasks.modeling.task_metrics import compute_task_metrics

    model = tracking.load_registered_model(model_name, version)
    pred = model.predict(test[config.dataset.feature_columns])
    task = config.task
    if task == "binary":
        out = positive_column(pred)
    else:
        out = np.asarray(pred, dtype="float64")
        out = out.reshape(len(out), -1)[:, 0] if task == "regression" and out.ndim == 2 else out
    return compute_task_metrics(task, test[config.dataset.label].to_numpy(), out)


@dataclass(frozen=True)
class GateEvidence:
    """What a run established about its best candidate: the gates, the version tags and the model card read it."""

    model_uri: str
    model_id: str
    fingerprint: str
    evaluation: dict[str, Any]
    explanation: dict[str, Any]
    audit: dict[str, Any]
    leak: dict[str, Any]
    risk: dict[str, Any] | None = None
    # The membership-inference audit of the best candidate (`model_audit.audit_candidate`), None when not run.
    mia: dict[str, Any] | None = None


def _version_tags(
    best: CandidateResult, evidence: GateEvidence, run_tags: dict[str, str], config: PipelineConfig
) -> dict[str, Any]:
    """The tags a new model version carries: data, validation, privacy, code and candidate provenance."""
    from veilflow.core.provenance import code_version
    from veilflow.tasks.ops.model_audit import privacy_version_tags

    primary, audit, evaluation = config.primary_metric, evidence.audit, evidence.evaluation
    code = code_version()
    return {
        # The privacy of the model itself: DP accounting (ε, δ) and the membership audit's strongest attack.
        **privacy_version_tags(best.dp, evidence.mia),
        "veilflow.data_fingerprint": evidence.fingerprint,
        "veilflow.validation.raw": run_tags.get("veilflow.validation.raw", "not-run"),
        "veilflow.validation.anonymized": run_tags.get("veilflow.validation.anonymized", "not-run"),
        "veilflow.pii_audit": "recorded" if audit.get("columns") is not None else "none",
        "veilflow.pii_entities_found": audit.get("total_found", 0),
        "veilflow.leak_guard": "passed" if evidence.leak.get("passed") else "failed",
        "veilflow.code_version": code["commit"],
        # Code or any input the run read (config, policy, suites, data) not committed as read; see provenance.
        "veilflow.git_dirty": run_tags.get("veilflow.git_dirty", code["dirty"]),
        "veilflow.git_dirty_inputs": run_tags.get("veilflow.git_dirty_inputs", "unknown"),
        "veilflow.config_hash": config.config_hash(),
        "veilflow.candidate": best.name,
        "veilflow.kind": best.kind,
        "veilflow.task": config.task,
        "veilflow.primary_metric": primary,
        "veilflow.primary_metric_value": f"{evaluation['metrics'][primary]:.6f}",
        # The drift profile logged by `record-profile`: monitoring reads it from the champion version.
        "veilflow.profile_artifact": run_tags.get("veilflow.profile_artifact", "none"),
        # The raw-record serving model logged beside this (anonymized-input) one: `veilflow serve-model` serves it.
        "veilflow.serving_model": run_tags.get("veilflow.serving_model", "none"),
    }


def register_and_gate(
    best: CandidateResult,
    evidence: GateEvidence,
    test: pd.DataFrame,
    config: PipelineConfig,
    client: tracking.TrackingClient,
    run_id: str,
    out_dir: Path,
) -> dict[str, Any]:
    """Register as `challenger`, evaluate every gate (vs floors and the re-scored champion), promote or reject."""
    from veilflow.tasks.modeling.gates import GateDecision, evaluate_gates, run_smoke_test
    from veilflow.tasks.ops import registry
    from veilflow.tasks.ops.model_audit import gate_figures

    name, primary = config.registry.model_name, config.primary_metric
    evaluation, leak, risk = evidence.evaluation, evidence.leak, evidence.risk
    tags = _version_tags(best, evidence, dict(client.get_run(run_id).data.tags), config)
    version = tracking.register_version(client, name, evidence.model_uri, run_id, evidence.model_id, tags)
    tracking.set_alias(client, name, registry.CHALLENGER, version)
    tracking.set_tags(client, run_id, {"veilflow.model_version": version})

    example_path = out_dir / "smoke_example.parquet"
    input_example(test, config).to_parquet(example_path)
    tracking_uri = tracking.tracking_uri_of(client)
    smoke = run_smoke_test(f"models:/{name}/{version}", example_path, tracking_uri, config.gates.smoke_latency_ms)

    champion = tracking.get_alias_version(client, name, registry.CHAMPION)
    champion_metrics = _score_champion(client, name, champion, test, config) if champion else None
    if champion_metrics:
        tracking.log_metrics(client, run_id, {f"champion.test.{k}": v for k, v in champion_metrics.items()})

    def decide(champ_metrics: dict[str, float] | None) -> GateDecision:
        return evaluate_gates(
            evaluation["metrics"],
            champ_metrics,
            config.gates,
            primary,
            fairness_gap=evaluation["fairness_gap"],
            robustness_drop=evaluation["robustness"].get("max_drop"),
            leak_passed=bool(leak.get("passed")),
            smoke=smoke,
            risk=(bool(risk["passed"]), str(risk["reason"])) if risk else None,
            mia=gate_figures(evidence.mia),
            require_mia=config.privacy.mia.enabled,
            dp=best.dp,
            require_dp=config.privacy.require_dp,
            task=config.task,
            floors=config.floors,
            fairness_gaps=evaluation.get("fairness_gaps") or None,
            baseline_accuracy=evaluation.get("majority_rate"),
        )

    decision = decide(champion_metrics)
    promoted, champion_after = False, champion
    if decision.passed:

        def still_passes(current: str | None) -> bool:
            nonlocal decision
            decision = decide(_score_champion(client, name, current, test, config) if current else None)
            return decision.passed

        promoted, champion_after = registry.promote_if_still_better(client, name, version, champion, still_passes, tracking_uri)
    failed = [g.name for g in decision.results if not g.passed]
    outcome = "promoted" if promoted else "rejected"
    gate_rows = [g.model_dump(mode="json") for g in decision.results]
    tracking.set_version_tags(
        client,
        name,
        version,
        {
            **decision.as_tags(),
            registry.DECISION_TAG: outcome,
            "veilflow.gates_passed": str(decision.passed).lower(),
            "veilflow.failed_gates": ",".join(failed),
            "veilflow.champion_compared": champion or "none",
        },
    )
    tracking.log_dict(
        client, run_id, {"decision": outcome, "gates": gate_rows, "summary": decision.summary}, "gates/decision.json"
    )
    tracking.set_tags(client, run_id, {registry.DECISION_TAG: outcome, "veilflow.failed_gates": ",".join(failed)})
    _publish_model_card(best, evidence, decision, outcome, version, len(test), config, client, run_id)
    log.info("version %s %s (%d gates, %d failed)", version, outcome, len(decision.results), len(failed))
    return {
        "version": version,
        "decision": outcome,
        "failed_gates": failed,
        "champion_version": champion_after,
        "data_fingerprint": evidence.fingerprint,
        "gates": gate_rows,
    }


def _publish_model_card(
    best: CandidateResult,
    evidence: GateEvidence,
    decision: Any,
    outcome: str,
    version: str,
    test_rows: int,
    config: PipelineConfig,
    client: tracking.TrackingClient,
    run_id: str,
) -> None:
    """The model card (Markdown + HTML) as run artifacts and as the version's description."""
    from veilflow.tasks.modeling.model_card import render_model_card
    from veilflow.tasks.ops.serving import serving_card_lines

    name, primary, evaluation = config.registry.model_name, config.primary_metric, evidence.evaluation
    spec = getattr(best.trained.model, "veilflow_label_", None) or {}
    data_summary = {
        "fingerprint": evidence.fingerprint,
        "test_rows": test_rows,
        "label": config.dataset.label,
        "task": config.task,
        "label_mapping": "; ".join(f"{i} = {c}" for i, c in enumerate(spec.get("classes") or [])) or "-",
        "sensitive_attributes": ", ".join(config.dataset.sensitive_columns) or "-",
    }
    top = pd.DataFrame(evidence.explanation.get("top_features", []))
    serving_uris = serving_card_lines(name, version, client.get_run(run_id).data.tags)
    md, html = render_model_card(
        name,
        version,
        data_summary,
        evaluation["metrics"],
        {primary: (evaluation["ci"]["low"], evaluation["ci"]["high"])},
        pd.DataFrame(evaluation["slices"]),
        top,
        decision,
        evidence.audit,
        {"decision": outcome, "candidate": best.name, **serving_uris},
        privacy={"mia": evidence.mia, "dp": best.dp, "kind": best.kind},
    )
    tracking.log_text(client, run_id, md, "model_card/model_card.md")
    tracking.log_text(client, run_id, html, "model_card/model_card.html")
    # Which URI is which first: the card's last section may not fit in the description.
    models = "; ".join(f"{k}: {v}" for k, v in serving_uris.items())
    client.update_model_version(name, version, description=f"{models}\n\n{md}"[:4900])
