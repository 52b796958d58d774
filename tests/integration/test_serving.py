"""The raw-record serving model behind `mlflow models serve`, started by `veilflow serve-model` on a free
loopback port: raw records in (dataframe_records and dataframe_split), the same answers as `veilflow score`
on the same rows to the last digit, per-row errors, no raw value in any response, the server's log or the
MLflow store; one line and exit 2 without the key; a bounded 4-client load test with the server's RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from _servers import BIN, Processes, _free_port, _wait_http, base_env  # tests/integration/_servers.py

from veilflow.core.config import load_config
from veilflow.core.paths import project_root
from veilflow.tasks.data.io import generate_customers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROJECT_ROOT = project_root()
MODEL = "serve-customers"
SMALL = {
    "dataset.n_rows": 600,
    "explain.sample_rows": 60,
    "privacy.nlp_model": "none",  # pattern-only: the serving model must honour the run's setting
    "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
    "training.resume": False,
    "gates.floors": {"roc_auc": 0.6},
    "registry.model_name": MODEL,
    "registry.experiment": MODEL,
}
# Distinctive raw values planted in the served rows: none may appear in a response, a log or the store.
PLANTED = {
    "full_name": "Zebulon Quixotewhistle",
    "email": "zebulon.quixotewhistle@planted-veilflow.example",
    "street_address": "77 Marzipanova Crescent, Juneau, AK 99801",
    "notes": "Zebulon Quixotewhistle wants a refund, write to zebulon.quixotewhistle@planted-veilflow.example",
    "wrong_type": "eleven-PLANTED-months",
}


@pytest.fixture(scope="module")
def champion(prefect_harness, tmp_path_factory):
    """Train and promote one small champion into a store of this module's own."""
    from veilflow.flows.training import training

    tmp = tmp_path_factory.mktemp("serving")
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "VEILFLOW_ARTIFACT_ROOT")}
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"], os.environ["VEILFLOW_ARTIFACT_ROOT"] = uri, (tmp / "artifacts").as_uri()
    try:
        started = time.monotonic()
        state = training(load_config(PROJECT_ROOT / "deploy/configs/customers.yaml", SMALL), return_state=True)
        assert state.is_completed(), state.message
        result = state.result()
        assert result.decision == "promoted", result.failed_gates
        print(f"champion trained in {time.monotonic() - started:.0f} s")
        yield {"uri": uri, "tmp": tmp, "result": result}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _server_env(champion: dict, tmp: Path, key: bool = True) -> dict[str, str]:
    env = base_env(tmp)
    env["MLFLOW_TRACKING_URI"] = champion["uri"]
    env.pop("VEILFLOW_PII_KEY", None)
    if key:
        env["VEILFLOW_PII_KEY"] = os.environ["VEILFLOW_PII_KEY"]
    return env


@pytest.fixture(scope="module")
def server(champion):
    tmp = champion["tmp"]
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    procs = Processes(logs, _server_env(champion, tmp))
    port = _free_port()
    try:
        started = time.monotonic()
        proc = procs.start("serve-model", [str(BIN / "veilflow"), "serve-model", "--model", MODEL, "--port", str(port)])
        _wait_http(f"http://127.0.0.1:{port}/ping", 180, proc, "veilflow serve-model")
        print(f"raw-record server healthy after {time.monotonic() - started:.0f} s")
        yield {"url": f"http://127.0.0.1:{port}/invocations", "proc": proc, "log": logs / "serve-model.log", "procs": procs}
    finally:
        procs.stop_all()
        print(f"--- serve-model log tail ---\n{procs.tail('serve-model')}")


def _post(url: str, payload: dict, timeout: float = 60) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _batch() -> pd.DataFrame:
    batch = generate_customers(30, seed=123).drop(columns=["churned"])
    for column in ("full_name", "email", "street_address", "notes"):
        batch.loc[0, column] = PLANTED[column]
    batch.loc[1, "full_name"] = PLANTED["full_name"]
    return batch


def _leak_index():
    from veilflow.tasks.privacy.leak_scan import LeakIndex

    index = LeakIndex()
    for name, value in PLANTED.items():
        index.add(name, [value])
    index.add_secret(os.environ["VEILFLOW_PII_KEY"])
    return index


def _store_texts(champion: dict) -> dict[str, str]:
    """Every byte the MLflow store holds: the SQLite file and every artifact file (models included)."""
    from veilflow.tasks.privacy.leak_scan import artifact_texts

    tmp = champion["tmp"]
    texts = {"mlflow.db": (tmp / "mlflow.db").read_bytes().decode("latin-1")}
    for path in sorted(p for p in (tmp / "artifacts").rglob("*") if p.is_file()):
        texts[str(path.relative_to(tmp))] = "\n".join(artifact_texts(path))
    return texts


def _scored_by_id(frame: pd.DataFrame) -> dict[str, tuple]:
    columns = ["probability", "prediction", "reason_1", "reason_2", "reason_3"]

    def plain(value: object) -> object:  # a missing reason code is null in JSON, NaN in Parquet
        return None if isinstance(value, float) and value != value else value

    return {row["customer_id"]: tuple(plain(row[c]) for c in columns) for row in frame.to_dict("records")}


