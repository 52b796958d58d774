"""Leak scan of everything logged: the token index, the scanner over MLflow and Prefect, the flow step and `veilflow audit`."""

from __future__ import annotations

import os
import pickle

import pandas as pd
import pytest
from mlflow import MlflowClient

from veilflow.core.config import load_config
from veilflow.core.paths import project_root
from veilflow.engines.leak_sources import scan_run
from veilflow.tasks.privacy.leak_scan import LeakIndex, build_leak_index, scan_texts

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT

SMALL = {
    "dataset.n_rows": 800,
    "explain.sample_rows": 100,
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "gates.floors": {"roc_auc": 0.6},
}


def _index() -> LeakIndex:
    index = LeakIndex(min_length=4)
    index.add("email", ["Jane.Doe1@Example.com"])
    index.add("zip_code", ["30368"])
    index.add("ssn", ["123"])  # shorter than 4 characters: skipped, counted
    index.add_secret(b"test-key-0123456789abcdef")
    return index


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # verbatim e-mail inside other text
        ("contact Jane.Doe1@Example.com today", {("email", "exact"): 1}),
        # upper-cased copy: found case-insensitively
        ("JANE.DOE1@EXAMPLE.COM", {("email", "case_insensitive"): 1}),
        # same tokens, other punctuation
        ("jane doe1 example com", {("email", "token_sequence"): 1}),
        # a zip code as a whole token, but not inside a float, a hex digest or a longer token
        ("zip 30368; 0.30368 a30368b 303680", {("zip_code", "exact"): 1}),
        # the key, as text and as hex
        ("k=test-key-0123456789abcdef " + b"test-key-0123456789abcdef".hex(), {("<pii-key>", "exact"): 2}),
        # nothing
        ("roc_auc 0.81, 800 rows", {}),
    ],
)
def test_leak_index_when_text_scanned_then_hits_by_source_and_kind(text, expected):
    assert dict(_index().find(text)) == expected


def test_leak_index_when_pickled_then_refused_and_repr_holds_no_value():
    index = _index()
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(index)
    assert "Jane" not in repr(index) and index.skipped == 1 and index.values == 4


def test_scan_texts_when_value_present_then_hit_names_place_not_value():
    hits = scan_texts({"forget-log": '{"note": "x"}', "other": "mail jane.doe1@example.com"}, _index())
    assert [(h.where, h.source, h.kind, h.count) for h in hits] == [("other", "email", "case_insensitive", 1)]
    assert "jane" not in str([h.model_dump() for h in hits]).lower()


def test_build_leak_index_when_policy_column_missing_then_config_error():
    from veilflow.core.errors import ConfigError
    from veilflow.tasks.privacy.policy import load_policy

    policy = load_policy(PROJECT_ROOT / "expectations/policies/customers.pii.yaml")
    with pytest.raises(ConfigError, match="missing from the raw frame"):
        build_leak_index(pd.DataFrame({"email": ["a@b.cd"]}), policy, None)


# --------------------------------------------------------------------------- end to end


def _config(name: str):
    return load_config(
        PROJECT_ROOT / "deploy/configs/customers.yaml", {**SMALL, "registry.model_name": name, "registry.experiment": name}
    )


@pytest.fixture
def planted_leak(monkeypatch):
    """Replace the flow's explain task by one that also logs a raw e-mail (a tag, an artifact, a Prefect log line)."""
    from prefect import get_run_logger, task
    from prefect.cache_policies import NO_CACHE

    from veilflow.engines import tracking
    from veilflow.flows import prefect_tasks as t
    from veilflow.tasks.ops.steps import load_data

    config = _config("leak-planted")
    email = str(load_data(config).frame["email"].dropna().iloc[3])
    original = t.explain

    @task(name="explain", cache_policy=NO_CACHE, persist_result=False)
    def leaky_explain(results, best, test, cfg, client, run_id, out_dir):
        tracking.set_tags(client, run_id, {"debug.contact": email.upper()})
        tracking.log_text(client, run_id, f"customer {email} complained", "debug/notes.txt")
        get_run_logger().info("debugging customer %s", email)
        return original.fn(results, best, test, cfg, client, run_id, out_dir)

    monkeypatch.setattr(t, "explain", leaky_explain)
    return config, email


