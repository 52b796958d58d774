"""The training pipeline's steps: domain calls plus what each step records, with engines passed in.

Each function here is what one Prefect task runs (see `veilflow.flows.prefect_tasks`); they are plain Python,
so they can be called and tested without Prefect. Nothing here logs a data value: counts and shapes only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import DP_KINDS, CandidateConfig, PipelineConfig, resolve_path
from veilflow.core.errors import ConfigError, DataLoadError
from veilflow.engines import tracking
from veilflow.tasks.data.io import check_frame, fingerprint_frame, generate_customers, load_breast_cancer_frame, load_frame

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


@dataclass
class CandidateResult:
    name: str
    kind: str
    params: dict[str, Any]
    trained: Any = field(repr=False)
    val_metrics: dict[str, float]
    fit_seconds: float
    reused: bool = False
    run_id: str = ""  # the candidate's nested MLflow run (the membership audit records there too)

    @property
    def dp(self) -> dict[str, Any] | None:
        """The DP accounting of the fit (`candidates.dp_summary`), None for a candidate trained without DP."""
        return getattr(self.trained, "dp", None)


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
        frame = load_frame(path, max_bytes=ds.max_bytes)
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

    Checks that the policy's columns exist, then (see `veilflow.tasks.data.io.check_frame`) required and extra
    columns, text-cell sizes, all-null columns, non-numeric or infinite numbers and a one-class label.

    Raises:
        ConfigError: the PII policy names a column the data does not have.
        DataLoadError: the data does not fit the config (one line naming the column and the source).
    """
    from veilflow.tasks.privacy.policy import load_policy, validate_policy_against

    ds = config.dataset
    policy_cols: list[str] = []
    text_cols = [ds.text_feature] if ds.text_feature else []
    created: set[str] = set()
    if ds.pii_policy is not None:
        policy_path = resolve_path(ds.pii_policy)
        policy = load_policy(policy_path)
        policy_cols = [*policy.columns, *policy.text_columns]
        text_cols = list(dict.fromkeys([*text_cols, *policy.text_columns]))
        created = set(policy.new_columns())
        absent = [c for c in policy_cols if c not in frame.columns]
        if absent:
            raise ConfigError(f"PII policy {policy_path.name} names column(s) not in {source}: {', '.join(absent)}")
        validate_policy_against(policy, frame.columns)
    named = [ds.id_column, ds.label, *ds.feature_columns]
    named += [c for c in (ds.sensitive_attribute, getattr(ds, "subject_column", None)) if c]
    required = [c for c in dict.fromkeys(named) if c not in created]
    return check_frame(
        frame,
        source=source,
        label=ds.label,
        required=required,
        known={*required, *policy_cols},
        numeric=ds.numeric_features,
        features=[c for c in ds.feature_columns if c not in created],
        text=text_cols,
        max_text_chars=ds.max_text_chars,
        extra_columns=ds.extra_columns,
    )


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
    from veilflow.tasks.data.validation import load_suite, render_validation_html, validate_frame

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
    from veilflow.tasks.modeling.preprocessing import split_frame

    return split_frame(frame, config.dataset.label, config.split.test_size, config.split.val_size, seed=config.seed)


def candidate_grid(config: PipelineConfig) -> list[tuple[CandidateConfig, dict[str, Any], str | None]]:
    """Every (candidate, params, trial-name) to train: one per candidate, or one per grid point of its search."""
    from veilflow.tasks.modeling.candidates import expand_search

    out: list[tuple[CandidateConfig, dict[str, Any], str | None]] = []
    for cand in config.training.candidates:
        grid = expand_search(dict(cand.params), cand.search)
        for i, params in enumerate(grid):
            out.append((cand, params, f"t{i}" if cand.search else None))
    return out


def fit_candidate(
    kind: str,
    params: dict[str, Any],
    train: pd.DataFrame,
    val: pd.DataFrame,
    config: PipelineConfig,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    cache_key: str | None = None,
) -> Any:
    """Fit one candidate on anonymized splits; pure (no tracking), so its result can be cached by key.

    `cache_key` is not used here: it is the resume key the Prefect task caches on (see `fit_cache_key`).
    """
    from veilflow.tasks.modeling.candidates import train_candidate

    ds = config.dataset
    return train_candidate(
        kind,
        params,
        train,
        val,
        numeric=ds.numeric_features,
        categorical=ds.categorical_features,
        text=ds.text_feature,
        label=ds.label,
        seed=config.seed,
        text_max_features=config.training.text_max_features,
        on_epoch=on_epoch,
    )


