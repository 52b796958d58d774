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
    ref = explain._reference(pipeline, features, None)
    est = pipeline.steps[-1][1]
    contrib = np.empty((len(X), len(features)), dtype=np.float64)
    groups = dict(explain.feature_groups(pipeline))
    ref_t = pipeline[:-1].transform(pd.DataFrame({f: [ref[f]] for f in features}))
    for start in range(0, len(X), explain._CHUNK):
        part = X.iloc[start : start + explain._CHUNK]
        rows = slice(start, start + len(part))
        Xt = pipeline[:-1].transform(part)
        base = explain._margin(est, Xt)
        for j, f in enumerate(features):
            contrib[rows, j] = base - explain._margin(est, explain._replace_block(Xt, groups[f], ref_t))
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
        contrib = explain.occlusion_contributions(models[kind], frame)
        np.testing.assert_array_equal(contrib.to_numpy(), reference.to_numpy())
        pd.testing.assert_frame_equal(explain.reason_codes(models[kind], frame, top_k=3), _reason_columns(reference, 3))


@pytest.mark.parametrize("kind", KINDS)
def test_reason_codes_when_chunked_then_identical_and_calls_counted(kind, models, split, monkeypatch):
    _, _, test = split
    whole = explain.occlusion_contributions(models[kind], test)
    calls: list[int] = []
    margin = explain._margin

    def counting(est, X):
        calls.append(X.shape[0])
        return margin(est, X)

    monkeypatch.setattr(explain, "_margin", counting)
    features = len(models[kind].model.feature_names_in_)
    explain.occlusion_contributions(models[kind], test.iloc[[0]])
    # One model call for a single record where stacking is exact; one per feature (and the batch) elsewhere.
    assert calls == ([features + 1] if kind in STACKED else [1] * (features + 1))
    if kind in STACKED:  # (torch rounds with the batch's shape, so its chunking is not part of this claim)
        monkeypatch.setattr(explain, "_CHUNK", 25)  # stacked chunks of 25 // 9 = 2 rows
        pd.testing.assert_frame_equal(explain.occlusion_contributions(models[kind], test), whole)
        assert max(calls[1:]) <= 25
