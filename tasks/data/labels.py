"""The label check at load: which task a label supports, its classes in encoded order, one-line errors before any fit.

`check_label(values, task)` is pure: a Series in, a `LabelSpec` out (or a `LabelError` naming the column and the
problem, never a value). Rules:

- **binary**: exactly two distinct non-null values of any kind (0/1, booleans, yes/no, any two strings). The
  positive class (encoded 1) is `positive_label` when given; else 1 of {0, 1} and True of {False, True}; else the
  one value that reads as positive ("1", "true", "t", "yes", "y", "positive", "pos", any case); else the second
  of the two in sorted order (numbers before text) — the larger label, as scikit-learn orders classes. The rule
  never depends on class frequencies, so the same two values always give the same positive class.
- **multiclass**: 3..`max_classes` distinct values, each on at least 2 rows (so every split can be stratified);
  classes are encoded in sorted order.
- **regression**: a numeric, finite label with at least 2 distinct values.
- **auto**: two values → binary; numbers that are not all whole, or more than `max_classes` distinct whole
  numbers → regression; else (whole numbers or text, 3..`max_classes` values) → multiclass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.errors import LabelError
from veilflow.core.labels import TASK_CHOICES, LabelSpec, _key, _native

MAX_CLASSES = 50
MIN_ROWS_PER_CLASS = 2
_POSITIVE_TOKENS = frozenset({"1", "true", "t", "yes", "y", "positive", "pos"})

__all__ = ["MAX_CLASSES", "check_label"]


def _sort_key(value: Any) -> tuple[int, Any]:
    kind, v = _key(value)
    return ({"b": 0, "n": 0, "s": 1}[kind], float(v) if kind in ("b", "n") else v)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _as_numbers(values: pd.Series) -> np.ndarray | None:
    """The label as float64 when every value is a number (or numeric text); None otherwise."""
    if pd.api.types.is_bool_dtype(values):
        return None
    if _is_numeric(values):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    if any(isinstance(v, bool | np.bool_) for v in values.tolist()):
        return None
    converted = pd.to_numeric(values, errors="coerce")
    if converted.isna().any():
        return None
    return converted.to_numpy(dtype="float64")


def _positive(pair: list[Any], positive_label: Any, column: str) -> Any:
    if positive_label is not None:
        for v in pair:
            if _key(v) == _key(positive_label) or str(_native(v)) == str(positive_label):
                return v
        raise LabelError(f"label '{column}': dataset.positive_label is not one of the label's two values")
    keys = {_key(v) for v in pair}
    if keys in ({("n", 0.0), ("n", 1.0)}, {("b", False), ("b", True)}):
        return next(v for v in pair if _key(v) in {("n", 1.0), ("b", True)})
    tokens = [v for v in pair if isinstance(_native(v), str) and str(v).strip().lower() in _POSITIVE_TOKENS]
    if len(tokens) == 1:
        return tokens[0]
    return sorted(pair, key=_sort_key)[1]


def check_label(
    values: pd.Series,
    task: str = "auto",
    positive_label: Any = None,
    max_classes: int = MAX_CLASSES,
    column: str | None = None,
) -> LabelSpec:
    """Check a label against a task and return its spec (task resolved, classes in code order).

    Args:
        values: the label column (raw or anonymized: the label is not anonymized).
        task: "auto", "binary", "multiclass" or "regression".
        positive_label: binary only: the value encoded as the positive class (see the module docstring).
        max_classes: most classes a classification label may have.
        column: the column's name for messages (default: the Series' name).

    Returns:
        The `LabelSpec`.

    Raises:
        LabelError: one line naming the column and the problem (never a value): missing values, one class,
            a class count the task cannot take, a text label for regression, a class on a single row.
    """
    name = str(column if column is not None else (values.name if values.name is not None else "label"))
    if task not in TASK_CHOICES:
        raise LabelError(f"label '{name}': unknown task '{task}' (known: {', '.join(TASK_CHOICES)})")
    if len(values) == 0:
        raise LabelError(f"label '{name}' is empty")
    missing = int(values.isna().sum())
    if missing:
        raise LabelError(f"label '{name}' has {missing} missing value(s); drop or fill those rows")
    numbers = _as_numbers(values)
    if numbers is not None and not np.isfinite(numbers).all():
        raise LabelError(f"label '{name}' holds {int((~np.isfinite(numbers)).sum())} infinite value(s)")
    counts = values.map(_key).value_counts()
    k = len(counts)
    if k < 2:
        raise LabelError(f"label '{name}' has a single class; training needs at least 2 distinct values")
    whole = numbers is not None and bool(np.all(np.floor(numbers) == numbers))
    if task == "auto":
        if k == 2:
            task = "binary"
        elif numbers is not None and (not whole or k > max_classes):
            task = "regression"
        else:
            task = "multiclass"
    if task == "regression":
        if numbers is None:
            raise LabelError(f"label '{name}' is not numeric; task regression needs a numeric label")
        return LabelSpec(column=name, task="regression")
    if numbers is not None and not whole and k > max_classes:
        raise LabelError(
            f"label '{name}' is numeric with {k} distinct non-integer values; set dataset.task: regression to predict it"
        )
    if task == "binary" and k != 2:
        hint = " (dataset.task: multiclass)" if k <= max_classes else ""
        raise LabelError(f"label '{name}' has {k} distinct values; task binary needs exactly 2{hint}")
    if task == "multiclass":
        if k == 2:
            raise LabelError(f"label '{name}' has 2 distinct values; use dataset.task: binary (or auto)")
        if k > max_classes:
            raise LabelError(f"label '{name}' has {k} distinct values, more than max_classes {max_classes}")
        small = int((counts < MIN_ROWS_PER_CLASS).sum())
        if small:
            raise LabelError(
                f"label '{name}': {small} class(es) occur on fewer than {MIN_ROWS_PER_CLASS} rows (a stratified split "
                "needs 2 each); merge rare classes or set dataset.task: regression"
            )
    # One representative original value per class (the first seen), in a deterministic order.
    first: dict[Any, Any] = {}
    for v in values.tolist():
        first.setdefault(_key(v), _native(v))
    reps = list(first.values())
    if task == "binary":
        pos = _positive(reps, positive_label, name)
        neg = next(v for v in reps if _key(v) != _key(pos))
        return LabelSpec(column=name, task="binary", classes=(neg, pos))
    return LabelSpec(column=name, task="multiclass", classes=tuple(sorted(reps, key=_sort_key)))
