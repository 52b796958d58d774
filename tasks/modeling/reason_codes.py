"""Reason codes: per-row occlusion contributions against a reference row, and predictions with their reasons.

The contribution of a feature to one row is the change of the model's margin (log-odds of the class explained,
or the predicted value) when that feature takes the reference value (median / most frequent / empty text);
the top-k by absolute value are the row's reason codes. Batched: a frame and its occluded copies go through
the model in one call per chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from veilflow.tasks.modeling.candidates import _SCORE_CHUNK, _positive, predict_output
from veilflow.tasks.modeling.explain import (
    _EPS,
    _LINEAR,
    _TREES,
    _check_frame,
    _dense,
    _n_classes,
    _pipeline_of,
    _text_tokens,
    feature_groups,
)

_CHUNK = 20_000


def _reference(pipeline: Pipeline, features: list[str], source: pd.DataFrame | None) -> dict[str, Any]:
    """Median of numeric features, mode of the others, empty text; from `source` or the training split."""
    text = _text_tokens(pipeline)
    text_col = text[0] if text else None
    if source is None:
        stored = getattr(pipeline, "veilflow_reference_", None)
        if stored is not None and all(f in stored for f in features):
            return {f: stored[f] for f in features}
        raise ValueError("reason_codes: the model carries no training reference; pass a background frame")
    ref: dict[str, Any] = {}
    for f in features:
        col = source[f]
        if f == text_col:
            ref[f] = ""
        elif pd.api.types.is_numeric_dtype(col):
            ref[f] = float(col.median()) if col.notna().any() else np.nan
        else:
            counts = col.dropna().astype(str).value_counts()
            ref[f] = sorted(counts.index[counts == counts.max()])[0] if len(counts) else None
    return ref


def _target(est: Any, X: Any) -> np.ndarray | None:
    """Multiclass: each row's predicted class (its reason codes explain that class); None otherwise."""
    return np.asarray(est.predict_proba(X)).argmax(axis=1) if _n_classes(est) > 2 else None


def _margin(est: Any, X: Any, target: np.ndarray | None = None) -> np.ndarray:
    """Log-odds of the positive class (decision_function where the estimator has one); for a multiclass model
    the log-odds of class `target` per row; for a regressor the prediction itself."""
    if _n_classes(est) == 0:
        return np.asarray(est.predict(X), dtype=np.float64).ravel()
    if target is not None:
        proba = np.asarray(est.predict_proba(X), dtype=np.float64)
        p = np.clip(proba[np.arange(len(proba)), target], _EPS, 1 - _EPS)
        return np.log(p / (1 - p))
    if hasattr(est, "decision_function"):
        return np.asarray(est.decision_function(X), dtype=np.float64).ravel()
    p = np.clip(np.asarray(est.predict_proba(X))[:, 1], _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _margin_for(est: Any, X: Any, target: np.ndarray | None) -> np.ndarray:
    """`_margin`, with the class argument only where there is one (binary and regression calls stay two-argument)."""
    return _margin(est, X) if target is None else _margin(est, X, target)


def _replace_block(Xt: Any, idx: np.ndarray, ref_row: Any) -> Any:
    """`Xt` with the columns `idx` (contiguous) set to the reference row's values in every row."""
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    if sp.issparse(Xt):
        block = sp.csr_matrix(np.ones((Xt.shape[0], 1))) @ sp.csr_matrix(ref_row[:, lo:hi])
        return sp.hstack([Xt[:, :lo], block, Xt[:, hi:]], format="csr")
    out = np.array(Xt, copy=True)
    out[:, lo:hi] = _dense(ref_row)[0, lo:hi]
    return out


def _occluded_csr(Xt: Any, spans: list[np.ndarray], ref_row: Any) -> sp.csr_matrix:
    """`sp.vstack([Xt, *(_replace_block(Xt, idx, ref_row) for idx in spans)])`, entry for entry (values, and
    their order within each row: what a sparse dot product sums), built with array operations at once."""
    X = sp.csr_matrix(Xt)
    m = X.shape[0]
    rows = np.repeat(np.arange(m), np.diff(X.indptr))
    # `_replace_block`'s block is ones @ the reference's columns: its entries, in the product's order, are those
    # of one product of the whole reference row restricted to the columns (slicing keeps the order).
    ref = sp.csr_matrix(np.ones((1, 1))) @ sp.csr_matrix(ref_row)

    def ranks(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (row, rank within its row) of X's entries under mask
        r = rows[mask]
        counts = np.bincount(r, minlength=m)
        return r, np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)

    indptr, indices, data, offset = [X.indptr.astype(np.int64)], [X.indices.astype(np.int64)], [X.data], X.nnz
    for idx in spans:
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        in_block = (ref.indices >= lo) & (ref.indices < hi)
        block_cols, block_vals = ref.indices[in_block].astype(np.int64), ref.data[in_block]
        k = len(block_cols)
        (left_rows, left_rank), (right_rows, right_rank) = ranks(X.indices < lo), ranks(X.indices >= hi)
        n_left, n_right = np.bincount(left_rows, minlength=m), np.bincount(right_rows, minlength=m)
        ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(n_left + k + n_right, out=ptr[1:])
        cols = np.empty(ptr[-1], dtype=np.int64)
        vals = np.empty(ptr[-1], dtype=np.result_type(X.data, block_vals))
        at = ptr[left_rows] + left_rank  # left of the block, as they were; then the reference's block; then the rest
        cols[at], vals[at] = X.indices[X.indices < lo], X.data[X.indices < lo]
        at = (ptr[:-1] + n_left)[:, None] + np.arange(k)
        cols[at.ravel()], vals[at.ravel()] = np.tile(block_cols, m), np.tile(block_vals, m)
        at = ptr[right_rows] + n_left[right_rows] + k + right_rank
        cols[at], vals[at] = X.indices[X.indices >= hi], X.data[X.indices >= hi]
        indptr.append(ptr[1:] + offset)
        indices.append(cols)
        data.append(vals)
        offset += int(ptr[-1])
    shape = (m * (len(spans) + 1), X.shape[1])
    return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)), shape=shape)


