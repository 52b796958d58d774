"""The `training` flow: load → validate → anonymize → leak guard → validate → train → evaluate → explain → register → gate."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import BaseModel

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.core.provenance import CONFIG_FILE_ENV, code_version, inputs_provenance, run_provenance_tags
from veilflow.core.state import suppression_list_path
from veilflow.engines import tracking
from veilflow.engines.gx import build_gx_context
from veilflow.engines.presidio import build_analyzer
from veilflow.engines.secrets import resolve_key
from veilflow.flows import prefect_tasks as t
from veilflow.flows.serving import SERVING_MODEL_CODE
from veilflow.tasks.data.io import fingerprint_frame
from veilflow.tasks.ops.model_audit import check_dp_requirements
from veilflow.tasks.ops.promotion import GateEvidence
from veilflow.tasks.ops.steps import check_feature_columns, resolve_label
from veilflow.tasks.ops.training_steps import candidate_grid, pick_best
from veilflow.tasks.privacy.leak_scan import index_for_config


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


def _input_files(config: PipelineConfig) -> dict[str, Path | None]:
    """Every file the run reads, by role, resolved as the steps resolve them (for digests and git state)."""
    ds = config.dataset
    config_file = os.environ.get(CONFIG_FILE_ENV)
    return {
        "config": Path(config_file) if config_file else None,
        "pii_policy": resolve_path(ds.pii_policy) if ds.pii_policy else None,
        "raw_suite": resolve_path(ds.raw_suite),
        "anonymized_suite": resolve_path(ds.anonymized_suite) if ds.anonymized_suite else None,
        "data": resolve_path(ds.path, Path.cwd()) if ds.source == "file" and ds.path else None,
    }


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
def training(config: PipelineConfig) -> Any:
    """Run one training pipeline; returns a TrainingResult (state named "Rejected" when a gate fails)."""
    logger = get_run_logger()
    client = tracking.make_client()
    experiment_id = tracking.ensure_experiment(client, config.registry.experiment, os.environ.get("VEILFLOW_ARTIFACT_ROOT"))
    version = code_version()
    inputs = inputs_provenance(_input_files(config))
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
            "veilflow.dataset": config.dataset.name,
            **run_provenance_tags(version, inputs),
        },
    )
    logger.info("MLflow run %s in experiment %s", run_id, experiment_id)
    try:
        tracking.log_params(client, run_id, config.model_dump(mode="json"))
        tracking.log_dict(client, run_id, config.model_dump(mode="json"), "config/pipeline.json")
        tracking.log_dict(client, run_id, inputs, "provenance/inputs.json")  # role -> path, sha256, git state
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
    # Fail on a missing key, or a DP setting this environment cannot honour, before any data is read.
    check_dp_requirements(config)
    if any(c.is_dp and c.params.get("secure_mode") for c in config.training.candidates):
        # Opacus' cryptographic RNG cannot be seeded: a replay compares metrics within a tolerance, not bit for bit.
        tracking.set_tags(client, run_id, {"veilflow.dp.secure_mode": "true"})
    key = resolve_key(config.privacy.key_env, config.privacy.key_block) if ds.pii_policy or ds.subject_column else None
    gx_context = build_gx_context()

    if config.execution.partition_rows is not None:
        # Per partition on the configured runner (threads, Dask, Ray); raw rows stay on the workers.
        anonymized, audit, leak, fingerprint, source, scan_index = _prepare_partitioned(config, key, client, run_id, out_dir)
    else:
        # Subjects on the suppression list (veilflow forget --apply) are dropped here, before anything else.
        loaded = t.load_data(config, key, suppression_list_path())
        tracking.set_tags(client, run_id, {"veilflow.data_fingerprint": loaded.fingerprint})
        tracking.log_metrics(
            client, run_id, {"data.rows": loaded.rows, "data.columns": loaded.columns, "data.suppressed_rows": loaded.suppressed}
        )
        logger.info("loaded %d rows x %d columns (fingerprint %s)", loaded.rows, loaded.columns, loaded.fingerprint[:12])

        t.validate_raw(loaded.frame, ds.raw_suite, "raw", ds.id_column, gx_context, client, run_id, out_dir)
        analyzer = build_analyzer(config.privacy.nlp_model) if ds.pii_policy else None
        anonymized, audit = t.anonymize(loaded.frame, config, analyzer, key, client, run_id)
        _log_anonymized(audit)
        leak = t.leak_guard(loaded.frame, anonymized, config, client, run_id)
        t.record_membership(loaded.frame, config, key, client, run_id, out_dir)
        # Raw PII values and the key, in memory only, for the leak scan of everything logged (below).
        scan_index = index_for_config(loaded.frame, config, key)
        fingerprint, source = loaded.fingerprint, loaded.source
        del loaded  # raw rows end here: nothing downstream sees them
    if ds.anonymized_suite is not None:
        t.validate_anonymized(anonymized, ds.anonymized_suite, "anonymized", ds.id_column, gx_context, client, run_id, out_dir)

    check_feature_columns(anonymized, config)
    # The label's task and classes, resolved from the data (the raw load checked it already): every later
    # step reads them from the config, and the fitted models carry the mapping.
    spec = resolve_label(anonymized, config)
    config = config.with_label_spec(spec)
    tracking.set_tags(client, run_id, {"veilflow.task": spec.task, "veilflow.primary_metric": config.primary_metric})
    tracking.log_params(client, run_id, {"veilflow.task": spec.task, "veilflow.n_classes": spec.n_classes})
    tracking.log_dict(client, run_id, spec.to_dict(), "model/label_classes.json")
    anonymized, risk, audit = t.assess_risk(anonymized, config, audit, client, run_id)
    tracking.log_dataset(client, run_id, anonymized, ds.name, source, fingerprint, context="training")
    # The resume key of every fit starts from what the fits read: the anonymized (and risk-generalised) frame.
    anonymized_fp = fingerprint_frame(anonymized)
    tracking.set_tags(client, run_id, {"veilflow.anonymized_fingerprint": anonymized_fp})
    train, val, test = t.split_data(anonymized, config)
    tracking.log_metrics(
        client, run_id, {"split.train_rows": len(train), "split.val_rows": len(val), "split.test_rows": len(test)}
    )
    # Every candidate (and every point of a search grid) is a mapped task run; the flow's task runner
    # (threads by default) fits them in parallel, each in its own nested MLflow run.
    grid = candidate_grid(config)
    futures = [
        t.train_candidate.with_options(task_run_name=f"train-{cand.name}{'.' + trial if trial else ''}").submit(
            cand, params, train, val, config, client, run_id, trial, fit=t.fit_candidate, data_fingerprint=anonymized_fp
        )
        for cand, params, trial in grid
    ]
    results = [f.result() for f in futures]
    logger.info(
        "trained %d candidate(s): %s",
        len(results),
        ", ".join(f"{r.name} val.{config.primary_metric}={r.val_metrics[config.primary_metric]:.4f}" for r in results),
    )
    reused = [r.name for r in results if r.reused]
    if reused:
        logger.info("resumed: reused %d cached fit(s) from an earlier run of this job: %s", len(reused), ", ".join(reused))
    tracking.set_tags(client, run_id, {"veilflow.reused_steps": ",".join(f"fit-candidate:{n}" for n in reused) or "none"})
    best = pick_best(results, config.primary_metric, require_dp=config.privacy.require_dp)
    tracking.set_tags(client, run_id, {"veilflow.best_candidate": best.name})
    logger.info(
        "best candidate %s (%s=%.4f on validation)",
        best.name,
        config.primary_metric,
        best.val_metrics[config.primary_metric],
    )

    evaluation = t.evaluate(best, test, config, client, run_id, out_dir)
    # Does the model itself leak? Every candidate is attacked (members: its training rows; non-members: test rows).
    audit_started = time.perf_counter()
    audits = [
        t.audit_model.with_options(task_run_name=f"membership-audit-{r.name}").submit(
            r, train, val, test, config, client, run_id, out_dir, best=r is best
        )
        for r in results
    ]
    mia = [a.result() for a in audits][results.index(best)]
    if config.privacy.mia.enabled:
        tracking.log_metrics(client, run_id, {"mia.step_seconds": time.perf_counter() - audit_started})
    explanation = t.explain(results, best, test, config, client, run_id, out_dir)
    model_uri, model_id = t.log_model(best, train, config, client, run_id, experiment_id)
    # Beside it, the raw-record serving model (anonymizes inside, key from the environment); scanned below too.
    t.log_serving_model(model_uri, config, client, run_id, experiment_id, SERVING_MODEL_CODE)
    t.record_profile(best, train, config, client, run_id)
    # A leak fails the run (PiiLeakError) before anything is registered; see tasks/leak_scan.py.
    scan = t.scan_leaks(scan_index, client, run_id)
    del scan_index
    leak = {**leak, "scan": "passed" if scan["passed"] else "failed", "passed": bool(leak.get("passed")) and scan["passed"]}
    if not config.registry.register:
        return TrainingResult(
            run_id=run_id,
            experiment_id=experiment_id,
            model_name=config.registry.model_name,
            decision="not-registered",
            primary_metric=config.primary_metric,
            primary_value=evaluation["metrics"][config.primary_metric],
            data_fingerprint=fingerprint,
        )
    evidence = GateEvidence(
        model_uri=model_uri,
        model_id=model_id,
        fingerprint=fingerprint,
        evaluation=evaluation,
        explanation=explanation,
        audit=audit,
        leak=leak,
        risk=risk,
        mia=mia,
    )
    decision = t.register_and_gate(best, evidence, test, config, client, run_id, out_dir)
    return TrainingResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=config.registry.model_name,
        version=decision["version"],
        decision=decision["decision"],
        failed_gates=decision["failed_gates"],
        primary_metric=config.primary_metric,
        primary_value=evaluation["metrics"][config.primary_metric],
        champion_version=decision["champion_version"],
        data_fingerprint=decision["data_fingerprint"],
    )


def _log_anonymized(audit: dict[str, Any]) -> None:
    """One step line for anonymization: rows, entities replaced, and the rate on free text (the slow part)."""
    seconds, rows = float(audit.get("seconds") or 0.0), int(audit.get("rows") or 0)
    if audit.get("policy") is None:
        return
    texts = sum(int(c.get("texts_analyzed") or 0) for c in audit.get("columns", {}).values())
    rate = f", {rows / seconds:.0f} rows/s" if seconds > 0 else ""
    get_run_logger().info(
        "anonymized %d rows in %.1f s%s: %d PII entities replaced, %d distinct texts analyzed",
        rows,
        seconds,
        rate,
        int(audit.get("total_found") or 0),
        texts,
    )


def _prepare_partitioned(config: PipelineConfig, key: bytes | None, client: Any, run_id: str, out_dir: Path) -> tuple[Any, ...]:
    """Raw validation, anonymization and leak guard per partition (a subflow on the configured runner),
    then the membership index and the leak-scan index from one streaming pass in this process."""
    from veilflow.flows.partitioned import run_partitioned
    from veilflow.tasks.ops.partition_merge import record_merged
    from veilflow.tasks.ops.partitions import partition_source, plan_partitions, scan_inputs_in_flow

    suppression = suppression_list_path()
    suppression_path = str(suppression) if suppression is not None else None
    merged, seconds = run_partitioned(config, suppression_path)
    tracking.set_tags(client, run_id, {"veilflow.data_fingerprint": merged.fingerprint})
    tracking.log_metrics(client, run_id, {"data.rows": merged.rows, "data.columns": merged.columns})
    get_run_logger().info(
        "%d partition(s): %d rows (fingerprint %s) in %.1f s", merged.partitions, merged.rows, merged.fingerprint[:12], seconds
    )
    leak = record_merged(merged, config, client, run_id, out_dir, seconds)
    audit = (
        merged.audit.model_dump(mode="json") if merged.audit is not None else {"policy": None, "rows": merged.rows, "columns": {}}
    )
    scan_index, subjects = scan_inputs_in_flow(config, key, suppression_path)
    t.record_membership(subjects, config, key, client, run_id, out_dir)
    del subjects
    return merged.anonymized, audit, leak, merged.fingerprint, partition_source(config, plan_partitions(config)), scan_index


def _publish_summary(result: TrainingResult, experiment_id: str) -> None:
    url = _mlflow_run_url(experiment_id, result.run_id)
    try:
        create_link_artifact(key="mlflow-run", link=url, link_text=f"MLflow run {result.run_id}")
        import json

        from veilflow.tasks.ops.reporting import training_summary

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
