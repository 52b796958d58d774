"""The training pipeline's data steps: load, check, validate, split, anonymize, guard against leaks.

Each function here is what one Prefect task runs (see `veilflow.flows.prefect_tasks`); they are plain Python,
so they can be called and tested without Prefect. Nothing here logs a data value: counts and shapes only.
The model steps are in `training_steps`, registration and gating in `promotion`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.core.errors import ConfigError, DataLoadError
from veilflow.core.labels import LabelSpec
from veilflow.engines import tracking
from veilflow.tasks.data.io import fingerprint_frame, generate_customers, load_breast_cancer_frame, load_frame

log = logging.getLogger("veilflow")


@dataclass(frozen=True)
class LoadedData:
    """A raw frame in memory (never persisted) and what may be said about it."""

    frame: pd.DataFrame = field(repr=False)
    fingerprint: str
    rows: int
    columns: int
    source: str
    suppressed: int = 0  # rows dropped because their subject is on the suppression list (forgotten)


def load_data(config: PipelineConfig, key: bytes | None = None, suppression_path: Path | None = None) -> LoadedData:
    """Load or generate the configured dataset, fingerprint its content, then drop suppressed subjects.

    The fingerprint names the source data as read (so replay and audit can re-check it); the rows of
    subjects on the suppression list (`veilflow forget --apply`) are dropped after it, matched by their
    keyed pseudonym in memory, and counted in `suppressed`.

    Raises:
        DataLoadError: bad file, or the frame lacks the label / subject column named in config.
        MissingKeyError: a non-empty suppression list must be applied and no key was given.
    """
    ds = config.dataset
    if ds.source == "generate":
        frame = generate_customers(ds.n_rows, seed=config.seed, defect_rate=ds.defect_rate)
        source = f"generated:customers?n_rows={ds.n_rows}&seed={config.seed}&defect_rate={ds.defect_rate}"
    elif ds.source == "breast_cancer":
        frame = load_breast_cancer_frame()
        source = "sklearn:load_breast_cancer"
    else:
        path = resolve_path(ds.path, Path.cwd()) if ds.path else None
        assert path is not None  # guaranteed by DatasetConfig validation
        frame = load_frame(path, max_bytes=ds.max_bytes, encoding=ds.encoding)
        source = f"file:{path.name}"
    if ds.label not in frame.columns:
        raise DataLoadError(f"label column '{ds.label}' is missing from {source}")
    frame = check_input(frame, config, source)
    fingerprint = fingerprint_frame(frame)
    suppressed = 0
    if suppression_path is not None and ds.subject_column:
        from veilflow.tasks.privacy.membership import SuppressionList

        if ds.subject_column not in frame.columns:
            raise DataLoadError(f"subject column '{ds.subject_column}' is missing from {source}")
        suppression = SuppressionList.load(suppression_path)
        if len(suppression):
            frame, suppressed = suppression.apply_raw(frame, ds.subject_column, key)
    return LoadedData(
        frame=frame, fingerprint=fingerprint, rows=len(frame), columns=frame.shape[1], source=source, suppressed=suppressed
    )


def check_input(frame: pd.DataFrame, config: PipelineConfig, source: str) -> pd.DataFrame:
    """Fail fast, before validation and Presidio, on a raw frame the config and PII policy cannot use.

    The pre-flight's column checks on the whole frame (`veilflow.tasks.ops.preflight.check_columns`: the policy's
    columns, required and extra columns, text-cell sizes, all-null features, non-numeric or infinite numbers),
    then the label against the task.

    Raises:
        ConfigError: the PII policy names a column the data does not have.
        DataLoadError: the data does not fit the config (one line naming the column and the source).
    """
    from veilflow.tasks.ops.preflight import check_columns
    from veilflow.tasks.privacy.policy import load_policy

    ds = config.dataset
    policy = load_policy(resolve_path(ds.pii_policy)) if ds.pii_policy is not None else None
    checked = check_columns(frame, config, policy, source, whole=True)
    resolve_label(checked, config)  # the label against the task: one line, before anything is fitted
    return checked


def resolve_label(frame: pd.DataFrame, config: PipelineConfig) -> LabelSpec:
    """The label's spec for `config.dataset.task` (see `veilflow.tasks.data.labels.check_label`).

    Raises:
        LabelError: the label does not fit the task.
        ConfigError: the resolved task does not suit the config (a floor or primary metric it lacks, a binary-only
            candidate).
    """
    from veilflow.core.config import check_task_settings
    from veilflow.tasks.data.labels import check_label

    ds = config.dataset
    spec = check_label(frame[ds.label], ds.task, ds.positive_label, ds.max_classes, column=ds.label)
    check_task_settings(config, spec.task, error=ConfigError)
    return spec


def check_feature_columns(frame: pd.DataFrame, config: PipelineConfig) -> None:
    """After anonymization every configured feature must exist; the label must hold two classes."""
    ds = config.dataset
    missing = [c for c in [*ds.feature_columns, ds.label] if c not in frame.columns]
    if missing:
        raise DataLoadError(f"columns required by the config are missing after anonymization: {missing}")
    classes = frame[ds.label].dropna().nunique()
    if classes < 2:
        raise DataLoadError(f"label column '{ds.label}' has {classes} class(es); training needs 2")


def run_validation(
    frame: pd.DataFrame,
    suite_path: Path,
    stage: str,
    id_column: str | None,
    context: Any,
    client: tracking.TrackingClient,
    run_id: str,
    out_dir: Path,
) -> dict[str, Any]:
    """Validate a frame with a GX suite, record counts and the HTML report, raise on critical failures."""
    from veilflow.tasks.data.validation import load_suite, validate_frame
    from veilflow.tasks.data.validation_docs import render_validation_html

    suite = load_suite(resolve_path(suite_path))
    started = time.perf_counter()
    report = validate_frame(frame, suite, context, id_column=id_column if id_column in frame.columns else None)
    seconds = time.perf_counter() - started
    summary = report.to_summary_dict()
    html = render_validation_html(report, out_dir / f"validation_{stage}.html")
    tracking.log_dict(client, run_id, summary, f"validation/{stage}.json")
    tracking.log_artifact(client, run_id, html, "validation")
    failed = [e for e in summary["expectations"] if not e["success"]]
    tracking.log_metrics(
        client,
        run_id,
        {
            f"validation.{stage}.evaluated": summary["evaluated"],
            f"validation.{stage}.failed": len(failed),
            f"validation.{stage}.critical_failed": len(summary["critical_failures"]),
            f"validation.{stage}.seconds": seconds,
        },
    )
    tracking.set_tags(
        client, run_id, {f"veilflow.validation.{stage}": "passed" if not summary["critical_failures"] else "failed"}
    )
    log.info(
        "validation %s: %d expectations, %d failed (%d critical)",
        stage,
        summary["evaluated"],
        len(failed),
        len(summary["critical_failures"]),
    )
    report.raise_if_critical(stage)
    return summary


def split_data(frame: pd.DataFrame, config: PipelineConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Encode the label (classes -> 0..k-1, regression -> float) and split; stratified for classification.

    The spec is `config.label_spec` when resolved, else resolved here. A 0/1 binary label keeps its values.
    """
    from veilflow.tasks.modeling.preprocessing import split_frame

    label = config.dataset.label
    spec = config.label_spec or resolve_label(frame, config)
    encoded = frame.copy()
    encoded[label] = spec.encode(frame[label])
    return split_frame(
        encoded,
        label,
        config.split.test_size,
        config.split.val_size,
        seed=config.seed,
        stratify=spec.task != "regression",
    )


