"""Candidate models: search grids, fitting one scikit-learn or PyTorch candidate as a pipeline, and scoring with it."""

from __future__ import annotations

import copy
import itertools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.pipeline import Pipeline

from veilflow.core.config import DP_KINDS
from veilflow.tasks.modeling.dp_models import DPLogisticRegression, DPTorchMLPClassifier, _DPClassifier
from veilflow.tasks.modeling.preprocessing import build_preprocessor
from veilflow.tasks.modeling.torch_model import _PREDICT_BATCH, TorchTabularClassifier, TorchTabularRegressor

log = logging.getLogger(__name__)

# DP_KINDS (from the config): trained with DP-SGD (Opacus; see dp_models for what their ε covers and what not).
KINDS: tuple[str, ...] = ("logistic_regression", "hist_gradient_boosting", "torch_mlp", *DP_KINDS)
# Kinds whose fitted pipeline holds PyTorch weights (the logged model needs torch to load).
TORCH_KINDS: tuple[str, ...] = ("torch_mlp", *DP_KINDS)
# The DP kinds' accountant in a pipeline unless `params` name one: RDP's noise search costs ~4-6 s on the first
# fit of a plan where PRV's costs ~6-20 s (every reference model of the membership audit is a new plan). RDP's
# ε is a valid upper bound, a little looser than PRV's; set `accountant: prv` for the tightest figure.
DP_DEFAULT_ACCOUNTANT = "rdp"
# Gradient boosting needs a dense matrix and builds one histogram per column per iteration: a few hundred
# of the most frequent n-grams keep it fast and readable (tokens stay tokens) where 2,000 would not.
HGB_TEXT_MAX_FEATURES = 256
# Rows per pipeline call when scoring a frame.
_SCORE_CHUNK = 6 * _PREDICT_BATCH  # a multiple, so torch batches line up the same way
_EPS = 1e-12


# ---------------------------------------------------------------- search grids


def expand_search(params: dict[str, Any], search: dict[str, list[Any]] | None) -> list[dict[str, Any]]:
    """Every grid point of a hyperparameter search, each merged over the base params.

    Keys are taken in sorted order and values in list order, so the order does not depend on how a
    config file (or a JSON round trip) ordered the keys.

    Args:
        params: the base parameters.
        search: parameter name -> candidate values; None or {} means no search.

    Returns:
        One params dict per grid point (just a copy of `params` without a search).

    Raises:
        ValueError: when a search entry is not a non-empty list.
    """
    if not search:
        return [dict(params)]
    keys = sorted(search)
    for key in keys:
        values = search[key]
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError(f"expand_search: search['{key}'] must be a non-empty list")
    return [{**params, **dict(zip(keys, combo))} for combo in itertools.product(*(list(search[k]) for k in keys))]


# ---------------------------------------------------------------- candidates


@dataclass
class TrainedCandidate:
    """A fitted candidate: `model` is a `Pipeline(preprocess, estimator)` over raw anonymized frames."""

    kind: str
    params: dict[str, Any]
    model: Pipeline = field(repr=False)
    history: list[dict[str, Any]] = field(default_factory=list)
    fit_seconds: float = 0.0
    device: str = "cpu"
    # DP kinds: what the accountant spent (see `dp_summary`); None for a model trained without DP.
    dp: dict[str, Any] | None = None


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: column(s) {missing} missing")


def _estimator(kind: str, params: dict[str, Any], seed: int, task: str = "binary") -> BaseEstimator:
    if task == "regression":
        return _regressor(kind, params, seed)
    if kind in DP_KINDS and task != "binary":
        raise ValueError(f"train_candidate: kind {kind} supports binary labels only, not {task}")
    if kind == "logistic_regression":
        est: BaseEstimator = LogisticRegression(max_iter=1000, random_state=seed)
        seed_key = "random_state"
    elif kind == "hist_gradient_boosting":
        est = HistGradientBoostingClassifier(random_state=seed)
        seed_key = "random_state"
    elif kind in DP_KINDS:
        # One torch thread: fastest for models this small, and results do not depend on the core count.
        cls = DPTorchMLPClassifier if kind == "torch_mlp_dp" else DPLogisticRegression
        est = cls(seed=seed, accountant=DP_DEFAULT_ACCOUNTANT, num_threads=1)
        seed_key = "seed"
    else:
        est = TorchTabularClassifier(seed=seed)
        seed_key = "seed"
    valid = est.get_params(deep=False)
    unknown = sorted(k for k in params if k not in valid)
    if unknown:
        raise ValueError(f"train_candidate: unknown parameter(s) {unknown} for {kind}")
    if seed_key in params:
        raise ValueError(f"train_candidate: set the seed through the seed argument, not params['{seed_key}']")
    return est.set_params(**params)


