"""Model training: preprocessing, deterministic splits, and scikit-learn / PyTorch candidates as fitted pipelines."""

from __future__ import annotations

import copy
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from torch import nn

log = logging.getLogger(__name__)
# Guards torch's process-global RNG and deterministic-algorithms switch during a seeded fit.
_TORCH_GLOBAL_STATE = threading.RLock()

KINDS: tuple[str, ...] = ("logistic_regression", "hist_gradient_boosting", "torch_mlp")
# Gradient boosting needs a dense matrix and builds one histogram per column per iteration: a few hundred
# of the most frequent n-grams keep it fast and readable (tokens stay tokens) where 2,000 would not.
HGB_TEXT_MAX_FEATURES = 256
# Rows per forward pass at prediction time: bounds the memory of densifying TF-IDF rows.
_PREDICT_BATCH = 8192
# Rows per pipeline call when scoring a frame.
_SCORE_CHUNK = 6 * _PREDICT_BATCH  # a multiple, so torch batches line up the same way
_EPS = 1e-12


# ---------------------------------------------------------------- preprocessing


def _as_text(x: Any) -> Any:
    """One text column as strings, missing notes as empty text (TF-IDF cannot read NaN)."""
    series = x.iloc[:, 0] if isinstance(x, pd.DataFrame) else pd.Series(np.asarray(x).ravel())
    return series.astype("object").where(series.notna(), "").astype(str)


def _as_categories(x: Any) -> Any:
    """Categorical columns as strings with missing kept missing, so numeric-coded categories impute like text."""
    frame = x if isinstance(x, pd.DataFrame) else pd.DataFrame(x)
    obj = frame.astype("object")
    return obj.where(frame.isna(), obj.astype(str)).astype("object")


def build_preprocessor(
    numeric: Sequence[str],
    categorical: Sequence[str],
    text: str | None,
    text_max_features: int = 2000,
    dense: bool = False,
) -> ColumnTransformer:
    """An unfitted column transformer for the model's features (fit it on the training split only).

    Numeric columns: median imputation, then standard scaling. Categorical columns: missing values become
    the category "missing", then one-hot encoding that ignores categories unseen in training. Text column:
    missing text becomes "", then TF-IDF over word 1-2 grams limited to `text_max_features` terms.

    Args:
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        text: the free-text column, or None.
        text_max_features: size bound of the TF-IDF vocabulary.
        dense: return a dense matrix (for estimators that cannot read sparse input).

    Returns:
        A `ColumnTransformer` with blocks named "num", "cat" and "text"; other columns are dropped.

    Raises:
        ValueError: when no feature is named, a column is named twice, or `text_max_features` < 1.
    """
    numeric, categorical = list(numeric), list(categorical)
    names = numeric + categorical + ([text] if text else [])
    if not names:
        raise ValueError("build_preprocessor: no feature columns given")
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise ValueError(f"build_preprocessor: column(s) {dupes} named more than once")
    if text_max_features < 1:
        raise ValueError(f"build_preprocessor: text_max_features must be >= 1, got {text_max_features}")
    blocks: list[tuple[str, Any, Any]] = []
    if numeric:
        blocks.append(
            (
                "num",
                Pipeline(
                    [
                        # keep_empty_features: a column that is all-missing in training still gets its output
                        # column, so the output layout (and explanations) never depend on the data.
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        blocks.append(
            (
                "cat",
                Pipeline(
                    [
                        ("as_str", FunctionTransformer(_as_categories, feature_names_out="one-to-one")),
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True)),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=not dense)),
                    ]
                ),
                categorical,
            )
        )
    if text:
        blocks.append(
            (
                "text",
                Pipeline(
                    [
                        ("fill", FunctionTransformer(_as_text)),
                        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), max_features=text_max_features, dtype=np.float32)),
                    ]
                ),
                text,  # a scalar column name hands the vectorizer a 1-D column
            )
        )
    return ColumnTransformer(blocks, remainder="drop", sparse_threshold=0.0 if dense else 0.3)


# ---------------------------------------------------------------- splits


