"""The one seam to MLflow: runs, params, metrics, artifacts, datasets, models and registry aliases.

Every call names its run explicitly through `MlflowClient` — never the fluent per-thread active run,
which a task running in a worker thread would not see.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

T = TypeVar("T")

# The types the rest of veilflow names when it is handed a client or catches a tracking failure, so that only
# this package imports MLflow.
TrackingClient: TypeAlias = MlflowClient
TrackingError: TypeAlias = MlflowException
_MODEL_LOGGING = threading.RLock()

MAX_PARAM_LEN = 6000
FAILURE_TAG = "veilflow.failure_reason"
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
# MLflow's run description: the run list shows it, so a failed run's reason is visible without opening it.
DESCRIPTION_TAG = "mlflow.note.content"
_TRANSIENT_MARKERS = ("connection", "timed out", "temporarily", "503", "502", "504", "database is locked")


def with_retries(fn: Callable[[], T], attempts: int = 4, base_delay: float = 0.5) -> T:
    """Call `fn`, retrying transient tracking-server failures with exponential backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (MlflowException, OSError) as exc:
            transient = isinstance(exc, OSError) or any(m in str(exc).lower() for m in _TRANSIENT_MARKERS)
            if not transient or attempt == attempts:
                raise
            time.sleep(base_delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def make_client(tracking_uri: str | None = None) -> MlflowClient:
    """An MLflow client for `tracking_uri` (default: MLFLOW_TRACKING_URI, set by `configure_environment`)."""
    return MlflowClient(tracking_uri=tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"))


def tracking_uri_of(client: MlflowClient) -> str:
    """The tracking URI a client talks to (MLflow keeps it on a private attribute; read it in one place)."""
    return str(client._tracking_client.tracking_uri)


def ensure_experiment(client: MlflowClient, name: str, artifact_root: str | None = None) -> str:
    """Return the id of experiment `name`, creating it (artifacts under `artifact_root/<name>`) if needed."""
    exp = with_retries(lambda: client.get_experiment_by_name(name))
    if exp is not None:
        if EXPERIMENT_KIND_TAG not in (exp.tags or {}):  # made before veilflow tagged its experiments
            found = exp.experiment_id
            with_retries(lambda: client.set_experiment_tag(found, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND))
        return exp.experiment_id
    location = f"{artifact_root.rstrip('/')}/{name}" if artifact_root else None
    try:
        # The experiment kind makes MLflow 3's UI open on the training runs, not on the (empty) GenAI overview.
        return client.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    except MlflowException:
        # Another run created it between our look-up and create.
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def start_run(client: MlflowClient, experiment_id: str, run_name: str, tags: Mapping[str, str]) -> str:
    run = with_retries(lambda: client.create_run(experiment_id, run_name=run_name, tags=dict(tags)))
    return run.info.run_id


def end_run(client: MlflowClient, run_id: str, status: str = "FINISHED", reason: str | None = None) -> None:
    """Mark the run terminated; a failure reason (one line, no data values) is kept as a tag."""
    if reason:
        line = reason.splitlines()[0][:5000]
        client.set_tag(run_id, FAILURE_TAG, line)
        client.set_tag(run_id, DESCRIPTION_TAG, f"{status.lower()}: {line}")
    with_retries(lambda: client.set_terminated(run_id, status))


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mapping -> {"a.b.c": "value"} with JSON for lists, for MLflow params."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            out[name] = text[:MAX_PARAM_LEN]
    return out


def log_params(client: MlflowClient, run_id: str, params: Mapping[str, Any]) -> None:
    items = [Param(k, v) for k, v in flatten(params).items()]
    for i in range(0, len(items), 100):
        chunk = items[i : i + 100]
        with_retries(functools.partial(client.log_batch, run_id, params=chunk))


def log_metrics(client: MlflowClient, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
    now = int(time.time() * 1000)
    items = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None]
    for i in range(0, len(items), 500):
        chunk = items[i : i + 500]
        with_retries(functools.partial(client.log_batch, run_id, metrics=chunk))


def set_tags(client: MlflowClient, run_id: str, tags: Mapping[str, Any]) -> None:
    items = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
    if items:
        with_retries(lambda: client.log_batch(run_id, tags=items))


def log_dict(client: MlflowClient, run_id: str, obj: Any, artifact_file: str) -> None:
    with_retries(lambda: client.log_dict(run_id, obj, artifact_file))


def log_text(client: MlflowClient, run_id: str, text: str, artifact_file: str) -> None:
    with_retries(lambda: client.log_text(run_id, text, artifact_file))


def log_artifact(client: MlflowClient, run_id: str, path: Path, artifact_path: str | None = None) -> None:
    with_retries(lambda: client.log_artifact(run_id, str(path), artifact_path))


def log_dataset(
    client: MlflowClient, run_id: str, frame: pd.DataFrame, name: str, source: str, fingerprint: str, context: str
) -> None:
    """Record an (anonymized) frame as a run input: its schema, row count and content digest — not its rows."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    # A generated or sklearn-bundled frame has no URI MLflow can resolve; describe its origin instead.
    origin = source if "://" in source or source.startswith("/") else CodeDatasetSource(tags={"veilflow.source": source})
    _no_integer_schema_hint()
    dataset = from_pandas(frame, source=origin, name=name)
    entity = dataset._to_mlflow_entity()
    tags = [InputTag("mlflow.data.context", context), InputTag("veilflow.fingerprint", fingerprint)]
    with_retries(lambda: client.log_inputs(run_id, datasets=[DatasetInput(entity, tags)]))


def _no_integer_schema_hint() -> None:
    """Silence MLflow's "Inferred schema contains integer column(s)" hint (idempotent; called where a schema is inferred).

    The hint suggests declaring integer columns as doubles so that a missing value can be scored; MLflow then refuses
    integer input ("can not safely convert int64 to float64"), so veilflow keeps integers exact and its scoring path
    checks every row (missing values included) before the model sees it, quarantining what does not fit. A process-wide
    filter rather than `catch_warnings`, which is not thread-safe (candidates log from threads).
    """
    warnings.filterwarnings("ignore", message=r".*Inferred schema contains integer column", category=UserWarning)


def _pip_requirements(kind: str) -> list[str]:
    import numpy
    import sklearn

    reqs = [f"scikit-learn=={sklearn.__version__}", f"numpy=={numpy.__version__}", f"pandas=={pd.__version__}"]
    reqs.append("cloudpickle")
    # The PyTorch candidates, DP-SGD ones included (their pipelines hold torch weights; Opacus is needed only to train).
    if kind in ("torch_mlp", "torch_mlp_dp", "dp_logistic_regression"):
        import torch

        reqs.append(f"torch=={torch.__version__.split('+')[0]}")
    return reqs


def log_model(
    client: MlflowClient,
    run_id: str,
    experiment_id: str,
    model: Any,
    kind: str,
    name: str,
    input_example: pd.DataFrame,
) -> tuple[str, str]:
    """Log a fitted pipeline as an MLflow LoggedModel linked to `run_id`; return (model_uri, model_id).

    scikit-learn models use the sklearn flavour whose pyfunc returns class probabilities; the PyTorch
    pipeline is wrapped as a pyfunc with the same contract. `input_example` must be anonymized data.
    """
    _no_integer_schema_hint()
    with _MODEL_LOGGING:  # MLflow's model logging keeps process-global state; candidates log from threads
        return _log_model_locked(client, run_id, experiment_id, model, kind, name, input_example)


def _log_model_locked(
    client: MlflowClient, run_id: str, experiment_id: str, model: Any, kind: str, name: str, input_example: pd.DataFrame
) -> tuple[str, str]:
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.entities import LoggedModelOutput

    logged = with_retries(lambda: mlflow.initialize_logged_model(name=name, source_run_id=run_id, experiment_id=experiment_id))
    reqs = _pip_requirements(kind)
    if kind == "torch_mlp":
        from veilflow.engines.pyfunc import ProbabilityModel

        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=ProbabilityModel(model),
            input_example=input_example,
            pip_requirements=reqs,
            model_id=logged.model_id,
        )
    else:
        info = mlflow.sklearn.log_model(
            model,
            name=name,
            input_example=input_example,
            pip_requirements=reqs,
            # Classifiers serve class probabilities; a regressor (no predict_proba) its predictions.
            pyfunc_predict_fn="predict_proba" if hasattr(model, "predict_proba") else "predict",
            serialization_format="cloudpickle",
            model_id=logged.model_id,
        )
    with_retries(lambda: client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)]))
    return info.model_uri, logged.model_id


def register_version(
    client: MlflowClient, model_name: str, model_uri: str, run_id: str, model_id: str, tags: Mapping[str, Any]
) -> str:
    """Register a new version of `model_name` from a logged model; return its version number."""
    try:
        client.create_registered_model(model_name, description="Trained by veilflow; promoted only through gates.")
    except MlflowException as exc:
        if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY_EXISTS" not in str(exc):
            raise
    mv = with_retries(
        lambda: client.create_model_version(
            model_name, model_uri, run_id=run_id, model_id=model_id, tags={k: str(v)[:5000] for k, v in tags.items()}
        )
    )
    return str(mv.version)


def set_version_tags(client: MlflowClient, model_name: str, version: str, tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        with_retries(functools.partial(client.set_model_version_tag, model_name, version, key, str(value)[:5000]))


def get_alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version an alias points to, or None when the model or the alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def set_alias(client: MlflowClient, model_name: str, alias: str, version: str) -> None:
    with_retries(lambda: client.set_registered_model_alias(model_name, alias, version))


def load_registered_model(model_name: str, version: str) -> Any:
    """`models:/<name>/<version>` as a pyfunc model (uses MLFLOW_TRACKING_URI, like every other call here)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")


def get_run_data(client: MlflowClient, run_id: str) -> Any:
    return client.get_run(run_id)


def download_artifact(client: MlflowClient, run_id: str, path: str, dst: Path) -> Path:
    return Path(client.download_artifacts(run_id, path, str(dst)))


def list_versions(client: MlflowClient, model_name: str) -> list[Any]:
    try:
        found = client.search_model_versions(f"name='{model_name}'")
    except MlflowException:
        return []
    # search_model_versions leaves aliases empty on some stores; read each version for the full record.
    try:
        return [client.get_model_version(model_name, v.version) for v in sorted(found, key=lambda v: int(v.version))]
    except MlflowException:
        return []


@contextmanager
def temp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="veilflow-") as d:
        yield Path(d)
