"""Test session set-up: embedded services in temporary places, never the repo's own mlruns/ or .prefect/."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Set before Prefect, MLflow or tldextract are imported by any test module.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="veilflow-tests-"))
# The checkout is the project root of every test (configs, suites and policies resolve against it).
os.environ["VEILFLOW_ROOT"] = str(Path(__file__).resolve().parents[1])
os.environ["PREFECT_HOME"] = str(_SESSION_DIR / "prefect-home")
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_SESSION_DIR / 'mlflow.db'}"
os.environ["VEILFLOW_ARTIFACT_ROOT"] = (_SESSION_DIR / "artifacts").as_uri()
os.environ.setdefault("VEILFLOW_PII_KEY", "test-key-0123456789abcdef-not-a-secret")
os.environ.pop("PREFECT_API_URL", None)

from veilflow.core.runtime import configure_environment  # noqa: E402  # after the environment above is set

configure_environment()


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test harness (temporary database) for the whole session: it costs ~10-15 s."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh MLflow SQLite store for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("VEILFLOW_ARTIFACT_ROOT", (tmp_path / "artifacts").as_uri())
    return uri
