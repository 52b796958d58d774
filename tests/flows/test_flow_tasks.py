"""Training runs for every task type, on scikit-learn's bundled tables (small, no PII policy, no torch).

wine: multiclass (the cultivar as text), diabetes: regression, breast cancer: binary with a yes/no text label and
two sensitive attributes. Each is trained through `veilflow.flows.training`, promoted and scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from veilflow.core.config import PipelineConfig, parse_config

pytestmark = pytest.mark.slow

CANDIDATES = [
    {"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}},
    {"name": "hgb", "kind": "hist_gradient_boosting", "params": {"max_iter": 40}},
]


def _suite(path: Path, name: str, columns: list[str]) -> Path:
    """A minimal raw suite: every configured column exists (critical)."""
    expectations = [
        {
            "type": "expect_column_to_exist",
            "kwargs": {"column": c},
            "meta": {"critical": True, "why": f"'{c}' is part of the {name} contract"},
            "severity": "critical",
        }
        for c in columns
    ]
    path.write_text(json.dumps({"name": f"{name}.raw", "id": None, "expectations": expectations, "meta": {}}))
    return path


def _job(tmp_path: Path, name: str, frame: pd.DataFrame, label: str, **dataset: Any) -> PipelineConfig:
    csv = tmp_path / f"{name}.csv"
    frame.to_csv(csv, index=False)
    features = [c for c in frame.columns if c not in {"row_id", label, *dataset.get("sensitive_attributes", [])}]
    suite = _suite(tmp_path / f"{name}.raw.json", name, list(frame.columns))
    return parse_config(
        {
            "seed": 7,
            "dataset": {
                "name": name,
                "source": "file",
                "path": str(csv),
                "id_column": "row_id",
                "label": label,
                "numeric_features": features,
                "raw_suite": str(suite),
                **dataset,
            },
            "training": {"candidates": CANDIDATES},
            "explain": {"sample_rows": 60},
            "privacy": {"nlp_model": "none", "mia": {"n_boot": 0}},
            "registry": {"model_name": f"tasks-{name}", "experiment": f"tasks-{name}"},
        }
    )


def _gates(client: MlflowClient, run_id: str) -> dict[str, dict]:
    path = client.download_artifacts(run_id, "gates/decision.json")
    return {g["name"]: g for g in json.loads(Path(path).read_text(encoding="utf-8"))["gates"]}


def _champion_scores(client: MlflowClient, model_name: str, frame: pd.DataFrame) -> pd.DataFrame:
    from veilflow.tasks.ops.scoring import resolve_champion, score_frame

    champion = resolve_champion(client, model_name)
    return score_frame(champion, frame)


def test_training_when_wine_multiclass_then_promoted_and_scored_with_original_labels(prefect_harness, tracking_uri, tmp_path):
    from sklearn.datasets import load_wine

    from veilflow.flows.training import training

    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace("/", "_"))
    names = {0: "barolo", 1: "grignolino", 2: "barbera"}
    frame["cultivar"] = frame.pop("target").map(names)
    frame.insert(0, "row_id", np.arange(len(frame)))
    config = _job(tmp_path, "wine", frame, "cultivar")

    result = training(config)
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["veilflow.task"] == "multiclass"
    assert result.primary_metric == "f1_macro"
    assert result.decision == "promoted", result.failed_gates
    for metric in ("accuracy", "f1_macro", "roc_auc_ovr", "log_loss", "brier", "ece"):
        assert f"test.{metric}" in run.data.metrics
    assert run.data.metrics["test.f1_macro"] > 0.8
    gates = _gates(client, result.run_id)
    assert gates["baseline.accuracy"]["passed"] and gates["baseline.accuracy"]["op"] == ">"
    assert gates["floor.roc_auc_ovr"]["passed"]
    assert not gates["calibration"]["skipped"]  # top-label ECE
    mapping = json.loads(Path(client.download_artifacts(result.run_id, "model/label_classes.json")).read_text())
    assert mapping == {"column": "cultivar", "task": "multiclass", "classes": ["barbera", "barolo", "grignolino"]}

    scored = _champion_scores(client, config.registry.model_name, frame.drop(columns=["cultivar"]).head(40))
    assert set(scored["prediction"]) <= set(names.values())
    per_class = [f"probability_{c}" for c in ("barbera", "barolo", "grignolino")]
    assert np.allclose(scored[per_class].sum(axis=1), 1.0)
    assert (scored["prediction"].to_numpy() == frame["cultivar"].head(40).to_numpy()).mean() > 0.8
    assert scored["reason_1"].notna().all()


def test_training_when_diabetes_regression_then_promoted_rmse_recorded_and_scored(prefect_harness, tracking_uri, tmp_path):
    from sklearn.datasets import load_diabetes

    from veilflow.flows.training import training

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].map({1.0: "f", 2.0: "m"})
    frame.insert(0, "row_id", np.arange(len(frame)))
    config = _job(tmp_path, "diabetes", frame, "target", sensitive_attributes=["sex"])

    result = training(config)
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["veilflow.task"] == "regression"
    assert result.primary_metric == "rmse"
    assert result.decision == "promoted", result.failed_gates
    assert result.primary_value == pytest.approx(run.data.metrics["test.rmse"])
    assert run.data.metrics["test.r2"] > 0.2
    assert run.data.metrics["test.rmse.ci_low"] < run.data.metrics["test.rmse"] < run.data.metrics["test.rmse.ci_high"]
    gates = _gates(client, result.run_id)
    assert gates["floor.r2"]["passed"] and gates["floor.r2"]["op"] == ">="
    assert gates["calibration"]["skipped"] and "not applicable" in gates["calibration"]["detail"]
    assert gates["fairness"]["value"] is not None  # the relative MAE gap between the sex groups
    assert "fairness.mae_gap" in run.data.metrics

    rows = frame.drop(columns=["target"]).head(30)
    scored = _champion_scores(client, config.registry.model_name, rows)
    assert "probability" not in scored.columns
    assert scored["prediction"].dtype == np.float64
    assert scored["prediction"].between(0, 400).all()

    # The scoring flow on a raw batch file: predictions in the label's unit, its summary without probabilities.
    from veilflow.flows.scoring import ScoringConfig, scoring

    batch = tmp_path / "batch.csv"
    rows.to_csv(batch, index=False)
    out = tmp_path / "scored.parquet"
    scoring(ScoringConfig(model_name=config.registry.model_name, input_path=batch, output_path=out))
    written = pd.read_parquet(out)
    assert len(written) == 30 and "probability" not in written.columns
    assert np.allclose(written["prediction"].to_numpy(), scored["prediction"].to_numpy())


def test_training_when_yes_no_label_and_two_sensitive_attributes_then_fairness_gate_each(prefect_harness, tracking_uri, tmp_path):
    from sklearn.datasets import load_breast_cancer

    from veilflow.flows.training import training

    data = load_breast_cancer(as_frame=True)
    frame = data.frame[[*data.feature_names[:8], "target"]].rename(columns=lambda c: c.replace(" ", "_"))
    frame["diagnosis"] = frame.pop("target").map({0: "yes", 1: "no"})  # "yes": malignant, the minority
    rng = np.random.default_rng(3)
    frame["sex"] = rng.choice(["f", "m"], size=len(frame))
    frame["region"] = rng.choice(["north", "south", "east"], size=len(frame))
    frame.insert(0, "row_id", np.arange(len(frame)))
    config = _job(tmp_path, "cancer", frame, "diagnosis", sensitive_attributes=["sex", "region"])

    result = training(config)
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["veilflow.task"] == "binary"
    assert run.data.metrics["test.roc_auc"] > 0.9
    gates = _gates(client, result.run_id)
    assert "fairness" not in gates
    for attribute in ("sex", "region"):
        gate = gates[f"fairness.{attribute}"]
        assert not gate["skipped"] and gate["value"] is not None
        assert f"fairness.{attribute}.demographic_parity_difference" in run.data.metrics
    assert result.decision == "promoted", result.failed_gates
    mapping = json.loads(Path(client.download_artifacts(result.run_id, "model/label_classes.json")).read_text())
    assert mapping["classes"] == ["no", "yes"]  # "yes" reads as positive: encoded 1

    rows = frame.drop(columns=["diagnosis"]).head(50)
    scored = _champion_scores(client, config.registry.model_name, rows)
    assert set(scored["predicted_label"]) <= {"yes", "no"}
    agree = (scored["predicted_label"].to_numpy() == frame["diagnosis"].head(50).to_numpy()).mean()
    assert agree > 0.8
    assert ((scored["probability"] >= 0.5) == (scored["predicted_label"] == "yes")).all()
