"""The raw-record serving model: what it carries, logging it beside the anonymized-input model, loading it
inside `mlflow models serve`, and resolving what `veilflow serve-model` serves.

Each training run logs two models:

- `models:/<name>/<version>` (the registered version): the anonymized-input pipeline, as before;
- the LoggedModel `serving` of the same run, whose URI (`models:/m-<id>`) the version carries in the tag
  `veilflow.serving_model`: a pyfunc that takes RAW records in the user's schema and anonymizes inside.

The serving model carries the training config, the raw suite and the PII policy (contracts, no values)
and a copy of the anonymized-input model; the key is read from the environment when it loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veilflow.core.config import PipelineConfig, parse_config, resolve_path
from veilflow.core.errors import ConfigError, MissingKeyError
from veilflow.engines import tracking
from veilflow.tasks.ops.raw_scoring import RawScorer, prepare_scorer, raw_contract
from veilflow.tasks.ops.scoring import ChampionModel, unwrap_pipeline, verify_code_version

log = logging.getLogger("veilflow")

SERVING_TAG = "veilflow.serving_model"  # on the training run and its model version: models:/m-<id>
SERVING_NAME = "serving"  # the LoggedModel's name in the training run
NAME_ENV, VERSION_ENV = "VEILFLOW_SERVING_MODEL_NAME", "VEILFLOW_SERVING_MODEL_VERSION"  # set by `veilflow serve-model`


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def serving_artifacts(config: PipelineConfig, out_dir: Path) -> dict[str, Path]:
    """Write the serving model's contract files: the training config, the raw suite and the PII policy."""
    ds = config.dataset
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"config": out_dir / "pipeline.json", "suite": out_dir / "raw_suite.json"}
    files["config"].write_text(json.dumps(config.model_dump(mode="json"), sort_keys=True), encoding="utf-8")
    shutil.copyfile(resolve_path(ds.raw_suite), files["suite"])
    if ds.pii_policy is not None:
        files["policy"] = out_dir / "pii_policy.yaml"
        shutil.copyfile(resolve_path(ds.pii_policy), files["policy"])
    return files


def log_serving_model(
    model_uri: str, config: PipelineConfig, client: tracking.TrackingClient, run_id: str, experiment_id: str, code_path: Path
) -> str:
    """Log the raw-record serving model of a run beside its anonymized-input model; returns its URI.

    Args:
        model_uri: the anonymized-input model just logged (`models:/m-<id>`); the serving model holds a copy.
        code_path: the models-from-code script MLflow runs to build the pyfunc (`veilflow.flows.serving`).
    """
    from veilflow.core.provenance import code_version
    from veilflow.engines import serving as engine
    from veilflow.tasks.privacy.policy import load_policy

    ds = config.dataset
    policy = load_policy(resolve_path(ds.pii_policy)) if ds.pii_policy is not None else None
    contract = raw_contract(config, policy, json.loads(resolve_path(ds.raw_suite).read_text(encoding="utf-8")))
    with tracking.temp_dir() as tmp:
        files = serving_artifacts(config, tmp)
        metadata = {
            "veilflow_kind": "raw-record",
            "veilflow_raw_contract": contract.to_dict(),
            "veilflow_anonymized_model": model_uri,
            "veilflow_key_env": config.privacy.key_env if policy is not None and policy.requires_key else None,
            "veilflow_nlp_model": config.privacy.nlp_model,
            "veilflow_contract_sha256": {name: _sha256(path) for name, path in sorted(files.items()) if name != "config"},
        }
        uri, model_id = engine.log_code_model(
            client,
            run_id,
            experiment_id,
            SERVING_NAME,
            code_path,
            artifacts={"model": model_uri, **{k: str(v) for k, v in files.items()}},
            columns=[(c, contract.kinds[c]) for c in contract.columns],
            model_config={"model_name": config.registry.model_name, "run_id": run_id, "code_version": code_version()["commit"]},
            metadata=metadata,
        )
    tracking.set_tags(client, run_id, {SERVING_TAG: uri})
    log.info(
        "raw-record serving model %s logged (%d raw columns, %d required)",
        model_id,
        len(contract.columns),
        len(contract.required),
    )
    return uri


