"""The `scoring` flow: score a batch with the champion, quarantining bad rows with their reasons."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import flow, get_run_logger
from pydantic import BaseModel, ConfigDict, Field

from veilflow.core.config import ExecutionConfig, resolve_path
from veilflow.core.errors import DataValidationError
from veilflow.engines import tracking
from veilflow.engines.gx import build_gx_context
from veilflow.engines.presidio import build_analyzer
from veilflow.engines.secrets import resolve_key
from veilflow.flows import prefect_tasks as t
from veilflow.flows._publish import publish
from veilflow.tasks.data.io import fingerprint_frame
from veilflow.tasks.ops.raw_scoring import prepare_scorer, reason_counts
from veilflow.tasks.ops.reporting import mlflow_run_url, scoring_summary
from veilflow.tasks.ops.scoring import (
    ChampionModel,
    quarantine_batch,
    resolve_champion,
    start_champion_run,
    write_parquet_atomically,
)

if TYPE_CHECKING:
    from veilflow.tasks.data.validation import ValidationReport


class ScoringConfig(BaseModel):
    """What to score and where the predictions go (relative paths are taken from the working directory)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_name: str = "veilflow-customers"
    alias: str = "champion"
    input_path: Path = Field(description="raw batch, CSV or Parquet, with the training data's columns")
    output_path: Path = Path("data/scored/predictions.parquet")
    quarantine_path: Path | None = Field(default=None, description="default: <output>.quarantine.parquet")
    experiment: str = "veilflow-scoring"
    reason_codes: int = Field(default=3, ge=1, le=10)
    require_same_code: bool = Field(default=False, description="refuse a champion trained by another commit")
    allow_unverified_code: bool = Field(
        default=False,
        description="override: load a champion whose recorded code version is missing or not in this repository's history",
    )
    execution: ExecutionConfig = Field(
        default=ExecutionConfig(),
        description="with partition_rows set, each partition is read, validated, anonymized and scored by its own task on the runner",
    )


class ScoringResult(BaseModel):
    run_id: str
    model_name: str
    model_version: str
    rows_in: int
    rows_scored: int
    rows_quarantined: int
    output_path: str
    quarantine_path: str | None
    quarantine_reasons: dict[str, int] = {}  # rows per failed check (names of checks and columns, never values)


def _score_partitioned(
    config: ScoringConfig, champion: ChampionModel, client: tracking.TrackingClient, run_id: str
) -> tuple[pd.DataFrame, ValidationReport, dict[str, Any], pd.DataFrame]:
    """The partitioned path: `score-partitions` subflow on the configured runner, then the merged
    report's critical check. Returns (anonymized batch, merged report, audit dict, predictions indexed
    by batch position)."""
    from veilflow.flows.partitioned import run_partitioned_scoring

    merged, wall = run_partitioned_scoring(
        config.input_path,
        champion,
        config.execution,
        config.reason_codes,
        require_same_code=config.require_same_code,
        allow_unverified_code=config.allow_unverified_code,
    )
    tracking.set_tags(
        client,
        run_id,
        {
            "veilflow.data_fingerprint": merged.fingerprint,
            "veilflow.execution.runner": config.execution.runner,
            "veilflow.execution.partitions": str(merged.partitions),
        },
    )
    tracking.log_metrics(
        client,
        run_id,
        {
            "partitions.count": merged.partitions,
            "partitions.wall_seconds": wall,
            **{f"partitions.{k}.seconds": v for k, v in merged.seconds.items()},
        },
    )
    merged.validation.raise_if_critical("batch")
    predictions = merged.predictions.set_axis(pd.Index(merged.positions)) if len(merged.predictions) else merged.predictions
    return merged.anonymized, merged.validation, merged.audit, predictions


