"""MLflow and Prefect servers on a throwaway PostgreSQL cluster, with the training flow run against both.

`initdb` + `pg_ctl` (on PATH) create a cluster in a temporary folder on a free loopback port; one
database backs `mlflow server`, another `prefect server start`; `veilflow train` runs in a
subprocess pointed at both servers; the test then reads back what they recorded, and everything is
torn down in `finally`, even on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from veilflow.core.paths import project_root
from veilflow.core.runtime import _OFFLINE_DEFAULTS

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
MODEL = "pg-customers"
TRAIN_SETTINGS = {
    "dataset.n_rows": 800,
    "privacy.nlp_model": "none",
    "execution.partition_rows": 400,  # the partitioned subflow runs against the same server
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "explain.sample_rows": 80,
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": MODEL,
    "registry.experiment": MODEL,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """initdb and pg_ctl refuse to run as root: run them as the `postgres` user when we are root."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kw)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 150.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before {url} answered: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not healthy after {timeout:.0f} s: {log.read_text()[-2000:]}")


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop a server and every process it spawned (its own session), escalating to SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def postgres_stack():
    """A PostgreSQL cluster, an MLflow server and a Prefect server on it; yields their URLs."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH: install PostgreSQL server binaries (e.g. apt-get install postgresql)")
    pytest.importorskip("psycopg2")
    pytest.importorskip("asyncpg")
    root = Path(tempfile.mkdtemp(prefix="veilflow-pg-"))
    data, sock = root / "pgdata", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    pg_port, mlflow_port, prefect_port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, **_OFFLINE_DEFAULTS, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("PREFECT_API_URL", None)
    procs: list[subprocess.Popen] = []
    started_pg = False
    with ExitStack():
        try:
            _as_postgres(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
            _as_postgres(
                [
                    "pg_ctl",
                    "-D",
                    str(data),
                    "-l",
                    str(root / "pg.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {pg_port} -c listen_addresses=127.0.0.1 -k {sock} -c fsync=off",
                    "start",
                ]
            )
            started_pg = True
            import psycopg2

            conn = psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="postgres")
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE mlflow")
                cur.execute("CREATE DATABASE prefect")
            conn.close()
            pg = f"postgres@127.0.0.1:{pg_port}"

            mlflow_log = root / "mlflow.log"
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "mlflow"),
                        "server",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(mlflow_port),
                        "--workers",
                        "1",
                        "--backend-store-uri",
                        f"postgresql+psycopg2://{pg}/mlflow",
                        "--artifacts-destination",
                        (root / "mlflow-artifacts").as_uri(),
                    ],
                    env=env,
                    cwd=root,
                    stdout=mlflow_log.open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            prefect_log = root / "prefect.log"
            prefect_env = {
                **env,
                "PREFECT_HOME": str(root / "prefect-home"),
                "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{pg}/prefect",
                "PREFECT_UI_ENABLED": "false",
            }
            procs.append(
                subprocess.Popen(
                    [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                    env=prefect_env,
                    cwd=root,
                    stdout=prefect_log.open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            mlflow_url, prefect_url = f"http://127.0.0.1:{mlflow_port}", f"http://127.0.0.1:{prefect_port}/api"
            _wait_http(f"{mlflow_url}/health", procs[0], mlflow_log)
            _wait_http(f"{prefect_url}/health", procs[1], prefect_log)
            yield {"root": root, "pg_port": pg_port, "mlflow": mlflow_url, "prefect": prefect_url, "env": env}
        finally:
            for proc in reversed(procs):
                _stop_group(proc)
            if started_pg:
                try:
                    _as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"])
                except subprocess.CalledProcessError:
                    pass
            shutil.rmtree(root, ignore_errors=True)


def test_training_when_servers_on_postgres_then_run_version_alias_and_flow_runs_recorded(postgres_stack):
    stack = postgres_stack
    env = {
        **stack["env"],
        "PREFECT_API_URL": stack["prefect"],
        "MLFLOW_TRACKING_URI": stack["mlflow"],
        "PREFECT_HOME": str(stack["root"] / "client-prefect-home"),
        "VEILFLOW_STATE_DIR": str(stack["root"] / "state"),
    }
    env.pop("VEILFLOW_ARTIFACT_ROOT", None)  # artifacts go through the server (mlflow-artifacts:/)
    env.setdefault("VEILFLOW_PII_KEY", "test-key-0123456789abcdef-not-a-secret")
    cmd = [str(BIN / "veilflow"), "train", "--config", str(PROJECT_ROOT / "deploy/configs/customers.yaml")]
    for key, value in TRAIN_SETTINGS.items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    proc = subprocess.run(cmd, env=env, cwd=stack["root"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert "decision: promoted" in proc.stdout

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack["mlflow"])
    champion = client.get_model_version_by_alias(MODEL, "champion")
    run = client.get_run(champion.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["veilflow.execution.partitions"] == "2"
    assert run.data.metrics["data.rows"] == 800
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert "pii/audit.json" in [a.path for a in client.list_artifacts(run.info.run_id, "pii")]

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack["prefect"]}), get_client(sync_client=True) as prefect:
        runs = prefect.read_flow_runs()
        names = {prefect.read_flow(r.flow_id).name: r.state.type.value for r in runs}
    assert names.get("training") == "COMPLETED", names
    assert names.get("prepare-partitions") == "COMPLETED", names

    # Both servers really wrote to PostgreSQL.
    import psycopg2

    for db, table in (("mlflow", "model_versions"), ("prefect", "flow_run")):
        conn = psycopg2.connect(host="127.0.0.1", port=stack["pg_port"], user="postgres", dbname=db)
        with conn, conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")  # table names are constants above
            assert cur.fetchone()[0] >= 1
        conn.close()
