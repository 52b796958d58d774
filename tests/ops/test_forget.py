"""`veilflow forget` end to end: membership indexes of real runs, the forget log, --apply (suppress, retrain, champion)."""

from __future__ import annotations

import json

import pytest
from _configs import DEFAULTS
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.paths import project_root
from veilflow.engines import tracking
from veilflow.engines.leak_sources import scan_run
from veilflow.tasks.ops.forget import AFFECTED_TAG
from veilflow.tasks.ops.lifecycle import MEMBERSHIP_ARTIFACT
from veilflow.tasks.ops.steps import load_data
from veilflow.tasks.privacy.leak_scan import LeakIndex, scan_texts
from veilflow.tasks.privacy.membership import MembershipIndex, SuppressionList, pseudonymize_subject, read_erasure_log

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT

SMALL = {
    "dataset.n_rows": 800,
    "explain.sample_rows": 100,
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": "forget-e2e",
    "registry.experiment": "forget-e2e",
}


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    d = tmp_path / "state"
    monkeypatch.setenv("VEILFLOW_STATE_DIR", str(d))
    monkeypatch.delenv("VEILFLOW_FORGET_LOG", raising=False)
    monkeypatch.delenv("VEILFLOW_SUPPRESSION_LIST", raising=False)
    return d


def _membership(client: MlflowClient, run_id: str, tmp) -> MembershipIndex:
    dst = tmp / run_id
    dst.mkdir()
    return MembershipIndex.load(tracking.download_artifact(client, run_id, MEMBERSHIP_ARTIFACT, dst))


def test_load_data_when_subject_suppressed_then_rows_dropped_and_counted(tmp_path):
    config = load_config(DEFAULTS, {"dataset.n_rows": 200})
    key = b"test-key-0123456789abcdef-not-a-secret"
    subject = str(load_data(config).frame["customer_id"].dropna().iloc[7])
    path = tmp_path / "suppression.json"
    suppression = SuppressionList(path)
    suppression.add(pseudonymize_subject(subject, key), note="ticket T-1")
    suppression.save()
    loaded = load_data(config, key, path)
    assert loaded.suppressed >= 1
    assert subject not in set(loaded.frame["customer_id"].astype(str))
    assert loaded.rows == 200 - loaded.suppressed
    # The fingerprint still names the source data, so replay and audit can re-check it.
    assert loaded.fingerprint == load_data(config).fingerprint
    assert subject not in path.read_text()


@pytest.mark.slow
def test_forget_when_subject_in_run_a_only_then_reported_for_a_and_apply_retrains_without_it(
    prefect_harness, tracking_uri, state_dir, tmp_path, capsys
):
    import os

    from veilflow.cli.main import main
    from veilflow.flows.training import training

    key = os.environ["VEILFLOW_PII_KEY"].encode()
    config_a = load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", SMALL)
    raw = load_data(config_a).frame
    subject = str(raw["customer_id"].dropna().iloc[5])
    pseudonym = pseudonymize_subject(subject, key)

    # Run A: generated data holding the subject; registered (version 1, champion).
    state_a = training(config_a, return_state=True)
    assert state_a.is_completed(), state_a.message
    run_a = state_a.result()
    assert run_a.decision == "promoted"
    # Run B: the same people minus the subject, from a file; not registered.
    path = tmp_path / "customers_b.csv"
    raw[raw["customer_id"].astype(str) != subject].to_csv(path, index=False)
    config_b = load_config(
        PROJECT_ROOT / "deploy/configs/customers.yaml",
        {**SMALL, "dataset.source": "file", "dataset.path": str(path), "registry.register": False},
    )
    state_b = training(config_b, return_state=True)
    assert state_b.is_completed(), state_b.message
    run_b = state_b.result()

    client = MlflowClient(tracking_uri)
    # Every run records its re-identification risk (metrics, PII audit) and the gate sees it.
    run = client.get_run(run_a.run_id)
    assert run.data.metrics["risk.before.k"] <= run.data.metrics["risk.after.k"]
    assert 0.0 <= run.data.metrics["risk.after.share_below_k"] <= 0.05
    assert client.get_model_version("forget-e2e", run_a.version).tags["gate.reidentification"].startswith("pass")
    with tracking.temp_dir() as tmp:
        audit = json.loads(tracking.download_artifact(client, run_a.run_id, "pii/audit.json", tmp).read_text())
        assert audit["risk"]["after"]["quasi_identifiers"] == ["zip_code", "age_band"]
        assert pseudonym in _membership(client, run_a.run_id, tmp)
        assert pseudonym not in _membership(client, run_b.run_id, tmp)

    # Report only: run A, its fingerprint and version, nothing for B.
    capsys.readouterr()
    assert main(["forget", "--subject", subject, "--note", "ticket GDPR-42"]) == 0
    out = capsys.readouterr().out
    assert subject not in out
    (record,) = read_erasure_log(state_dir / "forget-log.jsonl")
    assert record.pseudonym == pseudonym
    assert record.affected_runs == [run_a.run_id]
    assert record.model_versions == [f"forget-e2e/{run_a.version}"]
    assert record.dataset_fingerprints == [run_a.data_fingerprint]
    assert record.note == "report-only: ticket GDPR-42"
    assert client.get_model_version("forget-e2e", run_a.version).tags.get(AFFECTED_TAG) is None

    # Apply: tag, suppress, retrain from A's config, champion off the affected version.
    assert main(["forget", "--subject", subject, "--apply", "--note", "ticket GDPR-42"]) == 0
    out = capsys.readouterr().out
    assert subject not in out
    assert client.get_model_version("forget-e2e", run_a.version).tags[AFFECTED_TAG] == "true"
    assert pseudonym in SuppressionList.load(state_dir / "suppression.json")
    runs = client.search_runs(
        [client.get_experiment_by_name("forget-e2e").experiment_id],
        filter_string="tags.`veilflow.flow` = 'training'",
        order_by=["attribute.start_time DESC"],
    )
    run_c = runs[0]
    assert run_c.info.run_id not in {run_a.run_id, run_b.run_id}
    assert run_c.data.metrics["data.suppressed_rows"] >= 1
    with tracking.temp_dir() as tmp:
        assert pseudonym not in _membership(client, run_c.info.run_id, tmp)
    champion = client.get_model_version_by_alias("forget-e2e", "champion")
    assert champion.run_id == run_c.info.run_id, out
    assert len(read_erasure_log(state_dir / "forget-log.jsonl")) == 2

    # Nothing raw anywhere: MLflow params/tags/metric names/artifacts/models of all three runs, the
    # Prefect records of their flow runs, the forget log and the suppression list.
    index = LeakIndex(min_length=1)
    index.add("subject", [subject])
    for rid in (run_a.run_id, run_b.run_id, run_c.info.run_id):
        report = scan_run(client, rid, index)
        assert report.passed, report.summary()
        assert report.prefect_checked
    texts = {p.name: p.read_text() for p in state_dir.iterdir() if p.is_file()}
    assert set(texts) == {"forget-log.jsonl", "suppression.json"}
    assert scan_texts(texts, index) == []
    assert all(json.loads(line)["pseudonym"] == pseudonym for line in texts["forget-log.jsonl"].splitlines())