def _stacks(pipeline: Pipeline) -> bool:
    """Whether occluded copies can share one model call, to the last bit: trees and linear models on a sparse
    matrix compute each row alone; dense BLAS and torch kernels round with the batch's shape."""
    est = pipeline.steps[-1][1]
    sparse = bool(getattr(pipeline.steps[-2][1] if len(pipeline.steps) > 1 else None, "sparse_output_", False))
    return isinstance(est, _TREES) or (isinstance(est, _LINEAR) and sparse)


def _occluded(est: Any, Xt: Any, ref_t: Any, groups: dict[str, np.ndarray], features: list[str], stacked: bool) -> np.ndarray:
    """Contributions (rows x features) of one transformed chunk: stacked in one model call, or one per feature."""
    target = _target(est, Xt)
    if stacked:
        if sp.issparse(Xt):
            stack = _occluded_csr(Xt, [groups[f] for f in features], ref_t)
        else:
            stack = np.concatenate([Xt, *(_replace_block(Xt, groups[f], ref_t) for f in features)])
        tiled = np.tile(target, len(features) + 1) if target is not None else None
        margins, m = _margin_for(est, stack, tiled), Xt.shape[0]
        return (margins[:m] - margins[m:].reshape(len(features), m)).T
    base = _margin_for(est, Xt, target)
    return np.column_stack([base - _margin_for(est, _replace_block(Xt, groups[f], ref_t), target) for f in features])


