"""Training-flow steps of the privacy lifecycle: the run's membership index and its re-identification risk.

Plain functions (the Prefect wrappers are in `veilflow.flows.prefect_tasks`); they record counts, digests and
pseudonyms only — never a raw identifier.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.core.errors import ConfigError, DataLoadError
from veilflow.engines import tracking

log = logging.getLogger("veilflow")

MEMBERSHIP_ARTIFACT = "membership/membership.npy"
MEMBERSHIP_TAG = "veilflow.membership"
MEMBERSHIP_DIGEST_TAG = "veilflow.membership.digest"


def record_membership(
    raw: pd.DataFrame, config: PipelineConfig, key: bytes | None, client: tracking.TrackingClient, run_id: str, out_dir: Path
) -> dict[str, Any]:
    """Log the exact membership index of the run's data: sorted keyed pseudonyms of the subject column.

    The raw subject values are hashed in memory with the pseudonymization key (the same token the
    policy's `hash` operator and `veilflow forget` compute); only the 16-byte tokens are written.
    Every row the run uses (train, validation and test) counts as membership.

    Returns:
        {"recorded": bool, "subjects": n, "digest": sha256 of the index} (no values).

    Raises:
        DataLoadError: the subject column is not in the frame.
        MissingKeyError / ConfigError: no key, or a short one.
    """
    from veilflow.tasks.privacy.membership import _key_bytes, build_membership_index
    from veilflow.tasks.privacy.pseudonyms import pseudonymize_values

    column = config.dataset.subject_column
    if not column:
        tracking.set_tags(client, run_id, {MEMBERSHIP_TAG: "none"})
        return {"recorded": False, "subjects": 0, "digest": None}
    if column not in raw.columns:
        raise DataLoadError(f"subject column '{column}' is missing from the loaded data")
    raw_key = _key_bytes(key)
    values = raw[column].dropna().astype("str")
    uniques = pd.unique(values)
    index = build_membership_index(pseudonymize_values(list(uniques), raw_key))
    path = index.save(out_dir / "membership.npy")
    tracking.log_artifact(client, run_id, path, "membership")
    tracking.set_tags(
        client,
        run_id,
        {MEMBERSHIP_TAG: MEMBERSHIP_ARTIFACT, MEMBERSHIP_DIGEST_TAG: index.digest(), "veilflow.subject_column": column},
    )
    tracking.log_metrics(
        client, run_id, {"membership.subjects": index.size, "membership.rows_without_subject": int(raw[column].isna().sum())}
    )
    log.info("membership index: %d subjects (exact, sorted pseudonyms)", index.size)
    return {"recorded": True, "subjects": index.size, "digest": index.digest()}


def assess_reidentification_risk(
    anonymized: pd.DataFrame, config: PipelineConfig, audit: dict[str, Any], client: tracking.TrackingClient, run_id: str
) -> tuple[pd.DataFrame, dict[str, Any] | None, dict[str, Any]]:
    """k-anonymity, share below k and l-diversity of the label before and after the policy's generalisation.

    The generalised frame replaces the anonymized one downstream. Generalising a model feature is
    refused (batches scored later would no longer look like the training data).

    Returns:
        (the frame to train on, the assessment as a dict or None without a `risk:` section, the PII
        audit with a `risk` entry, re-logged as `pii/audit.json`).

    Raises:
        ConfigError: a generalisation step names a model feature, or a quasi-identifier is missing.
    """
    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.risk import assess_risk

    ds = config.dataset
    if ds.pii_policy is None:
        return anonymized, None, audit
    policy = load_policy(resolve_path(ds.pii_policy)).risk
    if policy is None:
        return anonymized, None, audit
    features = [c for c in policy.generalise if c in ds.feature_columns]
    if features:
        raise ConfigError(
            f"PII policy risk.generalise names model feature column(s) {features}: generalise non-feature columns only"
        )
    try:
        frame, assessment = assess_risk(anonymized, policy, ds.label)
    except ValueError as exc:
        raise ConfigError(f"re-identification risk: {exc}") from None
    result = assessment.model_dump(mode="json")
    tracking.log_metrics(client, run_id, assessment.as_metrics())
    tracking.log_dict(client, run_id, result, "pii/risk.json")
    tracking.set_tags(client, run_id, {"veilflow.risk": "passed" if assessment.passed else "failed"})
    audit = {**audit, "risk": result}
    tracking.log_dict(client, run_id, audit, "pii/audit.json")
    log.info("re-identification risk before: %s", assessment.before.summary())
    log.info("re-identification risk after %d step(s): %s", len(assessment.applied_steps), assessment.after.summary())
    return frame, result, audit