def load_serving_scorer(artifacts: Mapping[str, str], model_config: Mapping[str, Any]) -> RawScorer:
    """The serving model's `load_context`: config, policy and suite from its artifacts, the key from the
    environment variable the config names, the analyzer and GX context built once.

    Raises:
        MissingKeyError: one line, when the policy needs the key and its environment variable is unset.
    """
    from veilflow.engines import serving as engine
    from veilflow.engines.gx import build_gx_context
    from veilflow.engines.presidio import build_analyzer
    from veilflow.engines.secrets import resolve_key
    from veilflow.tasks.privacy.policy import load_policy

    config = parse_config(json.loads(Path(artifacts["config"]).read_text(encoding="utf-8")), source="the serving model's config")
    policy_path = Path(artifacts["policy"]) if artifacts.get("policy") else None
    policy = load_policy(policy_path) if policy_path is not None else None
    key = None
    if policy is not None and policy.requires_key:
        key = resolve_key(config.privacy.key_env)  # the environment only: never a Prefect block, never an artifact
        if key is None:
            raise MissingKeyError(
                f"environment variable {config.privacy.key_env} is not set: the raw-record model pseudonymizes with the key "
                "it was trained with, read from the environment when it loads (never stored with the model)"
            )
    analyzer = build_analyzer(config.privacy.nlp_model) if policy is not None else None
    champion = ChampionModel(
        model_name=os.environ.get(NAME_ENV) or str(model_config.get("model_name") or config.registry.model_name),
        version=os.environ.get(VERSION_ENV) or "unregistered",
        run_id=str(model_config.get("run_id", "")),
        code_version=str(model_config.get("code_version", "unknown")),
        pipeline_config=config,
        pipeline=unwrap_pipeline(engine.load_local_model(artifacts["model"])),
    )
    return prepare_scorer(
        champion, key, build_gx_context(), analyzer, mode="records", policy_path=policy_path, suite_path=Path(artifacts["suite"])
    )


# --------------------------------------------------------------------------- what `veilflow serve-model` serves


@dataclass(frozen=True)
class ServingTarget:
    """One registered version, resolved for serving: which model URI, and what its server needs."""

    model_name: str
    version: str
    uri: str
    kind: str  # "raw-record" | "anonymized-input"
    key_env: str | None  # the environment variable the server needs (None: no key needed)
    config: PipelineConfig
    code_check: str

    @property
    def anonymized_uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


def resolve_serving(
    client: tracking.TrackingClient,
    model_name: str,
    alias: str = "champion",
    *,
    anonymized_input: bool = False,
    require_same_code: bool = False,
    allow_unverified_code: bool = False,
) -> ServingTarget:
    """The version `alias` names, its code verified (as for batch scoring), and the model to serve.

    Raises:
        ConfigError: no such alias, a version without a raw-record model, or an unverified code version.
    """
    from veilflow.core.provenance import code_version
    from veilflow.tasks.privacy.policy import load_policy

    version = tracking.get_alias_version(client, model_name, alias)
    if version is None:
        raise ConfigError(f"registered model '{model_name}' has no '{alias}' alias: train and promote a model first")
    mv = client.get_model_version(model_name, version)
    verdict = verify_code_version(
        model_name,
        version,
        mv.tags.get("veilflow.code_version", "unknown"),
        code_version()["commit"],
        require_same=require_same_code,
        allow_unverified=allow_unverified_code,
    )
    if mv.run_id is None:
        raise ConfigError(f"{model_name} v{version} records no source run, so it has no config/pipeline.json")
    with tracking.temp_dir() as tmp:
        try:
            path = tracking.download_artifact(client, mv.run_id, "config/pipeline.json", tmp)
        except Exception:
            raise ConfigError(f"run {mv.run_id} of {model_name} v{version} has no config/pipeline.json") from None
        config = parse_config(json.loads(path.read_text()), source=f"run {mv.run_id}")
    if anonymized_input:
        return ServingTarget(model_name, version, f"models:/{model_name}/{version}", "anonymized-input", None, config, verdict)
    uri = mv.tags.get(SERVING_TAG)
    if not uri or uri == "none":
        raise ConfigError(
            f"{model_name} v{version} has no raw-record serving model (tag {SERVING_TAG}): retrain it with this version of "
            "veilflow, or serve the anonymized-input model with --anonymized-input"
        )
    ds = config.dataset
    needs_key = ds.pii_policy is not None and load_policy(resolve_path(ds.pii_policy)).requires_key
    return ServingTarget(model_name, version, uri, "raw-record", config.privacy.key_env if needs_key else None, config, verdict)


def check_serving_key(target: ServingTarget) -> None:
    """Refuse, in one line, to start a raw-record server whose key variable is unset or too short.

    Raises:
        MissingKeyError: the variable is unset or empty.
        ConfigError: the key is shorter than 16 bytes.
    """
    from veilflow.engines.secrets import resolve_key

    if target.key_env is None:
        return
    if resolve_key(target.key_env) is None:
        raise MissingKeyError(
            f"environment variable {target.key_env} is not set: the raw-record model of {target.model_name} "
            f"v{target.version} needs the pseudonymization key it was trained with"
        )


def serving_card_lines(model_name: str, version: str, run_tags: Mapping[str, str]) -> dict[str, str]:
    """Which URI is which, for the model card."""
    raw = run_tags.get(SERVING_TAG, "none")
    return {
        "anonymized-input model": f"models:/{model_name}/{version} (takes anonymized rows; `veilflow serve-model --anonymized-input`)",
        "raw-record serving model": f"{raw} (takes raw records, anonymizes inside; `veilflow serve-model`)"
        if raw != "none"
        else "none",
    }