def _regressor(kind: str, params: dict[str, Any], seed: int) -> BaseEstimator:
    """Regression counterparts: logistic_regression -> Ridge (a given `C` maps to alpha = 1 / (2C), scikit-learn's
    stated equivalence), hist_gradient_boosting -> HistGradientBoostingRegressor (squared error), torch_mlp ->
    TorchTabularRegressor (a linear output on mean squared error)."""
    params = dict(params)
    if kind == "logistic_regression":
        if "C" in params:
            params["alpha"] = 1.0 / (2.0 * float(params.pop("C")))
        est: BaseEstimator = Ridge(random_state=seed)
    elif kind == "hist_gradient_boosting":
        est = HistGradientBoostingRegressor(random_state=seed)
    elif kind == "torch_mlp":
        est = TorchTabularRegressor(seed=seed)
    else:
        raise ValueError(f"train_candidate: kind {kind} supports binary labels only, not regression")
    valid = est.get_params(deep=False)
    unknown = sorted(k for k in params if k not in valid)
    if unknown:
        raise ValueError(f"train_candidate: unknown parameter(s) {unknown} for {kind} (regression)")
    if "random_state" in params or (kind == "torch_mlp" and "seed" in params):
        raise ValueError("train_candidate: set the seed through the seed argument, not params")
    return est.set_params(**params)


def dp_summary(est: Any) -> dict[str, Any] | None:
    """What a fitted DP estimator spent: ε (final and per epoch), δ, σ, accountant and the plan; None if not DP.

    Aggregates of the fit only (no row); the figures the model card, the gates and the version tags report.
    """
    est = est.steps[-1][1] if isinstance(est, Pipeline) else est
    if not isinstance(est, _DPClassifier) or not hasattr(est, "epsilon_"):
        return None
    return {
        "epsilon": float(est.epsilon_),
        "delta": float(est.delta_),
        "noise_multiplier": float(est.noise_multiplier_),
        "sample_rate": float(est.sample_rate_),
        "accountant": str(est.accountant),
        "target_epsilon": float(est.target_epsilon),
        "max_grad_norm": float(est.max_grad_norm),
        "epochs": int(est.epochs),
        "poisson_sampling": bool(est.poisson_sampling),
        "secure_mode": bool(est.secure_mode),
        "epsilon_history": [float(e) for e in est.epsilon_history_],
    }


def _loss_history(est: BaseEstimator, Xt: Any, y: np.ndarray, Xv: Any, yv: np.ndarray) -> list[dict[str, Any]]:
    """Per-iteration train/val log loss for boosting; one entry (the converged fit) for linear models.

    Regression: mean squared error instead of log loss.
    """
    has_val = Xv is not None and len(yv) > 0
    if not hasattr(est, "classes_"):

        def _mse(y_true: np.ndarray, pred: np.ndarray) -> float:
            return float(mean_squared_error(y_true, pred))

        if isinstance(est, HistGradientBoostingRegressor):
            val_iter = est.staged_predict(Xv) if has_val else itertools.repeat(None)
            return [
                {"epoch": i, "train_loss": _mse(y, pt), "val_loss": _mse(yv, pv) if pv is not None else math.nan}
                for i, (pt, pv) in enumerate(zip(est.staged_predict(Xt), val_iter), start=1)
            ]
        return [
            {
                "epoch": 1,
                "train_loss": _mse(y, est.predict(Xt)),
                "val_loss": _mse(yv, est.predict(Xv)) if has_val else math.nan,
            }
        ]
    labels = est.classes_

    def _ll(y_true: np.ndarray, proba: np.ndarray) -> float:
        return float(log_loss(y_true, np.clip(proba, _EPS, 1 - _EPS), labels=labels))

    if isinstance(est, HistGradientBoostingClassifier):
        train_stages = est.staged_predict_proba(Xt)
        val_stages = est.staged_predict_proba(Xv) if has_val else itertools.repeat(None)
        return [
            {"epoch": i, "train_loss": _ll(y, pt), "val_loss": _ll(yv, pv) if pv is not None else math.nan}
            for i, (pt, pv) in enumerate(zip(train_stages, val_stages), start=1)
        ]
    return [
        {
            "epoch": 1,
            "train_loss": _ll(y, est.predict_proba(Xt)),
            "val_loss": _ll(yv, est.predict_proba(Xv)) if has_val else math.nan,
        }
    ]


def training_reference(
    frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], text: str | None
) -> dict[str, Any]:
    """A neutral reference row for occlusion reason codes: numeric medians, categorical modes, empty text.

    Aggregates only (no row is kept), taken from the training split.
    """
    ref: dict[str, Any] = {}
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce")
        ref[col] = float(values.median()) if values.notna().any() else math.nan
    for col in categorical:
        modes = frame[col].dropna().astype(str).value_counts(sort=True)
        # Ties broken by name so the reference does not depend on row order.
        ref[col] = sorted(modes.index[modes == modes.max()])[0] if len(modes) else None
    if text:
        ref[text] = ""
    return ref


