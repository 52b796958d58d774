"""Evaluation plots: confusion matrix, ROC, precision-recall and calibration curves as PNG files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

from veilflow.core.plotting import serialized_drawing
from veilflow.tasks.modeling.evaluation import (
    ECE_BINS,
    _check_inputs,
    expected_calibration_error,
)

_PREFIX_OK = re.compile(r"^[A-Za-z0-9_.\-]*$")


@serialized_drawing
def plot_evaluation(
    y_true: Any, y_prob: Any, out_dir: Path, prefix: str = "", threshold: float = 0.5, task: str = "binary"
) -> list[Path]:
    """Write confusion-matrix, ROC, precision-recall and calibration (reliability) plots as PNG files.

    Other tasks (see `plot_task_evaluation`): multiclass a confusion matrix, regression predicted vs true.

    Args:
        y_true: 0/1 labels.
        y_prob: probability of class 1.
        out_dir: folder to write into (created if missing).
        prefix: file-name prefix (letters, digits, '_', '-', '.'), e.g. "logreg_".
        threshold: decision threshold for the confusion matrix.

    Returns:
        Paths of the four PNG files, in that order.

    Raises:
        ValueError: invalid inputs, a single class in y_true, or a prefix with path characters.
    """
    if task != "binary":
        return plot_task_evaluation(y_true, y_prob, out_dir, task, prefix)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from sklearn.calibration import calibration_curve

    if not _PREFIX_OK.match(prefix):
        raise ValueError("prefix may hold only letters, digits, '_', '-' and '.'")
    y, p = _check_inputs(y_true, y_prob, threshold)
    if len(np.unique(y)) < 2:
        raise ValueError("y_true holds a single class: ROC and precision-recall curves are undefined")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    yi = y.astype(np.int64)
    paths: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        path = out_dir / f"{prefix}{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        paths.append(path)

    # Figure objects (not pyplot) keep no global state, so repeated calls in a long flow do not leak.
    cm = skm.confusion_matrix(yi, (p >= threshold).astype(np.int64), labels=[0, 1])
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    for (i, j), count in np.ndenumerate(cm):
        ax.text(j, i, str(count), ha="center", va="center", color="black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual", title=f"Confusion matrix (t={threshold:g})")
    save(fig, "confusion_matrix")

    fpr, tpr, _ = skm.roc_curve(yi, p)
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.plot(fpr, tpr, label=f"AUC {skm.roc_auc_score(yi, p):.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    save(fig, "roc")

    precision, recall, _ = skm.precision_recall_curve(yi, p)
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.step(recall, precision, where="post", label=f"AP {skm.average_precision_score(yi, p):.3f}")
    ax.axhline(float(yi.mean()), linestyle="--", color="grey")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    ax.legend(loc="lower left")
    save(fig, "precision_recall")

    frac_pos, mean_pred = calibration_curve(yi, p, n_bins=ECE_BINS, strategy="uniform")
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot(mean_pred, frac_pos, marker="o", label=f"ECE {expected_calibration_error(y, p):.3f}")
    ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", title="Calibration")
    ax.legend(loc="upper left")
    save(fig, "calibration")
    return paths


@serialized_drawing
def plot_task_evaluation(y_true: Any, output: Any, out_dir: Path, task: str, prefix: str = "") -> list[Path]:
    """Multiclass: a confusion matrix over the class codes; regression: predicted against true values. PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    if not _PREFIX_OK.match(prefix):
        raise ValueError("prefix may hold only letters, digits, '_', '-' and '.'")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y_true, dtype="float64").ravel()
    out = np.asarray(output, dtype="float64")
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    if task == "multiclass":
        k = out.shape[1]
        cm = skm.confusion_matrix(y.astype(np.int64), out.argmax(axis=1), labels=list(range(k)))
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
        ax.set_xlabel("predicted class (code)")
        ax.set_ylabel("true class (code)")
        ax.set_title("Confusion matrix")
        name = "confusion_matrix"
    else:
        ax.scatter(y, out.ravel(), s=8, alpha=0.6)
        lo, hi = float(min(y.min(), out.min())), float(max(y.max(), out.max()))
        ax.plot([lo, hi], [lo, hi], ls=":", color="grey")
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
        ax.set_title("Predicted vs true")
        name = "predicted_vs_true"
    path = out_dir / f"{prefix}{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return [path]
