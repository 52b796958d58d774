"""Membership-inference audit of a trained model: loss-threshold and offline LiRA attacks, TPR at low FPR, ROC plot."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import log_ndtr

from veilflow.core.plotting import serialized_drawing

# fit_predict(train, train_y, query) -> probabilities of `query` (shape (n,) = P(classes[1]), or (n, k) in `classes`
# order). `train` and `query` are row subsets of the caller's X (same type), or position arrays when X is None.
FitPredict = Callable[[Any, np.ndarray, Any], Any]

# The two false-positive rates every report carries (Carlini et al. 2022: read the low-FPR corner, not only AUC).
FPR_1PCT = 0.01
FPR_0_1PCT = 0.001
# Probabilities are clipped here before the logit: keeps -inf/+inf out while ranking every representable value.
_PROB_FLOOR = 1e-300
# The stored ROC curve is cut down to at most this many points (enough for a plot, small enough for a report).
_ROC_POINTS = 200
_ATTACK_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_PREFIX_OK = re.compile(r"^[A-Za-z0-9_.\-]*$")
# A per-row reference spread below this is treated as this (identical reference confidences).
_MIN_STD = 1e-6


class MIAReport(BaseModel):
    """Outcome of one membership-inference attack: AUC and TPR at 1% / 0.1% FPR with bootstrap intervals.

    Scores are "higher = more likely a member". TPR at a target FPR α is the largest TPR of any score
    threshold whose false-positive rate is <= α, with no interpolation between ROC points (the operating
    point a real attacker can pick). With fewer than 1/α non-members the only such threshold flags no
    non-member at all, so the figure is the TPR at FPR = 0 and `low_fpr_resolved` is False (below 1000
    non-members for the 0.1% figure). `fpr_at_1pct` / `fpr_at_0_1pct` give the FPR actually achieved.
    Intervals are percentile bootstrap intervals, members and non-members resampled separately.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attack: str = Field(description="attack name, used in metric keys (letters, digits, '_')")
    n_members: int = Field(description="training rows of the target model that were attacked")
    n_non_members: int = Field(description="rows the target model never saw that were attacked")
    auc: float = Field(description="ROC AUC of the attack score (0.5: no better than guessing)")
    tpr_at_1pct_fpr: float
    tpr_at_0_1pct_fpr: float
    auc_ci: tuple[float, float] | None = Field(description="percentile bootstrap interval; None when n_boot=0")
    tpr_at_1pct_fpr_ci: tuple[float, float] | None
    tpr_at_0_1pct_fpr_ci: tuple[float, float] | None
    fpr_at_1pct: float = Field(description="FPR of the operating point behind tpr_at_1pct_fpr (<= 0.01)")
    fpr_at_0_1pct: float = Field(description="FPR of the operating point behind tpr_at_0_1pct_fpr (<= 0.001)")
    low_fpr_resolved: bool = Field(description="n_non_members >= 1000, so an FPR of exactly 0.1% is reachable")
    confidence: float = Field(description="coverage of the intervals, e.g. 0.95")
    n_boot: int
    seed: int
    n_reference: int | None = Field(default=None, description="reference models (reference-model attacks)")
    roc_fpr: tuple[float, ...] = Field(description="ROC curve, false-positive rates (ascending, from 0 to 1)")
    roc_tpr: tuple[float, ...] = Field(description="ROC curve, true-positive rates at those FPRs")

    def metrics(self, prefix: str = "mia") -> dict[str, float]:
        """Flat metric dict: `<prefix>.<attack>.auc`, `.tpr_at_1pct_fpr`, `.tpr_at_0_1pct_fpr` and `_ci_low/_ci_high`.

        Args:
            prefix: first part of every key ("mia" gives "mia.loss.auc").

        Returns:
            Metric name -> value; the interval bounds are left out when the report has none (n_boot=0).
        """
        base = f"{prefix}.{self.attack}" if prefix else self.attack
        out: dict[str, float] = {}
        for name, value, ci in (
            ("auc", self.auc, self.auc_ci),
            ("tpr_at_1pct_fpr", self.tpr_at_1pct_fpr, self.tpr_at_1pct_fpr_ci),
            ("tpr_at_0_1pct_fpr", self.tpr_at_0_1pct_fpr, self.tpr_at_0_1pct_fpr_ci),
        ):
            out[f"{base}.{name}"] = float(value)
            if ci is not None:
                out[f"{base}.{name}_ci_low"] = float(ci[0])
                out[f"{base}.{name}_ci_high"] = float(ci[1])
        return out

    def summary(self) -> str:
        """One line of numbers for logs and run descriptions."""

        def ci(bounds: tuple[float, float] | None) -> str:
            return f" [{bounds[0]:.3f}, {bounds[1]:.3f}]" if bounds is not None else ""

        note = "" if self.low_fpr_resolved else " (fewer than 1000 non-members: 0.1% figure is TPR at FPR=0)"
        return (
            f"{self.attack}: AUC={self.auc:.3f}{ci(self.auc_ci)}, TPR@1%FPR={self.tpr_at_1pct_fpr:.3f}"
            f"{ci(self.tpr_at_1pct_fpr_ci)}, TPR@0.1%FPR={self.tpr_at_0_1pct_fpr:.3f}{ci(self.tpr_at_0_1pct_fpr_ci)}"
            f" over {self.n_members} members / {self.n_non_members} non-members{note}"
        )