@pytest.mark.slow
def test_training_flow_when_task_logs_raw_email_then_leak_scan_fails_run_and_audit_catches_it(
    prefect_harness, tracking_uri, planted_leak, capsys
):

    from veilflow.cli.main import main
    from veilflow.flows.training import training

    config, email = planted_leak
    state = training(config, return_state=True)
    assert state.is_failed()
    assert "PiiLeakError" in (state.message or "") or "leak scan found" in (state.message or "")
    assert email.lower() not in (state.message or "").lower()

    client = MlflowClient(tracking_uri)
    exp_id = client.get_experiment_by_name("leak-planted").experiment_id
    (run,) = client.search_runs([exp_id], filter_string="tags.`veilflow.flow` = 'training'")
    assert run.info.status == "FAILED"
    assert run.data.tags["veilflow.leak_scan"] == "failed"
    assert client.search_model_versions("name='leak-planted'") == []  # a leak registers nothing

    capsys.readouterr()
    assert main(["audit", run.info.run_id, "--json"]) == 6
    out = capsys.readouterr().out
    assert email.lower() not in out.lower()
    import json

    report = json.loads(out)
    places = {(h["where"], h["source"], h["kind"]) for h in report["hits"]}
    assert ("tag:debug.contact", "email", "case_insensitive") in places
    assert ("artifact:debug/notes.txt", "email", "exact") in places
    assert ("prefect:logs", "email", "exact") in places
    assert report["prefect_checked"] is True
    assert {h["rule"] for h in report["hits"]} == {"token"}

    # --explain: per hit the place, the rule, the column and the keyed hash to copy into leak_scan.allow; no value.
    from veilflow.tasks.privacy.leak_scan import leak_value_hash

    assert main(["audit", run.info.run_id, "--explain"]) == 6
    out = capsys.readouterr().out
    assert email.lower() not in out.lower()
    digest = leak_value_hash(os.environ["VEILFLOW_PII_KEY"].encode(), email)
    assert f"tag:debug.contact  rule=token match=case_insensitive column=email x1  value_hash={digest}" in out
    assert f"artifact:debug/notes.txt  rule=token match=exact column=email x1  value_hash={digest}" in out
    assert "leak_scan.allow" in out


@pytest.mark.slow
def test_training_flow_when_nothing_raw_logged_then_leak_scan_passes_and_audit_clean(prefect_harness, tracking_uri, capsys):
    from veilflow.cli.main import main
    from veilflow.flows.training import training

    state = training(_config("leak-clean"), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["veilflow.leak_scan"] == "passed"
    assert run.data.metrics["leak_scan.hits"] == 0
    assert run.data.metrics["leak_scan.seconds"] > 0

    capsys.readouterr()
    assert main(["audit", result.run_id]) == 0
    out = capsys.readouterr().out
    assert out.startswith("leak scan clean")
    assert "Prefect flow run" in out and "(scanned)" in out

    # Everything the issue names was actually read: params, tags, metric names, artifacts, dataset inputs,
    # the logged model (MLmodel, input example, signature), its registered version and Prefect's records.
    report = scan_run(client, result.run_id, build_leak_index(pd.DataFrame({"x": ["zzzz-never-logged"]}), None, None, ["x"]))
    assert report.passed
    for kind in [
        "param",
        "tag",
        "metric_name",
        "artifact",
        "dataset_input",
        "model",
        "model_version",
        "prefect_flow_run",
        "prefect_log",
        "prefect_task_run",
        "prefect_artifact",
    ]:
        assert report.items_scanned.get(kind, 0) > 0, kind
