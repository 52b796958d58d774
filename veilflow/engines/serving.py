"""The MLflow side of the raw-record serving model: its signature, logging it as a models-from-code pyfunc,
loading a copied model, and the `mlflow models serve` command line and environment.

The signature lists the raw columns, every one optional (`ColSpec(required=False)`), text columns as
strings and the others as `Any`: MLflow's own schema errors quote the request's rows in the 400 body, so
nothing may fail there; veilflow checks presence and types inside `predict`, naming columns only.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from veilflow.engines.tracking import _MODEL_LOGGING, with_retries

BIN = Path(sys.executable).parent  # the venv's bin/: `mlflow models serve` execs `uvicorn` by name


def raw_signature(columns: Sequence[tuple[str, str]]) -> Any:
    """A signature over the raw columns ((name, kind) pairs, kind "text" | "number" | "any"), all optional."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema, TensorSpec

    specs: list[ColSpec | TensorSpec] = [
        ColSpec("string" if kind == "text" else AnyType(), name, required=False) for name, kind in columns
    ]
    return ModelSignature(inputs=Schema(specs))


def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for name in (
        "veilflow",
        "mlflow",
        "scikit-learn",
        "pandas",
        "numpy",
        "presidio-analyzer",
        "presidio-anonymizer",
        "great-expectations",
    ):
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            reqs.append(name)
    return reqs


def log_code_model(
    client: Any,
    run_id: str,
    experiment_id: str,
    name: str,
    code_path: Path,
    artifacts: Mapping[str, str],
    columns: Sequence[tuple[str, str]],
    model_config: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> tuple[str, str]:
    """Log a models-from-code pyfunc (no pickled Python object) as a LoggedModel of `run_id`; returns (uri, model id).

    `artifacts` may name other models (`models:/m-<id>`): MLflow copies them into this one. No input
    example is logged: one would be raw data.
    """
    import mlflow
    import mlflow.pyfunc
    from mlflow.entities import LoggedModelOutput

    with _MODEL_LOGGING:  # MLflow's model logging keeps process-global state
        logged = with_retries(
            lambda: mlflow.initialize_logged_model(name=name, source_run_id=run_id, experiment_id=experiment_id)
        )
        with warnings.catch_warnings():
            # Deliberate: an input example would be raw records. The signature is given, so MLflow's hint says nothing.
            warnings.filterwarnings("ignore", message=".*input example was not provided", category=UserWarning)
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(code_path),
                artifacts=dict(artifacts),
                signature=raw_signature(columns),
                model_config=dict(model_config),
                metadata=dict(metadata),
                pip_requirements=_pip_requirements(),
                model_id=logged.model_id,
            )
        with_retries(lambda: client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)]))
    return info.model_uri, logged.model_id


def load_local_model(path: str) -> Any:
    """A pyfunc model from a local folder (the anonymized-input copy inside the serving model)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(path)


def serve_command(model_uri: str, host: str, port: int) -> list[str]:
    """`mlflow models serve` for a model URI, in this environment (`--env-manager local`), one worker."""
    return [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def serve_environment(base: Mapping[str, str], tracking_uri: str | None, extra: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: `base` with the venv's bin/ first on PATH, the tracking URI, and MLflow's
    schema-error details off (they quote request values); `extra` last."""
    env = dict(base)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["MLFLOW_DISABLE_SCHEMA_DETAILS"] = "true"
    env.update(extra)
    return env
