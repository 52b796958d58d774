"""Prefect retries only what can succeed on a second try: a `VeilflowError` (bad data, config, key) is never retried."""

from __future__ import annotations

import pytest

from veilflow.core.errors import DataLoadError, MissingKeyError, VeilflowError
from veilflow.flows import prefect_tasks as t

RETRYING = [t.train_candidate, t.log_model, t.record_profile, t.record_membership, t.log_serving_model]


@pytest.mark.parametrize("wrapped", RETRYING, ids=[w.name for w in RETRYING])
def test_tasks_that_retry_when_declared_then_carry_the_permanent_error_condition(wrapped) -> None:
    assert wrapped.retries == 2
    assert wrapped.retry_condition_fn is t._retry_unless_permanent


def _run_counting(prefect_harness, error: Exception) -> tuple[int, object]:
    from prefect import flow, task

    calls = {"n": 0}

    def step() -> None:
        calls["n"] += 1
        raise error

    # The same retry keywords as the tracking steps, without their back-off delays.
    wrapped = task(name="counting-step", **{**t._TRACKING_RETRIES, "retry_delay_seconds": 0})(step)

    @flow(name="retry-probe")
    def probe() -> None:
        wrapped()

    state = probe(return_state=True)
    return calls["n"], state


@pytest.mark.parametrize("error", [DataLoadError("input file not found: x.csv"), MissingKeyError("no key")], ids=["data", "key"])
def test_task_when_veilflow_error_raised_then_not_retried(prefect_harness, error: VeilflowError) -> None:
    calls, state = _run_counting(prefect_harness, error)
    assert state.is_failed()
    assert calls == 1, f"a {type(error).__name__} was retried ({calls} calls)"
    assert isinstance(state.result(raise_on_failure=False), type(error))


def test_task_when_transient_error_raised_then_retried_twice(prefect_harness) -> None:
    calls, state = _run_counting(prefect_harness, ConnectionError("tracking server unavailable"))
    assert state.is_failed()
    assert calls == 3  # the first try and two retries
