"""Task types and the label mapping: which task a label is, its classes in encoded order, and each task's metrics.

A classification label is encoded as the integers 0..k-1 before any fit (binary: 0 = negative, 1 = positive);
the `LabelSpec` records the original value of each code so scoring can hand original labels back. The label
values of a classification task are categories, not PII, and a spec never holds a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
TASK_CHOICES: tuple[str, ...] = ("auto", *TASKS)

# The metrics each task reports (evaluation computes exactly these; floors and the primary metric must be among them).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier", "ece"),
    "multiclass": ("accuracy", "f1_macro", "roc_auc_ovr", "log_loss", "brier", "ece"),
    "regression": ("rmse", "mae", "r2"),
}
# binary: ROC AUC as before. multiclass: macro F1 scores the predicted label that scoring outputs and weighs
# every class alike, so a model that ignores a small class loses (accuracy would hide it; ROC AUC OVR ranks
# probabilities and is often ~1.0 for every candidate on small tables). regression: RMSE, in the label's unit.
DEFAULT_PRIMARY: dict[str, str] = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "rmse"}
# binary: as before. multiclass: a one-vs-rest AUC of 0.6 (well above chance 0.5), beside the data-dependent
# `baseline.accuracy` gate (accuracy above the majority-class rate). regression: R² >= 0, i.e. at least as good
# as predicting the training mean.
DEFAULT_FLOORS: dict[str, dict[str, float]] = {
    "binary": {"roc_auc": 0.6},
    "multiclass": {"roc_auc_ovr": 0.6},
    "regression": {"r2": 0.0},
}


def _native(value: Any) -> Any:
    """A label value as plain JSON-able Python (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class LabelSpec:
    """What the label is: its task, and for classification the original value of each encoded class.

    Attributes:
        column: the label column.
        task: "binary", "multiclass" or "regression".
        classes: original label values in code order (index i is encoded as i); () for regression.
            Binary: (negative, positive).
    """

    column: str
    task: Task
    classes: tuple[Any, ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def positive(self) -> Any:
        """The positive class of a binary label (None otherwise)."""
        return self.classes[1] if self.task == "binary" else None

    def encode(self, values: pd.Series) -> pd.Series:
        """The label as codes 0..k-1 (int64) or, for regression, float64; same index. Raises on unknown values."""
        if self.task == "regression":
            return pd.to_numeric(values, errors="raise").astype("float64")
        keys = [_key(c) for c in self.classes]
        lookup = {k: i for i, k in enumerate(keys)}
        codes = values.map(lambda v: lookup.get(_key(v), -1))
        bad = int((codes < 0).sum())
        if bad:
            raise ValueError(f"label '{self.column}' holds {bad} value(s) outside its {self.n_classes} known classes")
        return codes.astype("int64")

    def decode(self, codes: Any) -> np.ndarray:
        """Original label values for codes 0..k-1 (object array); regression predictions are returned as floats."""
        arr = np.asarray(codes)
        if self.task == "regression":
            return arr.astype("float64")
        table = np.empty(self.n_classes + 1, dtype=object)
        table[: self.n_classes] = list(self.classes)
        idx = arr.astype(np.int64)
        return table[np.where((idx >= 0) & (idx < self.n_classes), idx, self.n_classes)]

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "task": self.task, "classes": [_native(c) for c in self.classes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSpec:
        return cls(column=str(data["column"]), task=data["task"], classes=tuple(data.get("classes") or ()))


def _key(value: Any) -> Any:
    """Equality key for a label value: 1, 1.0 and np.int64(1) match; "1" and 1 do not; bools stay bools."""
    value = _native(value)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return ("n", float(value))
    return ("s", str(value))


def is_binary_identity(spec: LabelSpec) -> bool:
    """A binary label that already is 0/1: encoding changes no value (the demo's path)."""
    return spec.task == "binary" and [_key(c) for c in spec.classes] == [("n", 0.0), ("n", 1.0)]
