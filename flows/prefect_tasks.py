"""The one place Prefect `@task` wrappers are declared: names, retries, caching and persistence policy.

Steps upstream of anonymization hold raw PII: they never persist results and never cache
(`NO_CACHE`, `persist_result=False`). Steps that talk to MLflow retry with backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypedDict

from prefect import Task, task
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from veilflow.core.errors import VeilflowError
from veilflow.tasks.data import drift
from veilflow.tasks.data import io as data
from veilflow.tasks.ops import (
    audit,
    lifecycle,
    model_audit,
    monitoring,
    partition_steps,
    promotion,
    raw_scoring,
    scoring,
    serving,
    steps,
    training_steps,
)


class _Storage(TypedDict):
    """The caching / persistence keywords shared by a group of `task(...)` declarations."""

    cache_policy: CachePolicy
    persist_result: bool


class _Retries(TypedDict):
    """The retry keywords shared by the steps that talk to MLflow."""

    retries: int
    retry_delay_seconds: list[float]
    retry_condition_fn: Callable[[Task[Any, Any], TaskRun, State[Any]], bool]


def _retry_unless_permanent(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a transient failure (a tracking server hiccup), never a `VeilflowError`: bad data, a bad config or a
    missing key fail the same way every time, so retrying only repeats the work and delays the one-line error."""
    try:
        state.result()
    except VeilflowError:
        return False
    except Exception:
        return True
    return True


# Raw data lives only in memory: no result persistence, no cache, no input hashing.
_RAW: _Storage = {"cache_policy": NO_CACHE, "persist_result": False}
# Downstream steps still hold frames and engines in memory; nothing of theirs is persisted either.
_MEM: _Storage = {"cache_policy": NO_CACHE, "persist_result": False}
_TRACKING_RETRIES: _Retries = {"retries": 2, "retry_delay_seconds": [1, 4], "retry_condition_fn": _retry_unless_permanent}

load_data = task(name="load-data", description="Load or generate the dataset and fingerprint it.", tags=["raw-pii"], **_RAW)(
    steps.load_data
)
validate_raw = task(
    name="validate-raw", description="Great Expectations suite on the raw data; counts only.", tags=["raw-pii"], **_RAW
)(steps.run_validation)
anonymize = task(
    name="anonymize",
    description="Presidio + policy operators; returns the anonymized frame and an audit.",
    tags=["raw-pii"],
    **_RAW,
)(steps.anonymize_data)
leak_guard = task(name="leak-guard", description="No raw PII value or pattern survives anonymization.", tags=["raw-pii"], **_RAW)(
    steps.guard_leaks
)
process_partition = task(
    name="process-partition",
    description="Read one partition from its source, validate, anonymize and leak-check it; returns anonymized rows and counts.",
    tags=["raw-pii"],
    **_RAW,
)(partition_steps.process_partition_here)
score_partition = task(
    name="score-partition",
    description="Read one partition of a batch from its source, validate, anonymize and score its clean rows; returns anonymized rows, predictions and counts.",
    tags=["raw-pii"],
    **_RAW,
)(partition_steps.score_partition_here)
validate_anonymized = task(name="validate-anonymized", description="Great Expectations suite on the anonymized data.", **_MEM)(
    steps.run_validation
)
split_data = task(name="split-data", description="Seeded, stratified train/validation/test split.", **_MEM)(steps.split_data)


def _fit_key(context: object, parameters: dict) -> str | None:
    """The resume key computed by `training_steps.fit_cache_key` from fingerprints and config — never from frames."""
    return parameters.get("cache_key")


