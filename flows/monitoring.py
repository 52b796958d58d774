"""The `monitoring` flow: compare a new batch with the champion's training profile and retrain on drift."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, cast

from prefect import flow, get_run_logger
from pydantic import BaseModel, ConfigDict, Field

from veilflow.engines import tracking
from veilflow.engines.gx import build_gx_context
from veilflow.engines.presidio import build_analyzer
from veilflow.engines.secrets import resolve_key
from veilflow.flows import prefect_tasks as t
from veilflow.flows._publish import publish
from veilflow.tasks.data.io import fingerprint_frame
from veilflow.tasks.ops.reporting import mlflow_run_url
from veilflow.tasks.ops.scoring import start_champion_run

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun


class MonitoringConfig(BaseModel):
    """Which model to watch, which batch to compare, and when to retrain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_name: str = "veilflow-customers"
    alias: str = "champion"
    input_path: Path | None = Field(default=None, description="raw batch (CSV or Parquet); empty: generate one")
    generate_rows: int = Field(default=1000, gt=0, le=1_000_000, description="rows of the generated batch")
    generate_seed: int = Field(default=7, description="seed of the generated batch")
    drift: float = Field(default=0.0, ge=0.0, le=1.0, description="shift applied to the generated batch (0 none, 1 strong)")
    psi_threshold: float = Field(default=0.2, gt=0.0, description="PSI above which a feature or the predictions count as drifted")
    p_value: float = Field(default=0.01, gt=0.0, lt=1.0, description="significance level of the KS / chi-squared tests")
    trigger_retraining: bool = Field(default=True, description="run the training deployment when drift is detected")
    retrain_deployment: str = Field(default="training/nightly", description="deployment started on drift")
    experiment: str = "veilflow-monitoring"


class MonitoringResult(BaseModel):
    run_id: str
    model_name: str
    model_version: str
    rows: int
    drift_detected: bool
    max_psi: float
    prediction_psi: float | None
    drifted_features: list[str]
    quality_issues: list[str]
    retraining_triggered: bool
    retraining: str
    retrain_flow_run_id: str | None = None


def _trigger_retraining(deployment: str) -> tuple[bool, str, str | None]:
    """Start `deployment` without waiting; a missing server or deployment is reported, not raised."""
    from prefect.deployments import run_deployment

    try:
        # Called from the sync `monitoring` flow, so Prefect's async_dispatch returns the FlowRun itself, not a coroutine.
        run = cast("FlowRun", run_deployment(deployment, timeout=0))
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return (
            False,
            f"retraining could not be triggered: deployment '{deployment}' unavailable ({type(exc).__name__}: {first[:200]})",
            None,
        )
    return True, f"triggered deployment '{deployment}': flow run '{run.name}' ({run.id})", str(run.id)


