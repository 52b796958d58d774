"""Gather everything a run logged in MLflow and Prefect and feed it to the leak scanner (the engine side of the scan)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from veilflow.engines.tracking import tracking_uri_of
from veilflow.tasks.privacy.leak_formats import structured_values
from veilflow.tasks.privacy.leak_scan import LeakIndex, LeakScanner, LeakScanReport

log = logging.getLogger("veilflow")


def _scan_mlflow_run(scanner: LeakScanner, client: MlflowClient, run: Any, prefix: str) -> None:
    data = run.data
    # The key is read by `label` (a key holding a raw value is withheld and counted), the value by the token rule.
    for k, v in data.params.items():
        scanner.scan("param", scanner.label(f"{prefix}param", k), v)
    for k, v in data.tags.items():
        scanner.scan("tag", scanner.label(f"{prefix}tag", k), v)
    for k in data.metrics:
        scanner.scan("metric_name", scanner.label(f"{prefix}metric", k), "")  # the name is read by `label`
    scanner.scan("run_name", f"{prefix}run_name", run.info.run_name or "")
    for ds_input in getattr(run.inputs, "dataset_inputs", []) or []:
        ds = ds_input.dataset
        text = "\n".join(
            [ds.name or "", ds.digest or "", ds.source_type or "", ds.source or "", ds.schema or "", ds.profile or ""]
            + [f"{t.key}={t.value}" for t in ds_input.tags]
        )
        scanner.scan("dataset_input", f"{prefix}dataset:{ds.name}", text)


def _scan_tree(scanner: LeakScanner, root: Path, prefix: str) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        scanner.scan_file("artifact", scanner.label(prefix, rel), path)


def _scan_mlflow(scanner: LeakScanner, client: MlflowClient, run_id: str, tmp: Path) -> None:
    run = client.get_run(run_id)
    _scan_mlflow_run(scanner, client, run, "")
    # Nested candidate runs.
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    for child in children:
        _scan_mlflow_run(scanner, client, child, f"child[{child.info.run_name}].")
    # Every artifact of the run (and of its children).
    for i, rid in enumerate([run_id, *(c.info.run_id for c in children)]):
        if client.list_artifacts(rid):
            dst = tmp / f"run{i}"
            dst.mkdir()
            client.download_artifacts(rid, "", str(dst))
            _scan_tree(scanner, dst, "artifact" if i == 0 else f"child{i}.artifact")
    # Logged models (MLmodel, input examples, signature, pickles) live outside the run's artifact tree.
    import mlflow.artifacts

    models = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'")
    for j, model in enumerate(models):
        where = scanner.label("model", model.name)
        scanner.scan("model", where, model.name)
        for mapping in (model.tags or {}, model.params or {}):  # key -> value: names are structure, values are data
            scanner.scan("model", where, "\n".join(structured_values(dict(mapping))), "json-value")
        dst = tmp / f"model{j}"
        dst.mkdir()
        mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location, dst_path=str(dst), tracking_uri=tracking_uri_of(client)
        )
        _scan_tree(scanner, dst, f"model[{model.name}]")
    # Registered versions made from this run: tags and description (the model card).
    for mv in client.search_model_versions(f"run_id = '{run_id}'"):
        text = "\n".join([mv.description or "", *(f"{k}={v}" for k, v in (mv.tags or {}).items())])
        scanner.scan("model_version", f"model_version:{mv.name}/{mv.version}", text)


def _scan_prefect(scanner: LeakScanner, flow_run_id: str) -> bool:
    """Logs, parameters, state messages and artifacts of the Prefect flow run and its task runs."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import LogSort

    try:
        fid = UUID(flow_run_id)
    except ValueError:
        return False
    with get_client(sync_client=True) as pc:
        try:
            fr = pc.read_flow_run(fid)
        except Exception as exc:  # not found on this API (another Prefect database)
            log.info("leak scan: Prefect flow run not readable (%s)", type(exc).__name__)
            return False
        params = json.loads(json.dumps(fr.parameters, default=str))
        scanner.scan("prefect_flow_run", "prefect:flow_run.parameters", "\n".join(structured_values(params)), "json-value")
        scanner.scan(
            "prefect_flow_run",
            "prefect:flow_run",
            "\n".join([fr.name or "", *(fr.tags or []), fr.state.message if fr.state and fr.state.message else ""]),
        )
        offset, page = 0, 200
        while True:
            logs = pc.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[fid])),
                limit=page,
                offset=offset,
                sort=LogSort.TIMESTAMP_ASC,
            )
            for entry in logs:
                scanner.scan("prefect_log", "prefect:logs", f"{entry.name}\n{entry.message}")
            if len(logs) < page:
                break
            offset += page
        for tr in pc.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fid]))):
            scanner.scan(
                "prefect_task_run",
                "prefect:task_runs",
                "\n".join([tr.name or "", tr.state.message if tr.state and tr.state.message else ""]),
            )
        for art in pc.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[fid]))):
            where = f"prefect:artifact[{art.key or art.type}]"
            if isinstance(art.data, str):
                scanner.scan("prefect_artifact", where, f"{art.key}\n{art.description or ''}\n{art.data}")
            else:  # a table or other JSON: its values, not its structure
                body = "\n".join(structured_values(json.loads(json.dumps(art.data, default=str))))
                scanner.scan("prefect_artifact", where, f"{art.key}\n{art.description or ''}\n{body}", "json-value")
    return True


def flush_prefect_logs() -> None:
    """Send the Prefect logs still queued in this process, so an in-flow scan sees them."""
    try:
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()
    except Exception as exc:  # no API or no worker running: nothing queued to send
        log.info("leak scan: Prefect log flush skipped (%s)", type(exc).__name__)


def scan_run(
    client: MlflowClient, run_id: str, index: LeakIndex, flow_run_id: str | None = None, prefect: bool = True
) -> LeakScanReport:
    """Scan everything MLflow (and, when reachable, Prefect) holds for `run_id` for the indexed raw values.

    Args:
        client: MLflow client of the store holding the run.
        run_id: the training run (its nested candidate runs, logged models and model versions are included).
        index: raw values and the key, in memory.
        flow_run_id: the Prefect flow run; default the run's `veilflow.prefect_flow_run_id` tag.
        prefect: False skips the Prefect API.

    Returns:
        A `LeakScanReport` (no values in it).
    """
    import tempfile

    started = time.perf_counter()
    scanner = LeakScanner(index)  # classifies the values first (ConfigError: allow entries without a key)
    with tempfile.TemporaryDirectory(prefix="veilflow-leakscan-") as tmp:
        _scan_mlflow(scanner, client, run_id, Path(tmp))
    flow_run_id = flow_run_id or client.get_run(run_id).data.tags.get("veilflow.prefect_flow_run_id") or None
    checked = _scan_prefect(scanner, flow_run_id) if prefect and flow_run_id else False
    return LeakScanReport(
        run_id=run_id,
        flow_run_id=flow_run_id,
        prefect_checked=checked,
        values_searched=index.values,
        short_values_skipped=index.skipped,
        not_searchable=index.not_searchable,
        items_scanned=dict(sorted(scanner.items.items())),
        rules_read=dict(sorted(scanner.rules.items())),
        bytes_scanned=scanner.bytes,
        hits=scanner.hit_list(),
        allowed=scanner.allowed_list(),
        allow_entries=len(index.allow),
        seconds=round(time.perf_counter() - started, 3),
    )
