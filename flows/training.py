"""The `training` flow: load → validate → anonymize → leak guard → validate → train → evaluate → explain → register → gate."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import BaseModel

from tasks import prefect_tasks as t
from tasks import tracking
from tasks.anonymization import build_analyzer
from tasks.steps import candidate_grid, check_feature_columns, pick_best
from tasks.validation import build_gx_context
from veilflow.config import PipelineConfig
from veilflow.provenance import code_version
from veilflow.secrets import resolve_key


class TrainingResult(BaseModel):
    """What a training run returns (and what the Prefect UI shows): ids and decisions, no data."""

    run_id: str
    experiment_id: str
    model_name: str
    version: str | None = None
    decision: str  # "promoted" | "rejected"
    failed_gates: list[str] = []
    primary_metric: str
    primary_value: float | None = None
    champion_version: str | None = None
    data_fingerprint: str


def _mlflow_run_url(experiment_id: str, run_id: str) -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith("http"):
        return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id}"


@flow(
    name="training",
    description="Train on PII-bearing data safely: validate, anonymize, leak-guard, train, explain, evaluate, gate, promote.",
    log_prints=False,
)
def training(config: PipelineConfig = PipelineConfig()) -> Any:
    """Run one training pipeline; returns a TrainingResult (state named "Rejected" when a gate fails)."""
    logger = get_run_logger()
    client = tracking.make_client()
    experiment_id = tracking.ensure_experiment(client, config.registry.experiment, os.environ.get("VEILFLOW_ARTIFACT_ROOT"))
    version = code_version()
    run_id = tracking.start_run(
        client,
        experiment_id,
        run_name=f"training-{flow_run.name or 'local'}",
        tags={
            "veilflow.flow": "training",
            "veilflow.prefect_flow_run_id": str(flow_run.id or ""),
            "veilflow.config_hash": config.config_hash(),
            "mlflow.source.git.commit": version["commit"],
            "veilflow.code_version": version["commit"],
            "veilflow.git_dirty": version["dirty"],
            "veilflow.dataset": config.dataset.name,
        },
    )
    logger.info("MLflow run %s in experiment %s", run_id, experiment_id)
    try:
        tracking.log_params(client, run_id, config.model_dump(mode="json"))
        tracking.log_dict(client, run_id, config.model_dump(mode="json"), "config/pipeline.json")
        with tempfile.TemporaryDirectory(prefix="veilflow-run-") as tmp:
            out_dir = Path(tmp)
            result = _train(config, client, experiment_id, run_id, out_dir)
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        tracking.end_run(client, run_id, "FAILED", reason=reason)
        raise
    tracking.end_run(client, run_id, "FINISHED")
    _publish_summary(result, experiment_id)
    if result.decision == "rejected":
        return Completed(name="Rejected", message=f"rejected by gates: {', '.join(result.failed_gates)}", data=result)
    return result


def _train(config: PipelineConfig, client: Any, experiment_id: str, run_id: str, out_dir: Path) -> TrainingResult:
    logger = get_run_logger()
    ds = config.dataset
    # Fail on a missing key before any data is read.
    key = resolve_key(config.privacy.key_env, config.privacy.key_block) if ds.pii_policy else None
    gx_context = build_gx_context()

    loaded = t.load_data(config)
    tracking.set_tags(client, run_id, {"veilflow.data_fingerprint": loaded.fingerprint})
    tracking.log_metrics(client, run_id, {"data.rows": loaded.rows, "data.columns": loaded.columns})
    logger.info("loaded %d rows x %d columns (fingerprint %s)", loaded.rows, loaded.columns, loaded.fingerprint[:12])

    t.validate_raw(loaded.frame, ds.raw_suite, "raw", ds.id_column, gx_context, client, run_id, out_dir)
    analyzer = build_analyzer(config.privacy.nlp_model) if ds.pii_policy else None
    anonymized, audit = t.anonymize(loaded.frame, config, analyzer, key, client, run_id)
    leak = t.leak_guard(loaded.frame, anonymized, config, client, run_id)
    fingerprint, source = loaded.fingerprint, loaded.source
    del loaded  # raw rows end here: nothing downstream sees them
    if ds.anonymized_suite is not None:
        t.validate_anonymized(anonymized, ds.anonymized_suite, "anonymized", ds.id_column, gx_context, client, run_id, out_dir)

    check_feature_columns(anonymized, config)
    tracking.log_dataset(client, run_id, anonymized, ds.name, source, fingerprint, context="training")
    train, val, test = t.split_data(anonymized, config)
    tracking.log_metrics(client, run_id, {"split.train_rows": len(train), "split.val_rows": len(val), "split.test_rows": len(test)})
    results = []
    for candidate, params, trial in candidate_grid(config):
        results.append(t.train_candidate(candidate, params, train, val, config, client, run_id, trial))
    best = pick_best(results, config.training.primary_metric)
    tracking.set_tags(client, run_id, {"veilflow.best_candidate": best.name})
    logger.info("best candidate %s (%s=%.4f on validation)", best.name, config.training.primary_metric, best.val_metrics[config.training.primary_metric])

    evaluation = t.evaluate(best, test, config, client, run_id, out_dir)
    explanation = t.explain(results, best, test, config, client, run_id, out_dir)
    model_uri, model_id = t.log_model(best, train, config, client, run_id, experiment_id)
    t.record_profile(best, train, config, client, run_id)
    if not config.registry.register:
        return TrainingResult(
            run_id=run_id,
            experiment_id=experiment_id,
            model_name=config.registry.model_name,
            decision="not-registered",
            primary_metric=config.training.primary_metric,
            primary_value=evaluation["metrics"][config.training.primary_metric],
            data_fingerprint=fingerprint,
        )
    decision = t.register_and_gate(
        best, model_uri, model_id, test, evaluation, explanation, audit, leak, fingerprint, config, client, run_id, out_dir
    )
    return TrainingResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=config.registry.model_name,
        version=decision["version"],
        decision=decision["decision"],
        failed_gates=decision["failed_gates"],
        primary_metric=config.training.primary_metric,
        primary_value=evaluation["metrics"][config.training.primary_metric],
        champion_version=decision["champion_version"],
        data_fingerprint=decision["data_fingerprint"],
    )


def _publish_summary(result: TrainingResult, experiment_id: str) -> None:
    url = _mlflow_run_url(experiment_id, result.run_id)
    try:
        create_link_artifact(key="mlflow-run", link=url, link_text=f"MLflow run {result.run_id}")
        import json

        from tasks.reporting import training_summary

        # Counts and decisions as recorded in MLflow: validation, PII audit, test metrics, gate table.
        client = tracking.make_client()
        metrics = tracking.get_run_data(client, result.run_id).data.metrics
        recorded: dict[str, Any] = {}
        with tracking.temp_dir() as tmp:
            for name, path in (("audit", "pii/audit.json"), ("gates", "gates/decision.json")):
                try:
                    recorded[name] = json.loads(tracking.download_artifact(client, result.run_id, path, tmp).read_text())
                except Exception:
                    recorded[name] = None
        markdown = training_summary(
            result.model_dump(), url, metrics, recorded["audit"], (recorded["gates"] or {}).get("gates", [])
        )
        create_markdown_artifact(key="training-summary", markdown=markdown, description="veilflow training run")
    except Exception as exc:  # the UI summary must never fail a finished run
        logging.getLogger("veilflow").warning("could not publish Prefect artifacts: %s", type(exc).__name__)
