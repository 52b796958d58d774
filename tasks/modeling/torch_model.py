"""The PyTorch candidate: a seeded, sklearn-compatible MLP classifier over sparse or dense feature matrices."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from torch import nn

log = logging.getLogger(__name__)
# Guards torch's process-global RNG and deterministic-algorithms switch during a seeded fit.
_TORCH_GLOBAL_STATE = threading.RLock()

# Rows per forward pass at prediction time: bounds the memory of densifying TF-IDF rows.
_PREDICT_BATCH = 8192


class _MLP(nn.Module):
    """ReLU MLP with one output (a binary logit, or a regression value) or `n_out` logits (k classes)."""

    def __init__(self, n_in: int, hidden: Sequence[int], dropout: float, n_out: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = n_in
        for width in hidden:
            layers += [nn.Linear(prev, int(width)), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = int(width)
        layers.append(nn.Linear(prev, int(n_out)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def resolve_device(device: str) -> torch.device:
    """ "auto" -> CUDA when available, else CPU; "cpu", "cuda" or "cuda:N" as given.

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
    dense = part if isinstance(part, np.ndarray) else part.toarray()  # else: a CSR slice (see `_as_matrix`)
    return torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32)).to(device)


class TorchTabularClassifier(ClassifierMixin, BaseEstimator):
    """MLP classifier in PyTorch over a (sparse or dense) feature matrix, sklearn-compatible.

    Two classes: one logit and binary cross-entropy; k > 2 classes: k logits, softmax and cross-entropy.
    Mini-batch Adam on that loss, early stopping on validation loss (best weights restored),
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
        # Built on the meta device, so no weight is initialised: prediction draws nothing from torch's global RNG,
        # which a seeded fit in another thread (holding `_TORCH_GLOBAL_STATE`) may be drawing dropout masks from.
        with torch.device("meta"):
            module = _MLP(self.n_features_in_, self.hidden, float(self.dropout), getattr(self, "n_outputs_", 1))
        module.load_state_dict({k: v.clone() for k, v in self.state_dict_.items()}, assign=True)
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
        target = self._targets(y)
        dev = resolve_device(self.device)
        if X_val is not None and y_val is not None and len(y_val) > 0:
            Xv = _as_matrix(X_val)
            tv = self._targets(np.asarray(y_val).ravel(), fitted=True)
        elif float(self.validation_fraction) > 0:
            # At least one validation row per class, so the stratified split exists on small data.
            n_val = max(round(float(self.validation_fraction) * len(target)), 2)
            strata = target.astype(int) if self._classifies else None
            if strata is not None and np.bincount(strata).min() < 2:
                raise ValueError("TorchTabularClassifier: each class needs 2 rows for the internal validation split")
            n_val = max(n_val, len(np.unique(strata))) if strata is not None else n_val
            idx_train, idx_val = train_test_split(
                np.arange(len(target)), test_size=n_val, random_state=self.seed, stratify=strata
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
        module = _MLP(X.shape[1], self.hidden, float(self.dropout), getattr(self, "n_outputs_", 1)).to(dev)
        optimizer = torch.optim.Adam(module.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        loss_fn = self._loss_fn()
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
            val_loss = self._mean_loss(module, Xv, tv, dev, loss_fn) if Xv is not None and tv is not None else math.nan
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
                    epoch,
                    self.epochs,
                    train_loss,
                    val_loss,
                    best_epoch,
                    n,
                    dev,
                )
            if on_epoch is not None:
                on_epoch(dict(entry))
            if Xv is not None and int(self.patience) > 0 and waited >= int(self.patience):
                self.stopped_early_ = epoch < int(self.epochs)
                break
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(history)
        self.state_dict_ = (
            best_state if best_state is not None else {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
        )
        if self.verbose and self.stopped_early_:
            log.info("early stop after epoch %d; restored epoch %d", len(history), best_epoch)

    # ------------------------------------------------------------ what differs per task

    _classifies = True

    def _targets(self, y: np.ndarray, fitted: bool = False) -> np.ndarray:
        """Training targets: 0/1 float32 for two classes (as always), class positions int64 for k > 2.

        Sets `classes_` and `n_outputs_` on the first call (`fitted=False`)."""
        if not fitted:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(f"TorchTabularClassifier: need at least 2 label classes, got {len(classes)}")
            self.classes_ = classes
            self.n_outputs_ = 1 if len(classes) == 2 else len(classes)
        if self.n_outputs_ == 1:
            return (y == self.classes_[1]).astype(np.float32)
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _loss_fn(self) -> nn.Module:
        if getattr(self, "n_outputs_", 1) == 1:
            return nn.BCEWithLogitsLoss(reduction="sum")
        return nn.CrossEntropyLoss(reduction="sum")

    @staticmethod
    def _mean_loss(module: nn.Module, X: Any, target: np.ndarray, dev: torch.device, loss_fn: nn.Module | None = None) -> float:
        module.eval()
        total = 0.0
        loss_fn = loss_fn if loss_fn is not None else nn.BCEWithLogitsLoss(reduction="sum")
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_BATCH):
                sl = slice(start, start + _PREDICT_BATCH)
                total += float(loss_fn(module(_batch(X, sl, dev)), torch.from_numpy(target[sl]).to(dev)))
        return total / max(X.shape[0], 1)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logit of the positive class (float64, shape (n,)); k logits (n, k) for k > 2 classes."""
        module = self.build_module()
        X = _as_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"TorchTabularClassifier: expected {self.n_features_in_} features, got {X.shape[1]}")
        # Prediction stays on the CPU: the result does not depend on which machine scores, and
        # batch scoring of a small MLP is not worth a device transfer.
        width = getattr(self, "n_outputs_", 1)
        out = np.empty(X.shape[0] if width == 1 else (X.shape[0], width), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_BATCH):
                sl = slice(start, start + _PREDICT_BATCH)
                out[sl] = module(_batch(X, sl, torch.device("cpu"))).double().numpy()
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n, 2) (or (n, k)), columns in `classes_` order."""
        z = self.decision_function(X)
        if z.ndim == 2:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        if proba.shape[1] > 2:
            return self.classes_[proba.argmax(axis=1)]
        return self.classes_[(proba[:, 1] >= 0.5).astype(int)]


class TorchTabularRegressor(RegressorMixin, TorchTabularClassifier):
    """The same MLP with one linear output trained on mean squared error (regression); no `predict_proba`.

    The target is standardised for training (mean and scale of the training rows, kept as `y_mean_` /
    `y_scale_`) and predictions are returned in the label's unit.
    """

    _classifies = False

    def __getattribute__(self, name: str) -> Any:
        # A regressor has no class probabilities: hide the inherited method, so `hasattr(model, "predict_proba")`
        # (and scikit-learn's Pipeline) see a regressor.
        if name == "predict_proba":
            raise AttributeError("TorchTabularRegressor has no predict_proba")
        return super().__getattribute__(name)

    def _targets(self, y: np.ndarray, fitted: bool = False) -> np.ndarray:
        values = np.asarray(y, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("TorchTabularRegressor: labels must be finite numbers")
        if not fitted:
            self.n_outputs_ = 1
            self.y_mean_ = float(values.mean())
            self.y_scale_ = float(values.std()) or 1.0
        return ((values - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _loss_fn(self) -> nn.Module:
        return nn.MSELoss(reduction="sum")

    def predict(self, X: Any) -> np.ndarray:
        return self.decision_function(X) * self.y_scale_ + self.y_mean_
