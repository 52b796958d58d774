"""Leak scan of everything a run logged: MLflow params, tags, metric names, artifacts, datasets, models, and Prefect.

Raw PII values (from the raw frame's policy PII columns) and the PII key are held in memory in a
`LeakIndex` and searched for in every logged text. Matching is on lower-cased alphanumeric token
sequences (a hash lookup per token, one pass per text, like Aho-Corasick over tokens), so
"Jane.Doe@Example.com" is found in "contact jane.doe@example.com" and a 5-digit zip code is not
"found" inside a hex digest or a float. Each hit is then classed as `exact` (the value appears
verbatim), `case_insensitive`, or `token_sequence` (same tokens, other punctuation). Reports hold
counts, places and source columns — never the values.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from pydantic import BaseModel, ConfigDict, Field

from veilflow.core.errors import ConfigError, PiiLeakError

log = logging.getLogger("veilflow")

# Alphanumeric runs (as the anonymization leak guard), except that a dotted number ("0.30368", "1.2.3")
# is one token: a zip code must not be "found" in the decimals of a logged float.
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
_KEY_SOURCE = "<pii-key>"
_TABULAR = {".parquet", ".csv"}


class LeakHit(BaseModel):
    """One place where a raw value was found: where, which PII column it came from, how it matched, how often."""

    model_config = ConfigDict(frozen=True)

    where: str
    source: str
    kind: str
    count: int


class LeakScanReport(BaseModel):
    """What the scan read and what it found; no values."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    flow_run_id: str | None
    prefect_checked: bool
    values_searched: int
    short_values_skipped: int
    items_scanned: dict[str, int] = Field(description="kind of logged thing -> how many were read")
    bytes_scanned: int
    hits: list[LeakHit]
    seconds: float

    @property
    def total(self) -> int:
        return sum(h.count for h in self.hits)

    @property
    def passed(self) -> bool:
        return not self.hits

    def summary(self) -> str:
        """One line: the verdict with counts per place (never values)."""
        if self.passed:
            return f"leak scan clean: {sum(self.items_scanned.values())} items, {self.bytes_scanned} bytes, {self.values_searched} values"
        places = "; ".join(f"{h.where}<-{h.source} ({h.kind}) x{h.count}" for h in self.hits[:20])
        more = f"; +{len(self.hits) - 20} more" if len(self.hits) > 20 else ""
        return f"leak scan found {self.total} raw PII occurrence(s) in {len(self.hits)} place(s): {places}{more}"


class LeakIndex:
    """Raw values as token sequences -> (source column, the value), held in memory only; never logged or pickled."""

    def __init__(self, min_length: int = 4) -> None:
        self.min_length = min_length
        self._table: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._first: set[str] = set()
        self._lengths: set[int] = set()
        self.values = 0
        self.skipped = 0

    def __reduce__(self) -> Any:  # raw values must never be serialized (Prefect results, caches, pickles)
        raise TypeError("a LeakIndex holds raw PII and cannot be pickled")

    def __repr__(self) -> str:
        return f"LeakIndex(values={self.values}, skipped={self.skipped})"

    def add(self, source: str, values: Iterable[Any], min_length: int | None = None) -> None:
        """Add distinct raw values of one column (missing values ignored; short ones counted as skipped)."""
        floor = self.min_length if min_length is None else min_length
        for value in {str(v) for v in values if v is not None and not (isinstance(v, float) and v != v)}:
            tokens = tuple(_TOKEN.findall(value.lower()))
            if not tokens or len("".join(tokens)) < floor:
                self.skipped += 1
                continue
            entries = self._table.setdefault(tokens, [])
            if not any(s == source and v == value for s, v in entries):
                entries.append((source, value))
                self.values += 1
            self._first.add(tokens[0])
            self._lengths.add(len(tokens))

    def add_secret(self, secret: bytes | str | None) -> None:
        """Add the PII key (as text and as hex) so a logged key is caught like a raw value."""
        if not secret:
            return
        raw = secret if isinstance(secret, bytes) else secret.encode("utf-8")
        self.add(_KEY_SOURCE, [raw.decode("utf-8", errors="ignore"), raw.hex()], min_length=1)

    def find(self, text: str) -> Counter[tuple[str, str]]:
        """(source, kind) -> occurrences of raw values in `text`."""
        found: Counter[tuple[str, str]] = Counter()
        if not text or not self._table:
            return found
        lower = text.lower()
        first = self._first
        matches = [m for m in _TOKEN.finditer(lower)]
        if not any(m.group() in first for m in matches):
            return found
        tokens = [m.group() for m in matches]
        lengths = sorted(self._lengths, reverse=True)
        n, i = len(tokens), 0
        while i < n:
            if tokens[i] not in first:
                i += 1
                continue
            hit = 0
            for length in lengths:
                if i + length <= n:
                    entries = self._table.get(tuple(tokens[i : i + length]))
                    if entries:
                        start, end = matches[i].start(), matches[i + length - 1].end()
                        span = text[start:end] if len(lower) == len(text) else None
                        for source, value in entries:
                            if span is None:  # lower-casing changed offsets (rare scripts): judge on the whole text
                                kind = "exact" if value in text else "case_insensitive" if value.lower() in lower else "token_sequence"
                            elif span == value:
                                kind = "exact"
                            elif span.lower() == value.lower():
                                kind = "case_insensitive"
                            else:
                                kind = "token_sequence"
                            found[(source, kind)] += 1
                        hit = length
                        break
            i += hit or 1
        return found


