"""Batch scoring steps: resolve the champion, check its provenance, quarantine, anonymize, score, explain."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig, parse_config, resolve_path
from veilflow.core.errors import ConfigError
from veilflow.engines import prefect_api, tracking

if TYPE_CHECKING:
    from veilflow.tasks.data.validation import ValidationReport

log = logging.getLogger("veilflow")


@dataclass
class ChampionModel:
    """The registered model a batch is scored with, and the training config it was built under."""

    model_name: str
    version: str
    run_id: str
    code_version: str
    pipeline_config: PipelineConfig
    pipeline: Any = field(repr=False)  # the fitted sklearn Pipeline (preprocessing + estimator)
    code_check: str = ""  # verify_code_version's verdict, made before the model was loaded


def resolve_champion(
    client: tracking.TrackingClient,
    model_name: str,
    alias: str = "champion",
    *,
    require_same_code: bool = False,
    allow_unverified_code: bool = False,
) -> ChampionModel:
    """Load `models:/<name>@<alias>` and the config logged with the run that trained it.

    The version's recorded code version is verified (`verify_code_version`) *before* the model is
    loaded: loading unpickles code, so an unverified version is refused without being loaded.

    Raises:
        ConfigError: the model or alias does not exist, its training run lacks a config, or its code
            version cannot be verified (and `allow_unverified_code` is not set).
    """
    version = tracking.get_alias_version(client, model_name, alias)
    if version is None:
        raise ConfigError(f"registered model '{model_name}' has no '{alias}' alias: train and promote a model first")
    return load_champion_version(
        client, model_name, str(version), require_same_code=require_same_code, allow_unverified_code=allow_unverified_code
    )


def load_champion_version(
    client: tracking.TrackingClient,
    model_name: str,
    version: str,
    *,
    require_same_code: bool = False,
    allow_unverified_code: bool = False,
) -> ChampionModel:
    """Load one registered version (verified first, as in `resolve_champion`) and its training config.

    Raises:
        ConfigError: as `resolve_champion`.
    """
    from veilflow.core.provenance import code_version

    mv = client.get_model_version(model_name, version)
    recorded = mv.tags.get("veilflow.code_version", "unknown")
    verdict = verify_code_version(
        model_name,
        str(version),
        recorded,
        code_version()["commit"],
        require_same=require_same_code,
        allow_unverified=allow_unverified_code,
    )
    log.info("code check for %s v%s: %s", model_name, version, verdict)
    run_id = mv.run_id
    if run_id is None:
        raise ConfigError(f"{model_name} v{version} records no source run, so it has no config/pipeline.json")
    with tracking.temp_dir() as tmp:
        try:
            path = tracking.download_artifact(client, run_id, "config/pipeline.json", tmp)
        except Exception:
            raise ConfigError(f"run {run_id} of {model_name} v{version} has no config/pipeline.json") from None
        config = parse_config(json.loads(path.read_text()), source=f"run {run_id}")
    model = tracking.load_registered_model(model_name, version)
    return ChampionModel(
        model_name=model_name,
        version=str(version),
        run_id=run_id,
        code_version=recorded,
        pipeline_config=config,
        pipeline=unwrap_pipeline(model),
        code_check=verdict,
    )


def unwrap_pipeline(pyfunc_model: Any) -> Any:
    """The fitted sklearn pipeline inside a pyfunc model (sklearn flavour, or veilflow's PyTorch wrapper)."""
    impl = pyfunc_model._model_impl
    for candidate in (getattr(impl, "sklearn_model", None), getattr(impl, "python_model", None)):
        if candidate is None:
            continue
        return getattr(candidate, "pipeline", candidate)
    raise ConfigError("the registered model is not a veilflow pipeline (sklearn or veilflow PyTorch pyfunc)")


def verify_code_version(
    model_name: str,
    version: str,
    recorded: str,
    current_commit: str,
    *,
    require_same: bool = False,
    allow_unverified: bool = False,
    is_known: Callable[[str], bool] | None = None,
) -> str:
    """Loading a model runs pickled code: check the version was trained by a known commit of this code base.

    Known means the running commit or one of its ancestors (`git merge-base --is-ancestor`).

    Args:
        recorded: the version's `veilflow.code_version` tag ("unknown" when it has none).
        current_commit: the running code's commit ("unknown" outside a git checkout).
        require_same: refuse any commit other than the running one.
        allow_unverified: the explicit override: accept (and say so) what would be refused.
        is_known: commit -> known? (default: `veilflow.core.provenance.is_known_commit`).

    Returns:
        A one-line verdict for logs and tags.

    Raises:
        ConfigError: one line, when the version cannot be verified and no override is given.
    """
    if is_known is None:
        from veilflow.core.provenance import is_known_commit

        is_known = is_known_commit
    who = f"{model_name} v{version}"
    override = "pass --allow-unverified-code (scoring.allow_unverified_code) to load it anyway"
    if recorded in ("", "unknown"):
        problem = f"{who} records no code version"
    elif recorded == current_commit:
        return f"trained by the running commit {current_commit[:12]}"
    elif require_same:
        problem = f"{who} was trained by commit {recorded[:12]}, running {current_commit[:12]} (require_same_code)"
    elif is_known(recorded):
        return f"trained by commit {recorded[:12]}, an ancestor of the running {current_commit[:12]} (allowed)"
    else:
        problem = f"{who} was trained by commit {recorded[:12]}, which is not in this repository's history (running {current_commit[:12]})"
    if allow_unverified:
        return f"UNVERIFIED: {problem}; loaded by explicit override"
    raise ConfigError(f"{problem}: refusing to load its pickled code; {override}")


def score_frame(champion: ChampionModel, frame: pd.DataFrame, top_k: int = 3) -> pd.DataFrame:
    """Predictions and top-k reason codes for an anonymized frame; keeps the id column when configured.

    Columns by the model's task (its label spec, `veilflow_label_`):
    binary: `probability` (of the positive class) and `prediction` (0/1), plus `predicted_label` (the original
    label value) when the label was not already 0/1; multiclass: `prediction` (the original label value of the
    most probable class), `probability` (its probability) and `probability_<class>` per class; regression:
    `prediction` (the predicted value). Then reason_1..reason_k (the features pushing the prediction most: toward
    the positive class, the predicted class, or a higher value), model name and version.
    """
    from veilflow.core.labels import LabelSpec, is_binary_identity
    from veilflow.tasks.modeling.candidates import model_task
    from veilflow.tasks.modeling.reason_codes import predict_with_reason_codes

    ds = champion.pipeline_config.dataset
    features = frame[ds.feature_columns]
    # The model's output and reason_codes' reasons, to the last bit (one transform for a small frame).
    probs, reasons = predict_with_reason_codes(champion.pipeline, features, top_k=top_k)
    task = model_task(champion.pipeline)
    stored = getattr(champion.pipeline, "veilflow_label_", None) or {}
    spec = LabelSpec(column=ds.label, task=task, classes=tuple(stored.get("classes") or ()))  # type: ignore[arg-type]  # task checked by model_task
    out: dict[str, Any] = {}  # framed once (a served request pays this per call); columns and dtypes as inserted one by one
    if ds.id_column in frame.columns:
        out[ds.id_column] = frame[ds.id_column].to_numpy()
    if task == "regression":
        out["prediction"] = np.asarray(probs, dtype="float64")
    elif task == "multiclass":
        proba = np.asarray(probs, dtype="float64")
        top = proba.argmax(axis=1)
        labels = spec.decode(top) if spec.classes else top
        out["prediction"] = labels
        out["probability"] = proba[np.arange(len(proba)), top]
        names = spec.classes or tuple(range(proba.shape[1]))
        for i, c in enumerate(names):
            out[f"probability_{c}"] = proba[:, i]
    else:
        out["probability"] = probs
        out["prediction"] = (probs >= 0.5).astype("int64")
        if spec.classes and not is_binary_identity(spec):
            out["predicted_label"] = spec.decode(out["prediction"])
    for col in reasons.columns:
        out[col] = reasons[col].to_numpy()
    out["model_name"] = champion.model_name
    out["model_version"] = champion.version
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def write_parquet_atomically(frame: pd.DataFrame, path: Path) -> Path:
    """Write to a temporary name and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def positive_rate(probs: np.ndarray) -> float:
    return float(np.mean(probs >= 0.5)) if len(probs) else 0.0


def load_batch(path: Path, max_bytes: int = 2 * 1024**3, encoding: str = "utf-8") -> pd.DataFrame:
    """Read an incoming batch (CSV or Parquet); a relative path is taken from the working directory."""
    from veilflow.tasks.data.io import load_frame

    return load_frame(resolve_path(path, Path.cwd()), max_bytes=max_bytes, encoding=encoding)


def suite_without_column(suite_path: Path, column: str, out_dir: Path) -> Path:
    """A copy of a GX suite with every expectation about `column` removed (and `column` dropped from
    table-level column sets): a batch to score has no label yet, and must not be refused for it."""
    import json

    data = json.loads(Path(suite_path).read_text(encoding="utf-8"))
    kept = []
    for entry in data["expectations"]:
        kwargs = entry.get("kwargs", {})
        if kwargs.get("column") == column:
            continue
        for key in ("column_set", "column_list"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = [c for c in kwargs[key] if c != column]
        kept.append(entry)
    data["expectations"] = kept
    data["name"] = f"{data['name']}.without_{column}"
    out = Path(out_dir) / f"{Path(suite_path).stem}.without_{column}.json"
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


def load_batch_suite(suite_path: Path, label: str | None, columns: Any) -> Any:
    """The training run's raw suite for a batch with these columns: minus the label's expectations
    when the batch has no label column (the usual case when scoring), else the whole suite."""
    import tempfile

    from veilflow.tasks.data.validation import load_suite

    path = resolve_path(suite_path)
    with tempfile.TemporaryDirectory(prefix="veilflow-suite-") as tmp:
        if label and label not in columns:
            path = suite_without_column(path, label, Path(tmp))
        return load_suite(path)


def validate_batch(frame: pd.DataFrame, suite_path: Path, context: Any, label: str | None = None) -> ValidationReport:
    """Validate a raw batch with the training run's raw suite; the report keeps failing rows for quarantine.

    A batch without the label column (the usual case when scoring) is validated with the suite minus
    the label's expectations; a batch that has it is held to the whole suite.

    Raises:
        DataValidationError: a critical expectation failed (missing columns, a broken column): the batch
            as a whole is unusable, so nothing is scored.
    """
    from veilflow.tasks.data.validation import validate_frame

    suite = load_batch_suite(suite_path, label, frame.columns)
    report = validate_frame(frame, suite, context, id_column=None)
    log.info("batch validation: %d expectations, %d rows flagged", report.evaluated, report.rows_flagged)
    report.raise_if_critical("batch")
    return report


def anonymize_batch(
    frame: pd.DataFrame, config: PipelineConfig, analyzer: Any, key: bytes | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Anonymize a batch with the policy and key the model was trained under; the frame keeps its index."""
    from veilflow.tasks.privacy.policy import load_policy, validate_policy_against
    from veilflow.tasks.privacy.redaction import anonymize_frame

    if config.dataset.pii_policy is None:
        return frame.copy(), {"policy": None, "rows": len(frame), "columns": {}, "total_found": 0}
    policy = load_policy(resolve_path(config.dataset.pii_policy))
    validate_policy_against(policy, list(frame.columns))
    # Monitoring batches: an unparsable date is that row's null (counted in the audit), as in scoring.
    anonymized, audit = anonymize_frame(frame, policy, analyzer, key, batch_size=config.privacy.batch_size, unparsed_limit=False)
    anonymized.index = frame.index
    return anonymized, audit.model_dump(mode="json")


def quarantine_batch(anonymized: pd.DataFrame, report: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the anonymized batch into rows to score and rows quarantined with `quarantine_reason`.

    Quarantined rows are written anonymized (never raw) with their position in the batch (`source_row`).
    """
    from veilflow.tasks.data.validation import quarantine_rows

    clean, quarantined = quarantine_rows(anonymized, report)
    positions = {idx: pos for pos, idx in enumerate(anonymized.index)}
    quarantined = quarantined.assign(source_row=[positions[i] for i in quarantined.index])
    return clean, quarantined.reset_index(drop=True)


def start_champion_run(
    client: tracking.TrackingClient,
    experiment: str,
    flow_name: str,
    champion: ChampionModel,
    extra_tags: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Open the MLflow run of a flow that uses a registered version (scoring, monitoring), linked to it.

    Returns (experiment_id, run_id).
    """
    flow_run_id, flow_run_name = prefect_api.current_flow_run()
    experiment_id = tracking.ensure_experiment(client, experiment, os.environ.get("VEILFLOW_ARTIFACT_ROOT"))
    run_id = tracking.start_run(
        client,
        experiment_id,
        run_name=f"{flow_name}-{flow_run_name or 'local'}",
        tags={
            "veilflow.flow": flow_name,
            "veilflow.prefect_flow_run_id": flow_run_id,
            "veilflow.model_name": champion.model_name,
            "veilflow.model_version": champion.version,
            "veilflow.model_run_id": champion.run_id,
            **(extra_tags or {}),
        },
    )
    return experiment_id, run_id
