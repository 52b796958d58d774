"""Differentially private candidates: an MLP and a logistic regression trained with DP-SGD (Opacus), sklearn-compatible.

What ε covers. After `fit`, `epsilon_` / `delta_` bound, in the sense of (ε, δ)-differential privacy under
add/remove-one-row adjacency, what the fitted weights (and so `predict_proba`) reveal about any single row of
the feature matrix passed to `fit`: DP-SGD clips every row's gradient to `max_grad_norm` and adds Gaussian
noise whose scale is chosen so that the accountant ("prv" by default, also "rdp" or "gdp") reports at most
`target_epsilon` after `epochs` passes at δ = `target_delta`. The bound assumes Poisson sampling of batches
(`poisson_sampling=True`, the default; with False the accounting is only an approximation) and, for an
attacker who can exploit floating-point noise or a predictable RNG, `secure_mode=True` (needs the
`torchcsprng` package and is not bit-reproducible; the default False seeds a plain PRNG from `seed`).

What ε does not cover:

- preprocessing fitted on the private rows: scaler means and variances, clipping bounds, TF-IDF vocabulary
  and idf weights, category levels of a one-hot encoder. They reach the model without noise; they are inside
  the guarantee only when they come from configuration or public lists (fixed bounds, a public vocabulary,
  declared category levels), not from the training data;
- the label set (`classes_` is inferred from `y` unless `classes` is given), the number of feature columns and
  the training row count n. The default δ = 1/(10 n) reads n, which is treated as public metadata;
- `loss_history_`: the per-epoch training loss is computed on the private rows without noise; it is for
  diagnostics and must not be published as if it were protected;
- any use of the private rows outside `fit`: choosing hyper-parameters or candidates on them, early stopping
  (there is none here: training always runs `epochs` epochs), evaluation and membership audits;
- people with several rows: ε is per row; a person with k rows is protected at about k·ε (group privacy).

The GDP accountant is an approximation that can underestimate ε (Opacus warns; so does `fit`).
"""

from __future__ import annotations

import functools
import logging
import math
import time
import warnings
from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn
from torch.utils.data import DataLoader, Dataset

from veilflow.tasks.modeling.torch_model import _TORCH_GLOBAL_STATE

log = logging.getLogger(__name__)

Accountant = Literal["prv", "rdp", "gdp"]
ACCOUNTANTS: tuple[str, ...] = ("prv", "rdp", "gdp")
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
# `_TORCH_GLOBAL_STATE` (from torch_model) guards torch's process-global RNG, deterministic-algorithms switch and
# thread count during a seeded fit: ONE lock for DP and non-DP torch fits, so fits in parallel threads stay seeded.
_PREDICT_BATCH = 8192
# Warnings Opacus and torch emit on every fit that say nothing about this fit (matched as message prefixes).
_NOISE_WARNINGS = (
    r"Secure RNG turned off",  # documented: secure_mode=False is the reproducible default
    r"Optimal order is the (largest|smallest) alpha",  # RDP order grid, emitted during the noise search
    r"GDP accounting is experimental",  # repeated per accountant object; fit warns once itself
    r"Using a non-full backward hook",
    r"Full backward hook will not fire",
    r"Full backward hook is firing when gradients are computed with respect to module outputs",
)