# ---------------------------------------------------------------------------------------------- scores


def _labels(y: Any, name: str) -> np.ndarray:
    arr = y.to_numpy() if isinstance(y, pd.Series | pd.Index) else np.asarray(y)
    arr = arr.ravel()
    if len(arr) and pd.isna(arr).any():
        raise ValueError(f"{name} holds {int(pd.isna(arr).sum())} missing label(s)")
    return arr


def _probabilities(proba: Any, name: str) -> np.ndarray:
    try:
        p = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric probabilities") from None
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim not in (1, 2):
        raise ValueError(f"{name} must be shape (n,) or (n, k), got {p.ndim} dimensions")
    if not np.isfinite(p).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(p)).sum())} non-finite value(s)")
    if ((p < -1e-9) | (p > 1 + 1e-9)).any():
        raise ValueError(f"{name} holds {int(((p < -1e-9) | (p > 1 + 1e-9)).sum())} value(s) outside [0, 1]")
    return np.clip(p, 0.0, 1.0)


def _resolve_classes(classes: Sequence[Any] | np.ndarray | None, width: int, labels: np.ndarray) -> np.ndarray:
    """Class order of the probability columns (width 1 stands for binary P(classes[1]))."""
    k = 2 if width == 1 else width
    if classes is not None:
        out = np.asarray(list(classes))
        if len(out) != k or len(np.unique(out)) != k:
            raise ValueError(f"classes must list {k} distinct labels for probabilities of width {width}")
        return out
    seen = np.unique(labels)
    if len(seen) == k:
        return seen
    if np.issubdtype(seen.dtype, np.number) and np.isin(seen, np.arange(k)).all():
        return np.arange(k)
    raise ValueError(f"labels hold {len(seen)} distinct value(s) for {k} probability column(s): pass classes")


def logit_confidence(proba: Any, y: Any, classes: Sequence[Any] | np.ndarray | None = None) -> np.ndarray:
    """Logit-scaled true-class confidence log(p_y) - log(1 - p_y) of each row (higher: fits the row better).

    It is a strictly increasing function of the true-class confidence p_y and a strictly decreasing one of the
    cross-entropy loss -log(p_y), so thresholding it is the loss-threshold attack; the logit scale keeps
    confident rows apart (1 - p_y is summed from the other columns, not computed as 1 - p_y).

    Args:
        proba: shape (n,) for binary P(y = classes[1]), or (n, k) with columns in `classes` order.
        y: true labels, length n.
        classes: label of each probability column; inferred from `y` when it holds every class, or 0..k-1.

    Returns:
        float64 array of shape (n,).

    Raises:
        ValueError: shapes that disagree, probabilities outside [0, 1], or labels not among `classes`.
    """
    p = _probabilities(proba, "proba")
    labels = _labels(y, "y")
    if len(labels) != p.shape[0]:
        raise ValueError(f"proba and y differ in length ({p.shape[0]} vs {len(labels)})")
    cls = _resolve_classes(classes, 1 if p.ndim == 1 else p.shape[1], labels)
    return _logit_confidence(p, labels, cls)


