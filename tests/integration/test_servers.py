"""Real servers, real browser: prefect server + mlflow server on loopback, deploy/prefect.yaml, a process worker,
`prefect deployment run training/nightly`, the MLflow registry, `mlflow models serve`, and headless Chromium.

Every process is started in its own session and its whole group is stopped in teardown, even on failure.
Screenshots land in test-artifacts/integration/ (ignored by git).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request

import pytest
from _servers import BIN, Processes, _free_port, _get, _wait_http  # tests/integration/_servers.py

from veilflow.core.paths import project_root
from veilflow.core.runtime import _OFFLINE_DEFAULTS

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "it-customers"
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "integration"
# Small enough for ~30 s in the worker; same shape as deploy/prefect.yaml's nightly config.
SMALL_CONFIG = {
    "seed": 42,
    "dataset": {
        "name": "customers",
        "source": "generate",
        "n_rows": 600,
        "defect_rate": 0.01,
        # The demo's columns and contracts (the config no longer defaults to them; see tests/configs/defaults.yaml).
        "id_column": "customer_id",
        "subject_column": "customer_id",
        "label": "churned",
        "numeric_features": ["tenure_months", "monthly_charges", "num_support_tickets"],
        "categorical_features": ["contract_type", "payment_method", "plan", "age_band"],
        "text_feature": "notes",
        "sensitive_attribute": "gender",
        "raw_suite": "expectations/customers.raw.json",
        "anonymized_suite": "expectations/customers.anonymized.json",
        "pii_policy": "expectations/policies/customers.pii.yaml",
    },
    "explain": {"sample_rows": 80},
    "training": {
        "primary_metric": "roc_auc",
        "candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    },
    "gates": {"floors": {"roc_auc": 0.6}},
    "registry": {"model_name": MODEL, "experiment": MODEL},
}


def _chromium() -> str:
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")


@pytest.fixture
def stack(tmp_path):
    prefect_port, mlflow_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "VEILFLOW_ARTIFACT"))}
    env.update(_OFFLINE_DEFAULTS)
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "VEILFLOW_ROOT": str(PROJECT_ROOT),
            "VEILFLOW_PII_KEY": os.environ.get("VEILFLOW_PII_KEY", "integration-key-0123456789abcdef"),
            "PYTHONUNBUFFERED": "1",
            # `mlflow models serve` execs uvicorn by name: the venv's bin must be on PATH.
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(logs, env)
    try:
        prefect = procs.start(
            "prefect-server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)]
        )
        mlflow = procs.start(
            "mlflow-server",
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
                f"sqlite:///{tmp_path / 'mlflow.db'}",
                "--artifacts-destination",
                str(tmp_path / "mlflow-artifacts"),
            ],
        )
        _wait_http(f"http://127.0.0.1:{prefect_port}/api/health", 120, prefect, "prefect server")
        _wait_http(f"http://127.0.0.1:{mlflow_port}/health", 120, mlflow, "mlflow server")
        yield {
            "procs": procs,
            "env": env,
            "prefect": f"http://127.0.0.1:{prefect_port}",
            "mlflow": f"http://127.0.0.1:{mlflow_port}",
            "tmp": tmp_path,
        }
    finally:
        procs.stop_all()
        # Captured output is shown only when the test fails: the servers' last words explain it.
        for name in ("prefect-server", "mlflow-server", "worker", "model-server", "serve"):
            print(f"--- {name} log tail ---\n{procs.tail(name)}")


def _flow_run(prefect: str, run_id: str) -> dict:
    return json.loads(_get(f"{prefect}/api/flow_runs/{run_id}"))


def test_deployment_when_triggered_on_real_servers_then_champion_registered_served_and_shown_in_uis(stack):
    procs, prefect, mlflow_url = stack["procs"], stack["prefect"], stack["mlflow"]
    started = time.monotonic()
    procs.run([str(BIN / "prefect"), "work-pool", "create", "veilflow", "--type", "process"])
    out = procs.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all", "--prefect-file", "deploy/prefect.yaml"], timeout=180
    )
    for name in ("training/nightly", "scoring/hourly", "monitoring/daily"):
        assert name in out, out[-2000:]
    worker = procs.start("worker", [str(BIN / "prefect"), "worker", "start", "--pool", "veilflow"], cwd=stack["tmp"])
    out = procs.run(
        [str(BIN / "prefect"), "deployment", "run", "training/nightly", "--params", json.dumps({"config": SMALL_CONFIG})]
    )
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert match, out
    run_id = match.group(1)

    deadline = time.monotonic() + 180
    state = None
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"worker exited:\n{procs.tail('worker')}"
        state = _flow_run(prefect, run_id)["state"]
        if state and state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            break
        time.sleep(2)
    assert state and state["type"] == "COMPLETED", (
        f"flow run ended {state and state['type']}: {state and state.get('message')}\n{procs.tail('worker', 80)}"
    )
    print(f"training/nightly completed {time.monotonic() - started:.0f}s after deploy started")

    # The registry, through the tracking server.
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_url)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.version == "1" and champion.tags["veilflow.decision"] == "promoted"
    assert champion.tags["veilflow.profile_artifact"] == "profile/training_profile.json"
    run = client.get_run(champion.run_id)
    assert run.data.tags["veilflow.prefect_flow_run_id"] == run_id

    # Serve the champion and ask for real predictions on anonymized-shaped rows.
    port = _free_port()
    server = procs.start(
        "model-server",
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/{MODEL}@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
    )
    _wait_http(f"http://127.0.0.1:{port}/ping", 90, server, "mlflow models serve")
    rows = [
        [12, 70.5, 3, "month-to-month", "electronic-check", "standard", "30-39", "customer is unhappy and wants to cancel"],
        [60, 35.0, 0, "two-year", "credit-card", "basic", "50-59", "thanks for the quick fix"],
    ]
    columns = [
        "tenure_months",
        "monthly_charges",
        "num_support_tickets",
        "contract_type",
        "payment_method",
        "plan",
        "age_band",
        "notes",
    ]
    body = json.dumps({"dataframe_split": {"columns": columns, "data": rows}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        predictions = json.loads(r.read())["predictions"]
    assert len(predictions) == 2 and all(abs(sum(p) - 1.0) < 1e-6 for p in predictions), predictions
    assert predictions[0][1] > predictions[1][1]  # the unhappy short-tenure customer is likelier to churn

    # Headless Chromium (Debian's), driven by Playwright; no browser download.
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{prefect}/runs/flow-run/{run_id}")
            page.get_by_text("Completed").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SCREENSHOTS / "prefect-flow-run.png"), full_page=True)
            page.goto(f"{mlflow_url}/#/models/{MODEL}/versions/{champion.version}")
            page.get_by_text("champion").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SCREENSHOTS / "mlflow-model-version.png"), full_page=True)
        finally:
            browser.close()
    for png in ("prefect-flow-run.png", "mlflow-model-version.png"):
        assert (SCREENSHOTS / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshots in {SCREENSHOTS}; {time.monotonic() - started:.0f}s after servers were up")

    # One process serving all three deployments with their schedules (`veilflow serve`), then a drifted
    # monitoring run through it: drift above the threshold starts training/nightly via run_deployment.
    # The work-pool deployments of the same names go first, so only the serving process runs them.
    procs.run([str(BIN / "prefect"), "--no-prompt", "deployment", "delete", "--all"])
    serve = procs.start("serve", [str(BIN / "veilflow"), "serve"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert serve.poll() is None, f"veilflow serve exited:\n{procs.tail('serve')}"
        try:
            deployment = json.loads(_get(f"{prefect}/api/deployments/name/monitoring/daily"))
            break
        except urllib.error.HTTPError:  # 404 until the serving process has registered it
            time.sleep(1)
    assert deployment.get("work_pool_name") is None, deployment
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["30 3 * * *"]
    params = {"config": {"model_name": MODEL, "generate_rows": 300, "drift": 1.0}}
    out = procs.run([str(BIN / "prefect"), "deployment", "run", "monitoring/daily", "--params", json.dumps(params)])
    monitor_id = re.search(r"UUID:\s*([0-9a-f-]{36})", out).group(1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = _flow_run(prefect, monitor_id)["state"]
        if state and state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            break
        time.sleep(2)
    assert state["type"] == "COMPLETED", f"monitoring ended {state['type']}: {state.get('message')}\n{procs.tail('serve', 60)}"
    runs = client.search_runs(
        [client.get_experiment_by_name("veilflow-monitoring").experiment_id],
        filter_string=f"tags.`veilflow.prefect_flow_run_id` = '{monitor_id}'",
    )
    assert len(runs) == 1 and runs[0].data.tags["veilflow.drift_detected"] == "true"
    assert runs[0].data.tags["veilflow.retraining_triggered"] == "true", runs[0].data.tags["veilflow.retraining"]
    retrain_id = re.search(r"\(([0-9a-f-]{36})\)", runs[0].data.tags["veilflow.retraining"]).group(1)
    retrain = _flow_run(prefect, retrain_id)
    assert retrain["deployment_id"] == json.loads(_get(f"{prefect}/api/deployments/name/training/nightly"))["id"]
    req = urllib.request.Request(
        f"{prefect}/api/artifacts/filter",
        data=json.dumps({"artifacts": {"flow_run_id": {"any_": [monitor_id]}}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        artifacts = {a["key"]: a for a in json.loads(r.read())}
    assert "triggered deployment 'training/nightly'" in artifacts["drift-report"]["data"]
    # Prefect stores a link artifact as a Markdown link.
    assert f"/runs/{runs[0].info.run_id})" in artifacts["drift-report-mlflow-run"]["data"]
    print(f"whole test {time.monotonic() - started:.0f}s after servers were up")