# The one cached step: downstream of anonymization, keyed on the anonymized data's fingerprint, the
# candidate's config and the code version; its result (a fitted pipeline) is persisted in Prefect's
# local result storage so a re-run after a failure does not refit. No key (resume off) -> no cache.
fit_candidate = task(
    name="fit-candidate",
    description="Fit one candidate on the anonymized splits (cached for resume).",
    cache_key_fn=_fit_key,
    cache_expiration=timedelta(days=14),
    persist_result=True,
)(training_steps.fit_candidate)
train_candidate = task(
    name="train-candidate", description="Fit one candidate model (scikit-learn or PyTorch).", **_MEM, **_TRACKING_RETRIES
)(training_steps.train_one)
evaluate = task(name="evaluate", description="Held-out metrics, intervals, slices, robustness, plots.", **_MEM)(
    training_steps.evaluate_best
)
explain = task(name="explain", description="SHAP / Captum / permutation importance on anonymized data.", **_MEM)(
    training_steps.explain_best
)
audit_model = task(
    name="membership-audit",
    description="Membership-inference audit of one candidate: loss-threshold and offline LiRA attacks (reference models of the same kind), TPR at low FPR, ROC plot.",
    **_MEM,  # no task retries: a retry would refit every reference model (tracking calls retry on their own)
)(model_audit.audit_candidate)
log_model = task(name="log-model", description="Log the best candidate as an MLflow model.", **_MEM, **_TRACKING_RETRIES)(
    training_steps.log_best_model
)
register_and_gate = task(
    name="register-and-gate",
    description="Register as challenger, check every gate, promote to champion only if all pass.",
    **_MEM,
)(promotion.register_and_gate)
record_profile = task(
    name="record-profile",
    description="Drift profile of the anonymized training split and the best candidate's scores, stored with the run.",
    **_MEM,
    **_TRACKING_RETRIES,
)(monitoring.record_training_profile)

# Scoring and monitoring: the batch holds raw PII until it is anonymized.
load_batch = task(name="load-batch", description="Read the incoming batch (CSV or Parquet).", tags=["raw-pii"], **_RAW)(
    scoring.load_batch
)
validate_batch = task(
    name="validate-batch",
    description="Raw expectation suite on the batch; failing rows are kept for quarantine.",
    tags=["raw-pii"],
    **_RAW,
)(scoring.validate_batch)
anonymize_batch = task(name="anonymize-batch", description="Same PII policy and key as training.", tags=["raw-pii"], **_RAW)(
    scoring.anonymize_batch
)
score_batch = task(name="score-batch", description="Probabilities, predictions and top-k reason codes per row.", **_MEM)(
    scoring.score_frame
)
score_raw_records = task(
    name="score-raw-records",
    description="veilflow's column and type checks, the raw suite, the training policy and key, then the model: a prediction or a per-row error for every row.",
    tags=["raw-pii"],
    **_RAW,
)(raw_scoring.score_raw_records)
log_serving_model = task(
    name="log-serving-model",
    description="Log the raw-record serving model (anonymizes inside; key from the environment) beside the anonymized-input model.",
    **_MEM,
    **_TRACKING_RETRIES,
)(serving.log_serving_model)
generate_batch = task(
    name="generate-batch", description="Generate a synthetic customers batch (seeded).", tags=["raw-pii"], **_RAW
)(data.generate_customers)
compare_drift = task(
    name="compare-drift", description="PSI, KS / chi-squared, prediction and data-quality drift vs the training profile.", **_MEM
)(drift.compare_to_profile)

# Privacy lifecycle (issue 10) and the leak scan of everything logged (issue 7).
record_membership = task(
    name="record-membership",
    description="Membership index of the run's subjects (keyed pseudonyms only), for veilflow forget.",
    tags=["raw-pii"],
    **_RAW,
    **_TRACKING_RETRIES,
)(lifecycle.record_membership)
assess_risk = task(
    name="assess-risk",
    description="k-anonymity, share below k and l-diversity before and after the policy's generalisation.",
    **_MEM,
)(lifecycle.assess_reidentification_risk)
scan_leaks = task(
    name="leak-scan",
    description="Search every param, tag, metric name, artifact, dataset, model and Prefect log/artifact of the run for raw PII and the key.",
    **_MEM,
)(audit.leak_scan_step)
