"""Scoring verifies a champion's recorded code version before it loads (unpickles) the model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.errors import ConfigError
from veilflow.core.paths import project_root
from veilflow.core.provenance import code_version, is_known_commit
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.ops.scoring import verify_code_version

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT

RUNNING = "a" * 40
ANCESTOR = "b" * 40
STRANGER = "c" * 40


def _known(commit: str) -> bool:
    return commit in (RUNNING, ANCESTOR)


@pytest.mark.parametrize(
    ("recorded", "require_same", "expected"),
    [
        (RUNNING, False, "trained by the running commit"),  # same commit
        (RUNNING, True, "trained by the running commit"),  # same commit, strict
        (ANCESTOR, False, "an ancestor of the running"),  # older commit of this history
    ],
)
def test_verify_code_version_when_known_commit_then_verdict(recorded, require_same, expected):
    verdict = verify_code_version("m", "3", recorded, RUNNING, require_same=require_same, is_known=_known)
    assert expected in verdict and "\n" not in verdict


@pytest.mark.parametrize(
    ("recorded", "require_same", "message"),
    [
        ("unknown", False, "m v3 records no code version"),  # the tag is missing
        ("", False, "m v3 records no code version"),  # the tag is empty
        (STRANGER, False, "not in this repository's history"),  # a commit this checkout never had
        (ANCESTOR, True, "(require_same_code)"),  # an ancestor, but the same commit is required
    ],
)
def test_verify_code_version_when_unverifiable_then_one_line_refusal_unless_override(recorded, require_same, message):
    with pytest.raises(ConfigError) as err:
        verify_code_version("m", "3", recorded, RUNNING, require_same=require_same, is_known=_known)
    text = str(err.value)
    assert message in text and "refusing to load its pickled code" in text and "--allow-unverified-code" in text
    assert "\n" not in text
    verdict = verify_code_version("m", "3", recorded, RUNNING, require_same=require_same, allow_unverified=True, is_known=_known)
    assert verdict.startswith("UNVERIFIED: ") and message in verdict


def test_is_known_commit_when_head_fake_or_option_like_then_only_head_known():
    head = code_version()["commit"]
    assert head != "unknown", "the test suite runs in a git checkout"
    assert is_known_commit(head)
    assert not is_known_commit(STRANGER)
    assert not is_known_commit("unknown")
    assert not is_known_commit("--all")  # never passed to git as an option


# --- end to end: a trained champion, its recorded code version rewritten ---

MODEL = "codever-customers"
SMALL = {
    "dataset.n_rows": 800,  # 500 rows fail the calibration and reidentification gates
    "explain.sample_rows": 60,
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": MODEL,
    "registry.experiment": MODEL,
}


@pytest.fixture(scope="module")
def champion(prefect_harness, tmp_path_factory):
    from veilflow.flows.training import training

    tmp = tmp_path_factory.mktemp("codever")
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "VEILFLOW_ARTIFACT_ROOT")}
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["VEILFLOW_ARTIFACT_ROOT"] = (tmp / "artifacts").as_uri()
    try:
        state = training(load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", SMALL), return_state=True)
        assert state.is_completed(), state.message
        result = state.result()
        assert result.decision == "promoted", result.failed_gates
        batch = tmp / "batch.csv"
        generate_customers(120, seed=5, defect_rate=0.0).to_csv(batch, index=False)
        yield {"uri": uri, "tmp": tmp, "version": result.version, "batch": batch}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _score(champion, out: Path, **kw):
    from veilflow.flows.scoring import ScoringConfig, scoring

    return scoring(ScoringConfig(model_name=MODEL, input_path=champion["batch"], output_path=out, **kw), return_state=True)


def _scoring_runs(client: MlflowClient) -> int:
    exp = client.get_experiment_by_name("veilflow-scoring")
    return 0 if exp is None else len(client.search_runs([exp.experiment_id]))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        ("unknown", "records no code version"),  # no provenance at all
        (STRANGER, "which is not in this repository's history"),  # trained by code this checkout never had
    ],
)
def test_scoring_when_champion_code_version_unverifiable_then_refused_unless_override(champion, tmp_path, recorded, message):
    client = MlflowClient(champion["uri"])
    version = champion["version"]
    head = client.get_model_version(MODEL, version).tags["veilflow.code_version"]
    assert head == code_version()["commit"] or is_known_commit(head)
    client.set_model_version_tag(MODEL, version, "veilflow.code_version", recorded)
    try:
        before = _scoring_runs(client)
        out = tmp_path / "refused.parquet"
        state = _score(champion, out)
        assert state.is_failed()
        assert message in state.message and "refusing to load its pickled code" in state.message
        assert "\n" not in state.message.strip()
        assert not out.exists()
        assert _scoring_runs(client) == before  # refused before a scoring run was opened

        out = tmp_path / "override.parquet"
        state = _score(champion, out, allow_unverified_code=True)
        assert state.is_completed(), state.message
        run = client.get_run(state.result().run_id)
        assert run.data.tags["veilflow.code_check"].startswith("UNVERIFIED: ") and message in run.data.tags["veilflow.code_check"]
        assert out.exists()
    finally:
        client.set_model_version_tag(MODEL, version, "veilflow.code_version", head)


@pytest.mark.slow
def test_scoring_when_champion_code_version_unverifiable_then_refused_before_the_model_is_loaded(champion, tmp_path):
    """A champion whose model files are gone: the refusal names the code version, so nothing was loaded first."""
    client = MlflowClient(champion["uri"])
    run_id = client.get_model_version(MODEL, champion["version"]).run_id
    bogus = client.create_model_version(
        MODEL, source=str(tmp_path / "no-such-model"), run_id=run_id, tags={"veilflow.code_version": STRANGER}
    )
    client.set_registered_model_alias(MODEL, "suspect", bogus.version)
    from veilflow.flows.scoring import ScoringConfig, scoring

    config = ScoringConfig(model_name=MODEL, alias="suspect", input_path=champion["batch"], output_path=tmp_path / "p.parquet")
    state = scoring(config, return_state=True)
    assert state.is_failed() and "not in this repository's history" in state.message
    # With the override the check is passed and the load itself fails: the check came first.
    state = scoring(config.model_copy(update={"allow_unverified_code": True}), return_state=True)
    assert state.is_failed() and "repository's history" not in state.message


@pytest.mark.slow
def test_score_cli_when_override_flag_given_then_passed_to_flow(champion, tmp_path):
    from veilflow.cli.main import main

    client = MlflowClient(champion["uri"])
    version = champion["version"]
    head = client.get_model_version(MODEL, version).tags["veilflow.code_version"]
    client.set_model_version_tag(MODEL, version, "veilflow.code_version", STRANGER)
    try:
        out = tmp_path / "cli.parquet"
        assert main(["score", "--model", MODEL, "--input", str(champion["batch"]), "--output", str(out)]) == 1
        assert not out.exists()
        assert (
            main(["score", "--model", MODEL, "--input", str(champion["batch"]), "--output", str(out), "--allow-unverified-code"])
            == 0
        )
        assert out.exists()
    finally:
        client.set_model_version_tag(MODEL, version, "veilflow.code_version", head)