def fit_cache_key(
    candidate: CandidateConfig, params: dict[str, Any], config: PipelineConfig, data_fingerprint: str, tracking_target: str
) -> str:
    """Resume key of one fit: what the fit depends on, never the frames themselves.

    The anonymized data's fingerprint (which covers the raw data, policy and key), the candidate and its
    params, everything in the config a fit reads (seed, split, features, text size), veilflow's source
    digest (code version including uncommitted edits) and the tracking target (store + experiment), so a
    resumed run reuses only fits made for the same job.
    """
    from veilflow.core.provenance import source_digest

    ds = config.dataset
    basis = {
        "data": data_fingerprint,
        "candidate": candidate.model_dump(mode="json"),
        "params": params,
        "seed": config.seed,
        "split": config.split.model_dump(mode="json"),
        "features": [ds.numeric_features, ds.categorical_features, ds.text_feature, ds.label],
        "text_max_features": config.training.text_max_features,
        "code": source_digest(),
        "target": tracking_target,
    }
    payload = json.dumps(basis, sort_keys=True, default=str)
    return "veilflow-fit-" + hashlib.sha256(payload.encode()).hexdigest()


def train_one(
    candidate: CandidateConfig,
    params: dict[str, Any],
    train: pd.DataFrame,
    val: pd.DataFrame,
    config: PipelineConfig,
    client: tracking.TrackingClient,
    run_id: str,
    trial: str | None = None,
    fit: Any = None,
    data_fingerprint: str | None = None,
) -> CandidateResult:
    """Train one candidate in a nested MLflow run: params, per-epoch losses, validation metrics, model.

    `fit` is the (cacheable) Prefect task wrapping `fit_candidate`; with `training.resume` and a data
    fingerprint, a fit already made for the same key in an earlier (e.g. failed) run is reused, and
    the nested run says so (tag `veilflow.reused`).
    """
    from veilflow.tasks.modeling.candidates import predict_positive
    from veilflow.tasks.modeling.evaluation import compute_metrics

    ds = config.dataset
    name = f"{candidate.name}{'.' + trial if trial else ''}"
    parent = client.get_run(run_id)
    child = tracking.start_run(
        client,
        parent.info.experiment_id,
        run_name=name,
        tags={"mlflow.parentRunId": run_id, "veilflow.candidate": candidate.name, "veilflow.kind": candidate.kind},
    )
    reused = False
    try:
        tracking.log_params(client, child, {"kind": candidate.kind, **params})
        epochs_seen = 0

        def on_epoch(entry: dict[str, Any]) -> None:
            nonlocal epochs_seen
            epochs_seen += 1
            tracking.log_metrics(
                client, child, {"train_loss": entry["train_loss"], "val_loss": entry["val_loss"]}, step=int(entry["epoch"])
            )

        key = None
        if config.training.resume and data_fingerprint:
            target = f"{tracking.tracking_uri_of(client)}#{parent.info.experiment_id}"
            key = fit_cache_key(candidate, params, config, data_fingerprint, target)
        if fit is None:
            trained = fit_candidate(candidate.kind, params, train, val, config, on_epoch, key)
        else:
            state = fit(candidate.kind, params, train, val, config, on_epoch, key, return_state=True)
            trained = state.result()
            reused = state.name == "Cached"
        if reused:
            # The epochs ran in the earlier run: record them here too, then say where the fit came from.
            for entry in trained.history:
                on_epoch(entry)
            tracking.set_tags(client, child, {"veilflow.reused": "cached fit", "veilflow.cache_key": key or ""})
            log.info("reused %s: cached fit (same anonymized data, candidate config and code; key %s)", name, (key or "")[13:25])
        if getattr(trained, "dp", None):
            from veilflow.tasks.ops.model_audit import record_dp

            record_dp(trained.dp, client, child, run_id, name)
        probs = predict_positive(trained.model, val)
        val_metrics = compute_metrics(val[ds.label].to_numpy(), probs)
        tracking.log_metrics(
            client, child, {**{f"val.{k}": v for k, v in val_metrics.items()}, "fit_seconds": trained.fit_seconds}
        )
        tracking.log_metrics(client, run_id, {f"{name}.val.{k}": v for k, v in val_metrics.items()})
        # Every candidate is a loadable MLflow model (signature + anonymized input example) in its own run.
        tracking.log_model(
            client, child, parent.info.experiment_id, trained.model, candidate.kind, "model", input_example(train, config)
        )
    except BaseException as exc:
        tracking.end_run(client, child, "FAILED", reason=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise
    tracking.end_run(client, child, "FINISHED")
    if not reused:
        log.info("trained %s in %.1fs", name, trained.fit_seconds)
    return CandidateResult(name, candidate.kind, params, trained, val_metrics, trained.fit_seconds, reused, child)


def better(a: float, b: float, metric: str) -> bool:
    lower_is_better = metric in {"log_loss", "brier", "ece"}
    return a < b if lower_is_better else a > b


def pick_best(results: list[CandidateResult], metric: str, require_dp: bool = False) -> CandidateResult:
    """The best candidate on the validation split by the primary metric (ties: first in config order).

    With `require_dp` (privacy.require_dp) only DP candidates are eligible, so the best of them is picked; with
    none, the best of all is returned and its `dp.required` gate fails.
    """
    eligible = [r for r in results if r.kind in DP_KINDS] if require_dp else results
    results = eligible or results
    best = results[0]
    for r in results[1:]:
        if better(r.val_metrics[metric], best.val_metrics[metric], metric):
            best = r
    return best


def input_example(frame: pd.DataFrame, config: PipelineConfig, rows: int = 5) -> pd.DataFrame:
    """A few anonymized rows holding only the model's feature columns."""
    return frame[config.dataset.feature_columns].head(rows).reset_index(drop=True)


def sensitive_groups(frame: pd.DataFrame, config: PipelineConfig) -> np.ndarray | None:
    col = config.dataset.sensitive_attribute
    if col and col in frame.columns:
        return frame[col].astype(str).to_numpy()
    return None


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


def positive_column(pred: Any) -> np.ndarray:
    """Positive-class probabilities from a pyfunc prediction ((n, 2) array/frame, or (n,))."""
    arr = np.asarray(pred, dtype="float64")
    return arr[:, 1] if arr.ndim == 2 else arr


def evaluate_best(
    best: CandidateResult, test: pd.DataFrame, config: PipelineConfig, client: tracking.TrackingClient, run_id: str, out_dir: Path
) -> dict[str, Any]:
    """Held-out metrics with a bootstrap interval, per-slice fairness, robustness, and plots."""
    from veilflow.tasks.modeling.candidates import predict_positive
    from veilflow.tasks.modeling.evaluation import bootstrap_ci, compute_metrics, robustness_report, slice_metrics
    from veilflow.tasks.modeling.plots import plot_evaluation

    ds, primary = config.dataset, config.training.primary_metric
    y = test[ds.label].to_numpy()
    probs = predict_positive(best.trained.model, test)
    metrics = compute_metrics(y, probs)
    low, high = bootstrap_ci(y, probs, primary, n_boot=1000, seed=config.seed)
    tracking.log_metrics(client, run_id, {f"test.{k}": v for k, v in metrics.items()})
    tracking.log_metrics(client, run_id, {f"test.{primary}.ci_low": low, f"test.{primary}.ci_high": high})

    fairness_gap = None
    slices_table: list[dict[str, Any]] = []
    groups = sensitive_groups(test, config)
    if groups is not None:
        report = slice_metrics(y, probs, groups)
        fairness_gap = report.max_gap
        slices_table = report.table.reset_index(names="group").to_dict("records")
        tracking.log_metrics(client, run_id, report.as_metrics())
        tracking.log_dict(client, run_id, {"groups": slices_table, "notes": list(report.notes)}, "evaluation/slices.json")

    robustness = robustness_report(
        lambda f: predict_positive(best.trained.model, f),
        test[ds.feature_columns],
        y,
        ds.numeric_features,
        ds.text_feature,
        seed=config.seed,
        metric=primary,
    )
    tracking.log_metrics(
        client, run_id, {f"robustness.{k}": v for k, v in robustness.items() if isinstance(v, (int, float)) and v is not None}
    )
    plots_dir = out_dir / "evaluation"
    plots_dir.mkdir(parents=True, exist_ok=True)
    for path in plot_evaluation(y, probs, plots_dir):
        tracking.log_artifact(client, run_id, path, "evaluation")
    return {
        "metrics": metrics,
        "ci": {"metric": primary, "low": low, "high": high},
        "fairness_gap": fairness_gap,
        "slices": slices_table,
        "robustness": robustness,
    }


def explain_best(
    results: list[CandidateResult],
    best: CandidateResult,
    test: pd.DataFrame,
    config: PipelineConfig,
    client: tracking.TrackingClient,
    run_id: str,
    out_dir: Path,
) -> dict[str, Any]:
    """Global importance of the best model (SHAP or Captum) and permutation importance of every candidate."""
    if not config.explain.enabled:
        return {"top_features": [], "method": "disabled"}
    from veilflow.tasks.modeling.explain import explain_global, permutation_importance_table

    ds = config.dataset
    exp_dir = out_dir / "explain"
    exp_dir.mkdir(parents=True, exist_ok=True)
    # SHAP (trees, linear) or Captum Integrated Gradients (PyTorch) for every candidate, on a bounded sample.
    explanation = None
    for r in results:
        cand_dir = exp_dir / r.name
        cand_dir.mkdir(parents=True, exist_ok=True)
        exp = explain_global(r.trained, test, cand_dir, sample_rows=config.explain.sample_rows, seed=config.seed)
        table_path = cand_dir / f"importance_{r.name}.csv"
        exp.table.to_csv(table_path, index=False)
        tracking.log_artifact(client, run_id, table_path, f"explain/{r.name}")
        for plot in exp.plot_paths:
            tracking.log_artifact(client, run_id, Path(plot), f"explain/{r.name}")
        tracking.log_metrics(
            client, run_id, {f"explain.{r.name}.{exp.method}.seconds": exp.seconds, f"explain.{r.name}.rows": exp.rows_used}
        )
        log.info("explained %s with %s on %d rows in %.2fs", r.name, exp.method, exp.rows_used, exp.seconds)
        if r is best:
            explanation = exp
    assert explanation is not None

    timings: dict[str, float] = {}
    for r in results:
        started = time.perf_counter()
        perm = permutation_importance_table(
            r.trained.model, test, test[ds.label].to_numpy(), ds.feature_columns, seed=config.seed
        )
        timings[r.name] = time.perf_counter() - started
        path = exp_dir / f"permutation_{r.name}.csv"
        perm.to_csv(path, index=False)
        tracking.log_artifact(client, run_id, path, "explain")
    tracking.log_metrics(client, run_id, {f"explain.permutation.{k}.seconds": v for k, v in timings.items()})
    top = explanation.table.head(10).to_dict("records")
    return {"top_features": top, "method": explanation.method, "seconds": explanation.seconds}


def log_best_model(
    best: CandidateResult,
    train: pd.DataFrame,
    config: PipelineConfig,
    client: tracking.TrackingClient,
    run_id: str,
    experiment_id: str,
) -> tuple[str, str]:
    """Log the best candidate as an MLflow model with an anonymized input example; returns (uri, model id)."""
    example = input_example(train, config)
    return tracking.log_model(client, run_id, experiment_id, best.trained.model, best.kind, "model", example)


def _score_champion(
    client: tracking.TrackingClient, model_name: str, version: str, test: pd.DataFrame, config: PipelineConfig
) -> dict[str, float]:
    from veilflow.tasks.modeling.evaluation import compute_metrics

    model = tracking.load_registered_model(model_name, version)
    probs = positive_column(model.predict(test[config.dataset.feature_columns]))
    return compute_metrics(test[config.dataset.label].to_numpy(), probs)


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

    primary, audit, evaluation = config.training.primary_metric, evidence.audit, evidence.evaluation
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
        "veilflow.git_dirty": code["dirty"],
        "veilflow.config_hash": config.config_hash(),
        "veilflow.candidate": best.name,
        "veilflow.kind": best.kind,
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

    name, primary = config.registry.model_name, config.training.primary_metric
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

    name, primary, evaluation = config.registry.model_name, config.training.primary_metric, evidence.evaluation
    data_summary = {"fingerprint": evidence.fingerprint, "test_rows": test_rows, "label": config.dataset.label}
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
