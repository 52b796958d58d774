"""Explainability on anonymized frames: SHAP / Captum global importance, permutation importance, reason codes."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from veilflow.core.plotting import serialized_drawing
from veilflow.tasks.modeling.candidates import TrainedCandidate
from veilflow.tasks.modeling.dp_models import DPLogisticRegression, DPTorchMLPClassifier
from veilflow.tasks.modeling.torch_model import TorchTabularClassifier, TorchTabularRegressor

log = logging.getLogger(__name__)

_TREES = (
    HistGradientBoostingClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
    ExtraTreesClassifier,
    DecisionTreeClassifier,
    HistGradientBoostingRegressor,
)
_LINEAR = (LogisticRegression, SGDClassifier, Ridge)
# PyTorch estimators with `build_module()`: Captum attributes their logit (the DP ones are trained with DP-SGD,
# explained like any other torch model; DP-SGD's noise makes no difference to the attribution itself).
_TORCH = (TorchTabularClassifier, TorchTabularRegressor, DPTorchMLPClassifier, DPLogisticRegression)
# The model-agnostic explainer costs (2 x features + 1) x background predictions per row: bound both.
_GENERIC_MAX_ROWS = 200
_GENERIC_BACKGROUND = 50
_TOP_TOKENS = 25
_IG_STEPS = 50
_EPS = 1e-12


@dataclass
class Explanation:
    """Global importance of one model, aggregated to the original feature columns.

    Attributes:
        method: "shap_tree", "shap_linear", "shap_permutation" or "captum_integrated_gradients".
        table: columns feature, mean_abs_importance (mean over rows of |summed attribution of the
            feature's model columns|, in log-odds units), sorted descending; one row per feature.
        plot_paths: PNG files written (bar chart, beeswarm).
        seconds: wall time of the attribution itself (sampling, explainer, aggregation; not plots).
        rows_used: rows explained.
        token_table: top text n-grams by mean |attribution| (token, mean_abs_importance), or None. The
            tokens come from the anonymized text; treat the table like the text itself.
    """

    method: str
    table: pd.DataFrame
    plot_paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    rows_used: int = 0
    token_table: pd.DataFrame | None = None


# ---------------------------------------------------------------- pipeline anatomy


def _pipeline_of(trained_or_model: Any) -> Pipeline:
    model = trained_or_model.model if isinstance(trained_or_model, TrainedCandidate) else trained_or_model
    model = getattr(model, "pipeline", model)  # veilflow's pyfunc wrapper keeps the pipeline here
    if not isinstance(model, Pipeline) or not hasattr(model, "predict"):
        raise ValueError(f"expected a fitted sklearn Pipeline, got {type(model).__name__}")
    return model


def _last_step(transformer: Any) -> Any:
    return transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer


def feature_groups(pipeline: Pipeline) -> list[tuple[str, np.ndarray]]:
    """For each original feature column, the indices of the model-matrix columns it produces.

    One-hot columns map to their categorical column and TF-IDF columns to the text column, read from the
    fitted `ColumnTransformer` (its first step).

    Raises:
        ValueError: when the pipeline does not start with a fitted ColumnTransformer, or a block's
            output cannot be attributed to its input columns.
    """
    pre = pipeline.steps[0][1]
    if not isinstance(pre, ColumnTransformer) or not hasattr(pre, "output_indices_"):
        raise ValueError("the pipeline does not start with a fitted ColumnTransformer")
    groups: list[tuple[str, np.ndarray]] = []
    for name, transformer, columns in pre.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        sl = pre.output_indices_[name]
        width = sl.stop - sl.start
        cols = [columns] if isinstance(columns, str) else list(columns)
        last = _last_step(transformer)
        if len(cols) == 1:
            groups.append((cols[0], np.arange(sl.start, sl.stop)))
        elif isinstance(last, OneHotEncoder) and last.drop is None:
            sizes = [len(c) for c in last.categories_]
            if sum(sizes) != width:
                raise ValueError(f"block '{name}': one-hot width does not match its categories")
            start = sl.start
            for col, size in zip(cols, sizes):
                groups.append((col, np.arange(start, start + size)))
                start += size
        elif width == len(cols):
            groups.extend((col, np.array([sl.start + i])) for i, col in enumerate(cols))
        else:
            raise ValueError(f"block '{name}': cannot attribute {width} output columns to {len(cols)} input columns")
    return groups


def _text_tokens(pipeline: Pipeline) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(text column, matrix column indices, n-grams) of the TF-IDF block, if any."""
    pre = pipeline.steps[0][1]
    for name, transformer, columns in pre.transformers_:
        last = _last_step(transformer)
        if isinstance(columns, str) and hasattr(last, "vocabulary_"):
            sl = pre.output_indices_[name]
            return columns, np.arange(sl.start, sl.stop), np.asarray(last.get_feature_names_out())
    return None


def _check_frame(frame: pd.DataFrame, features: Sequence[str], where: str) -> None:
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: column(s) {missing} missing")


def _aggregate(values: np.ndarray, groups: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Sum attributions of each feature's model columns (additive for SHAP and integrated gradients)."""
    return np.column_stack([values[:, idx].sum(axis=1) for _, idx in groups])


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


# ---------------------------------------------------------------- global explanations


def _n_classes(est: Any) -> int:
    """2 for binary, k for multiclass, 0 for a regressor (no classes)."""
    return len(getattr(est, "classes_", ())) if hasattr(est, "predict_proba") else 0


def _predicted_class_values(values: np.ndarray, est: Any, Xt: Any) -> np.ndarray:
    """Multiclass SHAP values (rows x columns x classes, or one array per class): each row's predicted class.

    veilflow explains a multiclass model for the class it predicts, globally and in reason codes alike."""
    if values.ndim == 3 and values.shape[0] == Xt.shape[0]:
        per_class = values
    else:
        per_class = np.moveaxis(values, 0, -1)
    target = np.asarray(est.predict_proba(Xt)).argmax(axis=1)
    return per_class[np.arange(per_class.shape[0]), :, target]


def _shap_tree(est: Any, Xt: Any) -> np.ndarray:
    import shap

    values = shap.TreeExplainer(est).shap_values(_dense(Xt), check_additivity=False)
    values = np.asarray(values)
    if values.ndim == 3 and _n_classes(est) > 2:
        return _predicted_class_values(values, est, Xt)
    # Some tree models return one array per class (or a trailing class axis): keep the positive class.
    if values.ndim == 3:
        values = values[..., 1] if values.shape[-1] == 2 else values[1]
    return values


def _shap_linear(est: Any, Xt: Any) -> np.ndarray:
    import shap

    explainer = shap.LinearExplainer(est, shap.maskers.Independent(Xt, max_samples=Xt.shape[0]))
    values = np.asarray(explainer.shap_values(Xt))
    return _predicted_class_values(values, est, Xt) if values.ndim == 3 and _n_classes(est) > 2 else values


def _captum_ig(est: Any, Xt: Any) -> np.ndarray:
    import torch
    from captum.attr import IntegratedGradients

    module = est.build_module()
    x = torch.from_numpy(_dense(Xt).astype(np.float32))
    # Baseline: the average explained row, so attributions say how a row differs from a typical one.
    baseline = x.mean(dim=0, keepdim=True)
    with torch.no_grad():
        width = module(baseline).shape
    # One logit per row: (n,) for the MLP candidate, (n, 1) for the DP modules (column 0 is the positive class's);
    # k logits for a multiclass MLP: each row is attributed for the class it predicts.
    if len(width) == 2 and width[1] > 1:
        with torch.no_grad():
            target: Any = module(x).argmax(dim=1)
    else:
        target = 0 if len(width) == 2 else None
    # Integrated gradients are deterministic (a fixed Riemann path), so no seed is involved.
    attr = IntegratedGradients(module).attribute(
        x, baselines=baseline, target=target, n_steps=_IG_STEPS, internal_batch_size=max(len(x), 1)
    )
    return attr.detach().double().numpy()


def _shap_generic(pipeline: Pipeline, sample: pd.DataFrame, features: list[str], seed: int) -> np.ndarray:
    """Permutation SHAP over the original feature columns of any pipeline (model-agnostic).

    Each row is coded by, per feature, the index of the row whose value it carries; masking a feature
    swaps in a background row's value. That makes the masker work on mixed (text/categorical) columns.
    """
    import shap

    n = len(sample)
    rng = np.random.default_rng(seed)
    bg_rows = np.sort(rng.choice(n, size=min(_GENERIC_BACKGROUND, n), replace=False))
    raw = sample[features].reset_index(drop=True)

    def predict_logit(codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.int64)
        built = pd.DataFrame({f: raw[f].to_numpy()[codes[:, j]] for j, f in enumerate(features)})
        p = np.clip(pipeline.predict_proba(built)[:, 1], _EPS, 1 - _EPS)
        return np.log(p / (1 - p))

    codes = np.tile(np.arange(n)[:, None], (1, len(features)))
    background = np.tile(bg_rows[:, None], (1, len(features)))
    explainer = shap.PermutationExplainer(
        predict_logit, shap.maskers.Independent(background, max_samples=len(bg_rows)), seed=seed
    )
    return np.asarray(explainer(codes, max_evals=2 * len(features) + 1, silent=True).values)


@serialized_drawing
def _plots(
    group_values: np.ndarray,
    table: pd.DataFrame,
    sample: pd.DataFrame,
    features: list[str],
    out_dir: Path,
    stem: str,
    title: str,
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    out_dir.mkdir(parents=True, exist_ok=True)
    top = table.head(20).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(top) + 1.2))
    ax.barh(top["feature"], top["mean_abs_importance"], color="#3b6ea5")
    ax.set_xlabel("mean |attribution| (log-odds)")
    ax.set_title(title)
    fig.tight_layout()
    bar = out_dir / f"{stem}_bar.png"
    fig.savefig(bar, dpi=110)
    plt.close(fig)

    # Colour by the value for numeric features only: categories and text stay grey, so no value is drawn.
    color = np.column_stack(
        [
            pd.to_numeric(sample[f], errors="coerce").to_numpy(dtype=np.float64)
            if pd.api.types.is_numeric_dtype(sample[f])
            else np.full(len(sample), np.nan)
            for f in features
        ]
    )
    expl = shap.Explanation(values=group_values, data=color, feature_names=features)
    plt.figure()
    with warnings.catch_warnings():
        # All-grey (non-numeric) rows make shap's colour scaling take percentiles of all-NaN columns.
        warnings.simplefilter("ignore", RuntimeWarning)
        shap.plots.beeswarm(expl, max_display=20, show=False)
    plt.gca().set_xlabel("attribution (log-odds); colour: numeric value, grey: categorical/text")
    plt.title(title)
    swarm = out_dir / f"{stem}_beeswarm.png"
    plt.savefig(swarm, dpi=110, bbox_inches="tight")
    plt.close("all")
    return [bar, swarm]


def explain_global(
    trained: TrainedCandidate,
    frame: pd.DataFrame,
    out_dir: Path,
    sample_rows: int,
    seed: int,
) -> Explanation:
    """Global feature importance of a trained candidate on a sample of an anonymized frame.

    Explainer by estimator: SHAP TreeExplainer for tree ensembles, SHAP LinearExplainer (independent
    masker, the sample as background) for linear models, Captum IntegratedGradients (baseline: the
    sample's mean row) for the PyTorch models (the MLP and the DP-SGD MLP and logistic regression), else
    (or when Captum fails) a model-agnostic permutation SHAP over the original columns (at most 200 rows). Attributions (log-odds) of a feature's one-hot / TF-IDF columns are
    summed per row, then averaged in absolute value. Writes a bar chart and a beeswarm PNG to `out_dir`.

    Args:
        trained: the candidate to explain.
        frame: anonymized rows with the model's feature columns (others are ignored); not modified.
        out_dir: folder for the PNG files (created if missing).
        sample_rows: at most this many rows are explained (sampled with `seed`).
        seed: random seed for the row sample.

    Returns:
        An `Explanation`.

    Raises:
        ValueError: on an empty frame, a missing feature column, sample_rows < 1, or a model that is not
            a fitted veilflow pipeline.
    """
    pipeline = _pipeline_of(trained)
    groups = feature_groups(pipeline)
    features = [g for g, _ in groups]
    _check_frame(frame, features, "explain_global")
    if frame.empty:
        raise ValueError("explain_global: the frame is empty")
    if sample_rows < 1:
        raise ValueError(f"explain_global: sample_rows must be >= 1, got {sample_rows}")
    started = time.perf_counter()
    est = pipeline.steps[-1][1]
    generic = not isinstance(est, (*_TREES, *_LINEAR, *_TORCH))
    limit = min(sample_rows, _GENERIC_MAX_ROWS) if generic else sample_rows
    rng = np.random.default_rng(seed)
    n = min(limit, len(frame))
    rows = np.sort(rng.choice(len(frame), size=n, replace=False))
    sample = frame.iloc[rows][features]

    tokens = None
    values: np.ndarray | None = None
    if not generic:
        Xt = pipeline[:-1].transform(sample)
        if isinstance(est, _TREES):
            method, values = "shap_tree", _shap_tree(est, Xt)
        elif isinstance(est, _LINEAR):
            method, values = "shap_linear", _shap_linear(est, Xt)
        else:
            try:
                method, values = "captum_integrated_gradients", _captum_ig(est, Xt)
            except (ImportError, RuntimeError, ValueError, AssertionError) as exc:
                # Captum cannot attribute this module: the model-agnostic SHAP explainer works on any pipeline.
                log.warning("Captum failed on %s (%s); falling back to permutation SHAP", type(est).__name__, type(exc).__name__)
                generic, values = True, None
                sample = sample.iloc[:_GENERIC_MAX_ROWS]
                n = len(sample)
    if generic or values is None:
        method = "shap_permutation"
        group_values = _shap_generic(pipeline, sample, features, seed)
    else:
        group_values = _aggregate(values, groups)
        text = _text_tokens(pipeline)
        if text is not None:
            _, idx, names = text
            token_imp = np.abs(values[:, idx]).mean(axis=0)
            order = np.argsort(-token_imp, kind="stable")[:_TOP_TOKENS]
            tokens = pd.DataFrame({"token": names[order], "mean_abs_importance": token_imp[order]})
            tokens = tokens[tokens["mean_abs_importance"] > 0].reset_index(drop=True)
    importance = np.abs(group_values).mean(axis=0)
    table = (
        pd.DataFrame({"feature": features, "mean_abs_importance": importance})
        .sort_values("mean_abs_importance", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    seconds = time.perf_counter() - started
    kind = trained.kind if isinstance(trained, TrainedCandidate) else type(est).__name__
    plots = _plots(group_values, table, sample, features, Path(out_dir), f"importance_{kind}", f"{kind}: {method}")
    log.info("explain %s with %s: %d rows x %d features in %.2fs", kind, method, n, len(features), seconds)
    return Explanation(method=method, table=table, plot_paths=plots, seconds=seconds, rows_used=n, token_table=tokens)


# ---------------------------------------------------------------- permutation importance


def permutation_importance_table(
    model: Any,
    frame: pd.DataFrame,
    y: Any,
    features: Sequence[str],
    seed: int,
    n_repeats: int = 5,
    scoring: str = "roc_auc",
    max_rows: int = 2000,
) -> pd.DataFrame:
    """Permutation importance of the original feature columns, the same scale for every candidate.

    Whole raw columns are shuffled (a text column moves as a unit), so a model-agnostic drop in `scoring`
    is measured per original feature; computed on at most `max_rows` rows sampled with `seed`, n_jobs=1.

    Args:
        model: fitted pipeline taking raw anonymized frames.
        frame: anonymized rows; not modified.
        y: labels aligned with `frame`.
        features: the feature columns to permute (the model's inputs).
        seed: random seed (row sample and permutations).
        n_repeats: shuffles per feature.
        scoring: sklearn scorer name.
        max_rows: row bound.

    Returns:
        Columns feature, importance_mean, importance_std; sorted by importance_mean descending.

    Raises:
        ValueError: on a missing column, an empty frame, misaligned labels, or a single-class sample.
    """
    from sklearn.inspection import permutation_importance

    features = list(features)
    _check_frame(frame, features, "permutation_importance_table")
    y = np.asarray(y).ravel()
    if frame.empty:
        raise ValueError("permutation_importance_table: the frame is empty")
    if len(y) != len(frame):
        raise ValueError(f"permutation_importance_table: {len(y)} labels for {len(frame)} rows")
    if n_repeats < 1 or max_rows < 1:
        raise ValueError("permutation_importance_table: n_repeats and max_rows must be >= 1")
    rows = np.arange(len(frame))
    if len(frame) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False))
    X, y_s = frame.iloc[rows][features].reset_index(drop=True), y[rows]
    if len(np.unique(y_s)) < 2:
        raise ValueError("permutation_importance_table: the labels hold a single class")
    result = permutation_importance(model, X, y_s, scoring=scoring, n_repeats=n_repeats, random_state=seed, n_jobs=1)
    return (
        pd.DataFrame({"feature": features, "importance_mean": result.importances_mean, "importance_std": result.importances_std})
        .sort_values("importance_mean", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


# ---------------------------------------------------------------- reason codes
