"""Metrics, bootstrap intervals and fairness gaps for multiclass and regression models (binary: `evaluation`).

Multiclass inputs are labels 0..k-1 and (n, k) probabilities; regression inputs are numbers and predictions.
Every function is plain numpy, so a bootstrap of 1,000 resamples stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.labels import TASK_METRICS

ECE_BINS = 10
_EPS = 1e-15
MISSING_GROUP = "<missing>"


def _multiclass_inputs(y_true: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype="float64").ravel()
    p = np.asarray(proba, dtype="float64")
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"multiclass metrics need (n, k) probabilities, got shape {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"y_true and probabilities differ in length ({len(y)} vs {len(p)})")
    if len(y) == 0:
        raise ValueError("y_true and probabilities are empty")
    if np.isnan(y).any() or np.isnan(p).any():
        raise ValueError("labels or probabilities hold NaN")
    k = p.shape[1]
    if not np.isin(y, np.arange(k)).all():
        raise ValueError(f"y_true must hold class codes 0..{k - 1} ({int((~np.isin(y, np.arange(k))).sum())} other)")
    return y.astype(np.int64), p


def _auc(pos: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of a binary split (ties count half), NaN when one side is empty."""
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def multiclass_metrics(y_true: Any, proba: Any) -> dict[str, float]:
    """accuracy, f1_macro, roc_auc_ovr (macro one-vs-rest over the classes present), log_loss, brier, ece.

    brier is the multi-class Brier score (mean over rows of the squared distance between the probability
    vector and the one-hot label, 0..2); ece is the top-label calibration error: rows binned by their top
    probability (10 equal-width bins), |accuracy - mean top probability| weighted by bin size.
    """
    y, p = _multiclass_inputs(y_true, proba)
    n, k = p.shape
    pred = p.argmax(axis=1)
    correct = pred == y
    tp = np.bincount(y[correct], minlength=k).astype(float)
    support = np.bincount(y, minlength=k).astype(float)
    predicted = np.bincount(pred, minlength=k).astype(float)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
    present = (support > 0) | (predicted > 0)
    aucs = [_auc(y == c, p[:, c]) for c in range(k)]
    defined = [a for a in aucs if not math.isnan(a)]
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1.0
    p_true = np.clip(p[np.arange(n), y] / np.maximum(p.sum(axis=1), _EPS), _EPS, 1.0)
    return {
        "accuracy": float(correct.mean()),
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
        "roc_auc_ovr": float(np.mean(defined)) if defined else math.nan,
        "log_loss": float(-np.log(p_true).mean()),
        "brier": float(((p - onehot) ** 2).sum(axis=1).mean()),
        "ece": top_label_ece(y, p),
    }


