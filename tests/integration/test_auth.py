"""Servers with authentication: `prefect server` with PREFECT_SERVER_API_AUTH_STRING and `mlflow server --app-name
basic-auth`, both on loopback. Unauthenticated clients are refused (401); veilflow, given PREFECT_API_AUTH_STRING and
MLFLOW_TRACKING_USERNAME/PASSWORD, trains against both; the secrets (auth strings, PII key) appear in nothing it recorded.

Every server runs in its own session and is stopped (whole process group) in teardown, even on failure.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import time

import httpx
import pytest
from _servers import (  # tests/integration/_servers.py
    BIN,
    Processes,
    _free_port,
    _wait_http,
    base_env,
    start_mlflow,
    start_prefect,
)

from veilflow.core.paths import project_root

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "auth-customers"
TRAIN_SETTINGS = {
    "dataset.n_rows": 800,  # 500 rows fail the calibration/reidentification gates: the run would end Rejected
    "privacy.nlp_model": "none",
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "explain.sample_rows": 60,
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": MODEL,
    "registry.experiment": MODEL,
}
_AUTH_INI = """[mlflow]
default_permission = READ
database_uri = sqlite:///{db}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    prefect_port, mlflow_port = _free_port(), _free_port()
    prefect_auth = f"admin:{secrets.token_urlsafe(18)}"
    mlflow_password = secrets.token_urlsafe(18)
    pii_key = f"auth-test-key-{secrets.token_hex(16)}"
    (tmp / "basic_auth.ini").write_text(_AUTH_INI.format(db=tmp / "mlflow-auth.db"))

    env = base_env(tmp)
    server_env = {
        **env,
        "PREFECT_SERVER_API_AUTH_STRING": prefect_auth,
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp / "basic_auth.ini"),
        "MLFLOW_AUTH_ADMIN_PASSWORD": mlflow_password,  # bootstraps the admin user on first start
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),  # CSRF key of the auth app's forms
    }
    prefect_url, mlflow_url = f"http://127.0.0.1:{prefect_port}", f"http://127.0.0.1:{mlflow_port}"
    # What an unconfigured client has: the servers' addresses, no credentials.
    anonymous_env = {
        **env,
        "PREFECT_API_URL": f"{prefect_url}/api",
        "MLFLOW_TRACKING_URI": mlflow_url,
        "VEILFLOW_PII_KEY": pii_key,
    }
    client_env = {
        **anonymous_env,
        "PREFECT_API_AUTH_STRING": prefect_auth,
        "MLFLOW_TRACKING_USERNAME": "admin",
        "MLFLOW_TRACKING_PASSWORD": mlflow_password,
    }
    logs = tmp / "logs"
    logs.mkdir()
    procs = Processes(logs, client_env)
    try:
        prefect = start_prefect(procs, prefect_port, env=server_env)
        mlflow = start_mlflow(procs, mlflow_port, tmp, extra=["--app-name", "basic-auth"], env=server_env)
        _wait_http(f"{prefect_url}/api/health", 120, prefect, "prefect server")  # /api/health needs no auth (probes)
        _wait_http(f"{mlflow_url}/health", 120, mlflow, "mlflow server")
        yield {
            "procs": procs,
            "tmp": tmp,
            "prefect": prefect_url,
            "mlflow": mlflow_url,
            "prefect_auth": prefect_auth,
            "mlflow_password": mlflow_password,
            "pii_key": pii_key,
            "env": client_env,
            "anonymous_env": anonymous_env,
        }
    finally:
        procs.stop_all()
        for name in ("prefect-server", "mlflow-server"):
            print(f"--- {name} log tail ---\n{procs.tail(name)}")


def _basic(auth: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}


def _python(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "python"), "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _prefect_post(stack, path: str, body: dict) -> list | dict:
    r = httpx.post(f"{stack['prefect']}/api{path}", json=body, headers=_basic(stack["prefect_auth"]), timeout=30)
    r.raise_for_status()
    return r.json()


def test_prefect_server_when_auth_string_set_then_unauthenticated_clients_refused(stack):
    api = f"{stack['prefect']}/api"
    # Liveness probes stay open by design (Prefect exempts GET /api/health and /api/ready); nothing else does.
    assert httpx.get(f"{api}/health", timeout=10).status_code == 200
    assert httpx.post(f"{api}/flows/filter", json={}, timeout=10).status_code == 401
    assert httpx.get(f"{api}/admin/version", timeout=10).status_code == 401
    assert httpx.post(f"{api}/flows/filter", json={}, headers=_basic("admin:wrong"), timeout=10).status_code == 401
    assert (
        httpx.post(
            f"{api}/flows/filter", json={}, headers={"Authorization": "Bearer " + stack["prefect_auth"]}, timeout=10
        ).status_code
        == 401
    )
    assert httpx.post(f"{api}/flows/filter", json={}, headers=_basic(stack["prefect_auth"]), timeout=10).status_code == 200

    # Prefect's own client: refused without PREFECT_API_AUTH_STRING, served with it.
    code = "from prefect.client.orchestration import get_client\nwith get_client(sync_client=True) as c:\n    print(len(c.read_flows()))"
    anonymous = _python(code, stack["anonymous_env"])
    assert anonymous.returncode != 0 and "401" in anonymous.stderr, anonymous.stderr[-2000:]
    configured = _python(code, stack["env"])
    assert configured.returncode == 0, configured.stderr[-2000:]


