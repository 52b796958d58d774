"""`veilflow train` is quiet by default: step lines, warnings that matter and the summary, nothing else.

One small real run in a fresh process (its own temporary Prefect server, MLflow in a temporary SQLite store), from a
config file outside the repository: the same run checks that the provenance of its inputs is recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from veilflow.core.paths import project_root

pytestmark = pytest.mark.slow

PROJECT_ROOT = project_root()
MAX_LINES = 40  # the bound for `make run`; this smaller run must stay within it too
NOISE = (
    "Recognizer not added to registry",  # Presidio: the registry is built for the configured language only
    "pickle",  # MLflow's notes on cloudpickled models
    "CloudPickle",
    "Inferred schema contains integer column",  # MLflow's integer-schema hint
    "Traceback",
    "Still processing items",  # Prefect's event worker at exit
    "attempted to send logs to the API without a flow run id",
    "Finished in state",  # Prefect's per-task engine lines
)


def test_train_when_default_console_then_quiet_and_provenance_recorded(tmp_path: Path) -> None:
    config = yaml.safe_load((PROJECT_ROOT / "deploy/configs/customers.yaml").read_text())
    config["dataset"]["n_rows"] = 400
    config["training"]["candidates"] = [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}]
    config["explain"] = {"sample_rows": 50}
    config["registry"] = {"model_name": "quiet-customers", "experiment": "quiet-customers"}
    config_file = tmp_path / "quiet.yaml"  # outside the repository: not committed as read
    config_file.write_text(yaml.safe_dump(config))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "VEILFLOW_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri()}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    env.pop("PREFECT_API_URL", None)

    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "veilflow"), "train", "--config", str(config_file)],  # the console script
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    print(f"{len(lines)} console lines in {seconds:.0f} s:\n" + "\n".join(lines))

    assert done.returncode == 0, output[-3000:]
    assert "veilflow training:" in done.stdout and "pre-flight passed" in done.stdout
    for noise in NOISE:
        assert noise not in output, f"console shows {noise!r}"
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines"

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("quiet-customers")
    run = client.search_runs([experiment.experiment_id], filter_string="tags.`veilflow.flow` = 'training'")[0]
    tags = run.data.tags
    assert tags["veilflow.git_dirty"] == "true"  # the config file is not in the repository
    assert int(tags["veilflow.git_dirty_inputs"]) >= 1
    version = client.search_model_versions("name = 'quiet-customers'")[0]  # the version says so too
    assert (
        version.tags["veilflow.git_dirty"] == "true"
        and version.tags["veilflow.git_dirty_inputs"] == tags["veilflow.git_dirty_inputs"]
    )
    assert tags["veilflow.input_digest.config"] == hashlib.sha256(config_file.read_bytes()).hexdigest()
    policy = PROJECT_ROOT / "expectations/policies/customers.pii.yaml"
    assert tags["veilflow.input_digest.pii_policy"] == hashlib.sha256(policy.read_bytes()).hexdigest()
    recorded = json.loads(Path(client.download_artifacts(run.info.run_id, "provenance/inputs.json", str(tmp_path))).read_text())
    assert set(recorded["files"]) == {"config", "pii_policy", "raw_suite", "anonymized_suite"}
    assert recorded["files"]["config"]["git"] == "outside"
    assert recorded["files"]["pii_policy"]["path"] == "expectations/policies/customers.pii.yaml"


def test_build_analyzer_when_built_then_no_language_warnings(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from veilflow.engines.presidio import build_analyzer

    with caplog.at_level(logging.WARNING):
        analyzer = build_analyzer("none")
    assert not [r for r in caplog.records if "Recognizer not added" in r.getMessage()]
    assert {r.supported_language for r in analyzer.registry.recognizers} == {"en"}
    assert "CREDIT_CARD" in analyzer.get_supported_entities("en")
