"""Tests for veilflow.tasks.modeling.preprocessing, .torch_model, .candidates and veilflow.engines.pyfunc: preprocessing, splits, search grids, the three candidate kinds, and the pyfunc wrapper."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import roc_auc_score

import veilflow.tasks.modeling.candidates as candidates_module
from veilflow.engines.pyfunc import ProbabilityModel
from veilflow.tasks.data.io import generate_customers, load_breast_cancer_frame
from veilflow.tasks.modeling.candidates import (
    KINDS,
    TrainedCandidate,
    expand_search,
    predict_positive,
    train_candidate,
)
from veilflow.tasks.modeling.preprocessing import build_preprocessor, split_frame
from veilflow.tasks.modeling.torch_model import TorchTabularClassifier, resolve_device

NUMERIC = ["tenure_months", "monthly_charges", "num_support_tickets"]
CATEGORICAL = ["contract_type", "payment_method", "plan", "age_band"]
TEXT = "notes"
LABEL = "churned"
FEATURES = [*NUMERIC, *CATEGORICAL, TEXT]
# Small, fast settings per kind; the torch MLP logs no progress here and runs on the CPU, where
# bit-for-bit determinism is promised (the "auto" device has its own test).
PARAMS = {
    "logistic_regression": {"C": 1.0},
    "hist_gradient_boosting": {"max_iter": 40, "learning_rate": 0.1},
    "torch_mlp": {"hidden": [16], "epochs": 15, "batch_size": 64, "lr": 0.003, "patience": 3, "verbose": False, "device": "cpu"},
    # DP-SGD (RDP accountant, the pipeline default); every epoch runs, validation is only measured.
    "torch_mlp_dp": {"hidden": [16], "epochs": 8, "batch_size": 32, "lr": 0.01, "target_epsilon": 8.0},
    "dp_logistic_regression": {"epochs": 8, "batch_size": 32, "lr": 0.1, "target_epsilon": 8.0},
}


def _anonymize_for_tests(raw: pd.DataFrame) -> pd.DataFrame:
    """A stand-in for the PII policy (not the real one): pseudonymize ids, drop direct identifiers, age bands."""
    out = raw.drop(columns=["full_name", "street_address", "ssn", "email", "phone", "date_of_birth"])
    out["customer_id"] = [hashlib.sha256(v.encode()).hexdigest()[:32] for v in raw["customer_id"]]
    out["zip_code"] = raw["zip_code"].str[:3]
    age = (pd.Timestamp("2025-01-01") - pd.to_datetime(raw["date_of_birth"])).dt.days // 365
    bands = pd.cut(
        age, [0, 30, 40, 50, 60, 70, 80, 200], right=False, labels=["<30", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"]
    )
    out["age_band"] = bands.astype(str)
    out["notes"] = (
        raw["notes"]
        .str.replace(r"\S+@\S+", "<EMAIL_ADDRESS>", regex=True)
        .str.replace(r"\d[\d\s()+-]{7,}\d", "<NUMBER>", regex=True)
    )
    return out


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return _anonymize_for_tests(generate_customers(400, seed=11))


@pytest.fixture(scope="module")
def splits(customers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return split_frame(customers, LABEL, test_size=0.25, val_size=0.15, seed=3)


def _train(kind: str, splits, seed: int = 5, **kwargs) -> TrainedCandidate:
    train, val, _ = splits
    return train_candidate(kind, PARAMS[kind], train, val, NUMERIC, CATEGORICAL, TEXT, LABEL, seed=seed, **kwargs)


@pytest.fixture(scope="module")
def trained(splits) -> dict[str, TrainedCandidate]:
    return {kind: _train(kind, splits) for kind in KINDS}


# ---------------------------------------------------------------- build_preprocessor


def test_build_preprocessor_when_fitted_then_blocks_have_expected_widths(customers):
    pre = build_preprocessor(NUMERIC, CATEGORICAL, TEXT, text_max_features=50).fit(customers)
    widths = {name: sl.stop - sl.start for name, sl in pre.output_indices_.items()}
    n_categories = sum(customers[c].nunique() for c in CATEGORICAL)
    assert widths["num"] == 3
    assert widths["cat"] == n_categories
    assert widths["text"] == 50
    assert sp.issparse(pre.transform(customers.head(3)))


def test_build_preprocessor_when_dense_then_ndarray(customers):
    pre = build_preprocessor(NUMERIC, CATEGORICAL, TEXT, text_max_features=20, dense=True).fit(customers)
    assert isinstance(pre.transform(customers.head(3)), np.ndarray)


def test_build_preprocessor_when_missing_values_and_unseen_category_then_imputed_and_ignored(customers):
    pre = build_preprocessor(NUMERIC, CATEGORICAL, TEXT, text_max_features=30, dense=True).fit(customers)
    odd = customers.head(2).copy()
    odd["monthly_charges"] = np.nan
    odd["contract_type"] = ["lifetime", None]  # unseen, missing
    odd["notes"] = [np.nan, ""]
    out = pre.transform(odd)
    cat = out[:, pre.output_indices_["cat"]]
    contract_width = customers["contract_type"].nunique()
    assert np.isfinite(out).all()
    # Unseen and missing contract types both encode as no known category.
    assert (cat[:, :contract_width] == 0).all()
    # Missing and empty notes carry no terms.
    assert (out[:, pre.output_indices_["text"]] == 0).all()


def test_build_preprocessor_when_no_text_then_no_text_block(customers):
    pre = build_preprocessor(NUMERIC, [], None).fit(customers)
    assert set(pre.output_indices_) - {"remainder"} == {"num"}


@pytest.mark.parametrize(
    ("numeric", "categorical", "text", "max_features", "match"),
    [
        ([], [], None, 10, "no feature columns"),  # nothing to transform
        (["a", "a"], [], None, 10, "more than once"),  # duplicate column
        (["a"], ["a"], None, 10, "more than once"),  # one column in two roles
        (["a"], [], "t", 0, "text_max_features"),  # empty vocabulary bound
    ],
)
def test_build_preprocessor_when_bad_arguments_then_value_error(numeric, categorical, text, max_features, match):
    with pytest.raises(ValueError, match=match):
        build_preprocessor(numeric, categorical, text, max_features)


# ---------------------------------------------------------------- split_frame


def test_split_frame_when_split_then_disjoint_stratified_and_sized(customers):
    before = customers.copy()
    train, val, test = split_frame(customers, LABEL, test_size=0.2, val_size=0.1, seed=1)
    assert (len(train), len(val), len(test)) == (280, 40, 80)
    all_index = train.index.append(val.index).append(test.index)
    assert all_index.is_unique and set(all_index) == set(customers.index)
    rate = customers[LABEL].mean()
    for part in (train, val, test):
        # Stratification keeps every class share within one row of the overall share.
        assert abs(part[LABEL].mean() - rate) <= 1.0 / len(part)
    pd.testing.assert_frame_equal(customers, before)


def test_split_frame_when_same_seed_then_same_rows_and_other_seed_differs(customers):
    a = split_frame(customers, LABEL, 0.2, 0.1, seed=1)
    b = split_frame(customers, LABEL, 0.2, 0.1, seed=1)
    c = split_frame(customers, LABEL, 0.2, 0.1, seed=2)
    assert all(x.index.equals(y.index) for x, y in zip(a, b))
    assert not a[2].index.equals(c[2].index)


def test_split_frame_when_val_size_zero_then_empty_val(customers):
    train, val, test = split_frame(customers, LABEL, 0.25, 0.0, seed=1)
    assert val.empty and list(val.columns) == list(customers.columns)
    assert len(train) + len(test) == len(customers)


def test_split_frame_when_not_stratified_then_single_member_class_allowed():
    df = pd.DataFrame({"x": range(20), "y": [0] * 19 + [1]})
    train, val, test = split_frame(df, "y", 0.2, 0.2, seed=0, stratify=False)
    assert len(train) + len(val) + len(test) == 20


@pytest.mark.parametrize(
    ("frame", "label", "test_size", "val_size", "match"),
    [
        (pd.DataFrame({"y": []}), "y", 0.2, 0.1, "empty"),  # no rows
        (pd.DataFrame({"x": [1, 2]}), "y", 0.2, 0.1, "'y' is missing"),  # no label column
        (pd.DataFrame({"y": [0, 1] * 5}), "y", 0.0, 0.1, "test_size"),  # nothing held out
        (pd.DataFrame({"y": [0, 1] * 5}), "y", 0.6, 0.4, "val_size"),  # no rows left to train on
        (pd.DataFrame({"y": [0] * 9 + [1]}), "y", 0.2, 0.1, "fewer than 2 rows"),  # class too small to stratify
        (pd.DataFrame({"y": [0, 1, None, 1, 0, 1]}), "y", 0.3, 0.0, "missing values"),  # unlabeled rows
    ],
)
def test_split_frame_when_bad_input_then_value_error(frame, label, test_size, val_size, match):
    with pytest.raises(ValueError, match=match):
        split_frame(frame, label, test_size, val_size, seed=0)


# ---------------------------------------------------------------- expand_search


def test_expand_search_when_grid_then_sorted_keys_product_in_list_order():
    grid = expand_search({"C": 1.0, "max_iter": 100}, {"penalty": ["l2", None], "C": [0.1, 10.0]})
    assert grid == [
        {"C": 0.1, "max_iter": 100, "penalty": "l2"},
        {"C": 0.1, "max_iter": 100, "penalty": None},
        {"C": 10.0, "max_iter": 100, "penalty": "l2"},
        {"C": 10.0, "max_iter": 100, "penalty": None},
    ]
    # Key order in the config does not change the grid order.
    assert expand_search({}, {"b": [1, 2], "a": [3]}) == expand_search({}, {"a": [3], "b": [1, 2]})


@pytest.mark.parametrize("search", [None, {}])  # no search: None / empty mapping
def test_expand_search_when_no_search_then_one_copy_of_params(search):
    params = {"C": 2.0}
    grid = expand_search(params, search)
    assert grid == [params] and grid[0] is not params


@pytest.mark.parametrize(
    "search",
    [
        {"C": []},  # empty list of values
        {"C": 1.0},  # a scalar, not a list
    ],
)
def test_expand_search_when_bad_entry_then_value_error(search):
    with pytest.raises(ValueError, match="search\\['C'\\]"):
        expand_search({}, search)


# ---------------------------------------------------------------- train_candidate


@pytest.mark.parametrize("kind", KINDS)
def test_train_candidate_when_customers_then_probabilities_in_unit_interval_and_signal(kind, trained, splits):
    _, _, test = splits
    cand = trained[kind]
    probs = predict_positive(cand.model, test)
    assert probs.shape == (len(test),) and probs.dtype == np.float64
    assert np.all((probs >= 0) & (probs <= 1))
    # The generator's churn logit is learnable even from 240 training rows.
    assert roc_auc_score(test[LABEL], probs) > 0.7
    assert cand.kind == kind and cand.params == PARAMS[kind]
    assert cand.fit_seconds > 0 and cand.device == "cpu"
    np.testing.assert_array_equal(cand.model.predict_proba(test).sum(axis=1), np.ones(len(test)))


@pytest.mark.parametrize("kind", KINDS)
def test_train_candidate_when_trained_twice_with_same_seed_then_identical(kind, trained, splits):
    _, _, test = splits
    again = _train(kind, splits)
    np.testing.assert_array_equal(predict_positive(again.model, test), predict_positive(trained[kind].model, test))
    assert again.history == trained[kind].history


@pytest.mark.parametrize("kind", KINDS)
def test_train_candidate_when_on_epoch_given_then_called_with_each_history_entry(kind, splits):
    seen: list[dict] = []
    cand = _train(kind, splits, on_epoch=seen.append)
    assert seen == cand.history and len(seen) >= 1
    for entry in seen:
        assert set(entry) == {"epoch", "train_loss", "val_loss"}
        assert np.isfinite(entry["train_loss"]) and np.isfinite(entry["val_loss"])
    assert [e["epoch"] for e in seen] == list(range(1, len(seen) + 1))


@pytest.mark.parametrize("kind", KINDS)
def test_train_candidate_when_numeric_only_breast_cancer_then_strong_model(kind):
    df = load_breast_cancer_frame()
    numeric = [c for c in df.columns if c not in ("sample_id", "malignant")]
    train, val, test = split_frame(df, "malignant", 0.3, 0.1, seed=7)
    params = {**PARAMS[kind], "epochs": 30} if kind == "torch_mlp" else PARAMS[kind]
    cand = train_candidate(kind, params, train, val, numeric, [], None, "malignant", seed=7)
    # The bundled data is close to separable; every kind should find that.
    assert roc_auc_score(test["malignant"], predict_positive(cand.model, test)) > 0.95


def test_train_candidate_when_device_auto_then_reports_resolved_device(splits):
    train, val, _ = splits
    params = {**PARAMS["torch_mlp"], "device": "auto", "epochs": 2}
    cand = train_candidate("torch_mlp", params, train, val, NUMERIC, CATEGORICAL, TEXT, LABEL, seed=1)
    assert cand.device == str(resolve_device("auto"))
    # Weights come back to the CPU whatever device trained them.
    assert all(t.device.type == "cpu" for t in cand.model[-1].state_dict_.values())


def test_train_candidate_when_boosting_then_one_history_entry_per_iteration(trained):
    est = trained["hist_gradient_boosting"].model[-1]
    history = trained["hist_gradient_boosting"].history
    assert len(history) == est.n_iter_
    # Boosting drives the training loss down monotonically.
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_train_candidate_when_inputs_given_then_not_mutated(splits):
    train, val, _ = splits
    before = (train.copy(), val.copy())
    _train("logistic_regression", splits)
    pd.testing.assert_frame_equal(train, before[0])
    pd.testing.assert_frame_equal(val, before[1])


def test_train_candidate_when_val_empty_then_trains_with_nan_val_loss(splits):
    train, val, test = splits
    cand = train_candidate("logistic_regression", {}, train, val.iloc[0:0], NUMERIC, CATEGORICAL, TEXT, LABEL, seed=1)
    assert np.isnan(cand.history[0]["val_loss"])
    assert predict_positive(cand.model, test).shape == (len(test),)


def test_train_candidate_when_pipeline_pickled_then_same_predictions(trained, splits):
    _, _, test = splits
    for cand in trained.values():
        restored = cloudpickle.loads(cloudpickle.dumps(cand.model))
        np.testing.assert_array_equal(restored.predict_proba(test), cand.model.predict_proba(test))


def _frame(kind_of_break: str, splits) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, val, _ = splits
    if kind_of_break == "missing_train_column":
        return train.drop(columns=["plan"]), val
    if kind_of_break == "missing_val_column":
        return train, val.drop(columns=["notes"])
    if kind_of_break == "single_class":
        return train.assign(churned=0), val
    if kind_of_break == "empty":
        return train.iloc[0:0], val
    if kind_of_break == "missing_label_values":
        return train.assign(churned=train[LABEL].astype("float64").where(train.index % 7 != 0)), val
    return train, val


@pytest.mark.parametrize(
    ("kind", "params", "frames", "match"),
    [
        ("random_forest", {}, "ok", "unknown kind 'random_forest'"),  # kind veilflow does not train
        ("logistic_regression", {}, "missing_train_column", "\\['plan'\\] missing"),  # feature absent from train
        ("torch_mlp", {}, "missing_val_column", "\\['notes'\\] missing"),  # feature absent from val
        ("hist_gradient_boosting", {}, "single_class", "single class"),  # nothing to discriminate
        ("logistic_regression", {}, "empty", "empty"),  # no training rows
        ("logistic_regression", {}, "missing_label_values", "missing values"),  # unlabeled rows
        ("logistic_regression", {"n_trees": 3}, "ok", "unknown parameter"),  # typo / wrong estimator param
        ("hist_gradient_boosting", {"random_state": 1}, "ok", "seed argument"),  # seed smuggled through params
        ("torch_mlp", {"seed": 1}, "ok", "seed argument"),  # same for torch
    ],
)
def test_train_candidate_when_bad_input_then_value_error(kind, params, frames, match, splits):
    train, val = _frame(frames, splits)
    with pytest.raises(ValueError, match=match):
        train_candidate(kind, params, train, val, NUMERIC, CATEGORICAL, TEXT, LABEL, seed=0)


# ---------------------------------------------------------------- TorchTabularClassifier


def test_torch_when_val_loss_stalls_then_stops_early_and_restores_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)).astype(np.float32)
    y = rng.integers(0, 2, size=300)  # pure noise: validation loss can only get worse once it overfits
    Xv, yv = rng.normal(size=(100, 20)).astype(np.float32), rng.integers(0, 2, size=100)
    clf = TorchTabularClassifier(hidden=(64,), epochs=200, lr=0.02, patience=3, seed=1, verbose=False)
    clf.fit(X, y, X_val=Xv, y_val=yv)
    losses = [h["val_loss"] for h in clf.history_]
    assert clf.stopped_early_ and len(clf.history_) < 200
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1
    assert len(clf.history_) == clf.best_epoch_ + 3
    # The restored weights are the best epoch's: their validation loss is the minimum recorded.
    p = np.clip(clf.predict_proba(Xv)[:, 1], 1e-12, 1 - 1e-12)
    restored = -np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p))
    assert restored == pytest.approx(min(losses), rel=1e-5)


def test_torch_when_progress_logged_then_one_line_per_epoch_with_losses(caplog):
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 2, size=80)
    with caplog.at_level("INFO", logger="veilflow.tasks.modeling.torch_model"):
        clf = TorchTabularClassifier(hidden=(4,), epochs=3, patience=0, seed=0, verbose=True).fit(X, y)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(lines) == clf.n_epochs_ == 3
    assert "train_loss=" in lines[0] and "val_loss=" in lines[0] and "epoch 1/3" in lines[0]


def test_torch_when_fitted_then_global_rng_and_determinism_flag_untouched():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(60, 5)), rng.integers(0, 2, size=60)
    torch_state, flag = torch.get_rng_state(), torch.are_deterministic_algorithms_enabled()
    np_state = np.random.get_state()[1].copy()
    TorchTabularClassifier(hidden=(4,), epochs=2, seed=9, verbose=False).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert torch.are_deterministic_algorithms_enabled() == flag
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


def test_torch_when_sparse_or_dense_input_then_same_probabilities():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 6)) * (rng.random((120, 6)) < 0.4)
    y = rng.integers(0, 2, size=120)
    kw = {"hidden": (8,), "epochs": 4, "seed": 2, "verbose": False}
    dense = TorchTabularClassifier(**kw).fit(X, y)
    sparse = TorchTabularClassifier(**kw).fit(sp.csr_matrix(X), y)
    np.testing.assert_array_equal(dense.predict_proba(X), sparse.predict_proba(sp.csr_matrix(X)))


def test_torch_when_pickled_then_weights_on_cpu_and_same_predictions():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(90, 5)), rng.integers(0, 2, size=90)
    clf = TorchTabularClassifier(hidden=(6,), epochs=3, seed=0, verbose=False).fit(X, y)
    assert all(t.device.type == "cpu" for t in clf.state_dict_.values())
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        np.testing.assert_array_equal(loads(dumps(clf)).predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    ("kwargs", "fit_args", "match"),
    [
        ({"epochs": 0}, None, "epochs"),  # no epoch to run
        ({"hidden": (8, 0)}, None, "hidden"),  # zero-width layer
        ({"dropout": 1.0}, None, "dropout"),  # drops everything
        ({"device": "tpu"}, None, "unknown device"),  # device torch cannot place tensors on here
        ({}, (np.zeros((4, 2)), np.array([1, 1, 1, 1])), "2 label classes"),  # single class
        ({}, (np.zeros((0, 2)), np.array([])), "need rows"),  # no rows
    ],
)
def test_torch_when_bad_parameters_or_labels_then_value_error(kwargs, fit_args, match):
    X, y = fit_args if fit_args is not None else (np.zeros((10, 2)), np.array([0, 1] * 5))
    with pytest.raises(ValueError, match=match):
        TorchTabularClassifier(verbose=False, **kwargs).fit(X, y)


def test_torch_when_not_fitted_then_predict_raises():
    with pytest.raises(ValueError, match="not fitted"):
        TorchTabularClassifier().predict_proba(np.zeros((2, 2)))


def test_resolve_device_when_auto_then_cuda_only_if_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.parametrize(
    "name",
    [
        "tpu",  # not a torch device type
        "cuda:banana",  # malformed index
    ],
)
def test_resolve_device_when_unknown_name_then_value_error(name):
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device(name)


# ---------------------------------------------------------------- predict_positive


def test_predict_positive_when_pipeline_or_wrapper_then_positive_column(trained, splits):
    _, _, test = splits
    model = trained["torch_mlp"].model
    expected = model.predict_proba(test)[:, 1]
    np.testing.assert_array_equal(predict_positive(model, test), expected)
    np.testing.assert_array_equal(predict_positive(ProbabilityModel(model), test), expected)


def test_predict_positive_when_frame_larger_than_chunk_then_same_as_one_call(trained, splits, monkeypatch):
    _, _, test = splits
    model = trained["hist_gradient_boosting"].model
    monkeypatch.setattr(candidates_module, "_SCORE_CHUNK", 7)  # many uneven chunks
    np.testing.assert_array_equal(predict_positive(model, test), model.predict_proba(test)[:, 1])


@pytest.mark.parametrize(
    ("model_key", "drop", "match"),
    [
        ("pipeline", "plan", "\\['plan'\\] missing"),  # feature column absent
        ("no_api", None, "neither predict_proba nor predict"),  # not a model at all
    ],
)
def test_predict_positive_when_bad_input_then_value_error(model_key, drop, match, trained, splits):
    _, _, test = splits
    model = trained["logistic_regression"].model if model_key == "pipeline" else object()
    frame = test.drop(columns=[drop]) if drop else test
    with pytest.raises(ValueError, match=match):
        predict_positive(model, frame)


# ---------------------------------------------------------------- ProbabilityModel


def test_probability_model_when_predict_then_n_by_2_probabilities(trained, splits):
    _, _, test = splits
    wrapper = ProbabilityModel(trained["torch_mlp"].model)
    out = wrapper.predict(None, test[FEATURES])
    assert isinstance(out, np.ndarray) and out.shape == (len(test), 2)
    np.testing.assert_array_equal(out, trained["torch_mlp"].model.predict_proba(test))


_LOAD_SCRIPT = """
import sys, json
import numpy as np, pandas as pd, mlflow.pyfunc
frame = pd.read_parquet(sys.argv[2])
pred = mlflow.pyfunc.load_model(sys.argv[1]).predict(frame)
np.save(sys.argv[3], np.asarray(pred))
print(json.dumps({"type": type(pred).__name__}))
"""


def test_probability_model_when_logged_and_loaded_in_fresh_process_then_same_probabilities(
    trained, splits, tmp_path, monkeypatch
):
    import mlflow
    import mlflow.pyfunc
    import sklearn

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    _, _, test = splits
    frame = test[FEATURES].reset_index(drop=True)
    model = trained["torch_mlp"].model
    exp = mlflow.create_experiment("pyfunc-roundtrip", artifact_location=(tmp_path / "artifacts").as_uri())
    reqs = [f"scikit-learn=={sklearn.__version__}", f"torch=={torch.__version__.split('+')[0]}", "cloudpickle"]
    with mlflow.start_run(experiment_id=exp):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=ProbabilityModel(model), input_example=frame.head(5), pip_requirements=reqs
        )
    mlflow.set_tracking_uri(None)
    data, out = tmp_path / "frame.parquet", tmp_path / "pred.npy"
    frame.to_parquet(data)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, info.model_uri, str(data), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"type": "ndarray"}
    loaded = np.load(out)
    assert loaded.shape == (len(frame), 2)
    np.testing.assert_array_equal(loaded, model.predict_proba(frame))
    assert (tmp_path / "artifacts").is_dir()
