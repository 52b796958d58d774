"""Drift-monitoring steps: the training profile stored with a model version, synthetic drift, and the report text."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig
from veilflow.core.errors import ConfigError
from veilflow.engines import tracking
from veilflow.tasks.data.drift import DriftReport, build_profile

log = logging.getLogger("veilflow")

PROFILE_ARTIFACT = "profile/training_profile.json"
PROFILE_TAG = "veilflow.profile_artifact"


def profile_frame(model: Any, frame: pd.DataFrame, config: PipelineConfig, seed: int | None = None) -> dict[str, Any]:
    """The drift profile of an anonymized frame and the model's scores on it (see `veilflow.tasks.data.drift.build_profile`)."""
    ds = config.dataset
    predictions = prediction_scores(model, frame[ds.feature_columns])
    return build_profile(
        frame,
        list(ds.numeric_features),
        list(ds.categorical_features),
        ds.text_feature,
        predictions,
        seed=config.seed if seed is None else seed,
    )


def prediction_scores(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The one score per row whose drift is watched: P(positive) (binary), the top-class probability (multiclass),
    the predicted value (regression); the task is the model's own (`candidates.model_task`)."""
    from veilflow.tasks.modeling.candidates import model_task, predict_output, top_score

    task = model_task(model)
    return np.asarray(top_score(predict_output(model, frame, task), task), dtype="float64")


def record_training_profile(
    best: Any, train: pd.DataFrame, config: PipelineConfig, client: tracking.TrackingClient, run_id: str
) -> str:
    """Profile the anonymized training split with the best candidate's scores; log it to the run.

    The run tag `veilflow.profile_artifact` names the artifact; `register_and_gate` copies it onto the
    model version, so monitoring finds the profile of whichever version is champion.

    Returns:
        The artifact path inside the run.
    """
    profile = profile_frame(best.trained.model, train, config)
    tracking.log_dict(client, run_id, profile, PROFILE_ARTIFACT)
    tracking.set_tags(client, run_id, {PROFILE_TAG: PROFILE_ARTIFACT})
    log.info(
        "training profile: %d rows, %d features",
        profile["n_rows"],
        len(profile["numeric"]) + len(profile["categorical"]) + len(profile["text"]),
    )
    return PROFILE_ARTIFACT


def load_version_profile(client: tracking.TrackingClient, model_name: str, version: str) -> dict[str, Any]:
    """The training profile stored with a model version (its tag names the artifact of its training run).

    Raises:
        ConfigError: the version records no profile, or the artifact cannot be read.
    """
    mv = client.get_model_version(model_name, version)
    path = mv.tags.get(PROFILE_TAG)
    if not path or path == "none":
        raise ConfigError(
            f"{model_name} v{version} has no training profile (tag {PROFILE_TAG}): retrain it with this version of veilflow"
        )
    run_id = mv.run_id
    if run_id is None:
        raise ConfigError(
            f"training profile {path} of {model_name} v{version} could not be read (the version records no source run)"
        )
    with tracking.temp_dir() as tmp:
        try:
            local = tracking.download_artifact(client, run_id, path, tmp)
            return json.loads(local.read_text())
        except Exception as exc:
            raise ConfigError(
                f"training profile {path} of {model_name} v{version} could not be read ({type(exc).__name__})"
            ) from None


def apply_drift(frame: pd.DataFrame, strength: float, seed: int = 0) -> pd.DataFrame:
    """A copy of a customers frame shifted by `strength` (0 = unchanged, 1 = strong drift), for demos and tests.

    Charges rise by up to 60%, tenure shortens by up to 70%, tickets grow, and up to 80% of contracts
    become month-to-month. The label is left as it was.

    Raises:
        ValueError: strength outside [0, 1] or a frame without the customers feature columns.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"drift strength must be in [0, 1], got {strength}")
    needed = ["monthly_charges", "tenure_months", "num_support_tickets", "contract_type"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"apply_drift needs the customers columns; missing: {', '.join(missing)}")
    out = frame.copy()
    if strength == 0.0 or out.empty:
        return out
    rng = np.random.default_rng(seed)
    out["monthly_charges"] = (out["monthly_charges"].astype("float64") * (1.0 + 0.6 * strength)).round(2)
    tenure = out["tenure_months"].astype("float64")
    out["tenure_months"] = np.maximum(1, np.round(tenure * (1.0 - 0.7 * strength))).astype(out["tenure_months"].dtype)
    out["num_support_tickets"] = out["num_support_tickets"] + rng.poisson(3.0 * strength, size=len(out))
    flip = rng.random(len(out)) < 0.8 * strength
    out.loc[flip, "contract_type"] = "month-to-month"
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def drift_markdown(report: DriftReport, model_name: str, version: str, run_url: str, retrain: str) -> str:
    """The Markdown summary a person reads in the Prefect UI: verdict, per-feature table, quality, retraining."""
    verdict = "**drift detected**" if report.drift_detected else "no drift above the threshold"
    lines = [
        f"# Drift monitoring: {verdict}",
        "",
        f"Model `{model_name}` version {version}; {report.n_rows_now} batch rows vs {report.n_rows_train} training rows; "
        f"PSI threshold {report.psi_threshold:g}, max feature PSI {report.max_psi:.3f}, prediction PSI {_fmt(report.prediction_psi)}.",
        "",
        "| feature | kind | PSI | test | p-value | null rate (train → now) | drifted |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for r in report.rows:
        nulls = f"{_fmt(r.null_rate_train)} → {_fmt(r.null_rate_now)}" if r.null_rate_train is not None else "–"
        lines.append(
            f"| {r.feature} | {r.kind} | {_fmt(r.psi)} | {r.test or '–'} | {_fmt(r.p_value, 4)} | {nulls} | {'yes' if r.drifted else 'no'} |"
        )
    lines += ["", "**Data quality:** " + ("; ".join(report.quality_issues) if report.quality_issues else "no issues"), ""]
    lines += [f"**Retraining:** {retrain}", "", f"[MLflow run]({run_url})"]
    return "\n".join(lines)
