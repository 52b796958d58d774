"""The bad-input corpus (tests/bad_inputs.py) through the real training flow: a clear one-line error, a failed
Prefect run, a FAILED MLflow run with its reason, no new model version, `champion` unchanged, input untouched.

One MLflow store and one champion (seeded by a good run of the same config) serve the whole module.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from bad_inputs import CASES, CONFIG_CASES, BadConfig, BadInput, base_frame, gates_for_small_data
from mlflow import MlflowClient
from preflight_cases import CASES as PREFLIGHT_CASES
from preflight_cases import PreflightCase

from veilflow.core.config import load_config
from veilflow.core.paths import project_root

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = pytest.mark.slow

MODEL = "bad-input-customers"
SMALL = {
    "explain.sample_rows": 60,
    "training.candidates": [
        {"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}},
        {"name": "mlp", "kind": "torch_mlp", "params": {"hidden": [16], "epochs": 4, "batch_size": 128, "patience": 2}},
    ],
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": MODEL,
    "registry.experiment": MODEL,
}
# A malformed input must be refused before any costly step: seconds, not minutes, even at 10 MB.
FAIL_FAST_SECONDS = 30.0


def _config(overrides: dict[str, Any]):
    return load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", {**SMALL, **overrides})


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@dataclass
class Store:
    client: MlflowClient
    experiment_id: str
    champion: str
    pii_values: list[str]

    def versions(self) -> list[str]:
        return sorted(v.version for v in self.client.search_model_versions(f"name='{MODEL}'"))

    def champion_now(self) -> str:
        return str(self.client.get_model_version_by_alias(MODEL, "champion").version)

    def runs_of(self, flow_run_id: Any) -> list[Any]:
        return self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`veilflow.prefect_flow_run_id` = '{flow_run_id}'"
        )


@pytest.fixture(scope="module")
def store(prefect_harness, tmp_path_factory):
    """A module-wide MLflow store whose model has a champion, registered by a good run of the corpus config."""
    from veilflow.flows.training import training

    root = tmp_path_factory.mktemp("bad-input-store")
    with pytest.MonkeyPatch.context() as mp:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("VEILFLOW_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        good = root / "good.csv"
        frame = base_frame()
        frame.to_csv(good, index=False)
        config = _config({"dataset.source": "file", "dataset.path": str(good), **gates_for_small_data(root)})
        state = training(config, return_state=True)
        assert state.is_completed(), state.message
        result = state.result()
        assert result.decision == "promoted", result.failed_gates
        client = MlflowClient(uri)
        pii = [*frame["email"].head(50), *frame["full_name"].head(50), *frame["ssn"].head(50)]
        yield Store(client, result.experiment_id, result.version, pii)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_training_when_bad_input_then_clear_error_and_registry_unchanged(store: Store, case: BadInput, tmp_path: Path):
    from veilflow.flows.training import training

    overrides = case.write(tmp_path)
    before = _digests(tmp_path)
    versions_before = store.versions()
    config = _config(overrides)

    started = time.perf_counter()
    state = training(config, return_state=True)
    seconds = time.perf_counter() - started

    runs = store.runs_of(state.state_details.flow_run_id)
    assert len(runs) == 1, "exactly one MLflow run per flow run"
    run = runs[0]
    if case.outcome == "failed":
        assert state.is_failed(), f"{case.id}: expected Failed, got {state.name}: {state.message}"
        exc = state.result(raise_on_failure=False)
        assert isinstance(exc, case.error), f"{case.id}: {type(exc).__name__}: {exc}"
        message = str(exc)
        assert "\n" not in message and case.fragment in message, message
        assert "\n" not in (state.message or "") and case.fragment in (state.message or "")
        assert run.info.status == "FAILED"
        reason = run.data.tags["veilflow.failure_reason"]
        assert reason == f"{type(exc).__name__}: {message}"
        assert not any(value in reason for value in store.pii_values), "a raw PII value reached the failure reason"
        assert store.versions() == versions_before, "a failed run registered a model version"
        assert seconds < FAIL_FAST_SECONDS, f"{case.id} took {seconds:.1f}s to fail"
    else:
        # Well-formed data judged by the gates: the run finishes, its version stays a rejected challenger.
        assert state.is_completed() and state.name == "Rejected", f"{state.name}: {state.message}"
        assert case.fragment in (state.message or ""), state.message
        assert run.info.status == "FINISHED" and run.data.tags["veilflow.decision"] == "rejected"
        new = sorted(set(store.versions()) - set(versions_before))
        assert len(new) == 1
        assert store.client.get_model_version(MODEL, new[0]).tags["veilflow.decision"] == "rejected"
    assert store.champion_now() == store.champion, "champion moved"
    assert _digests(tmp_path) == before, "the input file was modified"


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.id for c in CONFIG_CASES])
def test_cli_train_when_bad_config_then_exit_2_and_one_line(store: Store, case: BadConfig, tmp_path: Path, capsys):
    from veilflow.cli.main import main

    content = case.edit()
    path = tmp_path / "config.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    before = _digests(tmp_path)
    runs_before = len(store.client.search_runs([store.experiment_id]))
    capsys.readouterr()

    code = main(["train", "--config", str(path)])

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err, err
    assert err.startswith("veilflow: ConfigError: ") and case.fragment in err, err
    assert str(path) in err  # where: the config file
    assert len(store.client.search_runs([store.experiment_id])) == runs_before, "a run started from a bad config"
    assert store.champion_now() == store.champion
    assert _digests(tmp_path) == before


# --------------------------------------------------------------------------- the command line, before any flow

# What the pre-flight promises: refused before Prefect or MLflow start. Measured ~2-4 s per case on 2 busy cores,
# nearly all of it interpreter start-up and imports; this bound is a sanity check, not a benchmark.
CLI_SECONDS = 20.0


def _cli_env(store_uri: str, artifacts: str, case_env: dict[str, str | None]) -> dict[str, str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri, "VEILFLOW_ARTIFACT_ROOT": artifacts}
    env.pop("PREFECT_API_URL", None)
    for name, value in case_env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.mark.parametrize("case", PREFLIGHT_CASES, ids=[c.id for c in PREFLIGHT_CASES])
def test_cli_train_when_bad_input_then_exit_2_one_line_in_seconds(store: Store, case: PreflightCase, tmp_path: Path):
    """`veilflow train` in a fresh process: exit 2, exactly one `veilflow:` line on stderr, no traceback, in seconds,
    no MLflow run, no model version, champion unchanged, input untouched."""
    import subprocess
    import sys

    overrides = case.write(tmp_path)
    sets = [arg for key, value in {**SMALL, **overrides}.items() for arg in ("--set", f"{key}={json.dumps(value)}")]
    before = _digests(tmp_path)
    versions_before = store.versions()
    runs_before = len(store.client.search_runs([store.experiment_id]))
    uri = os.environ["MLFLOW_TRACKING_URI"]  # the store fixture points the module at its own SQLite store
    artifacts = (tmp_path.parent / "cli-artifacts").as_uri()
    veilflow = str(Path(sys.executable).parent / "veilflow")  # the console script a user runs
    command = [veilflow, "train", "--config", str(PROJECT_ROOT / "deploy/configs/customers.yaml")]

    started = time.perf_counter()
    done = subprocess.run(
        [*command, *sets], capture_output=True, text=True, env=_cli_env(uri, artifacts, case.env), timeout=120, cwd=tmp_path
    )
    seconds = time.perf_counter() - started
    print(f"{case.id}: exit {done.returncode} in {seconds:.2f} s")

    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("veilflow: ") and case.fragment in lines[0], lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert "pre-flight passed" not in done.stdout and "Starting temporary server" not in done.stdout + done.stderr
    assert not any(value in lines[0] for value in store.pii_values), "a raw PII value reached the error"
    assert seconds < CLI_SECONDS, f"{case.id} took {seconds:.1f}s to exit"
    assert len(store.client.search_runs([store.experiment_id])) == runs_before, "an MLflow run started"
    assert store.versions() == versions_before, "a model version was registered"
    assert store.champion_now() == store.champion, "champion moved"
    assert _digests(tmp_path) == before, "the input file was modified"


def test_cli_when_debug_then_traceback_before_the_one_line(tmp_path: Path, capsys):
    from veilflow.cli.main import main

    config = str(PROJECT_ROOT / "deploy/configs/customers.yaml")
    missing = ["--set", "dataset.source=file", "--set", f"dataset.path={tmp_path / 'none.csv'}"]
    assert main(["train", "--config", config, *missing]) == 2
    quiet = capsys.readouterr().err
    assert "Traceback" not in quiet and quiet.strip().startswith("veilflow: DataLoadError: input file not found")
    assert main(["train", "--debug", "--config", config, *missing]) == 2  # the global flag after the command works too
    loud = capsys.readouterr().err
    assert "Traceback (most recent call last)" in loud and "check_file" in loud
    assert loud.strip().splitlines()[-1].startswith("veilflow: DataLoadError: input file not found")
