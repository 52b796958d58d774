"""Model evaluation: metrics, bootstrap intervals, fairness slices and robustness under perturbation (plots: `plots`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm

# One table says which way every metric improves; gates, robustness drops and promotion all read it.
METRIC_DIRECTION: dict[str, Literal["higher", "lower"]] = {
    "accuracy": "higher",
    "precision": "higher",
    "recall": "higher",
    "f1": "higher",
    "roc_auc": "higher",
    "pr_auc": "higher",
    "log_loss": "lower",
    "brier": "lower",
    "ece": "lower",
}
METRIC_NAMES: tuple[str, ...] = tuple(METRIC_DIRECTION)
# The other tasks' metrics (`task_metrics`); `metric_direction` reads both tables.
TASK_METRIC_DIRECTION: dict[str, Literal["higher", "lower"]] = {
    **METRIC_DIRECTION,
    "f1_macro": "higher",  # multiclass
    "roc_auc_ovr": "higher",
    "rmse": "lower",  # regression
    "mae": "lower",
    "r2": "higher",
}
ECE_BINS = 10
# Metrics that need both classes present in y_true to be defined at all.
_NEEDS_BOTH_CLASSES = {"roc_auc", "pr_auc"}
# Bootstrap resamples are processed in blocks so the (resamples x rows) weight matrix stays ~20 MB at 10k rows.
_BOOT_CHUNK = 250


def metric_direction(metric: str) -> Literal["higher", "lower"]:
    """Which way a metric improves ("higher" or "lower").

    Raises:
        ValueError: for a metric veilflow does not know.
    """
    try:
        return TASK_METRIC_DIRECTION[metric]
    except KeyError:
        raise ValueError(f"unknown metric '{metric}' (known: {', '.join(TASK_METRIC_DIRECTION)})") from None


def _check_inputs(y_true: Any, y_prob: Any, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and probabilities; return them as float arrays. Messages never carry values."""
    try:
        y = np.asarray(pd.Series(y_true).to_numpy(dtype="float64", na_value=np.nan), dtype="float64").ravel()
    except (TypeError, ValueError):
        raise ValueError("y_true must be numeric 0/1 labels") from None
    try:
        p = np.asarray(pd.Series(y_prob).to_numpy(dtype="float64", na_value=np.nan), dtype="float64").ravel()
    except (TypeError, ValueError):
        raise ValueError("y_prob must be numeric probabilities") from None
    if len(y) != len(p):
        raise ValueError(f"y_true and y_prob differ in length ({len(y)} vs {len(p)})")
    if len(y) == 0:
        raise ValueError("y_true and y_prob are empty")
    if np.isnan(y).any():
        raise ValueError(f"y_true holds {int(np.isnan(y).sum())} NaN label(s)")
    if np.isnan(p).any():
        raise ValueError(f"y_prob holds {int(np.isnan(p).sum())} NaN probability(ies)")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"y_true must hold only 0/1 labels ({int((~np.isin(y, (0.0, 1.0))).sum())} other)")
    outside = (p < 0.0) | (p > 1.0)
    if outside.any():
        raise ValueError(f"y_prob holds {int(outside.sum())} value(s) outside [0, 1]")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return y, p