def _registry_with_versions(client: MlflowClient, name: str, n: int, passed: set[int], tmp_dir) -> None:
    from veilflow.tasks.ops import registry

    client.create_registered_model(name)
    for i in range(1, n + 1):
        mv = client.create_model_version(name, source=(tmp_dir / f"placeholder-{i}").as_uri())
        decision = "promoted" if i in passed else "rejected"
        client.set_model_version_tag(name, mv.version, registry.DECISION_TAG, decision)


def test_rollback_to_unaffected_when_champion_affected_then_newest_clean_passed_version(tracking_uri, tmp_path):
    from veilflow.tasks.ops.forget import rollback_to_unaffected

    client = MlflowClient(tracking_uri)
    # v1 passed (clean), v2 passed (affected), v3 rejected (clean), v4 passed (affected, champion).
    _registry_with_versions(client, "rb", 4, passed={1, 2, 4}, tmp_dir=tmp_path)
    client.set_registered_model_alias("rb", "champion", "4")
    assert rollback_to_unaffected(client, "rb", {"2", "4"}, "forget --rollback-now") == "1"
    assert str(client.get_model_version_by_alias("rb", "champion").version) == "1"
    assert client.get_model_version("rb", "4").tags["veilflow.rolled_back"] == "true"
    # Champion no longer affected: nothing moves.
    assert rollback_to_unaffected(client, "rb", {"2", "4"}, "again") is None


def test_rollback_to_unaffected_when_no_clean_version_passed_then_promotion_rejected(tracking_uri, tmp_path):
    from veilflow.core.errors import PromotionRejected
    from veilflow.tasks.ops.forget import rollback_to_unaffected

    client = MlflowClient(tracking_uri)
    _registry_with_versions(client, "rb2", 2, passed={2}, tmp_dir=tmp_path)
    client.set_registered_model_alias("rb2", "champion", "2")
    with pytest.raises(PromotionRejected, match="no unaffected version passed"):
        rollback_to_unaffected(client, "rb2", {"2"}, "forget --rollback-now")
    assert str(client.get_model_version_by_alias("rb2", "champion").version) == "2"


@pytest.mark.parametrize(
    ("failed_gates", "moves"),
    [
        ([], True),  # the clean replacement passed every gate
        (["regression.roc_auc"], True),  # only worse than the affected champion it retires
        (["floor.roc_auc"], False),  # fails an absolute gate: champion stays (use --rollback-now)
    ],
)
def test_replace_champion_when_clean_version_trained_then_moves_only_if_gates_allow(tracking_uri, tmp_path, failed_gates, moves):
    from types import SimpleNamespace

    from veilflow.tasks.ops.forget import _replace_champion

    client = MlflowClient(tracking_uri)
    _registry_with_versions(client, "rc", 2, passed={1}, tmp_dir=tmp_path)
    client.set_registered_model_alias("rc", "champion", "1")
    line = _replace_champion(client, "rc", {"1"}, SimpleNamespace(version="2", failed_gates=failed_gates))
    assert str(client.get_model_version_by_alias("rc", "champion").version) == ("2" if moves else "1"), line
