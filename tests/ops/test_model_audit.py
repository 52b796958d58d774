"""The membership-inference audit step on small frames: which rows are attacked, determinism, what it records,
the DP settings a run is refused on, and the privacy config's one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.errors import ConfigError
from veilflow.core.paths import project_root
from veilflow.engines import tracking
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.modeling.candidates import train_candidate
from veilflow.tasks.modeling.preprocessing import split_frame
from veilflow.tasks.ops.model_audit import (
    attacked_rows,
    audit_candidate,
    audit_membership,
    check_dp_requirements,
    gate_figures,
    privacy_version_tags,
)
from veilflow.tasks.ops.training_steps import CandidateResult

CONFIG = project_root() / "deploy/configs/customers.yaml"
PII = ["full_name", "email", "phone", "street_address", "ssn", "date_of_birth"]
LR = {"C": 1.0}


def _config(**overrides):
    return load_config(CONFIG, {"privacy.mia.n_boot": 20, **overrides})


@pytest.fixture(scope="module")
def splits() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frame = generate_customers(300, seed=5).drop(columns=PII).assign(age_band="40-49")
    return split_frame(frame, "churned", 0.2, 0.1, seed=42)


@pytest.fixture(scope="module")
def logreg(splits):
    train, val, _ = splits
    ds = _config().dataset
    return train_candidate(
        "logistic_regression", LR, train, val, ds.numeric_features, ds.categorical_features, ds.text_feature, ds.label, seed=42
    )


def test_attacked_rows_are_balanced_disjoint_and_seeded(splits) -> None:
    train, val, test = splits
    members, non_members, pool = attacked_rows(train, val, test, max_rows=1000, seed=42)
    n = min(len(test), len(train) // 2)
    assert len(members) == len(non_members) == n == 60
    ids = lambda f: set(f["customer_id"])  # noqa: E731  # a one-line helper reads best here
    assert ids(members) <= ids(train) and ids(non_members) <= ids(test)
    # The pool: unattacked training rows plus validation, never a test row or an attacked row.
    assert ids(pool) == (ids(train) - ids(members)) | ids(val)
    assert not ids(pool) & (ids(members) | ids(non_members) | ids(test))
    again = attacked_rows(train, val, test, max_rows=1000, seed=42)
    assert ids(again[0]) == ids(members) and ids(again[1]) == ids(non_members)
    assert ids(attacked_rows(train, val, test, max_rows=1000, seed=7)[0]) != ids(members)
    assert len(attacked_rows(train, val, test, max_rows=25, seed=42)[0]) == 25  # privacy.mia.max_rows bounds both sides
    capped = attacked_rows(train, val, test, max_rows=1000, seed=42, max_pool_rows=50)[2]
    assert len(capped) == 50 and ids(capped) <= ids(pool)  # privacy.mia.max_pool_rows bounds the reference pool
    with pytest.raises(ValueError, match="needs at least 20"):
        attacked_rows(train, val, test.head(10), max_rows=1000, seed=42)


def test_audit_of_a_tiny_frame_is_complete_and_deterministic(splits, logreg) -> None:
    train, val, test = splits
    config = _config()
    first = audit_membership("logistic_regression", LR, logreg.model, train, val, test, config)
    again = audit_membership("logistic_regression", LR, logreg.model, train, val, test, config)
    assert first.loss == again.loss and first.lira == again.lira  # seeded: same config and data, same figures
    assert first.lira.n_reference == 2 and first.lira.attack == "lira_offline" and first.loss.attack == "loss"
    assert first.n_members == first.n_non_members == 60
    assert first.reference_rows == round(0.5 * first.pool_rows)
    metrics = first.metrics()
    for attack in ("loss", "lira_offline"):
        for figure in ("auc", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr"):
            assert 0.0 <= metrics[f"mia.{attack}.{figure}"] <= 1.0
            assert metrics[f"mia.{attack}.{figure}_ci_low"] <= metrics[f"mia.{attack}.{figure}_ci_high"]
    other = audit_membership("logistic_regression", LR, logreg.model, train, val, test, _config(seed=3))
    assert other.lira.auc != first.lira.auc  # another seed attacks other rows with other reference models
    summary = first.summary()
    json.dumps(summary)  # JSON-ready aggregates
    assert summary["max_auc"] == max(first.loss.auc, first.lira.auc)
    figures = gate_figures(summary)
    assert figures is not None and set(figures) == {"loss", "lira_offline"}
    assert figures["loss"]["n_non_members"] == 60


def test_audit_step_records_in_the_nested_and_parent_runs(splits, logreg, tracking_uri, tmp_path) -> None:
    train, val, test = splits
    client = tracking.make_client()
    exp = tracking.ensure_experiment(client, "mia-step")
    parent = tracking.start_run(client, exp, "parent", {})
    child = tracking.start_run(client, exp, "logreg", {"mlflow.parentRunId": parent})
    tracking.end_run(client, child)  # the audit records into finished candidate runs
    result = CandidateResult("logreg", "logistic_regression", LR, logreg, {}, 0.1, run_id=child)

    summary = audit_candidate(result, train, val, test, _config(), client, parent, tmp_path, best=True)

    reader = MlflowClient(tracking_uri)
    nested, top = reader.get_run(child).data.metrics, reader.get_run(parent).data.metrics
    for key in ("mia.loss.auc", "mia.lira_offline.auc", "mia.lira_offline.tpr_at_1pct_fpr", "mia.lira_offline.tpr_at_0_1pct_fpr"):
        assert nested[key] == top[key] == pytest.approx(summary["attacks"][key.split(".")[1]][key.split(".")[2]])
    assert "mia.lira_offline.auc_ci_low" in nested and "logreg.mia.seconds" in top
    for run in (child, parent):
        assert {a.path for a in reader.list_artifacts(run, "privacy")} == {"privacy/mia_roc.png", "privacy/mia.json"}
    png = reader.download_artifacts(child, "privacy/mia_roc.png", str(tmp_path / "dl"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_audit_step_when_disabled_or_impossible(splits, logreg, tracking_uri, tmp_path) -> None:
    train, val, test = splits
    client = tracking.make_client()
    exp = tracking.ensure_experiment(client, "mia-off")
    parent = tracking.start_run(client, exp, "parent", {})
    result = CandidateResult("logreg", "logistic_regression", LR, logreg, {}, 0.1, run_id="")
    off = audit_candidate(result, train, val, test, _config(**{"privacy.mia.enabled": False}), client, parent, tmp_path)
    assert off == {"enabled": False, "candidate": "logreg", "kind": "logistic_regression"} and gate_figures(off) is None
    tiny = audit_candidate(result, train, val, test.head(5), _config(), client, parent, tmp_path, best=True)
    assert "needs at least" in tiny["error"] and gate_figures(tiny) is None  # the gate then fails: "audit not run"
    assert MlflowClient(tracking_uri).get_run(parent).data.tags["veilflow.mia"].startswith("not run:")


DP_CANDIDATE = {"name": "dp", "kind": "torch_mlp_dp", "params": {"epochs": 2}}


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        ({**DP_CANDIDATE, "params": {"accountant": "moments"}}, "accountant must be one of prv, rdp, gdp, got 'moments'"),
        ({**DP_CANDIDATE, "search": {"accountant": ["rdp", "renyi"]}}, "got 'renyi'"),
        ({**DP_CANDIDATE, "params": {"target_epsilon": 0}}, "target_epsilon must be a finite number > 0"),
        ({**DP_CANDIDATE, "params": {"secure_mode": "yes"}}, "secure_mode must be true or false"),
    ],
    ids=["accountant", "accountant-in-search", "epsilon", "secure-mode"],
)
def test_dp_config_errors_are_one_line(candidate: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(CONFIG, {"training.candidates": [candidate]})
    assert "\n" not in str(info.value) and "training.candidates.0" in str(info.value)
    with pytest.raises(ConfigError, match="reference_models"):
        load_config(CONFIG, {"privacy.mia.reference_models": 1})  # an OUT spread needs two reference models


def test_secure_mode_without_torchcsprng_is_a_one_line_config_error() -> None:
    config = load_config(CONFIG, {"training.candidates": [{**DP_CANDIDATE, "params": {"secure_mode": True}}]})
    with pytest.raises(ConfigError, match="torchcsprng") as info:
        check_dp_requirements(config)
    assert "\n" not in str(info.value) and "'dp'" in str(info.value)
    check_dp_requirements(load_config(CONFIG, {"training.candidates": [DP_CANDIDATE]}))  # secure_mode off: fine


def test_privacy_version_tags() -> None:
    dp = {"epsilon": 2.9971, "delta": 4.7e-05, "accountant": "rdp", "secure_mode": False}
    tags = privacy_version_tags(dp, {"enabled": True, "max_auc": 0.512, "max_tpr_at_1pct_fpr": 0.01})
    assert tags == {
        "veilflow.dp": "true",
        "veilflow.dp.epsilon": "2.9971",
        "veilflow.dp.delta": "4.7e-05",
        "veilflow.dp.accountant": "rdp",
        "veilflow.dp.secure_mode": "false",
        "veilflow.mia.max_auc": "0.5120",
        "veilflow.mia.max_tpr_at_1pct_fpr": "0.0100",
    }
    assert privacy_version_tags(None, None) == {"veilflow.dp": "false"}
    assert np.isfinite(float(tags["veilflow.dp.epsilon"]))


def test_replay_compares_within_a_stated_tolerance_for_secure_mode_runs() -> None:
    from veilflow.flows.replay import SECURE_MODE_TOLERANCE, compare_metrics

    original = {"test.roc_auc": 0.81, "dp.val.roc_auc": 0.80, "mia.loss.auc": 0.51, "dp.dp.epsilon": 2.99, "fit_seconds": 1.0}
    close = {**original, "test.roc_auc": 0.815, "mia.loss.auc": 0.52}
    exact = compare_metrics(original, close)
    assert not exact["identical"] and not exact["passed"] and "note" not in exact and exact["compared"] == 4
    loose = compare_metrics(original, close, SECURE_MODE_TOLERANCE)
    assert loose["passed"] and not loose["identical"] and loose["tolerance"] == 0.02
    assert "bit-exact replay is not expected" in loose["note"] and "within 0.02 absolute" in loose["note"]
    assert not compare_metrics(original, {**close, "test.roc_auc": 0.85}, SECURE_MODE_TOLERANCE)["passed"]