def expected_calibration_error(y_true: Any, y_prob: Any, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error over equal-width probability bins.

    The interval [0, 1] is cut into `n_bins` bins of equal width ([0, 0.1), [0.1, 0.2), ...,
    [0.9, 1.0], the last one closed). ECE = sum over bins of (rows in bin / rows) *
    |mean label in bin - mean probability in bin|; empty bins contribute nothing.
    0 means perfectly calibrated on this sample.

    Raises:
        ValueError: on invalid labels/probabilities or `n_bins` < 1.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    y, p = _check_inputs(y_true, y_prob)
    bins = _bin_index(p, n_bins)
    # |n_b/N * (mean_y - mean_p)| == |sum_b (y - p)| / N, so one bincount does it.
    per_bin = np.bincount(bins, weights=y - p, minlength=n_bins)
    return float(np.abs(per_bin).sum() / len(y))


def _bin_index(p: np.ndarray, n_bins: int) -> np.ndarray:
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


def compute_metrics(y_true: Any, y_prob: Any, threshold: float = 0.5) -> dict[str, float]:
    """Classification metrics for a binary model from labels and positive-class probabilities.

    Args:
        y_true: 0/1 labels.
        y_prob: probability of class 1, in [0, 1].
        threshold: a row is predicted positive when its probability is >= threshold.

    Returns:
        accuracy, precision, recall, f1 (at `threshold`; precision is 0 when nothing is predicted
        positive), roc_auc, pr_auc (average precision), log_loss, brier and ece (10 equal-width bins,
        see `expected_calibration_error`).

    Raises:
        ValueError: length mismatch, empty input, NaN, labels other than 0/1, probabilities outside
            [0, 1], or a single class in y_true (roc_auc is undefined).
    """
    y, p = _check_inputs(y_true, y_prob, threshold)
    if len(np.unique(y)) < 2:
        raise ValueError("y_true holds a single class, so roc_auc is undefined: evaluate on data with both classes")
    pred = (p >= threshold).astype(np.int64)
    yi = y.astype(np.int64)
    return {
        "accuracy": float(skm.accuracy_score(yi, pred)),
        "precision": float(skm.precision_score(yi, pred, zero_division=0)),
        "recall": float(skm.recall_score(yi, pred, zero_division=0)),
        "f1": float(skm.f1_score(yi, pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(yi, p)),
        "pr_auc": float(skm.average_precision_score(yi, p)),
        "log_loss": float(skm.log_loss(yi, p, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(yi, p)),
        "ece": expected_calibration_error(y, p),
    }


class _WeightedScorer:
    """One metric for many resamples at once: resample r is a row of integer weights (how often each row was drawn).

    Weighted formulas equal the sklearn metric computed on the materialised resample, so the
    bootstrap never loops in Python over resamples.
    """

    def __init__(self, metric: str, y: np.ndarray, p: np.ndarray, threshold: float) -> None:
        self.metric = metric
        self.y = y
        self.p = p
        self.pred = (p >= threshold).astype(np.float64)
        if metric in _NEEDS_BOTH_CLASSES:
            # Rows sorted by score, grouped by tied scores: AUC and AP count ties as sklearn does.
            self.order = np.argsort(p, kind="stable")
            sorted_p = p[self.order]
            self.starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
            self.y_sorted = y[self.order]
        if metric == "log_loss":
            eps = np.finfo(np.float64).eps
            pc = np.clip(p, eps, 1 - eps)
            self.row_loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        if metric == "ece":
            onehot = np.zeros((len(p), ECE_BINS))
            onehot[np.arange(len(p)), _bin_index(p, ECE_BINS)] = y - p
            self.ece_matrix = onehot

    def __call__(self, w: np.ndarray) -> np.ndarray:
        m = self.metric
        n = w.sum(axis=1)
        if m in _NEEDS_BOTH_CLASSES:
            ws = w[:, self.order]
            pos = np.add.reduceat(ws * self.y_sorted, self.starts, axis=1)
            neg = np.add.reduceat(ws * (1 - self.y_sorted), self.starts, axis=1)
            n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
            out = np.full(len(w), np.nan)
            ok = (n_pos > 0) & (n_neg > 0)
            if m == "roc_auc":
                neg_below = np.cumsum(neg, axis=1) - neg
                num = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
                out[ok] = num[ok] / (n_pos[ok] * n_neg[ok])
            else:
                # Average precision: thresholds descending, sum of recall steps times precision there.
                pos_d, neg_d = pos[:, ::-1], neg[:, ::-1]
                tp, fp = np.cumsum(pos_d, axis=1), np.cumsum(neg_d, axis=1)
                prec = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
                num = (prec * pos_d).sum(axis=1)
                out[ok] = num[ok] / n_pos[ok]
            return out
        if m in {"accuracy", "precision", "recall", "f1"}:
            tp = w @ (self.y * self.pred)
            fp = w @ ((1 - self.y) * self.pred)
            fn = w @ (self.y * (1 - self.pred))
            if m == "accuracy":
                return (n - fp - fn) / n
            if m == "precision":
                return _safe_div(tp, tp + fp)
            if m == "recall":
                return _safe_div(tp, tp + fn)
            return _safe_div(2 * tp, 2 * tp + fp + fn)
        if m == "log_loss":
            return (w @ self.row_loss) / n
        if m == "brier":
            return (w @ (self.p - self.y) ** 2) / n
        if m == "ece":
            return np.abs(w @ self.ece_matrix).sum(axis=1) / n
        raise ValueError(f"unknown metric '{m}'")  # unreachable: checked by the caller


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # sklearn's zero_division=0 convention.
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def _resample_weights(rng: np.random.Generator, groups: Sequence[np.ndarray], n: int, n_draws: int) -> np.ndarray:
    """Integer draw counts (n_draws x n): within each index group, rows drawn with replacement, group sizes kept."""
    w = np.zeros((n_draws, n), dtype=np.float64)
    offsets = (np.arange(n_draws) * n)[:, None]
    for idx in groups:
        draws = idx[rng.integers(0, len(idx), size=(n_draws, len(idx)))]
        w += np.bincount((draws + offsets).ravel(), minlength=n_draws * n).reshape(n_draws, n)
    return w


def bootstrap_ci(
    y_true: Any,
    y_prob: Any,
    metric: str,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    threshold: float = 0.5,
    stratified: bool = True,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of one metric.

    Stratified resampling (the default) draws positives and negatives separately, keeping the class
    balance of the sample, so every resample is scorable. Plain resampling draws rows freely; resamples
    where the metric is undefined (one class only, for roc_auc / pr_auc) are skipped.

    Args:
        y_true: 0/1 labels.
        y_prob: probability of class 1.
        metric: one of `METRIC_NAMES`.
        n_boot: number of resamples.
        seed: the only source of randomness; the same seed gives the same interval.
        alpha: 1 - confidence level (0.05 gives a 95 % interval).
        threshold: decision threshold for the thresholded metrics.
        stratified: resample within each class instead of over all rows.

    Returns:
        (low, high) quantiles alpha/2 and 1 - alpha/2 of the resampled metric.

    Raises:
        ValueError: invalid inputs, unknown metric, bad n_boot/alpha, a single class in y_true, or
            fewer than half of the resamples scorable.
    """
    metric_direction(metric)
    if n_boot < 10:
        raise ValueError(f"n_boot must be >= 10, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    y, p = _check_inputs(y_true, y_prob, threshold)
    if len(np.unique(y)) < 2:
        raise ValueError(f"y_true holds a single class, so a {metric} interval is not meaningful")
    rng = np.random.default_rng(seed)
    index = np.arange(len(y))
    strata = [index[y == 1], index[y == 0]] if stratified else [index]
    scorer = _WeightedScorer(metric, y, p, threshold)
    values = []
    for start in range(0, n_boot, _BOOT_CHUNK):
        k = min(_BOOT_CHUNK, n_boot - start)
        values.append(scorer(_resample_weights(rng, strata, len(y), k)))
    stats = np.concatenate(values)
    stats = stats[~np.isnan(stats)]
    if len(stats) < n_boot / 2:
        raise ValueError(f"only {len(stats)} of {n_boot} resamples could be scored for {metric}: too few rows of one class")
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


@dataclass(frozen=True, eq=False)
class SliceReport:
    """Per-group metrics and the fairness gaps between groups.

    Attributes:
        table: one row per group (index: group label as text) with columns n, n_positive, positive_rate,
            selection_rate, tpr, fpr, roc_auc (NaN where undefined) and included (whether the group counts
            toward the gaps).
        demographic_parity_difference: max - min selection rate over included groups (None if < 2).
        equal_opportunity_difference: max - min TPR over included groups with positives (None if < 2).
        min_group_size: groups with fewer rows were reported but left out of the gaps.
        excluded_groups: labels of those small groups.
        notes: one-line remarks (exclusions, undefined gaps) for reports.
    """

    table: pd.DataFrame
    demographic_parity_difference: float | None
    equal_opportunity_difference: float | None
    min_group_size: int
    excluded_groups: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_gap(self) -> float | None:
        """The larger of the two gaps (what the fairness gate compares), None when neither is defined."""
        gaps = [g for g in (self.demographic_parity_difference, self.equal_opportunity_difference) if g is not None]
        return max(gaps) if gaps else None

    def as_metrics(self, prefix: str = "fairness") -> dict[str, float]:
        """Flat numeric dict for metric logging: gaps plus per-group rates (group names sanitised)."""
        out: dict[str, float] = {}
        if self.demographic_parity_difference is not None:
            out[f"{prefix}.demographic_parity_difference"] = self.demographic_parity_difference
        if self.equal_opportunity_difference is not None:
            out[f"{prefix}.equal_opportunity_difference"] = self.equal_opportunity_difference
        for group, row in self.table.iterrows():
            name = re.sub(r"[^A-Za-z0-9_\-. /]", "_", str(group)) or "_"
            for col in ("n", "selection_rate", "tpr", "fpr", "roc_auc"):
                value = float(row[col])
                if not math.isnan(value):
                    out[f"{prefix}.{name}.{col}"] = value
        return out


MISSING_GROUP = "<missing>"


def slice_metrics(y_true: Any, y_prob: Any, groups: Any, threshold: float = 0.5, min_group_size: int = 30) -> SliceReport:
    """Metrics per group of a sensitive attribute and the gaps between groups.

    Args:
        y_true: 0/1 labels.
        y_prob: probability of class 1.
        groups: group label per row (missing labels form the group "<missing>").
        threshold: decision threshold for selection rate, TPR and FPR.
        min_group_size: groups smaller than this are reported but excluded from the gaps, because
            their rates are too noisy to compare.

    Returns:
        A `SliceReport`.

    Raises:
        ValueError: invalid labels/probabilities, `groups` of a different length, or min_group_size < 1.
    """
    y, p = _check_inputs(y_true, y_prob, threshold)
    g = pd.Series(groups).reset_index(drop=True)
    if len(g) != len(y):
        raise ValueError(f"groups and y_true differ in length ({len(g)} vs {len(y)})")
    if min_group_size < 1:
        raise ValueError(f"min_group_size must be >= 1, got {min_group_size}")
    labels = g.astype(object).where(g.notna(), MISSING_GROUP).map(str).to_numpy()
    pred = p >= threshold
    rows = []
    for label in sorted(set(labels.tolist())):
        mask = labels == label
        yt, pp, pr = y[mask], p[mask], pred[mask]
        n_pos = int(yt.sum())
        n_neg = int(mask.sum()) - n_pos
        rows.append(
            {
                "group": label,
                "n": int(mask.sum()),
                "n_positive": n_pos,
                "positive_rate": float(yt.mean()),
                "selection_rate": float(pr.mean()),
                "tpr": float(pr[yt == 1].mean()) if n_pos else math.nan,
                "fpr": float(pr[yt == 0].mean()) if n_neg else math.nan,
                "roc_auc": float(skm.roc_auc_score(yt, pp)) if n_pos and n_neg else math.nan,
                "included": bool(mask.sum() >= min_group_size),
            }
        )
    table = pd.DataFrame(rows).set_index("group")
    included = table[table["included"]]
    excluded = tuple(table.index[~table["included"]].tolist())
    notes = []
    if excluded:
        notes.append(
            f"{len(excluded)} group(s) under {min_group_size} rows reported but excluded from the gaps: " + ", ".join(excluded)
        )
    dp = _spread(included["selection_rate"])
    eo = _spread(included["tpr"].dropna())
    if dp is None:
        notes.append(f"demographic parity difference undefined: fewer than 2 groups with >= {min_group_size} rows")
    if eo is None:
        notes.append("equal opportunity difference undefined: fewer than 2 included groups with positives")
    return SliceReport(
        table=table,
        demographic_parity_difference=dp,
        equal_opportunity_difference=eo,
        min_group_size=min_group_size,
        excluded_groups=excluded,
        notes=tuple(notes),
    )


def _spread(values: pd.Series) -> float | None:
    return float(values.max() - values.min()) if len(values) >= 2 else None


def perturb_frame(
    frame: pd.DataFrame,
    numeric: list[str],
    text: str | None,
    seed: int,
    noise_scale: float = 0.1,
    token_drop: float = 0.1,
) -> pd.DataFrame:
    """A perturbed copy of a feature frame, for robustness checks; the input is never changed.

    Numeric columns get Gaussian noise with standard deviation `noise_scale` x the column's own std
    (integer columns are rounded back so the model's input schema still holds; missing values stay
    missing). In the text column each whitespace-separated token is dropped with probability
    `token_drop`.

    Raises:
        ValueError: a missing or non-numeric column, a non-text text column, or a negative noise_scale /
            token_drop outside [0, 1].
    """
    if noise_scale < 0:
        raise ValueError(f"noise_scale must be >= 0, got {noise_scale}")
    if not 0.0 <= token_drop <= 1.0:
        raise ValueError(f"token_drop must be in [0, 1], got {token_drop}")
    missing = [c for c in [*numeric, *([text] if text else [])] if c not in frame.columns]
    if missing:
        raise ValueError(f"columns not in frame: {', '.join(map(str, missing))}")
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            raise ValueError(f"column '{col}' is not numeric and cannot take Gaussian noise")
    if text and (pd.api.types.is_numeric_dtype(frame[text])):
        raise ValueError(f"column '{text}' is numeric, not text")
    rng = np.random.default_rng(seed)
    out = frame.copy(deep=True)
    for col in numeric:
        values = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        std = float(np.nanstd(values)) if np.isfinite(values).any() else 0.0
        noisy = values + rng.normal(0.0, noise_scale * std, size=len(values)) if std > 0 else values.copy()
        if pd.api.types.is_integer_dtype(frame[col]):
            noisy = np.round(noisy)
            if frame[col].isna().any():
                out[col] = pd.array(np.where(np.isnan(noisy), np.nan, noisy), dtype="Float64").astype(frame[col].dtype)
            else:
                out[col] = noisy.astype(frame[col].dtype)
        else:
            out[col] = pd.Series(noisy, index=frame.index).astype(frame[col].dtype)
    if text:
        source = frame[text]
        dropped = []
        for value in source.tolist():
            if not isinstance(value, str):
                dropped.append(value)
                continue
            tokens = value.split()
            keep = rng.random(len(tokens)) >= token_drop
            dropped.append(" ".join(t for t, k in zip(tokens, keep) if k))
        out[text] = pd.Series(dropped, index=frame.index, dtype=source.dtype)
    return out


def _score(metric: str, y: np.ndarray, p: Any, threshold: float, task: str = "binary") -> float:
    if task != "binary":
        from veilflow.tasks.modeling.task_metrics import compute_task_metrics

        return compute_task_metrics(task, y, p)[metric]
    return compute_metrics(y, p, threshold)[metric]


def robustness_report(
    predict_fn: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    y_true: Any,
    numeric: list[str],
    text: str | None,
    seed: int,
    metric: str = "roc_auc",
    noise_scale: float = 0.1,
    token_drop: float = 0.1,
    threshold: float = 0.5,
    task: str = "binary",
) -> dict[str, Any]:
    """How much a metric degrades when numeric features get noise and text loses tokens.

    Args:
        predict_fn: maps a feature frame to positive-class probabilities (one per row).
        frame: held-out feature frame.
        y_true: its 0/1 labels.
        numeric: columns to perturb with Gaussian noise.
        text: text column to drop tokens from, or None.
        seed: randomness of the perturbations.
        metric: one of `METRIC_NAMES`.
        noise_scale, token_drop, threshold: see `perturb_frame` / `compute_metrics`.
        task: "binary" (predict_fn gives P(positive)), "multiclass" ((n, k) probabilities) or "regression"
            (predictions); the metric is the task's (see `compute_task_metrics`). A regression rmse / mae drop
            is relative (increase / unperturbed value), since those metrics carry the label's unit.

    Returns:
        {"metric", "base", "perturbed_numeric", "perturbed_text", "drop_numeric", "drop_text", "max_drop"}.
        A drop is the worsening of the metric (base - perturbed for higher-is-better metrics,
        perturbed - base for lower-is-better), so a positive drop is always a loss. Entries for a
        perturbation that was not asked for (no numeric columns / no text) are None.

    Raises:
        ValueError: invalid inputs, or predict_fn returning the wrong number of probabilities.
    """
    direction = metric_direction(metric)
    if task == "binary":
        y, _ = _check_inputs(y_true, np.zeros(len(pd.Series(y_true))), threshold)
    else:
        y = np.asarray(y_true, dtype="float64").ravel()
    if len(frame) != len(y):
        raise ValueError(f"frame and y_true differ in length ({len(frame)} vs {len(y)})")

    def scored(f: pd.DataFrame, what: str) -> float:
        out = np.asarray(predict_fn(f), dtype="float64")
        probs = out if task == "multiclass" else out.ravel()
        if len(probs) != len(f):
            raise ValueError(f"predict_fn returned {len(probs)} probabilities for {len(f)} rows ({what})")
        return _score(metric, y, probs, threshold, task)

    base = scored(frame, "base")
    report: dict[str, Any] = {"metric": metric, "base": base}
    for key, cols, txt in (("numeric", numeric, None), ("text", [], text)):
        if (key == "numeric" and not numeric) or (key == "text" and not text):
            report[f"perturbed_{key}"] = None
            report[f"drop_{key}"] = None
            continue
        value = scored(perturb_frame(frame, cols, txt, seed, noise_scale, token_drop), f"perturbed {key}")
        report[f"perturbed_{key}"] = value
        drop = base - value if direction == "higher" else value - base
        if task == "regression" and metric in ("rmse", "mae"):
            # In the label's unit: as a share of the unperturbed error, so one max_robustness_drop fits every label.
            drop = drop / base if base > 0 else drop
        report[f"drop_{key}"] = drop
    drops = [d for d in (report["drop_numeric"], report["drop_text"]) if d is not None]
    report["max_drop"] = max(drops) if drops else None
    return report
