"""The DP candidate kinds in the pipeline: accounting recorded, reproducible ε, one torch lock shared with the
non-DP MLP (parallel fits stay seeded), prediction, explanation fallback, and a fresh-process load."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

import veilflow.tasks.modeling.explain as explain_module
from veilflow.engines import tracking
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.modeling import dp_models, torch_model
from veilflow.tasks.modeling.candidates import TORCH_KINDS, dp_summary, predict_positive, train_candidate
from veilflow.tasks.modeling.dp_models import DPTorchMLPClassifier
from veilflow.tasks.modeling.explain import explain_global
from veilflow.tasks.modeling.preprocessing import split_frame
from veilflow.tasks.modeling.torch_model import TorchTabularClassifier

NUMERIC = ["tenure_months", "monthly_charges", "num_support_tickets"]
CATEGORICAL = ["contract_type", "payment_method", "plan"]
TEXT = "notes"
LABEL = "churned"
PII = ["full_name", "email", "phone", "street_address", "ssn", "date_of_birth"]
DP_PARAMS = {
    "torch_mlp_dp": {"hidden": [16], "epochs": 6, "batch_size": 32, "lr": 0.01, "target_epsilon": 3.0},
    "dp_logistic_regression": {"epochs": 6, "batch_size": 32, "lr": 0.1, "target_epsilon": 3.0},
}


@pytest.fixture(scope="module")
def splits() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return split_frame(generate_customers(360, seed=9).drop(columns=PII), LABEL, 0.25, 0.15, seed=2)


def _fit(kind: str, splits, seed: int = 4, **params):
    train, val, _ = splits
    return train_candidate(kind, {**DP_PARAMS[kind], **params}, train, val, NUMERIC, CATEGORICAL, TEXT, LABEL, seed=seed)


@pytest.fixture(scope="module")
def fitted(splits) -> dict:
    return {kind: _fit(kind, splits) for kind in DP_PARAMS}


@pytest.mark.parametrize("kind", list(DP_PARAMS))
def test_dp_candidate_records_its_accounting_and_replays_exactly(kind, fitted, splits) -> None:
    cand, (train, _, test) = fitted[kind], splits
    dp = cand.dp
    assert dp is not None and dp == dp_summary(cand.model)
    assert dp["accountant"] == "rdp"  # the pipeline default (a cheaper noise search than PRV's)
    assert 0.8 * 3.0 <= dp["epsilon"] <= 3.0 + 1e-6 and dp["epsilon"] == dp["epsilon_history"][-1]
    assert dp["delta"] == pytest.approx(1 / (10 * len(train)))
    assert len(dp["epsilon_history"]) == 6 == len(cand.history) and np.all(np.diff(dp["epsilon_history"]) >= 0)
    assert dp["noise_multiplier"] > 0 and dp["secure_mode"] is False
    assert [set(e) for e in cand.history] == [{"epoch", "train_loss", "val_loss"}] * 6
    # Same seed and config: the same ε and the same probabilities, bit for bit.
    again = _fit(kind, splits)
    assert again.dp == dp
    np.testing.assert_array_equal(predict_positive(again.model, test), predict_positive(cand.model, test))
    probs = predict_positive(cand.model, test)
    np.testing.assert_array_equal(probs, cand.model.predict_proba(test)[:, 1])
    assert probs.shape == (len(test),) and np.all((probs > 0) & (probs < 1))
    assert kind in TORCH_KINDS


def test_dp_candidate_accountant_and_params_come_from_config(splits) -> None:
    cand = _fit("dp_logistic_regression", splits, accountant="gdp", max_grad_norm=0.5)
    assert cand.dp["accountant"] == "gdp" and cand.dp["max_grad_norm"] == 0.5
    with pytest.raises(ValueError, match="unknown parameter"):
        _fit("dp_logistic_regression", splits, weight_decay=0.1)  # the non-DP MLP's parameter


def test_dp_and_non_dp_torch_fits_share_one_lock() -> None:
    assert dp_models._TORCH_GLOBAL_STATE is torch_model._TORCH_GLOBAL_STATE


def test_parallel_dp_and_non_dp_torch_fits_in_threads_stay_deterministic() -> None:
    """Dropout draws from torch's global RNG every batch and the DP fit sets torch's thread count: fits that
    overlapped without the shared lock would interleave those draws and settings."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 12)).astype(np.float32)
    y = (X[:, 0] + rng.normal(scale=0.5, size=400) > 0).astype(int)

    def dp() -> np.ndarray:
        est = DPTorchMLPClassifier(
            hidden=(32,), dropout=0.3, epochs=8, batch_size=32, target_epsilon=8.0, accountant="rdp", num_threads=1, seed=1
        )
        return est.fit(X, y).predict_proba(X)

    def plain() -> np.ndarray:
        est = TorchTabularClassifier(
            hidden=(32,),
            dropout=0.3,
            epochs=25,
            batch_size=16,
            patience=0,
            validation_fraction=0.0,
            seed=1,
            device="cpu",
            verbose=False,
        )
        return est.fit(X, y).predict_proba(X)

    def run(name: str, fn, start: threading.Barrier, got: dict[str, np.ndarray]) -> None:
        start.wait()
        got[name] = fn()

    expected = {"dp": dp(), "plain": plain()}
    for _ in range(2):
        got: dict[str, np.ndarray] = {}
        start = threading.Barrier(4)
        jobs = [(f"{k}{i}", f) for i in range(2) for k, f in (("dp", dp), ("plain", plain))]
        threads = [threading.Thread(target=run, args=(name, fn, start, got)) for name, fn in jobs]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=300)
        for name, value in got.items():
            np.testing.assert_array_equal(value, expected[name.rstrip("01")], err_msg=name)
        assert len(got) == 4