def negative_squared_error(pred: Any, y: Any) -> np.ndarray:
    """Regression's membership score per row: -(y - prediction)^2 (higher: fits the row better), the squared-error
    loss negated, as `logit_confidence` is a decreasing function of the cross-entropy loss."""
    f = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    if len(f) != len(t):
        raise ValueError(f"predictions and y differ in length ({len(f)} vs {len(t)})")
    if not (np.isfinite(f).all() and np.isfinite(t).all()):
        raise ValueError("predictions or y hold non-finite values")
    return -((t - f) ** 2)


def _logit_confidence(p: np.ndarray, labels: np.ndarray, cls: np.ndarray) -> np.ndarray:
    idx = np.full(len(labels), -1, dtype=np.int64)
    for i, c in enumerate(cls):
        idx[labels == c] = i
    if (idx < 0).any():
        raise ValueError(f"{int((idx < 0).sum())} label(s) are not among the probability columns' classes")
    rows = np.arange(len(idx))
    if p.ndim == 1:
        p_true = np.where(idx == 1, p, 1.0 - p)
        p_rest = np.where(idx == 1, 1.0 - p, p)
    else:
        # The other columns are summed (not 1 - p_true) to keep precision where p_true is close to 1.
        others = np.ones_like(p, dtype=bool)
        others[rows, idx] = False
        p_true = p[rows, idx]
        p_rest = np.where(others, p, 0.0).sum(axis=1)
    return np.log(np.maximum(p_true, _PROB_FLOOR)) - np.log(np.maximum(p_rest, _PROB_FLOOR))


# ------------------------------------------------------------------------------------------- statistics


def _auc(s_in: np.ndarray, s_out_sorted: np.ndarray) -> float:
    """P(member score > non-member score) + 0.5 P(equal) (Mann-Whitney), `s_out_sorted` ascending."""
    below = np.searchsorted(s_out_sorted, s_in, side="left")
    upto = np.searchsorted(s_out_sorted, s_in, side="right")
    return float((below.sum() + 0.5 * (upto - below).sum()) / (len(s_in) * len(s_out_sorted)))


def _tpr_at_fpr(s_in: np.ndarray, s_out_sorted: np.ndarray, alpha: float) -> tuple[float, float]:
    """Largest TPR over thresholds with FPR <= alpha, and that FPR (no interpolation)."""
    n_out = len(s_out_sorted)
    allowed = math.floor(alpha * n_out + 1e-9)  # false positives the threshold may admit
    if allowed >= n_out:
        return 1.0, 1.0
    cut = s_out_sorted[n_out - 1 - allowed]  # the (allowed + 1)-th largest non-member score
    fpr = float(n_out - np.searchsorted(s_out_sorted, cut, side="right")) / n_out
    return float(np.mean(s_in > cut)), fpr


