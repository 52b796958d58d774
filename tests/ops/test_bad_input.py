"""The bad-input corpus (tests/bad_inputs.py) through the real training flow: a clear one-line error, a failed
Prefect run, a FAILED MLflow run with its reason, no new model version, `champion` unchanged, input untouched.

One MLflow store and one champion (seeded by a good run of the same config) serve the whole module.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from bad_inputs import CASES, CONFIG_CASES, BadConfig, BadInput, base_frame, gates_for_small_data
from mlflow import MlflowClient

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