def train_candidate(
    kind: str,
    params: dict[str, Any],
    train: pd.DataFrame,
    val: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    text: str | None,
    label: str,
    seed: int,
    text_max_features: int = 2000,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    task: str = "binary",
    label_spec: dict[str, Any] | None = None,
) -> TrainedCandidate:
    """Fit one candidate model on the training split (preprocessing included) and return it.

    The preprocessor is fitted on `train` only; `val` drives early stopping (torch) and the loss history.
    History: per-epoch losses (torch), per-iteration losses (gradient boosting), one entry for the
    converged logistic regression; each entry also goes to `on_epoch`.

    Args:
        kind: "logistic_regression", "hist_gradient_boosting", "torch_mlp", or a DP kind ("torch_mlp_dp",
            "dp_logistic_regression": DP-SGD, every epoch runs, `val` is only measured).
        params: estimator parameters (for torch_mlp: TorchTabularClassifier's; for the DP kinds those of
            DPTorchMLPClassifier / DPLogisticRegression, accountant "rdp" unless given).
        train: training frame (anonymized), not modified.
        val: validation frame (may be empty), not modified.
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        text: free-text feature column, or None.
        label: binary label column.
        seed: random seed for everything random in the fit.
        text_max_features: TF-IDF vocabulary bound (gradient boosting caps it at HGB_TEXT_MAX_FEATURES).
        on_epoch: called with {"epoch", "train_loss", "val_loss"} per epoch/iteration.
        task: "binary", "multiclass" (label encoded 0..k-1) or "regression" (numeric label; Ridge /
            HistGradientBoostingRegressor). The PyTorch and DP kinds take binary labels only.
        label_spec: the label mapping (`LabelSpec.to_dict()`), kept on the fitted pipeline as `veilflow_label_` so
            the model itself says what its outputs mean (scoring returns original labels from it).

    Returns:
        A `TrainedCandidate` whose `model.predict_proba(frame)` takes raw anonymized frames.

    Raises:
        ValueError: unknown kind or parameter, a missing column, an empty training frame, or a label
            that is missing or has a single class.
    """
    if kind not in KINDS:
        raise ValueError(f"train_candidate: unknown kind '{kind}' (known: {', '.join(KINDS)})")
    features = [*numeric, *categorical, *([text] if text else [])]
    if train.empty:
        raise ValueError("train_candidate: the training frame is empty")
    _check_columns(train, [*features, label], "train_candidate (train)")
    if not val.empty:
        _check_columns(val, [*features, label], "train_candidate (val)")
    y = train[label]
    if y.isna().any():
        raise ValueError(f"train_candidate: label '{label}' has {int(y.isna().sum())} missing values in train")
    if y.nunique() < 2:
        raise ValueError(f"train_candidate: label '{label}' has a single class in train")
    estimator = _estimator(kind, dict(params), seed, task)
    dense = kind == "hist_gradient_boosting"
    max_text = min(text_max_features, HGB_TEXT_MAX_FEATURES) if dense else text_max_features
    preprocess = build_preprocessor(numeric, categorical, text, max_text, dense=dense)

    started = time.perf_counter()
    Xt = preprocess.fit_transform(train[features])
    y_np = y.to_numpy()
    Xv = preprocess.transform(val[features]) if not val.empty else None
    yv = val[label].to_numpy() if not val.empty else np.array([])
    device = "cpu"
    if isinstance(estimator, TorchTabularClassifier):
        estimator.fit(Xt, y_np, X_val=Xv, y_val=yv if Xv is not None else None, on_epoch=on_epoch)
        history = list(estimator.history_)
        device = estimator.device_
        fit_seconds = time.perf_counter() - started
    elif isinstance(estimator, _DPClassifier):
        estimator.fit(Xt, y_np, X_val=Xv, y_val=yv if Xv is not None else None)
        fit_seconds = time.perf_counter() - started
        # The per-epoch losses are diagnostics computed without noise: outside the ε guarantee (see dp_models).
        history = [
            {"epoch": i, "train_loss": float(t), "val_loss": float(v)}
            for i, (t, v) in enumerate(zip(estimator.loss_history_, estimator.val_loss_history_, strict=True), start=1)
        ]
        if on_epoch is not None:
            for entry in history:
                on_epoch(dict(entry))
    else:
        estimator.fit(Xt, y_np)
        fit_seconds = time.perf_counter() - started  # the loss curve below is bookkeeping, not fitting
        history = _loss_history(estimator, Xt, y_np, Xv, yv)
        if on_epoch is not None:
            for entry in history:
                on_epoch(dict(entry))
    model = Pipeline([("preprocess", preprocess), ("estimator", estimator)])
    # Aggregates only: the neutral row that reason codes compare each prediction against.
    model.veilflow_reference_ = training_reference(train, numeric, categorical, text)
    model.veilflow_label_ = dict(label_spec) if label_spec else {"column": label, "task": task, "classes": []}
    log.info("trained %s on %d rows x %d features in %.2fs (%s)", kind, Xt.shape[0], Xt.shape[1], fit_seconds, device)
    return TrainedCandidate(
        kind=kind,
        params=copy.deepcopy(dict(params)),
        model=model,
        history=history,
        fit_seconds=fit_seconds,
        device=device,
        dp=dp_summary(estimator),
    )