def occlusion_contributions(
    trained_or_model: Any, frame: pd.DataFrame, background: pd.DataFrame | None = None, fast: bool = True
) -> pd.DataFrame:
    """Per row and original feature: log-odds(row) - log-odds(row with that feature set to the reference).

    Positive values push the prediction toward the positive class. The reference is the median (numeric)
    / mode (categorical) / empty text of `background`, or of the training split when None. `fast` swaps
    the feature's block of the already transformed matrix (exact, since each feature is transformed on
    its own); `fast=False` re-runs the whole pipeline on the occluded raw frame (any pipeline).
    """
    pipeline = _pipeline_of(trained_or_model)
    features = list(pipeline.feature_names_in_)
    _check_frame(frame, features, "reason_codes")
    if background is not None:
        _check_frame(background, features, "reason_codes (background)")
        if background.empty:
            raise ValueError("reason_codes: the background frame is empty")
    X = frame[features]
    if X.empty:
        return pd.DataFrame(columns=features, index=frame.index, dtype=np.float64)
    ref = _reference(pipeline, features, background)
    est = pipeline.steps[-1][1]
    contrib = np.empty((len(X), len(features)), dtype=np.float64)
    groups = dict(feature_groups(pipeline)) if fast else {}
    ref_frame = pd.DataFrame({f: [ref[f]] for f in features})
    ref_t: Any = None
    # Stacked: the chunk and one copy per occluded feature in one model call, split afterwards (`_stacks`).
    stacked = fast and _stacks(pipeline)
    # Chunks bound memory: a dense (gradient boosting) model matrix of a million rows would not fit twice
    # (a stacked chunk holds at most _CHUNK rows in all).
    step = max(1, _CHUNK // (len(features) + 1)) if stacked else _CHUNK
    for start in range(0, len(X), step):
        part = X.iloc[start : start + step]
        rows = slice(start, start + len(part))
        if fast and ref_t is None:
            # The reference row is transformed with the first chunk (one call, not two: the preprocessor
            # transforms each row on its own, so the rows are those of separate calls).
            both = pipeline[:-1].transform(pd.concat([part, ref_frame], ignore_index=True))
            Xt, ref_t = both[: len(part)], both[len(part) :]
        elif fast:
            Xt = pipeline[:-1].transform(part)
        if fast:
            contrib[rows] = _occluded(est, Xt, ref_t, groups, features, stacked)
        else:
            target = _target(pipeline, part)
            base = _margin_for(pipeline, part, target)
            for j, f in enumerate(features):
                occluded = part.copy()
                occluded[f] = [ref[f]] * len(part)
                contrib[rows, j] = base - _margin_for(pipeline, occluded, target)
    return pd.DataFrame(contrib, columns=features, index=frame.index)


def reason_codes(
    trained_or_model: Any,
    frame: pd.DataFrame,
    top_k: int = 3,
    background: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per row, the original features that push its prediction most toward the positive class.

    Method: occlusion against a reference row. For each feature, the row's log-odds minus the log-odds
    with that feature set to the reference value (median for numeric, mode for categorical, empty text
    for the text column). Trees and linear models on a sparse matrix score the batch and every
    feature's occluded copy in one stacked model call (per chunk of at most 20,000 stacked rows);
    other models (dense BLAS, torch), whose last bits depend on the batch's shape, one call per feature.
    10k rows take about a second. The reference comes from `background` when given, else from the
    training split (stored on pipelines built by `train_candidate`). For a logistic regression this equals the exact linear
    attribution coef * (x - reference) summed per feature.

    Args:
        trained_or_model: a `TrainedCandidate`, a fitted veilflow pipeline, or the pyfunc wrapper.
        frame: anonymized rows with the model's feature columns; not modified.
        top_k: number of reason columns.
        background: optional frame to take the reference values from.

    Returns:
        A frame indexed like `frame` with columns reason_1..reason_k: feature names, strongest first;
        missing where fewer than k features push the row toward the positive class.

    Raises:
        ValueError: top_k < 1, a missing column, an empty background, or a model that is not a
            fitted pipeline.
    """
    if top_k < 1:
        raise ValueError(f"reason_codes: top_k must be >= 1, got {top_k}")
    contrib = occlusion_contributions(trained_or_model, frame, background)
    return _ranked(contrib.to_numpy(), np.asarray(contrib.columns, dtype=object), frame.index, top_k)


def _ranked(values: np.ndarray, names: np.ndarray, index: pd.Index, top_k: int) -> pd.DataFrame:
    """reason_1..reason_k from contributions (rows x features): the positive ones, strongest first."""
    columns = [f"reason_{i}" for i in range(1, top_k + 1)]
    if values.shape[0] == 0:
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns}, index=index)
    k = min(top_k, values.shape[1])
    # Stable sort: ties keep the pipeline's feature order, so codes are reproducible.
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    top_vals = np.take_along_axis(values, order, axis=1)
    picked = np.where(top_vals > 0, names[order], np.full(order.shape, None, dtype=object))
    return pd.DataFrame(
        {
            col: pd.Series(picked[:, i] if i < k else [None] * len(index), index=index, dtype="str")
            for i, col in enumerate(columns)
        },
        index=index,
    )


def predict_with_reason_codes(trained_or_model: Any, frame: pd.DataFrame, top_k: int = 3) -> tuple[np.ndarray, pd.DataFrame]:
    """`(predict_output(model, frame), reason_codes(model, frame, top_k))`, to the last bit, with one
    transform of a frame that is one chunk of both (a served request): the estimator gets the matrix
    `predict_proba` would give it (rows are transformed on their own). Larger frames take the two calls."""
    if top_k < 1:
        raise ValueError(f"reason_codes: top_k must be >= 1, got {top_k}")
    pipeline = _pipeline_of(trained_or_model)
    features = list(pipeline.feature_names_in_)
    _check_frame(frame, features, "reason_codes")
    stacked = _stacks(pipeline)
    single = min(_SCORE_CHUNK, max(1, _CHUNK // (len(features) + 1)) if stacked else _CHUNK)
    if not 0 < len(frame) <= single:
        return predict_output(pipeline, frame), reason_codes(pipeline, frame, top_k=top_k)
    est = pipeline.steps[-1][1]
    ref = _reference(pipeline, features, None)
    X = frame[features]
    both = pipeline[:-1].transform(pd.concat([X, pd.DataFrame({f: [ref[f]] for f in features})], ignore_index=True))
    Xt, ref_t = both[: len(X)], both[len(X) :]
    k = _n_classes(est)
    if k == 0:
        probabilities = np.asarray(est.predict(Xt), dtype=np.float64).ravel()
    else:
        probabilities = _positive(est.predict_proba(Xt)) if k == 2 else np.asarray(est.predict_proba(Xt), dtype=np.float64)
    contrib = _occluded(est, Xt, ref_t, dict(feature_groups(pipeline)), features, stacked)
    return probabilities, _ranked(contrib, np.asarray(features, dtype=object), frame.index, top_k)
