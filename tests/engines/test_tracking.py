"""The MLflow seam: experiments open on their training runs, and a failed run shows its reason in the run list."""

from __future__ import annotations

from veilflow.engines import tracking


def test_ensure_experiment_when_created_then_tagged_as_model_development(tracking_uri):
    client = tracking.make_client(tracking_uri)
    exp_id = tracking.ensure_experiment(client, "kind-check")
    assert client.get_experiment(exp_id).tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"
    assert tracking.ensure_experiment(client, "kind-check") == exp_id  # found, not created twice


def test_end_run_when_failed_with_reason_then_description_and_tag_hold_first_line(tracking_uri):
    client = tracking.make_client(tracking_uri)
    run_id = tracking.start_run(client, tracking.ensure_experiment(client, "reasons"), "r", {})
    tracking.end_run(client, run_id, "FAILED", "DataValidationError: 3 critical expectation(s) failed\nsecond line")
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags[tracking.FAILURE_TAG] == "DataValidationError: 3 critical expectation(s) failed"
    assert run.data.tags[tracking.DESCRIPTION_TAG] == "failed: DataValidationError: 3 critical expectation(s) failed"


def test_end_run_when_finished_without_reason_then_no_description(tracking_uri):
    client = tracking.make_client(tracking_uri)
    run_id = tracking.start_run(client, tracking.ensure_experiment(client, "clean"), "r", {})
    tracking.end_run(client, run_id)
    tags = client.get_run(run_id).data.tags
    assert tracking.DESCRIPTION_TAG not in tags and tracking.FAILURE_TAG not in tags