def predict_positive(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """Probability of the positive class (the larger label) for each row, as float64 of shape (n,).

    Args:
        model: a fitted pipeline with `predict_proba`, a wrapper that keeps one as `pipeline` (the pyfunc
            `veilflow.engines.pyfunc.ProbabilityModel`), or a loaded pyfunc model returning (n, 2) probabilities.
        frame: anonymized rows holding at least the model's feature columns.

    Raises:
        ValueError: when the frame lacks a feature column or the model gives no probabilities.
    """
    # Duck-typed unwrap of the pyfunc wrapper (its class lives in veilflow.engines, which this package must not import).
    if not hasattr(model, "predict_proba") and hasattr(getattr(model, "pipeline", None), "predict_proba"):
        model = model.pipeline
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        _check_columns(frame, list(names), "predict_positive")
    if hasattr(model, "predict_proba"):
        predict = model.predict_proba
    elif hasattr(model, "predict"):
        predict = model.predict
    else:
        raise ValueError(f"predict_positive: {type(model).__name__} has neither predict_proba nor predict")
    # Chunks bound memory: a dense model matrix (gradient boosting) of a large batch need not fit at once.
    parts = [_positive(predict(frame.iloc[i : i + _SCORE_CHUNK])) for i in range(0, len(frame), _SCORE_CHUNK)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


def _positive(proba: Any) -> np.ndarray:
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 2:
        return arr[:, 1].copy()
    if arr.ndim == 1:
        return arr.copy()
    raise ValueError(f"predict_positive: expected (n, 2) probabilities, got shape {arr.shape}")


def model_task(model: Any) -> str:
    """The task a fitted veilflow pipeline (or a wrapper holding one as `pipeline`) was trained for.

    Read from the pipeline's label spec (`veilflow_label_`); a model without one (trained before task types
    existed) is binary.
    """
    if not hasattr(model, "veilflow_label_") and hasattr(getattr(model, "pipeline", None), "veilflow_label_"):
        model = model.pipeline
    spec = getattr(model, "veilflow_label_", None)
    if isinstance(spec, dict) and spec.get("task") in ("binary", "multiclass", "regression"):
        return str(spec["task"])
    return "regression" if not hasattr(model, "predict_proba") and hasattr(model, "predict") else "binary"


def predict_output(model: Any, frame: pd.DataFrame, task: str | None = None) -> np.ndarray:
    """The model's output per task: binary P(positive) (n,), multiclass probabilities (n, k), regression values (n,).

    Accepts what `predict_positive` accepts (a pipeline, the pyfunc wrapper, a loaded pyfunc model).

    Raises:
        ValueError: a missing feature column, or an output of the wrong shape for the task.
    """
    if not hasattr(model, "predict_proba") and hasattr(getattr(model, "pipeline", None), "predict"):
        model = model.pipeline
    task = task or model_task(model)
    if task == "binary":
        return predict_positive(model, frame)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        _check_columns(frame, list(names), "predict_output")
    if task == "multiclass":
        predict = model.predict_proba if hasattr(model, "predict_proba") else model.predict
    else:
        predict = model.predict
    parts = [np.asarray(predict(frame.iloc[i : i + _SCORE_CHUNK]), dtype=np.float64) for i in range(0, len(frame), _SCORE_CHUNK)]
    if not parts:
        return np.empty((0,) if task == "regression" else (0, 0), dtype=np.float64)
    out = np.concatenate(parts)
    if task == "multiclass" and out.ndim != 2:
        raise ValueError(f"predict_output: expected (n, k) probabilities, got shape {out.shape}")
    if task == "regression":
        out = out.reshape(len(out), -1)[:, 0] if out.ndim == 2 else out
    return out


def top_score(output: np.ndarray, task: str) -> np.ndarray:
    """One number per row for drift and summaries: P(positive), the top-class probability, or the predicted value."""
    arr = np.asarray(output, dtype=np.float64)
    return arr.max(axis=1) if task == "multiclass" and arr.ndim == 2 else arr
