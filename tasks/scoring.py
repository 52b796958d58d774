"""Batch scoring steps: resolve the champion, check its provenance, quarantine, anonymize, score, explain."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from tasks import tracking
from veilflow.config import PipelineConfig, parse_config
from veilflow.errors import ConfigError

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


def resolve_champion(client: MlflowClient, model_name: str, alias: str = "champion") -> ChampionModel:
    """Load `models:/<name>@<alias>` and the config logged with the run that trained it.

    Raises:
        ConfigError: the model or alias does not exist, or its training run lacks a config.
    """
    import mlflow.pyfunc

    version = tracking.get_alias_version(client, model_name, alias)
    if version is None:
        raise ConfigError(f"registered model '{model_name}' has no '{alias}' alias: train and promote a model first")
    mv = client.get_model_version(model_name, version)
    with tracking.temp_dir() as tmp:
        try:
            path = tracking.download_artifact(client, mv.run_id, "config/pipeline.json", tmp)
        except Exception:
            raise ConfigError(f"run {mv.run_id} of {model_name} v{version} has no config/pipeline.json") from None
        config = parse_config(json.loads(path.read_text()), source=f"run {mv.run_id}")
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    return ChampionModel(
        model_name=model_name,
        version=str(version),
        run_id=mv.run_id,
        code_version=mv.tags.get("veilflow.code_version", "unknown"),
        pipeline_config=config,
        pipeline=unwrap_pipeline(model),
    )


def unwrap_pipeline(pyfunc_model: Any) -> Any:
    """The fitted sklearn pipeline inside a pyfunc model (sklearn flavour, or veilflow's PyTorch wrapper)."""
    impl = pyfunc_model._model_impl
    for candidate in (getattr(impl, "sklearn_model", None), getattr(impl, "python_model", None)):
        if candidate is None:
            continue
        return getattr(candidate, "pipeline", candidate)
    raise ConfigError("the registered model is not a veilflow pipeline (sklearn or veilflow PyTorch pyfunc)")


def verify_code_version(champion: ChampionModel, current_commit: str, require_same: bool) -> str:
    """Loading a model runs pickled code: check it came from a known commit of this code base.

    Returns a one-line verdict; raises ConfigError when the version carries no code version, or when
    `require_same` is set and it differs from the running code.
    """
    if champion.code_version in ("", "unknown"):
        raise ConfigError(f"{champion.model_name} v{champion.version} records no code version: refusing to load untrusted code")
    if champion.code_version != current_commit:
        if require_same:
            raise ConfigError(
                f"{champion.model_name} v{champion.version} was trained by commit {champion.code_version[:12]}, running {current_commit[:12]}"
            )
        return f"trained by commit {champion.code_version[:12]}, running {current_commit[:12]} (allowed)"
    return f"trained by the running commit {current_commit[:12]}"


def score_frame(champion: ChampionModel, frame: pd.DataFrame, top_k: int = 3) -> pd.DataFrame:
    """Probabilities and top-k reason codes for an anonymized frame; keeps the id column when configured."""
    from tasks.explain import reason_codes
    from tasks.training import predict_positive

    ds = champion.pipeline_config.dataset
    features = frame[ds.feature_columns]
    probs = predict_positive(champion.pipeline, features)
    reasons = reason_codes(champion.pipeline, features, top_k=top_k)
    out = pd.DataFrame(index=frame.index)
    if ds.id_column in frame.columns:
        out[ds.id_column] = frame[ds.id_column].to_numpy()
    out["probability"] = probs
    out["prediction"] = (probs >= 0.5).astype("int64")
    for col in reasons.columns:
        out[col] = reasons[col].to_numpy()
    out["model_name"] = champion.model_name
    out["model_version"] = champion.version
    return out.reset_index(drop=True)


def write_parquet_atomically(frame: pd.DataFrame, path: Path) -> Path:
    """Write to a temporary name and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def positive_rate(probs: np.ndarray) -> float:
    return float(np.mean(probs >= 0.5)) if len(probs) else 0.0