def split_frame(
    df: pd.DataFrame,
    label: str,
    test_size: float,
    val_size: float,
    seed: int,
    stratify: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split into train, validation and test frames; the same inputs and seed give the same rows.

    Args:
        df: the (anonymized) frame; not modified.
        label: label column, used for stratification.
        test_size: share of all rows held out for testing, in (0, 1).
        val_size: share of all rows for validation, in [0, 1); 0 gives an empty validation frame.
        seed: random seed.
        stratify: keep the label's class shares in every split.

    Returns:
        (train, val, test) copies that keep the original index.

    Raises:
        ValueError: on an empty frame, a missing label, sizes out of range, or (stratified) a class too
            small to appear in every split.
    """
    if df.empty:
        raise ValueError("split_frame: the frame is empty")
    if label not in df.columns:
        raise ValueError(f"split_frame: label column '{label}' is missing")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"split_frame: test_size must be in (0, 1), got {test_size}")
    if not 0.0 <= val_size < 1.0 or test_size + val_size >= 1.0:
        raise ValueError(f"split_frame: val_size must be in [0, 1) with test_size + val_size < 1, got {val_size}")
    if stratify and df[label].isna().any():
        raise ValueError(f"split_frame: label column '{label}' has {int(df[label].isna().sum())} missing values")
    counts = df[label].value_counts()
    if stratify and (counts < 2).any():
        raise ValueError(f"split_frame: a class of label '{label}' has fewer than 2 rows; cannot stratify")
    try:
        rest, test = train_test_split(
            df, test_size=test_size, random_state=seed, stratify=df[label] if stratify else None
        )
        if val_size == 0.0:
            return rest.copy(), df.iloc[0:0].copy(), test.copy()
        # val_size is a share of all rows; re-express it as a share of what the test split left.
        train, val = train_test_split(
            rest,
            test_size=val_size / (1.0 - test_size),
            random_state=seed,
            stratify=rest[label] if stratify else None,
        )
    except ValueError as exc:
        raise ValueError(f"split_frame: cannot split {len(df)} rows on '{label}': {str(exc).splitlines()[0]}") from None
    return train.copy(), val.copy(), test.copy()


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


# ---------------------------------------------------------------- PyTorch


class _MLP(nn.Module):
    """ReLU MLP with one logit output."""

    def __init__(self, n_in: int, hidden: Sequence[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = n_in
        for width in hidden:
            layers += [nn.Linear(prev, int(width)), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = int(width)
        layers.append(nn.Linear(prev, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def resolve_device(device: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; "cpu", "cuda" or "cuda:N" as given.

    Raises:
        ValueError: for an unknown device name, or CUDA asked for where none is available.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device '{device}' (use 'auto', 'cpu' or 'cuda')") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device '{device}' (use 'auto', 'cpu' or 'cuda')")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' asked for, but CUDA is not available")
    return dev


def _as_matrix(X: Any) -> np.ndarray | sp.csr_matrix:
    """float32 CSR (kept sparse: batches are densified one at a time) or a dense float32 array."""
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float32)
    return np.asarray(X, dtype=np.float32)


def _batch(X: np.ndarray | sp.csr_matrix, idx: np.ndarray | slice, device: torch.device) -> torch.Tensor:
    part = X[idx]
    dense = part.toarray() if sp.issparse(part) else part
    return torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32)).to(device)


class TorchTabularClassifier(ClassifierMixin, BaseEstimator):
    """Binary MLP classifier in PyTorch over a (sparse or dense) feature matrix, sklearn-compatible.

    Mini-batch Adam on binary cross-entropy, early stopping on validation loss (best weights restored),
    one log line per epoch. Determinism: weights, dropout and batch order come from `seed` alone, and CPU
    fits run with `torch.use_deterministic_algorithms(True)`, so two CPU fits with the same seed and thread
    count give the same probabilities bit for bit. The caller's global RNG state is left untouched
    (`torch.random.fork_rng`); thread count is left to the caller (`torch.set_num_threads`).

    After `fit`, the weights live in `state_dict_` on the CPU, so the estimator pickles (cloudpickle,
    MLflow) and loads on a machine without a GPU.

    Args:
        hidden: widths of the hidden layers.
        epochs: maximum number of epochs.
        batch_size: rows per mini-batch.
        lr: Adam learning rate.
        weight_decay: Adam L2 penalty.
        dropout: dropout after each hidden layer (0 disables it).
        patience: epochs without validation-loss improvement before stopping; 0 disables early stopping.
        validation_fraction: share of the training rows held out for early stopping when `fit` gets no
            validation set (0: none, train for `epochs`).
        seed: random seed.
        device: "auto" (CUDA when available, else CPU), "cpu" or "cuda".
        verbose: log one INFO line per epoch (counts and losses only).
    """

    def __init__(
        self,
        hidden: Sequence[int] = (64, 32),
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        dropout: float = 0.0,
        patience: int = 4,
        validation_fraction: float = 0.1,
        seed: int = 0,
        device: str = "auto",
        verbose: bool = True,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.device = device
        self.verbose = verbose

    def _check_params(self) -> None:
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("TorchTabularClassifier: epochs and batch_size must be >= 1")
        if any(int(w) < 1 for w in self.hidden):
            raise ValueError("TorchTabularClassifier: hidden layer widths must be >= 1")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError("TorchTabularClassifier: dropout must be in [0, 1)")
        if int(self.patience) < 0:
            raise ValueError("TorchTabularClassifier: patience must be >= 0")
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError("TorchTabularClassifier: validation_fraction must be in [0, 1)")

    def build_module(self) -> nn.Module:
        """A fresh CPU module in eval mode holding the fitted weights (for prediction and Captum)."""
        if not hasattr(self, "state_dict_"):
            raise ValueError("TorchTabularClassifier is not fitted")
        module = _MLP(self.n_features_in_, self.hidden, float(self.dropout))
        module.load_state_dict(self.state_dict_)
        return module.eval()

    def fit(
        self,
        X: Any,
        y: Any,
        X_val: Any = None,
        y_val: Any = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
    ) -> TorchTabularClassifier:
        """Train; with `X_val`/`y_val` early-stop on them, else on an internal stratified split.

        Args:
            X: feature matrix (dense or scipy sparse).
            y: binary labels (two distinct values).
            X_val: optional validation matrix for early stopping.
            y_val: its labels.
            on_epoch: called after each epoch with {"epoch", "train_loss", "val_loss"}; not stored.

        Returns:
            self.

        Raises:
            ValueError: on bad parameters, no rows, or labels that are not binary.
        """
        self._check_params()
        X = _as_matrix(X)
        y = np.asarray(y).ravel()
        if X.shape[0] == 0 or X.shape[0] != len(y):
            raise ValueError(f"TorchTabularClassifier: need rows and one label per row, got {X.shape[0]} and {len(y)}")
        if pd.isna(y).any():
            raise ValueError("TorchTabularClassifier: labels contain missing values")
        classes = np.unique(y)
        if len(classes) != 2:
            raise ValueError(f"TorchTabularClassifier: need exactly 2 label classes, got {len(classes)}")
        dev = resolve_device(self.device)
        self.classes_ = classes
        target = (y == classes[1]).astype(np.float32)
        if X_val is not None and y_val is not None and len(y_val) > 0:
            Xv = _as_matrix(X_val)
            tv = (np.asarray(y_val).ravel() == classes[1]).astype(np.float32)
        elif float(self.validation_fraction) > 0:
            # At least one validation row per class, so the stratified split exists on small data.
            n_val = max(int(round(float(self.validation_fraction) * len(target))), 2)
            if np.bincount(target.astype(int)).min() < 2:
                raise ValueError("TorchTabularClassifier: each class needs 2 rows for the internal validation split")
            idx_train, idx_val = train_test_split(
                np.arange(len(target)), test_size=n_val, random_state=self.seed, stratify=target
            )
            Xv, tv = X[idx_val], target[idx_val]
            X, target = X[idx_train], target[idx_train]
        else:
            Xv, tv = None, None
        self.n_features_in_ = int(X.shape[1])
        self.device_ = str(dev)
        started = time.perf_counter()
        # fork_rng: seeding inside leaves the caller's global RNG state as it was. Torch's RNG and its
        # deterministic-algorithms switch are process-global, so candidates fitted in parallel threads
        # (mapped Prefect tasks) take turns here; scikit-learn candidates still run alongside.
        with _TORCH_GLOBAL_STATE, torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
            torch.manual_seed(int(self.seed))
            previous = torch.are_deterministic_algorithms_enabled()
            if dev.type == "cpu":
                torch.use_deterministic_algorithms(True)
            try:
                self._train(X, target, Xv, tv, dev, on_epoch)
            finally:
                torch.use_deterministic_algorithms(previous)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _train(
        self,
        X: np.ndarray | sp.csr_matrix,
        target: np.ndarray,
        Xv: np.ndarray | sp.csr_matrix | None,
        tv: np.ndarray | None,
        dev: torch.device,
        on_epoch: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        module = _MLP(X.shape[1], self.hidden, float(self.dropout)).to(dev)
        optimizer = torch.optim.Adam(module.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
        order_rng = np.random.default_rng(int(self.seed))
        n, bs = X.shape[0], int(self.batch_size)
        yt = torch.from_numpy(target)
        best_loss, best_state, best_epoch, waited = math.inf, None, 0, 0
        history: list[dict[str, Any]] = []
        self.stopped_early_ = False
        for epoch in range(1, int(self.epochs) + 1):
            module.train()
            order = order_rng.permutation(n)
            total = 0.0
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                xb, yb = _batch(X, idx, dev), yt[idx].to(dev)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(module(xb), yb)
                (loss / len(idx)).backward()
                optimizer.step()
                total += float(loss.detach())
            train_loss = total / n
            val_loss = self._mean_loss(module, Xv, tv, dev) if Xv is not None else math.nan
            entry = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
            history.append(entry)
            # Without a validation set the last epoch is "best"; with one, strictly lower loss wins.
            improved = Xv is None or val_loss < best_loss
            if improved:
                best_loss, best_epoch, waited = val_loss, epoch, 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
            else:
                waited += 1
            if self.verbose:
                log.info(
                    "epoch %d/%d  train_loss=%.4f  val_loss=%.4f  best=%d  (%d rows, %s)",
                    epoch, self.epochs, train_loss, val_loss, best_epoch, n, dev,
                )
            if on_epoch is not None:
                on_epoch(dict(entry))
            if Xv is not None and int(self.patience) > 0 and waited >= int(self.patience):
                self.stopped_early_ = epoch < int(self.epochs)
                break
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(history)
        self.state_dict_ = best_state if best_state is not None else {
            k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()
        }
        if self.verbose and self.stopped_early_:
            log.info("early stop after epoch %d; restored epoch %d", len(history), best_epoch)

    @staticmethod
    def _mean_loss(module: nn.Module, X: Any, target: np.ndarray, dev: torch.device) -> float:
        module.eval()
        total = 0.0
        loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_BATCH):
                sl = slice(start, start + _PREDICT_BATCH)
                total += float(loss_fn(module(_batch(X, sl, dev)), torch.from_numpy(target[sl]).to(dev)))
        return total / max(X.shape[0], 1)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logit of the positive class (float64, shape (n,))."""
        module = self.build_module()
        X = _as_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"TorchTabularClassifier: expected {self.n_features_in_} features, got {X.shape[1]}")
        # Prediction stays on the CPU: the result does not depend on which machine scores, and
        # batch scoring of a small MLP is not worth a device transfer.
        out = np.empty(X.shape[0], dtype=np.float64)
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_BATCH):
                sl = slice(start, start + _PREDICT_BATCH)
                out[sl] = module(_batch(X, sl, torch.device("cpu"))).double().numpy()
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n, 2), columns in `classes_` order."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


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


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: column(s) {missing} missing")