@flow(
    name="scoring",
    description="Score a batch with models:/<name>@champion: validate (bad rows quarantined with reasons), anonymize with the training policy and key, predict with top reason codes.",
)
def scoring(config: ScoringConfig) -> ScoringResult:
    logger = get_run_logger()
    client = tracking.make_client()
    # The code version is verified before the model is loaded (loading unpickles code).
    champion = resolve_champion(
        client,
        config.model_name,
        config.alias,
        require_same_code=config.require_same_code,
        allow_unverified_code=config.allow_unverified_code,
    )
    verdict = champion.code_check
    logger.info("scoring with %s v%s (%s)", champion.model_name, champion.version, verdict)
    pipe = champion.pipeline_config
    ds = pipe.dataset

    experiment_id, run_id = start_champion_run(client, config.experiment, "scoring", champion, {"veilflow.code_check": verdict})
    try:
        out_path = resolve_path(config.output_path, Path.cwd())
        q_path = (
            resolve_path(config.quarantine_path, Path.cwd())
            if config.quarantine_path
            else out_path.with_suffix(".quarantine.parquet")
        )
        if config.execution.partition_rows is not None:
            anonymized, report, audit, predictions = _score_partitioned(config, champion, client, run_id)
            summary = report.to_summary_dict()
        else:
            key = resolve_key(pipe.privacy.key_env, pipe.privacy.key_block) if ds.pii_policy else None
            raw = t.load_batch(config.input_path, max_bytes=ds.max_bytes, encoding=ds.encoding)  # as the training data
            tracking.set_tags(client, run_id, {"veilflow.data_fingerprint": fingerprint_frame(raw)})
            analyzer = build_analyzer(pipe.privacy.nlp_model) if ds.pii_policy else None
            scorer = prepare_scorer(champion, key, build_gx_context(), analyzer, top_k=config.reason_codes)
            # The one raw-record code path (also per partition, and in the raw-record serving model).
            scored = t.score_raw_records(raw, scorer, raise_on_critical=True)
            del raw  # raw rows end here; quarantined rows are written anonymized
            anonymized, report, audit, predictions = scored.anonymized, scored.report, scored.audit, scored.predictions
            summary = report.to_summary_dict()
        tracking.log_dict(client, run_id, summary, "validation/batch.json")
        tracking.log_dict(client, run_id, audit, "pii/audit.json")
        clean, quarantined = quarantine_batch(anonymized, report)
        if len(quarantined):
            write_parquet_atomically(quarantined, q_path)
        if len(clean) == 0:
            raise DataValidationError(f"every row of the batch was quarantined ({len(quarantined)} rows); see {q_path.name}")
        # Predictions are indexed by batch position; rows quarantined only by cross-partition checks
        # (duplicates, when partitioned) are dropped here.
        predictions = predictions.loc[clean.index].reset_index(drop=True)
        write_parquet_atomically(predictions, out_path)
        rows_in, rows_scored, rows_quarantined = len(anonymized), len(predictions), len(quarantined)
        counts: dict[str, float] = {
            "rows_in": rows_in,
            "rows_scored": rows_scored,
            "rows_quarantined": rows_quarantined,
        }
        if "probability" in predictions.columns:  # classification (binary: P(positive); multiclass: top class)
            if not any(str(c).startswith("probability_") for c in predictions.columns):
                counts["positive_rate"] = float((predictions["prediction"] == 1).mean())
            counts["mean_probability"] = float(predictions["probability"].mean())
        else:  # regression
            counts["mean_prediction"] = float(predictions["prediction"].mean())
        tracking.log_metrics(client, run_id, {**counts, "pii.entities_found": float(audit.get("total_found", 0))})
    except BaseException as exc:
        tracking.end_run(client, run_id, "FAILED", reason=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise
    tracking.end_run(client, run_id, "FINISHED")
    result = ScoringResult(
        run_id=run_id,
        model_name=champion.model_name,
        model_version=champion.version,
        rows_in=rows_in,
        rows_scored=rows_scored,
        rows_quarantined=rows_quarantined,
        output_path=str(out_path),
        quarantine_path=str(q_path) if len(quarantined) else None,
        quarantine_reasons=reason_counts(quarantined),
    )
    url = mlflow_run_url(os.environ.get("MLFLOW_TRACKING_URI"), experiment_id, run_id)
    markdown = scoring_summary(champion.model_name, champion.version, {**result.model_dump(), **counts}, summary, audit, url)
    publish("scoring-summary", markdown + f"\n\nCode check: {verdict}", url, f"MLflow run {run_id}", "veilflow batch scoring")
    return result
