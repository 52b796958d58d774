"""Reason codes in one model call (the batch and every feature's occluded copy stacked; the reference row
transformed with the first chunk): the same contributions, to the last bit, and the same reason columns as
one transform of the reference and one model call per feature (the previous implementation, kept here as
the reference), for every candidate kind, alone or in batches."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import veilflow.tasks.modeling.explain as explain
import veilflow.tasks.modeling.reason_codes as rc
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.modeling.candidates import KINDS, train_candidate
from veilflow.tasks.modeling.preprocessing import split_frame

NUMERIC = ["tenure_months", "monthly_charges", "num_support_tickets"]
CATEGORICAL = ["contract_type", "payment_method", "plan", "age_band"]
TEXT, LABEL = "notes", "churned"
PARAMS = {
    "logistic_regression": {"C": 1.0},
    "hist_gradient_boosting": {"max_iter": 40},
    "torch_mlp": {"hidden": [16], "epochs": 5, "batch_size": 64, "lr": 0.003, "patience": 3, "verbose": False, "device": "cpu"},
    "torch_mlp_dp": {"hidden": [16], "epochs": 3, "batch_size": 32, "lr": 0.01, "target_epsilon": 8.0},
    "dp_logistic_regression": {"epochs": 3, "batch_size": 32, "lr": 0.1, "target_epsilon": 8.0},
}
STACKED = {"logistic_regression", "hist_gradient_boosting"}  # sparse linear model, trees


def _anonymized(raw: pd.DataFrame) -> pd.DataFrame:
    out = raw.drop(columns=["full_name", "street_address", "ssn", "email", "phone", "date_of_birth"])
    out["customer_id"] = [hashlib.sha256(v.encode()).hexdigest()[:32] for v in raw["customer_id"]]
    age = (pd.Timestamp("2025-01-01") - pd.to_datetime(raw["date_of_birth"])).dt.days // 365
    out["age_band"] = pd.cut(age, [0, 40, 60, 200], right=False, labels=["<40", "40-59", "60+"]).astype(str)
    return out


def _per_feature_reference(trained_or_model, frame: pd.DataFrame) -> pd.DataFrame:
    """The previous `occlusion_contributions` (fast path): one model call for the batch, one per feature."""
    pipeline = explain._pipeline_of(trained_or_model)
    features = list(pipeline.feature_names_in_)
    X = frame[features]
    ref = rc._reference(pipeline, features, None)
    est = pipeline.steps[-1][1]
    contrib = np.empty((len(X), len(features)), dtype=np.float64)
    groups = dict(explain.feature_groups(pipeline))
    ref_t = pipeline[:-1].transform(pd.DataFrame({f: [ref[f]] for f in features}))
    for start in range(0, len(X), rc._CHUNK):
        part = X.iloc[start : start + rc._CHUNK]
        rows = slice(start, start + len(part))
        Xt = pipeline[:-1].transform(part)
        base = rc._margin(est, Xt)
        for j, f in enumerate(features):
            contrib[rows, j] = base - rc._margin(est, rc._replace_block(Xt, groups[f], ref_t))
    return pd.DataFrame(contrib, columns=features, index=frame.index)


def _reason_columns(contrib: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """The previous `reason_codes` ranking applied to given contributions."""
    names = np.asarray(contrib.columns, dtype=object)
    values = contrib.to_numpy()
    order = np.argsort(-values, axis=1, kind="stable")[:, :top_k]
    top = np.take_along_axis(values, order, axis=1)
    picked = np.where(top > 0, names[order], np.full(order.shape, None, dtype=object))
    return pd.DataFrame(
        {f"reason_{i + 1}": pd.Series(picked[:, i], index=contrib.index, dtype="str") for i in range(top_k)}, index=contrib.index
    )


@pytest.fixture(scope="module")
def split():
    return split_frame(_anonymized(generate_customers(300, seed=31)), LABEL, 0.3, 0.1, seed=5)


@pytest.fixture(scope="module")
def models(split):
    train, val, _ = split
    return {k: train_candidate(k, PARAMS[k], train, val, NUMERIC, CATEGORICAL, TEXT, LABEL, seed=2) for k in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_reason_codes_when_stacked_then_identical_to_one_call_per_feature(kind, models, split):
    _, _, test = split
    # A record alone (what a served request holds), small requests, the whole split, and a row equal to
    # the reference in places (zero contributions must stay exactly zero: they are never a reason).
    tied = test.iloc[[0]].copy()
    tied["notes"] = ""
    holes = test.head(4).copy()  # missing values the preprocessor imputes
    holes.loc[holes.index[1], "monthly_charges"] = np.nan
    holes.loc[holes.index[2], "contract_type"] = None
    holes.loc[holes.index[3], "notes"] = None
    for frame in (test.iloc[[0]], test.iloc[[5]], test.head(3), test.head(7), test, tied, holes):
        reference = _per_feature_reference(models[kind], frame)
        contrib = rc.occlusion_contributions(models[kind], frame)
        np.testing.assert_array_equal(contrib.to_numpy(), reference.to_numpy())
        pd.testing.assert_frame_equal(rc.reason_codes(models[kind], frame, top_k=3), _reason_columns(reference, 3))


@pytest.mark.parametrize("kind", KINDS)
def test_reason_codes_when_chunked_then_identical_and_calls_counted(kind, models, split, monkeypatch):
    _, _, test = split
    whole = rc.occlusion_contributions(models[kind], test)
    calls: list[int] = []
    margin = rc._margin

    def counting(est, X):
        calls.append(X.shape[0])
        return margin(est, X)

    monkeypatch.setattr(rc, "_margin", counting)
    features = len(models[kind].model.feature_names_in_)
    rc.occlusion_contributions(models[kind], test.iloc[[0]])
    # One model call for a single record where stacking is exact; one per feature (and the batch) elsewhere.
    assert calls == ([features + 1] if kind in STACKED else [1] * (features + 1))
    if kind in STACKED:  # (torch rounds with the batch's shape, so its chunking is not part of this claim)
        monkeypatch.setattr(rc, "_CHUNK", 25)  # stacked chunks of 25 // 9 = 2 rows
        pd.testing.assert_frame_equal(rc.occlusion_contributions(models[kind], test), whole)
        assert max(calls[1:]) <= 25


@pytest.mark.parametrize("kind", KINDS)
def test_predict_with_reason_codes_when_small_or_large_then_identical_to_separate_calls(kind, models, split, monkeypatch):
    from sklearn.compose import ColumnTransformer

    from veilflow.tasks.modeling.candidates import predict_positive

    _, _, test = split
    pipe = models[kind].model
    transforms: list[int] = []
    transform = ColumnTransformer.transform

    def counting(self, X, **kwargs):
        transforms.append(len(X))
        return transform(self, X, **kwargs)

    holes = test.head(3).copy()
    holes.loc[holes.index[0], "monthly_charges"] = np.nan
    holes.loc[holes.index[1], "plan"] = None
    for frame in (test.iloc[[0]], test.iloc[[9]], holes, test):
        expected = (predict_positive(pipe, frame), rc.reason_codes(pipe, frame, top_k=3))
        with monkeypatch.context() as m:
            m.setattr(ColumnTransformer, "transform", counting)
            transforms.clear()
            probabilities, reasons = rc.predict_with_reason_codes(pipe, frame, top_k=3)
        np.testing.assert_array_equal(probabilities, expected[0])
        pd.testing.assert_frame_equal(reasons, expected[1])
        assert transforms == [len(frame) + 1]  # one transform: the frame and the reference row
    monkeypatch.setattr(rc, "_CHUNK", 20)  # too large a frame for one chunk: the two separate calls
    probabilities, reasons = rc.predict_with_reason_codes(pipe, test, top_k=2)
    np.testing.assert_array_equal(probabilities, predict_positive(pipe, test))
    pd.testing.assert_frame_equal(reasons, rc.reason_codes(pipe, test, top_k=2))
    empty = rc.predict_with_reason_codes(pipe, test.iloc[0:0], top_k=2)
    assert len(empty[0]) == 0 and list(empty[1].columns) == ["reason_1", "reason_2"]


def test_occluded_csr_when_any_sparse_matrix_then_entry_for_entry_the_stacked_replaced_blocks():
    """Values and their order within each row (what a sparse dot product sums), on unsorted rows and
    explicit zeros too: the same matrix as stacking one `_replace_block` per feature."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    for trial in range(200):
        m, p = int(rng.integers(1, 6)), int(rng.integers(3, 30))
        X = sp.csr_matrix(rng.normal(size=(m, p)) * (rng.random((m, p)) < 0.4))
        if trial % 3 == 1:  # unsorted rows, an explicit zero
            for r in range(m):
                a, b = X.indptr[r], X.indptr[r + 1]
                perm = rng.permutation(b - a)
                X.indices[a:b], X.data[a:b] = X.indices[a:b][perm], X.data[a:b][perm]
            X.has_sorted_indices = False
            if X.nnz:
                X.data[0] = 0.0
        ref = sp.csr_matrix(rng.normal(size=(1, p)) * (rng.random((1, p)) < 0.5))
        cuts = np.sort(rng.choice(np.arange(1, p), size=min(p - 1, int(rng.integers(1, 6))), replace=False))
        spans = [np.arange(a, b) for a, b in zip(np.r_[0, cuts], np.r_[cuts, p], strict=True)]
        old = sp.vstack([X, *(rc._replace_block(X, idx, ref) for idx in spans)], format="csr")
        new = rc._occluded_csr(X, spans, ref)
        assert new.shape == old.shape and new.data.dtype == old.data.dtype
        np.testing.assert_array_equal(new.indptr, old.indptr)
        np.testing.assert_array_equal(new.indices, old.indices)
        np.testing.assert_array_equal(new.data, old.data)
