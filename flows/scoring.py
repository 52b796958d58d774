"""The `scoring` flow: score a batch with the champion, quarantining bad rows with their reasons."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, Field

from tasks import tracking
from tasks.anonymization import anonymize_frame, build_analyzer, load_policy
from tasks.data import fingerprint_frame, load_frame
from tasks.scoring import resolve_champion, score_frame, verify_code_version, write_parquet_atomically
from tasks.validation import build_gx_context, load_suite, quarantine_rows, validate_frame
from veilflow.config import resolve_path
from veilflow.errors import DataValidationError
from veilflow.provenance import code_version
from veilflow.secrets import resolve_key


class ScoringConfig(BaseModel):
    """What to score and where the predictions go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_name: str = "veilflow-customers"
    alias: str = "champion"
    input_path: Path
    output_path: Path = Path("data/scored/predictions.parquet")
    quarantine_path: Path | None = Field(default=None, description="default: <output>.quarantine.parquet")
    experiment: str = "veilflow-scoring"
    reason_codes: int = Field(default=3, ge=1, le=10)
    require_same_code: bool = Field(default=False, description="refuse a champion trained by another commit")


class ScoringResult(BaseModel):
    run_id: str
    model_name: str
    model_version: str
    rows_in: int
    rows_scored: int
    rows_quarantined: int
    output_path: str
    quarantine_path: str | None


_load = task(name="load-batch", cache_policy=NO_CACHE, persist_result=False, tags=["raw-pii"])(load_frame)
_validate = task(name="validate-batch", cache_policy=NO_CACHE, persist_result=False, tags=["raw-pii"])(validate_frame)
_anonymize = task(name="anonymize-batch", cache_policy=NO_CACHE, persist_result=False, tags=["raw-pii"])(anonymize_frame)
_score = task(name="score-batch", cache_policy=NO_CACHE, persist_result=False)(score_frame)


@flow(name="scoring", description="Score a batch with models:/<name>@champion; bad rows are quarantined with their reasons.")
def scoring(config: ScoringConfig) -> ScoringResult:
    logger = get_run_logger()
    client = tracking.make_client()
    champion = resolve_champion(client, config.model_name, config.alias)
    verdict = verify_code_version(champion, code_version()["commit"], config.require_same_code)
    logger.info("scoring with %s v%s (%s)", champion.model_name, champion.version, verdict)
    pipe = champion.pipeline_config
    ds = pipe.dataset

    experiment_id = tracking.ensure_experiment(client, config.experiment, os.environ.get("VEILFLOW_ARTIFACT_ROOT"))
    run_id = tracking.start_run(
        client,
        experiment_id,
        run_name=f"scoring-{flow_run.name or 'local'}",
        tags={
            "veilflow.flow": "scoring",
            "veilflow.prefect_flow_run_id": str(flow_run.id or ""),
            "veilflow.model_name": champion.model_name,
            "veilflow.model_version": champion.version,
            "veilflow.model_run_id": champion.run_id,
            "veilflow.code_check": verdict,
        },
    )
    try:
        key = resolve_key(pipe.privacy.key_env, pipe.privacy.key_block) if ds.pii_policy else None
        raw = _load(resolve_path(config.input_path, Path.cwd()), max_bytes=ds.max_bytes)
        tracking.set_tags(client, run_id, {"veilflow.data_fingerprint": fingerprint_frame(raw)})
        suite = load_suite(resolve_path(ds.raw_suite))
        report = _validate(raw, suite, build_gx_context(), id_column=None)
        # Critical failures (missing columns, broken labels) mean the batch itself is unusable.
        report.raise_if_critical("batch")
        if ds.pii_policy:
            policy = load_policy(resolve_path(ds.pii_policy))
            anonymized, audit = _anonymize(raw, policy, build_analyzer(pipe.privacy.nlp_model), key)
            tracking.log_dict(client, run_id, audit.model_dump(mode="json"), "pii/audit.json")
        else:
            anonymized = raw.copy()
        raw_index = raw.index
        del raw
        anonymized.index = raw_index
        clean, quarantined = quarantine_rows(anonymized, report)
        out_path = resolve_path(config.output_path, Path.cwd())
        q_path = resolve_path(config.quarantine_path, Path.cwd()) if config.quarantine_path else out_path.with_suffix(".quarantine.parquet")
        if len(quarantined):
            quarantined = quarantined.assign(source_row=quarantined.index.to_numpy())
            write_parquet_atomically(quarantined.reset_index(drop=True), q_path)
        if len(clean) == 0:
            raise DataValidationError(f"every row of the batch was quarantined ({len(quarantined)} rows); see {q_path.name}")
        predictions = _score(champion, clean, top_k=config.reason_codes)
        write_parquet_atomically(predictions, out_path)
        metrics = {
            "rows_in": len(anonymized),
            "rows_scored": len(predictions),
            "rows_quarantined": len(quarantined),
            "positive_rate": float((predictions["prediction"] == 1).mean()),
            "mean_probability": float(predictions["probability"].mean()),
        }
        tracking.log_metrics(client, run_id, metrics)
        tracking.log_dict(client, run_id, report.to_summary_dict(), "validation/batch.json")
    except BaseException as exc:
        tracking.end_run(client, run_id, "FAILED", reason=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise
    tracking.end_run(client, run_id, "FINISHED")
    result = ScoringResult(
        run_id=run_id,
        model_name=champion.model_name,
        model_version=champion.version,
        rows_in=metrics["rows_in"],
        rows_scored=metrics["rows_scored"],
        rows_quarantined=metrics["rows_quarantined"],
        output_path=str(out_path),
        quarantine_path=str(q_path) if len(quarantined) else None,
    )
    create_markdown_artifact(
        key="scoring-summary",
        markdown=(
            f"# Scoring with `{champion.model_name}` v{champion.version}\n\n| rows in | scored | quarantined | positive rate |\n"
            f"|---|---|---|---|\n| {metrics['rows_in']} | {metrics['rows_scored']} | {metrics['rows_quarantined']} | {metrics['positive_rate']:.3f} |\n\n"
            f"MLflow run `{run_id}`; code check: {verdict}"
        ),
    )
    return result