def _estimator(kind: str, params: dict[str, Any], seed: int) -> BaseEstimator:
    if kind == "logistic_regression":
        est: BaseEstimator = LogisticRegression(max_iter=1000, random_state=seed)
        seed_key = "random_state"
    elif kind == "hist_gradient_boosting":
        est = HistGradientBoostingClassifier(random_state=seed)
        seed_key = "random_state"
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


def _loss_history(est: BaseEstimator, Xt: Any, y: np.ndarray, Xv: Any, yv: np.ndarray) -> list[dict[str, Any]]:
    """Per-iteration train/val log loss for boosting; one entry (the converged fit) for linear models."""
    labels = est.classes_
    has_val = Xv is not None and len(yv) > 0

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


def training_reference(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], text: str | None) -> dict[str, Any]:
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
) -> TrainedCandidate:
    """Fit one candidate model on the training split (preprocessing included) and return it.

    The preprocessor is fitted on `train` only; `val` drives early stopping (torch) and the loss history.
    History: per-epoch losses (torch), per-iteration losses (gradient boosting), one entry for the
    converged logistic regression; each entry also goes to `on_epoch`.

    Args:
        kind: "logistic_regression", "hist_gradient_boosting" or "torch_mlp".
        params: estimator parameters (for torch_mlp: TorchTabularClassifier's).
        train: training frame (anonymized), not modified.
        val: validation frame (may be empty), not modified.
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        text: free-text feature column, or None.
        label: binary label column.
        seed: random seed for everything random in the fit.
        text_max_features: TF-IDF vocabulary bound (gradient boosting caps it at HGB_TEXT_MAX_FEATURES).
        on_epoch: called with {"epoch", "train_loss", "val_loss"} per epoch/iteration.

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
    estimator = _estimator(kind, dict(params), seed)
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
    log.info("trained %s on %d rows x %d features in %.2fs (%s)", kind, Xt.shape[0], Xt.shape[1], fit_seconds, device)
    return TrainedCandidate(
        kind=kind, params=copy.deepcopy(dict(params)), model=model, history=history, fit_seconds=fit_seconds, device=device
    )


def predict_positive(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """Probability of the positive class (the larger label) for each row, as float64 of shape (n,).

    Args:
        model: a fitted pipeline with `predict_proba`, a `ProbabilityModel`, or a loaded pyfunc model
            returning (n, 2) probabilities.
        frame: anonymized rows holding at least the model's feature columns.

    Raises:
        ValueError: when the frame lacks a feature column or the model gives no probabilities.
    """
    if isinstance(model, ProbabilityModel):
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


class ProbabilityModel(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc wrapper whose `predict` returns (n, 2) class probabilities of a fitted pipeline.

    Same contract as `mlflow.sklearn.log_model(..., pyfunc_predict_fn="predict_proba")`; used for the
    PyTorch candidate. `pipeline` is kept as an attribute so callers can unwrap it.
    """

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    # A pd.DataFrame hint tells MLflow to take the signature from the input example (no hint: a warning).
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        """Class probabilities for a frame of anonymized rows, shape (n, 2)."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return np.asarray(self.pipeline.predict_proba(frame), dtype=np.float64)