def top_label_ece(y_true: Any, proba: Any, n_bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error of (n, k) probabilities (see `multiclass_metrics`)."""
    y, p = _multiclass_inputs(y_true, proba)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    per_bin = np.bincount(bins, weights=correct - conf, minlength=n_bins)
    return float(np.abs(per_bin).sum() / len(y))


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """rmse, mae and r2 (1 - SSE / SST; 0 = as good as predicting the sample mean)."""
    y = np.asarray(y_true, dtype="float64").ravel()
    f = np.asarray(y_pred, dtype="float64").ravel()
    if len(y) != len(f):
        raise ValueError(f"y_true and y_pred differ in length ({len(y)} vs {len(f)})")
    if len(y) == 0:
        raise ValueError("y_true and y_pred are empty")
    if not (np.isfinite(y).all() and np.isfinite(f).all()):
        raise ValueError("y_true or y_pred holds non-finite values")
    err = f - y
    sst = float(((y - y.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt((err**2).mean())),
        "mae": float(np.abs(err).mean()),
        "r2": float(1.0 - (err**2).sum() / sst) if sst > 0 else math.nan,
    }


def compute_task_metrics(task: str, y_true: Any, output: Any, threshold: float = 0.5) -> dict[str, float]:
    """The task's metrics (`veilflow.core.labels.TASK_METRICS`) from labels and the model's output."""
    if task == "binary":
        from veilflow.tasks.modeling.evaluation import compute_metrics

        return compute_metrics(y_true, output, threshold)
    if task == "multiclass":
        return multiclass_metrics(y_true, output)
    if task == "regression":
        return regression_metrics(y_true, output)
    raise ValueError(f"unknown task '{task}'")


def bootstrap_ci_task(
    task: str, y_true: Any, output: Any, metric: str, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile bootstrap interval of one metric of any task (binary: `evaluation.bootstrap_ci`, unchanged).

    Multiclass resamples within each class (class shares kept, as the binary interval does); regression
    resamples rows freely. Resamples where the metric is undefined are skipped.

    Raises:
        ValueError: a metric the task does not have, bad n_boot/alpha, or fewer than half the resamples scorable.
    """
    if task == "binary":
        from veilflow.tasks.modeling.evaluation import bootstrap_ci

        return bootstrap_ci(y_true, output, metric, n_boot=n_boot, seed=seed, alpha=alpha)
    if metric not in TASK_METRICS[task]:
        raise ValueError(f"'{metric}' is not a {task} metric")
    if n_boot < 10:
        raise ValueError(f"n_boot must be >= 10, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    y = np.asarray(y_true, dtype="float64").ravel()
    out = np.asarray(output, dtype="float64")
    compute_task_metrics(task, y, out)  # validates the inputs once
    rng = np.random.default_rng(seed)
    index = np.arange(len(y))
    strata = [index[y == c] for c in np.unique(y)] if task == "multiclass" else [index]
    stats = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([s[rng.integers(0, len(s), len(s))] for s in strata])
        stats[b] = compute_task_metrics(task, y[idx], out[idx])[metric]
    stats = stats[~np.isnan(stats)]
    if len(stats) < n_boot / 2:
        raise ValueError(f"only {len(stats)} of {n_boot} resamples could be scored for {metric}")
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


@dataclass(frozen=True, eq=False)
class GroupGapReport:
    """Per-group metric of one sensitive attribute and the gap between groups (multiclass and regression).

    Multiclass: accuracy per group, gap = max - min accuracy. Regression: MAE per group, gap = (max - min MAE) /
    the overall MAE, a unitless share, so one `max_fairness_gap` reads the same whatever the label's unit.
    Groups under `min_group_size` rows are reported but left out of the gap.
    """

    table: pd.DataFrame
    metric: str
    gap: float | None
    min_group_size: int
    excluded_groups: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_gap(self) -> float | None:
        return self.gap

    def as_metrics(self, prefix: str = "fairness") -> dict[str, float]:
        import re

        out: dict[str, float] = {}
        if self.gap is not None:
            out[f"{prefix}.{self.metric}_gap"] = self.gap
        for group, row in self.table.iterrows():
            name = re.sub(r"[^A-Za-z0-9_\-. /]", "_", str(group)) or "_"
            for col in ("n", self.metric):
                value = float(row[col])
                if not math.isnan(value):
                    out[f"{prefix}.{name}.{col}"] = value
        return out


def group_gap_report(task: str, y_true: Any, output: Any, groups: Any, min_group_size: int = 30) -> GroupGapReport:
    """The fairness slices of a multiclass or regression model for one sensitive attribute (see `GroupGapReport`)."""
    if task not in ("multiclass", "regression"):
        raise ValueError(f"group_gap_report takes multiclass or regression, got '{task}'")
    y = np.asarray(y_true, dtype="float64").ravel()
    out = np.asarray(output, dtype="float64")
    g = pd.Series(groups).reset_index(drop=True)
    if len(g) != len(y):
        raise ValueError(f"groups and y_true differ in length ({len(g)} vs {len(y)})")
    labels = g.astype(object).where(g.notna(), MISSING_GROUP).map(str).to_numpy()
    metric = "accuracy" if task == "multiclass" else "mae"
    per_row = (out.argmax(axis=1) == y).astype(float) if task == "multiclass" else np.abs(out.ravel() - y)
    rows = []
    for label in sorted(set(labels.tolist())):
        mask = labels == label
        rows.append(
            {
                "group": label,
                "n": int(mask.sum()),
                metric: float(per_row[mask].mean()),
                "included": bool(mask.sum() >= min_group_size),
            }
        )
    table = pd.DataFrame(rows).set_index("group")
    included = table[table["included"]][metric]
    excluded = tuple(table.index[~table["included"]].tolist())
    notes = []
    if excluded:
        notes.append(f"{len(excluded)} group(s) under {min_group_size} rows reported but excluded from the gap")
    gap: float | None = None
    if len(included) >= 2:
        spread = float(included.max() - included.min())
        if task == "regression":
            overall = float(per_row.mean())
            gap = spread / overall if overall > 0 else 0.0
        else:
            gap = spread
    else:
        notes.append(f"{metric} gap undefined: fewer than 2 groups with >= {min_group_size} rows")
    return GroupGapReport(
        table=table, metric=metric, gap=gap, min_group_size=min_group_size, excluded_groups=excluded, notes=tuple(notes)
    )