@flow(
    name="monitoring",
    description="Drift of a new batch vs the champion's training profile (PSI, KS / chi-squared, predictions, data quality); retrains above the threshold.",
)
def monitoring(config: MonitoringConfig = MonitoringConfig()) -> MonitoringResult:
    from veilflow.tasks.data.drift import plot_drift
    from veilflow.tasks.ops.monitoring import apply_drift, drift_markdown, load_version_profile, prediction_scores
    from veilflow.tasks.ops.scoring import resolve_champion

    logger = get_run_logger()
    client = tracking.make_client()
    champion = resolve_champion(client, config.model_name, config.alias)
    profile = load_version_profile(client, champion.model_name, champion.version)
    pipe = champion.pipeline_config
    ds = pipe.dataset

    experiment_id, run_id = start_champion_run(client, config.experiment, "monitoring", champion)
    try:
        key = resolve_key(pipe.privacy.key_env, pipe.privacy.key_block) if ds.pii_policy else None
        if config.input_path is not None:
            raw = t.load_batch(config.input_path, max_bytes=ds.max_bytes, encoding=ds.encoding)  # as the training data
            source = f"file:{config.input_path.name}"
        else:
            raw = apply_drift(
                t.generate_batch(config.generate_rows, config.generate_seed), config.drift, seed=config.generate_seed
            )
            source = f"generated:n_rows={config.generate_rows}&seed={config.generate_seed}&drift={config.drift}"
        tracking.set_tags(client, run_id, {"veilflow.data_fingerprint": fingerprint_frame(raw), "veilflow.source": source})
        report_v = t.validate_batch(raw, ds.raw_suite, build_gx_context(), label=ds.label)
        validation = report_v.to_summary_dict()
        tracking.log_dict(client, run_id, validation, "validation/batch.json")
        analyzer = build_analyzer(pipe.privacy.nlp_model) if ds.pii_policy else None
        anonymized, audit = t.anonymize_batch(raw, pipe, analyzer, key)
        del raw
        tracking.log_dict(client, run_id, audit, "pii/audit.json")
        predictions = prediction_scores(champion.pipeline, anonymized[ds.feature_columns])
        report = t.compare_drift(
            profile, anonymized, predictions, config.psi_threshold, config.p_value, features=ds.feature_columns
        )
        table = report.to_frame()
        metrics = {
            "drift.max_psi": report.max_psi,
            "drift.prediction_psi": report.prediction_psi,
            "drift.features_drifted": len(report.drifted_features),
            "drift.quality_issues": len(report.quality_issues),
            "validation.batch.failed": sum(1 for e in validation["expectations"] if not e["success"]),
            "validation.batch.rows_flagged": validation["rows_flagged"],
            "pii.entities_found": float(audit.get("total_found", 0)),
            "rows": len(anonymized),
            **{f"psi.{r.feature}": r.psi for r in report.rows if r.psi is not None},
        }
        tracking.log_metrics(client, run_id, metrics)
        tracking.log_dict(client, run_id, report.model_dump(mode="json"), "drift/report.json")
        tracking.log_text(client, run_id, table.to_csv(index=False), "drift/report.csv")
        with tempfile.TemporaryDirectory(prefix="veilflow-drift-") as tmp:
            tracking.log_artifact(client, run_id, plot_drift(report, Path(tmp) / "psi.png"), "drift")
        logger.info(
            "drift: max feature PSI %.3f, prediction PSI %s, %d feature(s) drifted, %d quality issue(s)",
            report.max_psi,
            f"{report.prediction_psi:.3f}" if report.prediction_psi is not None else "n/a",
            len(report.drifted_features),
            len(report.quality_issues),
        )
        triggered, retrain_id = False, None
        if not report.drift_detected:
            retraining = "not needed: no PSI above the threshold"
        elif not config.trigger_retraining:
            retraining = "drift detected; retraining is switched off (trigger_retraining=false)"
        else:
            triggered, retraining, retrain_id = _trigger_retraining(config.retrain_deployment)
        (logger.warning if report.drift_detected else logger.info)("retraining: %s", retraining)
        tracking.set_tags(
            client,
            run_id,
            {
                "veilflow.drift_detected": str(report.drift_detected).lower(),
                "veilflow.retraining": retraining,
                "veilflow.retraining_triggered": str(triggered).lower(),
            },
        )
    except BaseException as exc:
        tracking.end_run(client, run_id, "FAILED", reason=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise
    tracking.end_run(client, run_id, "FINISHED")
    url = mlflow_run_url(os.environ.get("MLFLOW_TRACKING_URI"), experiment_id, run_id)
    markdown = drift_markdown(report, champion.model_name, champion.version, url, retraining)
    markdown += f"\n\nBatch validation: {validation['evaluated']} expectations, {metrics['validation.batch.failed']} failed, {validation['rows_flagged']} rows flagged; PII entities replaced: {int(metrics['pii.entities_found'])}."
    publish("drift-report", markdown, url, f"MLflow run {run_id}", "veilflow drift monitoring")
    return MonitoringResult(
        run_id=run_id,
        model_name=champion.model_name,
        model_version=champion.version,
        rows=len(anonymized),
        drift_detected=report.drift_detected,
        max_psi=report.max_psi,
        prediction_psi=report.prediction_psi,
        drifted_features=report.drifted_features,
        quality_issues=report.quality_issues,
        retraining_triggered=triggered,
        retraining=retraining,
        retrain_flow_run_id=retrain_id,
    )