def _roc(s_in: np.ndarray, s_out: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Empirical ROC (all thresholds), thinned to about _ROC_POINTS points on a log-spaced FPR grid."""
    scores = np.concatenate([s_in, s_out])
    is_member = np.concatenate([np.ones(len(s_in)), np.zeros(len(s_out))])
    order = np.argsort(-scores, kind="stable")
    scores, is_member = scores[order], is_member[order]
    last_of_tie = np.r_[np.diff(scores) != 0, True]
    tps = np.cumsum(is_member)[last_of_tie]
    fps = np.cumsum(1 - is_member)[last_of_tie]
    fpr = np.r_[0.0, fps / len(s_out)]
    tpr = np.r_[0.0, tps / len(s_in)]
    if len(fpr) > _ROC_POINTS:
        grid = np.unique(np.r_[0.0, np.geomspace(1.0 / len(s_out), 1.0, _ROC_POINTS - 1)])
        # For each grid FPR, the best TPR at FPR <= grid value (a step curve, never optimistic).
        at = np.searchsorted(fpr, grid + 1e-12, side="right") - 1
        fpr, tpr = fpr[at], tpr[at]
    return tuple(float(v) for v in fpr), tuple(float(v) for v in tpr)


def _figures(s_in: np.ndarray, s_out: np.ndarray) -> tuple[float, float, float, float, float]:
    s_out_sorted = np.sort(s_out)
    tpr1, fpr1 = _tpr_at_fpr(s_in, s_out_sorted, FPR_1PCT)
    tpr01, fpr01 = _tpr_at_fpr(s_in, s_out_sorted, FPR_0_1PCT)
    return _auc(s_in, s_out_sorted), tpr1, tpr01, fpr1, fpr01


def _check_boot(n_boot: int, confidence: float) -> None:
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def audit_scores(
    member_scores: Any,
    non_member_scores: Any,
    *,
    attack: str,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    n_reference: int | None = None,
) -> MIAReport:
    """Report for any membership score (higher = more likely a member): AUC, TPR at 1% and 0.1% FPR, intervals.

    Args:
        member_scores: one score per member (a training row of the target model).
        non_member_scores: one score per non-member (a row it never saw).
        attack: name used in the report and its metric keys (letters, digits, '_').
        n_boot: bootstrap resamples for the intervals (0: no intervals).
        confidence: interval coverage.
        seed: seed of the bootstrap (members and non-members resampled separately, with replacement).
        n_reference: reference models behind the scores, recorded in the report.

    Returns:
        The report (see MIAReport for how TPR at low FPR is read off).

    Raises:
        ValueError: empty or non-finite scores, a bad attack name, n_boot < 0 or confidence outside (0, 1).
    """
    if not _ATTACK_NAME.match(attack):
        raise ValueError("attack name may hold only letters, digits and '_'")
    _check_boot(n_boot, confidence)
    s_in = np.asarray(member_scores, dtype=np.float64).ravel()
    s_out = np.asarray(non_member_scores, dtype=np.float64).ravel()
    if len(s_in) == 0 or len(s_out) == 0:
        raise ValueError(f"need members and non-members, got {len(s_in)} and {len(s_out)}")
    if not (np.isfinite(s_in).all() and np.isfinite(s_out).all()):
        raise ValueError("attack scores hold non-finite values")
    auc, tpr1, tpr01, fpr1, fpr01 = _figures(s_in, s_out)
    cis: list[tuple[float, float] | None] = [None, None, None]
    if int(n_boot) > 0:
        rng = np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(2)[1])
        stats = np.empty((int(n_boot), 3))
        for b in range(int(n_boot)):
            b_in = s_in[rng.integers(0, len(s_in), len(s_in))]
            b_out = s_out[rng.integers(0, len(s_out), len(s_out))]
            stats[b] = _figures(b_in, b_out)[:3]
        tail = (1.0 - float(confidence)) / 2.0
        low, high = np.quantile(stats, [tail, 1.0 - tail], axis=0)
        cis = [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]
    roc_fpr, roc_tpr = _roc(s_in, s_out)
    return MIAReport(
        attack=attack,
        n_members=len(s_in),
        n_non_members=len(s_out),
        auc=auc,
        tpr_at_1pct_fpr=tpr1,
        tpr_at_0_1pct_fpr=tpr01,
        auc_ci=cis[0],
        tpr_at_1pct_fpr_ci=cis[1],
        tpr_at_0_1pct_fpr_ci=cis[2],
        fpr_at_1pct=fpr1,
        fpr_at_0_1pct=fpr01,
        low_fpr_resolved=len(s_out) >= round(1.0 / FPR_0_1PCT),
        confidence=float(confidence),
        n_boot=int(n_boot),
        seed=int(seed),
        n_reference=n_reference,
        roc_fpr=roc_fpr,
        roc_tpr=roc_tpr,
    )


# -------------------------------------------------------------------------------------------- attacks


def loss_threshold_attack(
    member_proba: Any,
    member_y: Any,
    non_member_proba: Any,
    non_member_y: Any,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    regression: bool = False,
) -> MIAReport:
    """Loss-threshold attack (Yeom et al. 2018): rows the model fits with lower loss are called members.

    The score of a row is its logit-scaled true-class confidence (see `logit_confidence`), which ranks rows
    exactly as the negative cross-entropy loss does; one global threshold, one forward pass per row.

    Args:
        member_proba: the target model's probabilities on its training rows, shape (n,) = P(classes[1]) or (n, k).
        member_y: their true labels.
        non_member_proba: its probabilities on rows never used for fitting (same shape convention).
        non_member_y: their true labels.
        classes: label of each probability column (inferred as in `logit_confidence` when None).
        n_boot: bootstrap resamples for the intervals (0: none).
        confidence: interval coverage.
        seed: bootstrap seed.

    Returns:
        MIAReport with attack "loss".

    Raises:
        ValueError: inconsistent shapes or labels, probabilities outside [0, 1].
    """
    if regression:
        # The "probabilities" are predictions; the score is the negated squared error (`negative_squared_error`).
        return audit_scores(
            negative_squared_error(member_proba, _labels(member_y, "member_y")),
            negative_squared_error(non_member_proba, _labels(non_member_y, "non_member_y")),
            attack="loss",
            n_boot=n_boot,
            confidence=confidence,
            seed=seed,
        )
    p_in = _probabilities(member_proba, "member_proba")
    p_out = _probabilities(non_member_proba, "non_member_proba")
    if p_in.shape[1:] != p_out.shape[1:]:
        raise ValueError("member_proba and non_member_proba have different numbers of columns")
    y_in, y_out = _labels(member_y, "member_y"), _labels(non_member_y, "non_member_y")
    if len(y_in) != p_in.shape[0] or len(y_out) != p_out.shape[0]:
        raise ValueError("each probability row needs one label")
    cls = _resolve_classes(classes, 1 if p_in.ndim == 1 else p_in.shape[1], np.concatenate([y_in, y_out]))
    return audit_scores(
        _logit_confidence(p_in, y_in, cls),
        _logit_confidence(p_out, y_out, cls),
        attack="loss",
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )


def _positions(idx: Any, n_rows: int, name: str) -> np.ndarray:
    arr = np.asarray(idx).ravel()
    if len(arr) == 0:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer row positions")
    if arr.min() < 0 or arr.max() >= n_rows:
        raise ValueError(f"{name} holds positions outside [0, {n_rows})")
    if len(np.unique(arr)) != len(arr):
        raise ValueError(f"{name} holds repeated positions")
    return arr.astype(np.int64)


def _take(X: Any, idx: np.ndarray) -> Any:
    """Rows `idx` of X in X's own type (DataFrame, sparse matrix, array); the positions when X is None."""
    if X is None:
        return idx.copy()
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[idx]
    if sp.issparse(X):
        return sp.csr_matrix(X)[idx]
    return np.asarray(X)[idx]


def _n_rows(X: Any, y: np.ndarray) -> int:
    if X is None:
        return len(y)
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    if n != len(y):
        raise ValueError(f"X and y differ in length ({n} vs {len(y)})")
    return int(n)


def reference_model_attack(
    fit_predict: FitPredict,
    X: Any,
    y: Any,
    *,
    members: Any,
    non_members: Any,
    population: Any,
    member_proba: Any,
    non_member_proba: Any,
    n_reference: int = 8,
    reference_fraction: float = 0.5,
    classes: Sequence[Any] | np.ndarray | None = None,
    variance: Literal["global", "per_row"] = "global",
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    regression: bool = False,
) -> MIAReport:
    """Offline LiRA (Carlini et al. 2022): compare the target's confidence on a row with reference models' OUT spread.

    `n_reference` reference models are trained, through `fit_predict`, on random subsets (each a
    `reference_fraction` share, drawn without replacement) of `population`, a pool disjoint from every
    attacked row, so each reference model is OUT for every member and non-member. For each attacked row the
    logit-scaled true-class confidences phi of the references give an OUT Gaussian (mean over references;
    spread pooled over all rows when `variance="global"`, which is what few references call for, or per row).
    The score is the one-sided test statistic -log P(Z >= (phi_target - mu) / sigma): large when the target
    model is more confident on the row than models that never saw it. Reference models should be trained the
    way the target was, on sets of about the target's training size (choose `reference_fraction` for that).

    Args:
        fit_predict: `fit_predict(train, train_y, query) -> probabilities`: fit a fresh model of the target's
            kind on `train` (rows of X, in X's type, or their positions when X is None) with labels
            `train_y`, and return its probabilities on `query` (members then non-members), shape (n,) for
            binary P(classes[1]) or (n, k) in `classes` order. Seed its own randomness if it has any.
        X: all rows involved (DataFrame, array or sparse matrix), or None to hand positions to fit_predict.
        y: labels of the rows of X (by position).
        members: positions of attacked training rows of the target model.
        non_members: positions of attacked rows the target model never saw.
        population: positions of the reference pool, disjoint from members and non-members.
        member_proba: the target model's probabilities on X[members] (same order).
        non_member_proba: the target model's probabilities on X[non_members].
        n_reference: reference models K (>= 2).
        reference_fraction: share of the population each reference model is trained on, in (0, 1].
        classes: label of each probability column (inferred from y as in `logit_confidence` when None).
        variance: "global" (one pooled spread) or "per_row".
        n_boot: bootstrap resamples for the intervals (0: none).
        confidence: interval coverage.
        seed: seed of the reference subsets and of the bootstrap; same seed, same report (when fit_predict is
            deterministic).

    Returns:
        MIAReport with attack "lira_offline".

    Raises:
        ValueError: overlapping or invalid position sets, bad parameters, or fit_predict output of the wrong shape.
    """
    y_all = _labels(y, "y")
    n_rows = _n_rows(X, y_all)
    pos_in = _positions(members, n_rows, "members")
    pos_out = _positions(non_members, n_rows, "non_members")
    pos_pop = _positions(population, n_rows, "population")
    if np.intersect1d(pos_in, pos_out).size:
        raise ValueError("members and non_members overlap")
    if np.intersect1d(pos_pop, np.concatenate([pos_in, pos_out])).size:
        raise ValueError("population overlaps the attacked rows: reference models must be OUT for every row")
    if variance not in ("global", "per_row"):
        raise ValueError(f"variance must be 'global' or 'per_row', got '{variance}'")
    if int(n_reference) < 2:
        raise ValueError(f"n_reference must be >= 2 (an OUT spread needs two reference models), got {n_reference}")
    if not 0.0 < float(reference_fraction) <= 1.0:
        raise ValueError(f"reference_fraction must be in (0, 1], got {reference_fraction}")
    size = round(float(reference_fraction) * len(pos_pop))
    if size < 1:
        raise ValueError("reference_fraction of the population leaves no training rows")
    _check_boot(n_boot, confidence)
    # Regression: the "probabilities" are predictions and phi is the negated squared error.
    read = (lambda v, name: np.asarray(v, dtype=np.float64).ravel()) if regression else _probabilities
    p_in = read(member_proba, "member_proba")
    p_out = read(non_member_proba, "non_member_proba")
    if p_in.shape[0] != len(pos_in) or p_out.shape[0] != len(pos_out):
        raise ValueError("member_proba / non_member_proba need one row per member / non-member")
    if p_in.shape[1:] != p_out.shape[1:]:
        raise ValueError("member_proba and non_member_proba have different numbers of columns")
    targets = np.concatenate([pos_in, pos_out])
    y_t = y_all[targets]
    if regression:

        def phi(p: np.ndarray) -> np.ndarray:
            return negative_squared_error(p, y_t)
    else:
        cls = _resolve_classes(classes, 1 if p_in.ndim == 1 else p_in.shape[1], y_all)

        def phi(p: np.ndarray) -> np.ndarray:
            return _logit_confidence(p, y_t, cls)

    phi_target = phi(np.concatenate([p_in, p_out]))

    rng = np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(2)[0])
    query = _take(X, targets)
    phi_ref = np.empty((int(n_reference), len(targets)))
    for k in range(int(n_reference)):
        subset = np.sort(rng.choice(pos_pop, size=size, replace=False))
        proba = read(fit_predict(_take(X, subset), y_all[subset].copy(), query), "fit_predict output")
        if proba.shape[0] != len(targets) or proba.shape[1:] != p_in.shape[1:]:
            raise ValueError(
                f"fit_predict returned shape {proba.shape} for {len(targets)} query rows; "
                f"expected the target's probability shape {(len(targets), *p_in.shape[1:])}"
            )
        phi_ref[k] = phi(proba)
    mu = phi_ref.mean(axis=0)
    if variance == "global":
        spread = float(np.sqrt(np.sum((phi_ref - mu) ** 2) / (phi_ref.size - phi_ref.shape[1])))
        sigma = np.full(len(targets), max(spread, _MIN_STD))
    else:
        sigma = np.maximum(phi_ref.std(axis=0, ddof=1), _MIN_STD)
    # -log of the one-sided p-value of phi_target under N(mu, sigma): log_ndtr stays finite far in the tail.
    score = -log_ndtr(-(phi_target - mu) / sigma)
    return audit_scores(
        score[: len(pos_in)],
        score[len(pos_in) :],
        attack="lira_offline",
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        n_reference=int(n_reference),
    )