def test_mlflow_basic_auth_when_no_credentials_then_refused_and_client_with_credentials_works(stack):
    url = stack["mlflow"]
    search = f"{url}/api/2.0/mlflow/experiments/search?max_results=5"
    assert httpx.get(search, timeout=10).status_code == 401
    assert httpx.get(search, auth=("admin", "wrong"), timeout=10).status_code == 401
    assert httpx.get(search, auth=("admin", stack["mlflow_password"]), timeout=10).status_code == 200

    code = (
        "from mlflow import MlflowClient\n"
        f"c = MlflowClient({url!r})\n"
        "exp = c.get_experiment_by_name('auth-probe') or c.get_experiment(c.create_experiment('auth-probe'))\n"
        "run = c.create_run(exp.experiment_id); c.log_metric(run.info.run_id, 'm', 1.0); c.set_terminated(run.info.run_id)\n"
        "print(c.get_run(run.info.run_id).info.status)"
    )
    anonymous = _python(code, stack["anonymous_env"])
    assert anonymous.returncode != 0 and ("401" in anonymous.stderr or "not authenticated" in anonymous.stderr.lower()), (
        anonymous.stderr[-2000:]
    )
    configured = _python(code, stack["env"])
    assert configured.returncode == 0 and configured.stdout.strip().endswith("FINISHED"), configured.stderr[-2000:]


def _train(env: dict[str, str], timeout: float = 400) -> subprocess.CompletedProcess:
    args = [str(BIN / "veilflow"), "train", "--config", "deploy/configs/customers.yaml"]
    for key, value in TRAIN_SETTINGS.items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    return subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_veilflow_train_when_configured_with_credentials_then_succeeds_and_no_secret_recorded(stack):
    started = time.monotonic()
    refused = _train(stack["anonymous_env"], timeout=180)
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr, (refused.stdout + refused.stderr)[-3000:]
    print(f"unauthenticated veilflow train refused in {time.monotonic() - started:.0f}s")

    started = time.monotonic()
    out = _train(stack["env"])
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    assert "decision: promoted" in text, text[-3000:]
    print(f"authenticated veilflow train: {time.monotonic() - started:.0f}s")

    from mlflow import MlflowClient

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = "admin", stack["mlflow_password"]
    try:
        client = MlflowClient(stack["mlflow"])
        champion = client.get_model_version_by_alias(MODEL, "champion")
        run = client.get_run(champion.run_id)
        assert run.info.status == "FINISHED"
        flow_run_id = run.data.tags["veilflow.prefect_flow_run_id"]

        # Prefect: the flow run completed; its parameters and logs never carry a secret.
        flow_run = httpx.get(
            f"{stack['prefect']}/api/flow_runs/{flow_run_id}", headers=_basic(stack["prefect_auth"]), timeout=30
        ).json()
        assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
        logs = _prefect_post(stack, "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})
        assert len(logs) > 10  # the flow's and the steps' logs are there to be searched
        recorded = {
            "prefect:parameters": json.dumps(flow_run["parameters"]),
            "prefect:logs": "\n".join(entry["message"] for entry in logs),
            "mlflow:params": json.dumps(run.data.params),
            "mlflow:tags": json.dumps(run.data.tags),
            "mlflow:version_tags": json.dumps(champion.tags),
        }
        secrets_ = {
            "pii key": stack["pii_key"],
            "prefect auth": stack["prefect_auth"],
            "mlflow password": stack["mlflow_password"],
        }
        for where, body in recorded.items():
            for what, value in secrets_.items():
                assert value.lower() not in body.lower(), f"{what} found in {where}"
    finally:
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)

    # veilflow's own leak scan (MLflow params/tags/artifacts/models + Prefect logs/params/artifacts, the PII key
    # included), run as a configured client of both servers: clean, and it did reach Prefect.
    audit = subprocess.run(
        [str(BIN / "veilflow"), "audit", champion.run_id, "--json"],
        cwd=PROJECT_ROOT,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert audit.returncode == 0, (audit.stdout + audit.stderr)[-3000:]
    report = json.loads(audit.stdout[audit.stdout.index("{") :])
    assert report["passed"] and report["prefect_checked"] and report["flow_run_id"] == flow_run_id, report
    assert sum(report["items_scanned"].values()) > 10
    for value in secrets_.values():
        assert value not in audit.stdout
