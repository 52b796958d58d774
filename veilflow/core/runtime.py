"""Embedded defaults for the process environment, applied by entry points (CLI, tests) — never at import."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from veilflow.core.paths import project_root

# Every library's usage reporting is switched off: veilflow makes no connection it was not asked to.
_OFFLINE_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_UI_ENABLED": "true",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    # tldextract (under Presidio) fetches its suffix list unless told there is nowhere to fetch from.
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "GIT_PYTHON_REFRESH": "quiet",
    # veilflow's own step logs (counts and shapes only; per-epoch losses) reach the console and the Prefect
    # UI beside the task runs they belong to; the leak scan reads them back.
    "PREFECT_LOGGING_EXTRA_LOGGERS": "veilflow",
    # Library log lines outside any flow run (e.g. while a model loads for scoring) stay local instead of
    # printing "attempted to send logs to the API without a flow run id".
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}


class VeilflowSettings(BaseSettings):
    """Environment-specific values; everything else comes from the pipeline config."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    mlflow_tracking_uri: str | None = Field(default=None, alias="MLFLOW_TRACKING_URI")
    veilflow_artifact_root: str | None = Field(default=None, alias="VEILFLOW_ARTIFACT_ROOT")
    prefect_api_url: str | None = Field(default=None, alias="PREFECT_API_URL")


def default_tracking_uri(root: Path | None = None) -> str:
    root = root or project_root()
    return f"sqlite:///{(root / 'mlruns' / 'mlflow.db').resolve()}"


def default_artifact_root(root: Path | None = None) -> str:
    root = root or project_root()
    return (root / "mlruns" / "artifacts").resolve().as_uri()


def configure_environment(root: Path | None = None) -> VeilflowSettings:
    """Fill in embedded defaults for anything the user has not set, then read the settings.

    Prefect's home moves inside the project (ignored by git) and MLflow tracks to
    `mlruns/mlflow.db`, unless PREFECT_HOME / PREFECT_API_URL / MLFLOW_TRACKING_URI say otherwise.
    Must run before prefect, mlflow or tldextract are imported to take full effect.
    """
    root = root or project_root()
    for key, value in _OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str((root / ".prefect").resolve()))
    settings = VeilflowSettings()
    if settings.mlflow_tracking_uri is None:
        (root / "mlruns").mkdir(exist_ok=True)
        os.environ["MLFLOW_TRACKING_URI"] = default_tracking_uri(root)
        os.environ.setdefault("VEILFLOW_ARTIFACT_ROOT", default_artifact_root(root))
        settings = VeilflowSettings()
    return settings