def test_served_raw_records_when_posted_then_same_as_veilflow_score_with_per_row_errors_and_no_value_anywhere(
    champion, server, tmp_path, capsys
):
    from veilflow.cli.main import main
    from veilflow.tasks.privacy.leak_scan import scan_texts

    url, batch = server["url"], _batch()
    bodies: list[str] = []

    # `veilflow score` on the same rows.
    path, out = tmp_path / "batch.parquet", tmp_path / "predictions.parquet"
    batch.to_parquet(path, index=False)
    assert main(["score", "--model", MODEL, "--input", str(path), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"scored 30 of 30 rows with {MODEL} v{champion['result'].version}" in printed and str(out) in printed
    expected = _scored_by_id(pd.read_parquet(out))

    # The same rows as dataframe_records and as dataframe_split: both answer every row, identically.
    status, body = _post(url, {"dataframe_records": _records(batch)})
    assert status == 200, body
    bodies.append(body)
    served = pd.DataFrame(json.loads(body)["predictions"])
    split = json.loads(batch.to_json(orient="split", index=False))
    status, body = _post(url, {"dataframe_split": {"columns": split["columns"], "data": split["data"]}})
    assert status == 200, body
    bodies.append(body)
    assert json.loads(body) == json.loads(bodies[0])
    assert served["error"].isna().all() and served["row"].tolist() == list(range(30))
    assert set(served["model_version"]) == {champion["result"].version}
    assert _scored_by_id(served) == expected  # every prediction, probability and reason code, to the last digit

    # One record per request: the same answers.
    for i in (0, 1, 17):
        status, body = _post(url, {"dataframe_records": _records(batch.iloc[[i]])})
        bodies.append(body)
        answer = pd.DataFrame(json.loads(body)["predictions"])
        assert status == 200 and _scored_by_id(answer) == {k: expected[k] for k in answer["customer_id"]}

    # A record without optional fields scores; a wrong type and a missing required field are per-row errors.
    records = _records(batch.iloc[[2, 3, 4]])
    for field in ("phone", "email", "ssn", "street_address"):
        records[0].pop(field)
    records[1]["tenure_months"] = PLANTED["wrong_type"]
    records[2].pop("customer_id")
    status, body = _post(url, {"dataframe_records": records})
    bodies.append(body)
    assert status == 200, body
    answer = json.loads(body)["predictions"]
    assert answer[0]["error"] is None and answer[0]["probability"] is not None
    assert answer[1]["error"] == "type(tenure_months)=number" and answer[1]["probability"] is None
    assert answer[2]["error"].startswith("required(customer_id)") and answer[2]["probability"] is None

    # No planted raw value (nor the key) in any response, in the server's log, or anywhere in the MLflow store.
    index = _leak_index()
    texts = {f"response[{i}]": b for i, b in enumerate(bodies)}
    texts["server log"] = server["log"].read_text(errors="replace")
    texts.update(_store_texts(champion))
    assert scan_texts(texts, index) == []
    assert "Traceback" not in texts["server log"]


def test_serve_model_when_key_missing_then_refuses_in_one_line(champion, server, tmp_path):
    env = _server_env(champion, tmp_path, key=False)
    port = _free_port()
    cli = subprocess.run(
        [str(BIN / "veilflow"), "serve-model", "--model", MODEL, "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=PROJECT_ROOT,
    )
    assert cli.returncode == 2, cli.stdout + cli.stderr
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1 and "VEILFLOW_PII_KEY" in lines[0] and lines[0].startswith("veilflow: MissingKeyError:"), cli.stderr

    # The model itself refuses to load without it, whoever starts it (here `mlflow models serve` directly).
    from mlflow import MlflowClient

    uri = MlflowClient(champion["uri"]).get_model_version(MODEL, champion["result"].version).tags["veilflow.serving_model"]
    log = tmp_path / "direct.log"
    with open(log, "wb") as handle:
        direct = subprocess.run(
            [str(BIN / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=240,
            cwd=tmp_path,
        )
    text = log.read_text(errors="replace")
    assert direct.returncode != 0
    # uvicorn prints the traceback of the failed load; the refusal itself is one line.
    refusals = [line for line in text.splitlines() if "VEILFLOW_PII_KEY is not set" in line]
    refusal = "veilflow.core.errors.MissingKeyError: environment variable"
    assert len(refusals) == 1 and refusals[0].startswith(refusal), text[-3000:]


def _tree_rss(pid: int) -> int:
    import psutil

    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def test_served_raw_records_when_four_clients_for_a_minute_then_no_error_no_value_logged_and_memory_flat(server):
    from veilflow.tasks.privacy.leak_scan import scan_texts

    url, pool = server["url"], _records(_batch())
    for record in pool[:5]:  # warm-up: lazily built pieces are in memory before the first reading
        assert _post(url, {"dataframe_records": [record]})[0] == 200
    rss_start = _tree_rss(server["proc"].pid)
    duration, clients = 60.0, 4
    deadline = time.monotonic() + duration
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        i = offset
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, body = _post(url, {"dataframe_records": [pool[i % len(pool)]]}, timeout=30)
            elapsed = time.perf_counter() - started
            ok = status == 200 and json.loads(body)["predictions"][0]["error"] is None
            with lock:
                latencies.append(elapsed)
                if not ok:
                    failures.append(f"status {status}")
            i += clients

    threads = [threading.Thread(target=client, args=(k,), name=f"client-{k}") for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 60)
    assert not any(t.is_alive() for t in threads)
    rss_end = _tree_rss(server["proc"].pid)
    ordered = sorted(latencies)
    print(
        f"load: {clients} clients x {duration:.0f} s: {len(latencies)} requests ({len(latencies) / duration:.1f}/s), "
        f"p50 {ordered[len(ordered) // 2] * 1000:.0f} ms, p95 {ordered[int(len(ordered) * 0.95)] * 1000:.0f} ms, "
        f"{len(failures)} errors; server RSS {rss_start / 2**20:.0f} MiB -> {rss_end / 2**20:.0f} MiB ({rss_end / rss_start - 1:+.1%})"
    )
    assert failures == [] and len(latencies) >= clients
    assert rss_end <= 1.3 * rss_start
    log = server["log"].read_text(errors="replace")
    assert scan_texts({"server log": log}, _leak_index()) == [] and "Traceback" not in log