def build_leak_index(raw: pd.DataFrame, policy: Any, key: bytes | str | None, extra_columns: Iterable[str] = ()) -> LeakIndex:
    """An index of the raw values of the policy's structured PII columns (and `extra_columns`) plus the key.

    Raises:
        ConfigError: a policy column is missing from the frame.
    """
    index = LeakIndex(policy.min_leak_value_length if policy is not None else 4)
    columns = list(dict.fromkeys([*(policy.columns if policy is not None else []), *extra_columns]))
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise ConfigError(f"leak scan: column(s) missing from the raw frame: {', '.join(missing)}")
    for column in columns:
        index.add(column, pd.unique(raw[column].dropna().astype("str")))
    index.add_secret(key)
    return index


def index_for_config(raw: pd.DataFrame, config: Any, key: bytes | str | None) -> LeakIndex:
    """The leak index a pipeline config implies: its policy's PII columns, its subject column, and the key."""
    from veilflow.tasks.privacy.anonymization import load_policy
    from veilflow.core.config import resolve_path

    ds = config.dataset
    policy = load_policy(resolve_path(ds.pii_policy)) if ds.pii_policy else None
    extra = [ds.subject_column] if ds.subject_column and ds.subject_column in raw.columns else []
    return build_leak_index(raw, policy, key, extra)


# --------------------------------------------------------------------------- gathering what was logged