def input_example(frame: pd.DataFrame, config: PipelineConfig, rows: int = 5) -> pd.DataFrame:
    """A few anonymized rows holding only the model's feature columns."""
    return frame[config.dataset.feature_columns].head(rows).reset_index(drop=True)


def sensitive_groups(frame: pd.DataFrame, config: PipelineConfig) -> np.ndarray | None:
    """The first sensitive attribute's group per row (None without one); see `sensitive_group_sets` for all."""
    sets = sensitive_group_sets(frame, config)
    return next(iter(sets.values())) if sets else None


def sensitive_group_sets(frame: pd.DataFrame, config: PipelineConfig) -> dict[str, np.ndarray]:
    """Every sensitive attribute present in `frame` -> its group label per row, in config order."""
    return {col: frame[col].astype(str).to_numpy() for col in config.dataset.sensitive_columns if col in frame.columns}


def anonymize_data(
    frame: pd.DataFrame, config: PipelineConfig, analyzer: Any, key: bytes | None, client: tracking.TrackingClient, run_id: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply the dataset's PII policy; record the audit (counts per column and entity, operators)."""
    from veilflow.tasks.privacy.policy import load_policy, validate_policy_against
    from veilflow.tasks.privacy.redaction import anonymize_frame

    if config.dataset.pii_policy is None:
        no_policy: dict[str, Any] = {"policy": None, "rows": len(frame), "columns": {}, "note": "dataset declares no PII policy"}
        tracking.log_dict(client, run_id, no_policy, "pii/audit.json")
        return frame.copy(), no_policy
    policy = load_policy(resolve_path(config.dataset.pii_policy))
    validate_policy_against(policy, list(frame.columns))
    anonymized, audit = anonymize_frame(frame, policy, analyzer, key, batch_size=config.privacy.batch_size)
    audit_dict = audit.model_dump(mode="json")
    tracking.log_dict(client, run_id, audit_dict, "pii/audit.json")
    tracking.log_metrics(client, run_id, {"pii.entities_found": float(audit.total_found), "pii.seconds": audit.seconds})
    log.info("anonymized %d rows x %d columns; %d PII entities replaced", len(anonymized), anonymized.shape[1], audit.total_found)
    return anonymized, audit_dict


def guard_leaks(
    raw: pd.DataFrame, anonymized: pd.DataFrame, config: PipelineConfig, client: tracking.TrackingClient, run_id: str
) -> dict[str, Any]:
    """Fail the run (PiiLeakError) if any raw PII value or pattern survives anonymization."""
    from veilflow.tasks.privacy.leak_guard import check_leaks, enforce_no_leaks
    from veilflow.tasks.privacy.policy import load_policy

    if config.dataset.pii_policy is None:
        result = {"checked": False, "leaks": 0, "passed": True}
    else:
        policy = load_policy(resolve_path(config.dataset.pii_policy))
        report = check_leaks(raw, anonymized, policy)
        result = report.model_dump(mode="json")
        tracking.log_dict(client, run_id, result, "pii/leak_guard.json")
        tracking.set_tags(client, run_id, {"veilflow.leak_guard": "passed" if report.total == 0 else "failed"})
        enforce_no_leaks(report, policy.leak_tolerance)
        result["passed"] = True
    return result
