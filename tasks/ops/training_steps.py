"""The training pipeline's model steps: fit candidates (cacheable), pick the best, evaluate, explain, log it.

Plain Python called by the Prefect tasks of `veilflow.flows.prefect_tasks`; engines are passed in.
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

from veilflow.core.config import DP_KINDS, CandidateConfig, PipelineConfig
from veilflow.engines import tracking
from veilflow.tasks.ops.steps import input_example, sensitive_group_sets

log = logging.getLogger("veilflow")


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
        task=config.task,
        label_spec=config.label_spec.to_dict() if config.label_spec else None,
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
        # The label's task and classes change what is fitted (and the mapping the model carries).
        "label": config.label_spec.to_dict() if config.label_spec else None,
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
    from veilflow.tasks.modeling.candidates import predict_output
    from veilflow.tasks.modeling.task_metrics import compute_task_metrics

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
        probs = predict_output(trained.model, val, config.task)
        val_metrics = compute_task_metrics(config.task, val[ds.label].to_numpy(), probs)
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
    """Whether `a` beats `b` on `metric` (direction from `evaluation.METRIC_DIRECTION`: rmse, mae, log_loss, ... lower)."""
    from veilflow.tasks.modeling.evaluation import metric_direction

    return a < b if metric_direction(metric) == "lower" else a > b


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


def positive_column(pred: Any) -> np.ndarray:
    """Positive-class probabilities from a pyfunc prediction ((n, 2) array/frame, or (n,))."""
    arr = np.asarray(pred, dtype="float64")
    return arr[:, 1] if arr.ndim == 2 else arr


def evaluate_best(
    best: CandidateResult, test: pd.DataFrame, config: PipelineConfig, client: tracking.TrackingClient, run_id: str, out_dir: Path
) -> dict[str, Any]:
    """Held-out metrics with a bootstrap interval, per-slice fairness (each sensitive attribute), robustness, plots.

    Fairness per task: binary the selection-rate / TPR gaps (`slice_metrics`), multiclass the accuracy gap,
    regression the relative MAE gap (`task_metrics.group_gap_report`). One attribute keeps the single
    `fairness` gate and `fairness.*` metrics; several get `fairness.<attribute>` each.
    """
    from veilflow.tasks.modeling.candidates import predict_output
    from veilflow.tasks.modeling.evaluation import robustness_report, slice_metrics
    from veilflow.tasks.modeling.plots import plot_evaluation
    from veilflow.tasks.modeling.task_metrics import bootstrap_ci_task, compute_task_metrics, group_gap_report

    ds, primary, task = config.dataset, config.primary_metric, config.task
    y = test[ds.label].to_numpy()
    probs = predict_output(best.trained.model, test, task)
    metrics = compute_task_metrics(task, y, probs)
    low, high = bootstrap_ci_task(task, y, probs, primary, n_boot=1000, seed=config.seed)
    tracking.log_metrics(client, run_id, {f"test.{k}": v for k, v in metrics.items()})
    tracking.log_metrics(client, run_id, {f"test.{primary}.ci_low": low, f"test.{primary}.ci_high": high})

    fairness_gap = None
    fairness_gaps: dict[str, float | None] = {}
    slices_table: list[dict[str, Any]] = []
    group_sets = sensitive_group_sets(test, config)
    several = len(group_sets) > 1
    for attribute, groups in group_sets.items():
        report: Any = slice_metrics(y, probs, groups) if task == "binary" else group_gap_report(task, y, probs, groups)
        fairness_gaps[attribute] = report.max_gap
        rows = report.table.reset_index(names="group").to_dict("records")
        slices_table += [{"attribute": attribute, **r} if several else r for r in rows]
        prefix = f"fairness.{attribute}" if several else "fairness"
        tracking.log_metrics(client, run_id, report.as_metrics(prefix))
        where = f"evaluation/slices_{attribute}.json" if several else "evaluation/slices.json"
        tracking.log_dict(client, run_id, {"attribute": attribute, "groups": rows, "notes": list(report.notes)}, where)
    if fairness_gaps and not several:
        fairness_gap = next(iter(fairness_gaps.values()))

    robustness = robustness_report(
        lambda f: predict_output(best.trained.model, f, task),
        test[ds.feature_columns],
        y,
        ds.numeric_features,
        ds.text_feature,
        seed=config.seed,
        metric=primary,
        task=task,
    )
    tracking.log_metrics(
        client, run_id, {f"robustness.{k}": v for k, v in robustness.items() if isinstance(v, (int, float)) and v is not None}
    )
    plots_dir = out_dir / "evaluation"
    plots_dir.mkdir(parents=True, exist_ok=True)
    for path in plot_evaluation(y, probs, plots_dir, task=task):
        tracking.log_artifact(client, run_id, path, "evaluation")
    majority = float(np.bincount(y.astype(np.int64)).max() / len(y)) if task == "multiclass" else None
    return {
        "task": task,
        "metrics": metrics,
        "ci": {"metric": primary, "low": low, "high": high},
        "majority_rate": majority,
        "fairness_gap": fairness_gap,
        "fairness_gaps": fairness_gaps if several else {},
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
    # The same scale for every candidate: ROC AUC (binary), macro F1 (multiclass), -RMSE (regression).
    scoring = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "neg_root_mean_squared_error"}[config.task]
    for r in results:
        started = time.perf_counter()
        perm = permutation_importance_table(
            r.trained.model, test, test[ds.label].to_numpy(), ds.feature_columns, seed=config.seed, scoring=scoring
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
    """Log the best candidate as an MLflow model with an anonymized input example; returns (uri, model id).

    The fitted pipeline carries the label mapping (`veilflow_label_`: task, original class values in code order),
    so the logged model scores in original labels; the flow records the same mapping as `model/label_classes.json`.
    """
    example = input_example(train, config)
    return tracking.log_model(client, run_id, experiment_id, best.trained.model, best.kind, "model", example)