def _artifact_texts(path: Path) -> Iterator[str]:
    """The searchable text of one downloaded artifact file."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in _TABULAR:
        try:
            frame = pd.read_parquet(io.BytesIO(data)) if suffix == ".parquet" else pd.read_csv(io.BytesIO(data), dtype=str)
            yield " | ".join(map(str, frame.columns))
            for col in frame.columns:
                yield "\n".join(frame[col].dropna().astype("str").tolist())
        except Exception as exc:  # unreadable table: fall back to its bytes
            log.info("leak scan: %s not readable as a table (%s); scanning bytes", path.name, type(exc).__name__)
    # Text formats (JSON, YAML, HTML, MLmodel, requirements) and any binary (pickles hold strings too).
    yield data.decode("utf-8", errors="replace") if _looks_text(data) else data.decode("latin-1")


def _looks_text(data: bytes) -> bool:
    return b"\x00" not in data[:4096]


class _Scanner:
    def __init__(self, index: LeakIndex) -> None:
        self.index = index
        self.items: Counter[str] = Counter()
        self.bytes = 0
        self.hits: Counter[tuple[str, str, str]] = Counter()

    def label(self, kind: str, name: str) -> str:
        # A name (tag key, artifact path) can itself carry a raw value: then it is withheld from the report.
        return f"{kind}:<name withheld: holds raw PII>" if self.index.find(name) else f"{kind}:{name}"

    def scan(self, kind: str, where: str, text: str) -> None:
        self.items[kind] += 1
        self.bytes += len(text)
        for (source, how), n in self.index.find(text).items():
            self.hits[(where, source, how)] += n


def _scan_mlflow_run(scanner: _Scanner, client: MlflowClient, run: Any, prefix: str) -> None:
    data = run.data
    for k, v in data.params.items():
        scanner.scan("param", scanner.label(f"{prefix}param", k), f"{k}\n{v}")
    for k, v in data.tags.items():
        scanner.scan("tag", scanner.label(f"{prefix}tag", k), f"{k}\n{v}")
    for k in data.metrics:
        scanner.scan("metric_name", scanner.label(f"{prefix}metric", k), k)
    scanner.scan("run_name", f"{prefix}run_name", run.info.run_name or "")
    for ds_input in getattr(run.inputs, "dataset_inputs", []) or []:
        ds = ds_input.dataset
        text = "\n".join(
            [ds.name or "", ds.digest or "", ds.source_type or "", ds.source or "", ds.schema or "", ds.profile or ""]
            + [f"{t.key}={t.value}" for t in ds_input.tags]
        )
        scanner.scan("dataset_input", f"{prefix}dataset:{ds.name}", text)


def _scan_tree(scanner: _Scanner, root: Path, prefix: str) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        where = scanner.label(prefix, rel)
        for text in _artifact_texts(path):
            scanner.scan("artifact", where, text)


def _scan_mlflow(scanner: _Scanner, client: MlflowClient, run_id: str, tmp: Path) -> None:
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
        scanner.scan("model", scanner.label("model", model.name), f"{model.name}\n{json.dumps(model.tags or {})}\n{json.dumps(model.params or {})}")
        dst = tmp / f"model{j}"
        dst.mkdir()
        mlflow.artifacts.download_artifacts(artifact_uri=model.artifact_location, dst_path=str(dst), tracking_uri=client._tracking_client.tracking_uri)
        _scan_tree(scanner, dst, f"model[{model.name}]")
    # Registered versions made from this run: tags and description (the model card).
    for mv in client.search_model_versions(f"run_id = '{run_id}'"):
        text = "\n".join([mv.description or "", *(f"{k}={v}" for k, v in (mv.tags or {}).items())])
        scanner.scan("model_version", f"model_version:{mv.name}/{mv.version}", text)


def _scan_prefect(scanner: _Scanner, flow_run_id: str) -> bool:
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
        scanner.scan("prefect_flow_run", "prefect:flow_run.parameters", json.dumps(fr.parameters, default=str))
        scanner.scan("prefect_flow_run", "prefect:flow_run", "\n".join([fr.name or "", *(fr.tags or []), fr.state.message if fr.state and fr.state.message else ""]))
        offset, page = 0, 200
        while True:
            logs = pc.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[fid])), limit=page, offset=offset, sort=LogSort.TIMESTAMP_ASC
            )
            for entry in logs:
                scanner.scan("prefect_log", "prefect:logs", f"{entry.name}\n{entry.message}")
            if len(logs) < page:
                break
            offset += page
        for tr in pc.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fid]))):
            scanner.scan("prefect_task_run", "prefect:task_runs", "\n".join([tr.name or "", tr.state.message if tr.state and tr.state.message else ""]))
        for art in pc.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[fid]))):
            body = art.data if isinstance(art.data, str) else json.dumps(art.data, default=str)
            scanner.scan("prefect_artifact", f"prefect:artifact[{art.key or art.type}]", f"{art.key}\n{art.description or ''}\n{body}")
    return True


def flush_prefect_logs() -> None:
    """Send the Prefect logs still queued in this process, so an in-flow scan sees them."""
    try:
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()
    except Exception as exc:  # no API or no worker running: nothing queued to send
        log.info("leak scan: Prefect log flush skipped (%s)", type(exc).__name__)


def scan_run(client: MlflowClient, run_id: str, index: LeakIndex, flow_run_id: str | None = None, prefect: bool = True) -> LeakScanReport:
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
    scanner = _Scanner(index)
    with tempfile.TemporaryDirectory(prefix="veilflow-leakscan-") as tmp:
        _scan_mlflow(scanner, client, run_id, Path(tmp))
    flow_run_id = flow_run_id or client.get_run(run_id).data.tags.get("veilflow.prefect_flow_run_id") or None
    checked = bool(prefect and flow_run_id) and _scan_prefect(scanner, flow_run_id)  # type: ignore[arg-type]
    hits = [LeakHit(where=w, source=s, kind=k, count=n) for (w, s, k), n in sorted(scanner.hits.items())]
    return LeakScanReport(
        run_id=run_id,
        flow_run_id=flow_run_id,
        prefect_checked=checked,
        values_searched=index.values,
        short_values_skipped=index.skipped,
        items_scanned=dict(sorted(scanner.items.items())),
        bytes_scanned=scanner.bytes,
        hits=hits,
        seconds=round(time.perf_counter() - started, 3),
    )


def scan_texts(texts: Mapping[str, str], index: LeakIndex) -> list[LeakHit]:
    """Scan named texts (e.g. a forget log's lines) for the indexed values."""
    scanner = _Scanner(index)
    for name, text in texts.items():
        scanner.scan("text", name, text)
    return [LeakHit(where=w, source=s, kind=k, count=n) for (w, s, k), n in sorted(scanner.hits.items())]


# --------------------------------------------------------------------------- the flow step and the command


def leak_scan_step(index: LeakIndex, client: MlflowClient, run_id: str) -> dict[str, Any]:
    """Training-flow step: scan what the run has logged so far; record the report; raise on any hit.

    Raises:
        PiiLeakError: one line with places and counts (never values).
    """
    from veilflow.engines import tracking

    flush_prefect_logs()
    report = scan_run(client, run_id, index)
    result = {**report.model_dump(mode="json"), "passed": report.passed, "total": report.total}
    tracking.log_dict(client, run_id, result, "pii/leak_scan.json")
    tracking.set_tags(client, run_id, {"veilflow.leak_scan": "passed" if report.passed else "failed"})
    tracking.log_metrics(client, run_id, {"leak_scan.seconds": report.seconds, "leak_scan.hits": report.total, "leak_scan.bytes": report.bytes_scanned})
    log.info("%s (%.2f s)", report.summary(), report.seconds)
    if not report.passed:
        raise PiiLeakError(report.summary())
    return result


def audit_run(run_id: str, client: MlflowClient | None = None) -> LeakScanReport:
    """`veilflow audit`: reload the run's data from its logged config, check its fingerprint, rebuild the index, scan.

    Raises:
        DataLoadError: the data no longer has the fingerprint the run logged.
        ConfigError: the run has no logged config, or its policy cannot be read.
    """
    from veilflow.engines import tracking
    from veilflow.tasks.ops.steps import load_data
    from veilflow.core.config import parse_config
    from veilflow.core.errors import DataLoadError
    from veilflow.engines.secrets import resolve_key

    client = client or tracking.make_client()
    run = client.get_run(run_id)
    with tracking.temp_dir() as tmp:
        try:
            path = tracking.download_artifact(client, run_id, "config/pipeline.json", tmp)
        except Exception:
            raise ConfigError(f"run {run_id} has no config/pipeline.json artifact: not a veilflow training run") from None
        config = parse_config(json.loads(path.read_text()), source=f"run {run_id}")
    key = resolve_key(config.privacy.key_env, config.privacy.key_block)
    loaded = load_data(config)  # no suppression: the scan looks for every subject the source data holds
    logged = run.data.tags.get("veilflow.data_fingerprint")
    if logged != loaded.fingerprint:
        raise DataLoadError(
            f"data fingerprint changed since run {run_id} (logged {str(logged)[:12]}, now {loaded.fingerprint[:12]}): cannot re-derive its raw values"
        )
    index = index_for_config(loaded.frame, config, key)
    del loaded
    return scan_run(client, run_id, index)