def test_explainer_of_a_dp_model_falls_back_to_shap_when_captum_fails(fitted, splits, tmp_path, monkeypatch) -> None:
    _, _, test = splits
    assert explain_global(fitted["torch_mlp_dp"], test, tmp_path, sample_rows=30, seed=0).method == "captum_integrated_gradients"

    def broken(est, Xt):
        raise RuntimeError("no gradient")

    monkeypatch.setattr(explain_module, "_captum_ig", broken)
    exp = explain_global(fitted["torch_mlp_dp"], test, tmp_path, sample_rows=30, seed=0)
    assert exp.method == "shap_permutation" and exp.rows_used == 30
    assert np.isfinite(exp.table["mean_abs_importance"]).all()


_LOAD = """
import sys
import numpy as np, pandas as pd, mlflow.pyfunc
frame = pd.read_parquet(sys.argv[1])
for i, uri in enumerate(sys.argv[3:]):
    np.save(f"{sys.argv[2]}/{i}.npy", np.asarray(mlflow.pyfunc.load_model(uri).predict(frame)))
"""


def test_dp_pipelines_log_and_load_in_a_fresh_process(fitted, splits, tracking_uri, tmp_path) -> None:
    _, _, test = splits
    client = tracking.make_client()
    exp = tracking.ensure_experiment(client, "dp-load")
    run = tracking.start_run(client, exp, "dp", {})
    frame = test[[*NUMERIC, *CATEGORICAL, TEXT]].reset_index(drop=True)
    uris = [tracking.log_model(client, run, exp, fitted[k].model, k, f"model_{k}", frame.head(5))[0] for k in DP_PARAMS]
    frame.to_parquet(tmp_path / "frame.parquet")
    done = subprocess.run(
        [sys.executable, "-c", _LOAD, str(tmp_path / "frame.parquet"), str(tmp_path), *uris],
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for i, kind in enumerate(DP_PARAMS):
        np.testing.assert_array_equal(np.load(tmp_path / f"{i}.npy"), fitted[kind].model.predict_proba(frame))