class _Net(nn.Module):
    """Linear/ReLU/Dropout stack (no hidden layer: a linear model); one logit for binary, k for k classes."""

    def __init__(self, n_in: int, hidden: Sequence[int], dropout: float, n_out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = n_in
        for width in hidden:
            layers += [nn.Linear(prev, int(width)), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = int(width)
        layers.append(nn.Linear(prev, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# Expected batch size from which DP-SGD uses fast (ghost) gradient clipping; below it an empty Poisson batch
# (probability about e^-batch) is possible, which only Opacus' per-sample path handles.
_GHOST_MIN_BATCH = 16


class _Rows(Dataset):
    """Rows of a dense or CSR matrix with their targets; a batch is densified in one go (`__getitems__`)."""

    def __init__(self, X: np.ndarray | sp.csr_matrix, target: np.ndarray) -> None:
        self.X = X
        self.target = target

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([i])[0]

    def __getitems__(self, idx: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        xs = torch.from_numpy(_dense(self.X[np.asarray(idx, dtype=np.int64)]))
        ys = torch.from_numpy(self.target[np.asarray(idx, dtype=np.int64)])
        return [(xs[j], ys[j]) for j in range(len(idx))]


def _dense(part: Any) -> np.ndarray:
    """A contiguous float32 array of a block of rows (sparse blocks are densified here, one batch at a time)."""
    return np.ascontiguousarray(part.toarray() if sp.issparse(part) else part, dtype=np.float32)


def _as_matrix(X: Any) -> np.ndarray | sp.csr_matrix:
    """float32 CSR (kept sparse: batches are densified one at a time) or a dense float32 array."""
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float32)
    if isinstance(X, pd.DataFrame):
        X = X.to_numpy(dtype=np.float32)
    arr = np.asarray(X, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-D feature matrix, got {arr.ndim} dimension(s)")
    return arr


@functools.lru_cache(maxsize=256)
def _noise_multiplier(target_epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str) -> float:
    """σ for (target_epsilon, delta) after `steps` Poisson-sampled steps (Opacus' binary search; pure, so cached)."""
    from opacus.accountants.utils import get_noise_multiplier

    try:
        return float(
            get_noise_multiplier(
                target_epsilon=target_epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=accountant,
            )
        )
    except ValueError as exc:  # Opacus: "The privacy budget is too low."
        raise ValueError(f"target_epsilon={target_epsilon} is out of reach for {steps} steps ({exc})") from None


@functools.lru_cache(maxsize=4096)
def _epsilon(accountant: str, history: tuple[tuple[float, float, int], ...], delta: float) -> float:
    """ε the accountant reports for a history of (σ, sample rate, steps) at `delta` (pure, so cached)."""
    from opacus.accountants import create_accountant

    acc = create_accountant(mechanism=accountant)
    acc.history = list(history)
    return float(acc.get_epsilon(delta=delta))


def _mean_loss(module: nn.Module, loss_fn: nn.Module, val: tuple[np.ndarray | sp.csr_matrix, np.ndarray], n_out: int) -> float:
    """Mean loss of the current weights on a validation set: eval mode (no dropout, so no RNG draw), no grad.

    Opacus' hooks capture nothing without grad or in eval mode; the caller's loop sets train mode each epoch.
    """
    X, target = val
    module.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, X.shape[0], _PREDICT_BATCH):
            out = module(torch.from_numpy(_dense(X[start : start + _PREDICT_BATCH])))
            yb = torch.from_numpy(target[start : start + _PREDICT_BATCH])
            total += float(loss_fn(out.squeeze(-1) if n_out == 1 else out, yb)) * len(yb)
    return total / max(X.shape[0], 1)


class _DPClassifier(ClassifierMixin, BaseEstimator):
    """Shared DP-SGD training loop, accounting and prediction of the two estimators below."""

    _name = "DPClassifier"

    # Set by the subclasses' __init__ (sklearn reads the constructor signature for get_params).
    epochs: int
    batch_size: int
    lr: float
    optimizer: str
    target_epsilon: float
    target_delta: float | None
    max_grad_norm: float
    accountant: str
    poisson_sampling: bool
    secure_mode: bool
    classes: Sequence[Any] | None
    seed: int
    num_threads: int | None
    verbose: bool

    def _architecture(self) -> tuple[tuple[int, ...], float]:
        raise NotImplementedError

    def _check_params(self) -> None:
        name = self._name
        if self.accountant not in ACCOUNTANTS:
            raise ValueError(f"{name}: accountant must be one of {', '.join(ACCOUNTANTS)}, got '{self.accountant}'")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"{name}: optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'")
        eps = float(self.target_epsilon)
        if not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"{name}: target_epsilon must be a finite number > 0, got {self.target_epsilon}")
        if self.target_delta is not None and not 0.0 < float(self.target_delta) < 1.0:
            raise ValueError(f"{name}: target_delta must be in (0, 1), got {self.target_delta}")
        if not (math.isfinite(float(self.max_grad_norm)) and float(self.max_grad_norm) > 0):
            raise ValueError(f"{name}: max_grad_norm must be > 0, got {self.max_grad_norm}")
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError(f"{name}: epochs and batch_size must be >= 1")
        if not (math.isfinite(float(self.lr)) and float(self.lr) > 0):
            raise ValueError(f"{name}: lr must be > 0, got {self.lr}")
        hidden, dropout = self._architecture()
        if any(w < 1 for w in hidden):
            raise ValueError(f"{name}: hidden layer widths must be >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1)")
        if self.num_threads is not None and int(self.num_threads) < 1:
            raise ValueError(f"{name}: num_threads must be >= 1 or None, got {self.num_threads}")

    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> Self:
        """Train with DP-SGD for `epochs` epochs to spend at most `target_epsilon` at δ = `delta_`.

        Args:
            X: preprocessed feature matrix, numpy/pandas dense or scipy sparse (densified one batch at a time).
            y: labels (two or more classes; all must be in `classes` when that is given).
            X_val: optional validation matrix: its mean loss after each epoch goes to `val_loss_history_`. It is
                only measured (no early stopping, nothing fed back), so it changes neither the weights nor ε.
            y_val: its labels (labels outside the classes are an error).

        Returns:
            self, with `classes_`, `epsilon_`, `delta_`, `noise_multiplier_`, `epsilon_history_` (ε after each
            epoch), `loss_history_` (mean training loss per epoch, not private), `val_loss_history_` (NaN without
            a validation set), `n_features_in_`, `state_dict_` and `fit_seconds_`.

        Raises:
            ValueError: bad parameters, no rows, missing labels, fewer than two classes, labels outside
                `classes`, target_delta >= 1/n, or a budget Opacus cannot reach.
        """
        self._check_params()
        name = self._name
        Xm = _as_matrix(X)
        labels = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
        labels = labels.ravel()
        n = int(Xm.shape[0])
        if n == 0 or n != len(labels):
            raise ValueError(f"{name}: need rows and one label per row, got {n} and {len(labels)}")
        if pd.isna(labels).any():
            raise ValueError(f"{name}: labels contain missing values")
        classes = np.unique(labels) if self.classes is None else np.asarray(list(self.classes))
        if len(classes) < 2 or len(np.unique(classes)) != len(classes):
            raise ValueError(f"{name}: need at least 2 distinct classes, got {len(np.unique(classes))}")
        codes = np.full(n, -1, dtype=np.int64)
        for i, c in enumerate(classes):
            codes[labels == c] = i
        if (codes < 0).any():
            raise ValueError(f"{name}: {int((codes < 0).sum())} label(s) are not among classes")
        delta = float(self.target_delta) if self.target_delta is not None else 1.0 / (10.0 * n)
        if delta >= 1.0 / n:
            raise ValueError(f"{name}: target_delta must be below 1/n = {1.0 / n:.3g} for {n} rows, got {delta:.3g}")
        binary = len(classes) == 2
        target = codes.astype(np.float32) if binary else codes
        val: tuple[np.ndarray | sp.csr_matrix, np.ndarray] | None = None
        if X_val is not None and y_val is not None and len(y_val) > 0:
            labels_val = (y_val.to_numpy() if isinstance(y_val, pd.Series) else np.asarray(y_val)).ravel()
            codes_val = np.full(len(labels_val), -1, dtype=np.int64)
            for i, c in enumerate(classes):
                codes_val[labels_val == c] = i
            if (codes_val < 0).any():
                raise ValueError(f"{name}: {int((codes_val < 0).sum())} validation label(s) are not among classes")
            val = (_as_matrix(X_val), codes_val.astype(np.float32) if binary else codes_val)
        started = time.perf_counter()
        if self.accountant == "gdp":
            warnings.warn(f"{name}: the GDP accountant is an approximation and can underestimate ε", stacklevel=2)
        # fork_rng: seeding inside leaves the caller's global RNG state as it was. Torch's RNG and its
        # deterministic-algorithms switch are process-global, so seeded fits in threads take turns here.
        with _TORCH_GLOBAL_STATE, torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            for pattern in _NOISE_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            torch.manual_seed(int(self.seed))
            previous = torch.are_deterministic_algorithms_enabled()
            threads = torch.get_num_threads()
            torch.use_deterministic_algorithms(True)
            if self.num_threads is not None:
                torch.set_num_threads(int(self.num_threads))
            try:
                self._train(Xm, target, 1 if binary else len(classes), n, delta, val)
            finally:
                torch.use_deterministic_algorithms(previous)
                torch.set_num_threads(threads)
        # Set only once training succeeded, so a failed refit never pairs new classes with old weights.
        self.classes_ = classes
        self.n_features_in_ = int(Xm.shape[1])
        self.delta_ = delta
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _train(
        self,
        X: np.ndarray | sp.csr_matrix,
        target: np.ndarray,
        n_out: int,
        n: int,
        delta: float,
        val: tuple[np.ndarray | sp.csr_matrix, np.ndarray] | None = None,
    ) -> None:
        from opacus import PrivacyEngine

        hidden, dropout = self._architecture()
        module = _Net(X.shape[1], hidden, dropout, n_out)
        if self.optimizer == "adam":
            optimizer: torch.optim.Optimizer = torch.optim.Adam(module.parameters(), lr=float(self.lr))
        else:
            optimizer = torch.optim.SGD(module.parameters(), lr=float(self.lr), momentum=0.9)
        loader_rng = torch.Generator().manual_seed(int(self.seed))
        noise_rng = None if self.secure_mode else torch.Generator().manual_seed(int(self.seed) + 1)
        bs = min(int(self.batch_size), n)
        loader = DataLoader(_Rows(X, target), batch_size=bs, shuffle=True, generator=loader_rng)
        # Steps per epoch exactly as Opacus will run them: its Poisson sampler takes int(1 / (1 / len(loader))).
        steps_per_epoch = int(1 / (1 / len(loader))) if self.poisson_sampling else len(loader)
        sample_rate = 1.0 / steps_per_epoch
        epochs = int(self.epochs)
        sigma = _noise_multiplier(float(self.target_epsilon), delta, sample_rate, epochs * steps_per_epoch, self.accountant)
        engine = PrivacyEngine(accountant=self.accountant, secure_mode=bool(self.secure_mode))
        loss_fn: nn.Module = nn.BCEWithLogitsLoss() if n_out == 1 else nn.CrossEntropyLoss()
        # Fast gradient clipping ("ghost", Opacus >= 1.5): the same per-sample-clipped, noised gradient without
        # materialising per-sample gradients (for the first layer over a TF-IDF vocabulary that was a zeroed
        # (batch x 2000 x 64) buffer per step: 6x the plain fit, 2.9x with ghost clipping; weights agree to
        # float32 rounding, ε is the same). An empty Poisson batch is handled by the per-sample ("hooks") path
        # only, so tiny expected batches (P(empty) = e^-batch) keep it.
        mode = "ghost" if bs >= _GHOST_MIN_BATCH else "hooks"
        private = engine.make_private(
            module=module,
            optimizer=optimizer,
            data_loader=loader,
            criterion=loss_fn,
            noise_multiplier=sigma,
            max_grad_norm=float(self.max_grad_norm),
            poisson_sampling=bool(self.poisson_sampling),
            noise_generator=noise_rng,
            grad_sample_mode=mode,
        )
        if mode == "ghost":
            dp_module, dp_optimizer, criterion, dp_loader = private
        else:
            dp_module, dp_optimizer, dp_loader = private
            criterion = loss_fn
        if len(dp_loader) != steps_per_epoch:
            raise RuntimeError(f"{self._name}: Opacus runs {len(dp_loader)} steps per epoch, planned {steps_per_epoch}")
        eps_history: list[float] = []
        loss_history: list[float] = []
        val_history: list[float] = []
        try:
            for epoch in range(1, epochs + 1):
                dp_module.train()
                total, rows = 0.0, 0
                for xb, yb in dp_loader:
                    dp_optimizer.zero_grad(set_to_none=True)
                    out = dp_module(xb)
                    loss = criterion(out.squeeze(-1) if n_out == 1 else out, yb)
                    loss.backward()
                    dp_optimizer.step()
                    if len(yb):
                        total += float(loss.detach()) * len(yb)
                        rows += len(yb)
                history = tuple((float(s), float(q), int(k)) for s, q, k in engine.accountant.history)
                eps_history.append(_epsilon(self.accountant, history, delta))
                loss_history.append(total / rows if rows else math.nan)
                val_history.append(_mean_loss(module, loss_fn, val, n_out) if val is not None else math.nan)
                if self.verbose:
                    log.info(
                        "epoch %d/%d  train_loss=%.4f  epsilon=%.3f  (%d rows)",
                        epoch,
                        epochs,
                        loss_history[-1],
                        eps_history[-1],
                        n,
                    )
        finally:
            dp_module._close()
        taken = sum(k for _, _, k in engine.accountant.history)
        if taken != epochs * steps_per_epoch:
            raise RuntimeError(f"{self._name}: took {taken} DP steps, planned {epochs * steps_per_epoch}")
        self.state_dict_ = {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
        self.noise_multiplier_ = sigma
        self.sample_rate_ = sample_rate
        self.epsilon_history_ = eps_history
        self.loss_history_ = loss_history
        self.val_loss_history_ = val_history
        self.epsilon_ = eps_history[-1]

    def build_module(self) -> nn.Module:
        """A fresh CPU module in eval mode holding the fitted weights (for prediction and attribution)."""
        if not hasattr(self, "state_dict_"):
            raise ValueError(f"{self._name} is not fitted")
        hidden, dropout = self._architecture()
        n_out = 1 if len(self.classes_) == 2 else len(self.classes_)
        # Meta device: no initialisation, so no draw from torch's global RNG (a seeded fit in another thread may be
        # using it); the fitted weights are copied in.
        with torch.device("meta"):
            module = _Net(self.n_features_in_, hidden, dropout, n_out)
        module.load_state_dict({k: v.clone() for k, v in self.state_dict_.items()}, assign=True)
        return module.eval()

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: shape (n,) for binary (logit of classes_[1]), (n, k) for k classes (float64)."""
        module = self.build_module()
        Xm = _as_matrix(X)
        if Xm.shape[1] != self.n_features_in_:
            raise ValueError(f"{self._name}: expected {self.n_features_in_} features, got {Xm.shape[1]}")
        width = 1 if len(self.classes_) == 2 else len(self.classes_)
        out = np.empty((Xm.shape[0], width), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, Xm.shape[0], _PREDICT_BATCH):
                part = _dense(Xm[start : start + _PREDICT_BATCH])
                out[start : start + _PREDICT_BATCH] = module(torch.from_numpy(part)).double().numpy()
        return out[:, 0] if width == 1 else out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n, k), columns in `classes_` order (k = 2 for binary)."""
        logits = self.decision_function(X)
        if logits.ndim == 1:
            p = 1.0 / (1.0 + np.exp(-logits))
            return np.column_stack([1.0 - p, p])
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class DPTorchMLPClassifier(_DPClassifier):
    """Linear/ReLU/Dropout MLP trained with DP-SGD (Opacus); binary or multiclass, sklearn-compatible.

    Deterministic with `secure_mode=False`: weights, dropout, Poisson batches and DP noise all come from
    `seed` (torch's global RNG is forked and seeded locally, the loader and the noise have their own
    `torch.Generator`s, deterministic algorithms are on), so two CPU fits with the same seed and thread count
    give identical `predict_proba` and ε. Training is on the CPU. See the module docstring for what ε covers.

    Args:
        hidden: widths of the hidden layers.
        dropout: dropout after each hidden layer (0 disables it).
        epochs: passes over the data (all run: no early stopping, it would read the private rows).
        batch_size: expected rows per batch (with Poisson sampling the sample rate is about batch_size / n).
        lr: learning rate.
        optimizer: "adam" (DP-Adam) or "sgd" (DP-SGD with momentum 0.9).
        target_epsilon: privacy budget ε to spend over `epochs` (> 0).
        target_delta: δ; default 1/(10 n) from the training row count n (treated as public metadata); must
            be below 1/n.
        max_grad_norm: per-row gradient clipping norm C.
        accountant: "prv" (default, tightest), "rdp" or "gdp" (approximate, can underestimate ε).
        poisson_sampling: Poisson-sampled batches, which the accounting assumes (keep True).
        secure_mode: cryptographic RNG for noise and sampling (needs `torchcsprng`; not reproducible).
        classes: the label set in column order; default: the sorted labels seen in `fit` (outside the
            guarantee: pass it from configuration to keep the label set out of the data).
        seed: random seed.
        num_threads: torch intra-op threads during `fit`, restored afterwards (None: leave the process
            setting). 1 is usually fastest for models this small and makes results independent of core count.
        verbose: log one INFO line per epoch (loss and ε only).
    """

    _name = "DPTorchMLPClassifier"

    def __init__(
        self,
        hidden: Sequence[int] = (64, 32),
        dropout: float = 0.0,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        optimizer: str = "adam",
        target_epsilon: float = 8.0,
        target_delta: float | None = None,
        max_grad_norm: float = 1.0,
        accountant: str = "prv",
        poisson_sampling: bool = True,
        secure_mode: bool = False,
        classes: Sequence[Any] | None = None,
        seed: int = 0,
        num_threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.target_epsilon = target_epsilon
        self.target_delta = target_delta
        self.max_grad_norm = max_grad_norm
        self.accountant = accountant
        self.poisson_sampling = poisson_sampling
        self.secure_mode = secure_mode
        self.classes = classes
        self.seed = seed
        self.num_threads = num_threads
        self.verbose = verbose

    def _architecture(self) -> tuple[tuple[int, ...], float]:
        return tuple(int(w) for w in self.hidden), float(self.dropout)


class DPLogisticRegression(_DPClassifier):
    """Logistic regression (one Linear layer, sigmoid or softmax) trained with DP-SGD on Opacus.

    Same training loop, accountant and determinism as `DPTorchMLPClassifier`; no hidden layer. The
    regularisation is the clipping and noise themselves (no explicit penalty). See the module docstring for
    what ε covers.

    Args:
        epochs: passes over the data.
        batch_size: expected rows per batch.
        lr: learning rate.
        optimizer: "sgd" (DP-SGD with momentum 0.9) or "adam".
        target_epsilon: privacy budget ε (> 0).
        target_delta: δ; default 1/(10 n), below 1/n.
        max_grad_norm: per-row gradient clipping norm C.
        accountant: "prv", "rdp" or "gdp".
        poisson_sampling: Poisson-sampled batches (keep True).
        secure_mode: cryptographic RNG (needs `torchcsprng`; not reproducible).
        classes: the label set in column order (default: labels seen in `fit`).
        seed: random seed.
        num_threads: torch intra-op threads during `fit` (None: leave the process setting).
        verbose: log one INFO line per epoch.
    """

    _name = "DPLogisticRegression"

    def __init__(
        self,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 0.05,
        optimizer: str = "sgd",
        target_epsilon: float = 8.0,
        target_delta: float | None = None,
        max_grad_norm: float = 1.0,
        accountant: str = "prv",
        poisson_sampling: bool = True,
        secure_mode: bool = False,
        classes: Sequence[Any] | None = None,
        seed: int = 0,
        num_threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.target_epsilon = target_epsilon
        self.target_delta = target_delta
        self.max_grad_norm = max_grad_norm
        self.accountant = accountant
        self.poisson_sampling = poisson_sampling
        self.secure_mode = secure_mode
        self.classes = classes
        self.seed = seed
        self.num_threads = num_threads
        self.verbose = verbose

    def _architecture(self) -> tuple[tuple[int, ...], float]:
        return (), 0.0