# ---------------------------------------------------------------------------------------------- plots


@serialized_drawing
def plot_attack_roc(reports: MIAReport | Sequence[MIAReport], path: Path, title: str | None = None) -> Path:
    """Write the attacks' ROC curves as a PNG with a log-scale FPR axis (the low-FPR corner is what matters).

    Points at FPR = 0 cannot sit on a log axis and are left out; dotted lines mark 1% and 0.1% FPR and the
    chance diagonal.

    Args:
        reports: one report or several (one curve each, labelled with attack name, AUC and TPR@1%FPR).
        path: PNG file to write (its folder is created if missing).
        title: plot title (default "Membership-inference ROC").

    Returns:
        `path`.

    Raises:
        ValueError: no reports, or a path not ending in .png.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    items = [reports] if isinstance(reports, MIAReport) else list(reports)
    if not items:
        raise ValueError("no reports to plot")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError("path must end in .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    floor = min(1.0 / r.n_non_members for r in items)
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    grid = np.geomspace(floor, 1.0, 100)
    ax.plot(grid, grid, ls=":", color="grey", lw=1, label="chance")
    for r in items:
        fpr, tpr = np.asarray(r.roc_fpr), np.asarray(r.roc_tpr)
        keep = fpr > 0
        ax.step(
            fpr[keep],
            tpr[keep],
            where="post",
            label=f"{r.attack}: AUC {r.auc:.3f}, TPR@1% {r.tpr_at_1pct_fpr:.3f}",
        )
    for alpha in (FPR_0_1PCT, FPR_1PCT):
        if alpha >= floor:
            ax.axvline(alpha, ls=":", color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("false-positive rate (non-members flagged), log scale")
    ax.set_ylabel("true-positive rate (members flagged)")
    ax.set_title(title or "Membership-inference ROC")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
