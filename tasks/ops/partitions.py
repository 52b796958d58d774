"""Partitioned raw-data steps: plan partitions, read one from its source, validate + anonymize it, merge the results.

Each partition is read by the worker that processes it (generated from (seed, partition index), or a
group of Parquet row groups / a shard file), so raw rows never travel from the flow process to a
worker, and only the anonymized partition, counts and keyed hashes travel back.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.core.errors import ConfigError, DataLoadError
from veilflow.tasks.data.io import generate_customers, load_breast_cancer_frame, load_frame

_PARQUET_SUFFIXES = {".parquet", ".pq"}


@dataclass(frozen=True)
class PartitionSpec:
    """Where one partition's rows come from; small enough to be a task argument (no data)."""

    index: int
    start: int  # position of the partition's first row in the whole input
    rows: int
    kind: str  # "generate" | "parquet" | "whole"
    path: str | None = None
    row_groups: tuple[int, ...] = ()


@dataclass
class PartitionOutput:
    """What a worker hands back: the anonymized partition, counts-only reports and keyed hashes (in memory only)."""

    index: int
    rows: int
    header: str
    row_hashes: np.ndarray = field(repr=False)  # pandas row hashes of the raw partition, for the whole-input fingerprint
    validation: Any = field(repr=False)  # ValidationReport of the raw suite on this partition
    unique_hashes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    anonymized: pd.DataFrame | None = field(default=None, repr=False)
    audit: Any = None  # PiiAudit
    leak: Any = None  # LeakReport
    seconds: dict[str, float] = field(default_factory=dict)


def _header(df: pd.DataFrame) -> str:
    return "|".join(f"{c}:{t}" for c, t in zip(df.columns, df.dtypes.astype(str)))


def plan_partitions(config: PipelineConfig) -> list[PartitionSpec]:
    """Split the configured input into partitions of about `execution.partition_rows` rows.

    Generated data: fixed-size partitions. A Parquet file: consecutive row groups up to the size. A
    folder of Parquet shards: each shard's row groups likewise. CSV and the bundled breast-cancer
    data cannot be read in parts and form one partition.

    Raises:
        ConfigError: partitioning is off (`execution.partition_rows` is null).
        DataLoadError: a missing or empty input, or a file over `dataset.max_bytes`.
    """
    ds, size = config.dataset, config.execution.partition_rows
    if size is None:
        raise ConfigError("execution.partition_rows is null: partitioning is off")
    if ds.source == "generate":
        return [
            PartitionSpec(index=i, start=start, rows=min(size, ds.n_rows - start), kind="generate")
            for i, start in enumerate(range(0, ds.n_rows, size))
        ]
    if ds.source == "breast_cancer":
        return [PartitionSpec(index=0, start=0, rows=-1, kind="whole")]
    path = resolve_path(ds.path, Path.cwd()) if ds.path else None
    assert path is not None  # guaranteed by DatasetConfig validation
    return plan_file_partitions(path, size, ds.max_bytes)


def plan_file_partitions(path: Path, size: int, max_bytes: int) -> list[PartitionSpec]:
    """Partitions of a file or folder input: consecutive Parquet row groups up to `size` rows (per
    shard for a folder of shards); a CSV file cannot be read in parts and forms one partition.

    Raises:
        DataLoadError: a missing or empty input, an unreadable Parquet file, or over `max_bytes`.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _PARQUET_SUFFIXES and p.is_file())
        if not files:
            raise DataLoadError(f"input folder holds no Parquet shards: {path}")
    elif path.suffix.lower() in _PARQUET_SUFFIXES:
        if not path.exists():
            raise DataLoadError(f"input file not found: {path}")
        files = [path]
    else:
        if not path.exists():
            raise DataLoadError(f"input file not found: {path}")
        return [PartitionSpec(index=0, start=0, rows=-1, kind="whole", path=str(path))]
    import pyarrow.parquet as pq

    total_bytes = sum(f.stat().st_size for f in files)
    if total_bytes > max_bytes:
        raise DataLoadError(f"input is {total_bytes} bytes, over the {max_bytes}-byte limit: {path}")
    specs: list[PartitionSpec] = []
    start = 0
    for f in files:
        try:
            meta = pq.ParquetFile(f).metadata
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise DataLoadError(f"input file could not be read ({type(exc).__name__}): {f}") from None
        group: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            group.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= size or g == meta.num_row_groups - 1:
                specs.append(PartitionSpec(len(specs), start, rows, "parquet", str(f), tuple(group)))
                start += rows
                group, rows = [], 0
    if start == 0:
        raise DataLoadError(f"input has no rows: {path}")
    return specs


def read_file_partition(spec: PartitionSpec, max_bytes: int) -> pd.DataFrame:
    """Read one partition of a file input (Parquet row groups, or the whole CSV/Parquet file); the
    index holds the rows' positions in the whole input."""
    if spec.kind == "parquet":
        import pyarrow.parquet as pq

        try:
            frame = pq.ParquetFile(spec.path).read_row_groups(list(spec.row_groups)).to_pandas()
        except Exception as exc:
            raise DataLoadError(
                f"partition {spec.index} could not be read ({type(exc).__name__}): {Path(str(spec.path)).name}"
            ) from None
    else:
        frame = load_frame(str(spec.path), max_bytes=max_bytes)
    frame.index = pd.RangeIndex(spec.start, spec.start + len(frame))
    return frame


def read_partition(spec: PartitionSpec, config: PipelineConfig) -> pd.DataFrame:
    """Read (or generate) one partition's raw rows; the index holds their positions in the whole input."""
    ds = config.dataset
    if spec.kind == "generate":
        # Partition 0 uses the plain seed stream, so input of at most one partition equals the
        # unpartitioned `generate_customers(n_rows, seed)` exactly.
        frame = generate_customers(
            spec.rows, seed=config.seed, defect_rate=ds.defect_rate, stream=spec.index or None, id_offset=spec.start
        )
    elif ds.source == "breast_cancer":
        frame = load_breast_cancer_frame()
    else:
        return read_file_partition(spec, ds.max_bytes)
    frame.index = pd.RangeIndex(spec.start, spec.start + len(frame))
    return frame


def suppress_rows(
    raw: pd.DataFrame, config: PipelineConfig, key: bytes | None, suppression_path: str | None
) -> tuple[pd.DataFrame, int]:
    """Drop the rows of subjects on the suppression list (matched by keyed pseudonym, in memory)."""
    column = config.dataset.subject_column
    if suppression_path is None or not column or not Path(suppression_path).exists():
        return raw, 0
    from veilflow.tasks.privacy.membership import SuppressionList

    if column not in raw.columns:
        raise DataLoadError(f"subject column '{column}' is missing from the partition")
    suppression = SuppressionList.load(Path(suppression_path))
    if not len(suppression):
        return raw, 0
    return suppression.apply_raw(raw, column, key)


def scan_inputs_in_flow(config: PipelineConfig, key: bytes | None, suppression_path: str | None) -> tuple[Any, pd.DataFrame]:
    """Re-read the partitions one at a time in the flow process for what needs raw values there:
    the in-memory leak index for the scan of everything logged (a `LeakIndex` cannot leave a
    process) and the subject column for the membership index. Nothing is kept but those two.
    """
    from veilflow.tasks.privacy.leak_scan import LeakIndex
    from veilflow.tasks.privacy.policy import load_policy

    ds = config.dataset
    policy = load_policy(resolve_path(ds.pii_policy)) if ds.pii_policy else None
    index = LeakIndex(policy.min_leak_value_length if policy is not None else 4)
    subjects: list[pd.Series] = []
    for spec in plan_partitions(config):
        raw, _ = suppress_rows(read_partition(spec, config), config, key, suppression_path)
        columns = list(
            dict.fromkeys(
                [
                    *(policy.columns if policy is not None else []),
                    *([ds.subject_column] if ds.subject_column and ds.subject_column in raw.columns else []),
                ]
            )
        )
        for column in columns:
            index.add(column, pd.unique(raw[column].dropna().astype("str")))
        if ds.subject_column and ds.subject_column in raw.columns:
            subjects.append(raw[ds.subject_column])
        del raw
    index.add_secret(key)
    subject_frame = pd.DataFrame({ds.subject_column: pd.concat(subjects, ignore_index=True)}) if subjects else pd.DataFrame()
    return index, subject_frame


def _keyed_hashes(values: pd.Series, salt: str) -> tuple[np.ndarray, np.ndarray]:
    """(positions, SipHash of each non-null value keyed with the run's random salt): uniqueness across partitions."""
    present = values.notna().to_numpy()
    positions = np.flatnonzero(present)
    hashed = pd.util.hash_array(values[present].astype(str).to_numpy(dtype=object), hash_key=salt, categorize=False)
    return positions, hashed


def process_partition(
    spec: PartitionSpec,
    config: PipelineConfig,
    key: bytes | None,
    salt: str,
    gx_context: Any,
    analyzer: Any,
    suppression_path: str | None = None,
) -> PartitionOutput:
    """Read one partition, validate it with the raw suite, anonymize it and leak-check it.

    Nothing raises on a failed expectation or a leak here: the merged counts decide, in the flow.

    Args:
        spec: from `plan_partitions`.
        config: the pipeline config.
        key: the pseudonymization key (None when the dataset has no PII policy).
        salt: 16 characters keying the hashes used for cross-partition uniqueness.
        gx_context: from `build_gx_context`.
        analyzer: from `build_analyzer` (None without a PII policy).
        suppression_path: the suppression list; its subjects' rows are dropped after fingerprinting,
            as `steps.load_data` does.
    """
    from veilflow.tasks.data.validation import load_suite, validate_frame

    ds = config.dataset
    timings: dict[str, float] = {}
    started = time.perf_counter()
    raw = read_partition(spec, config)
    if ds.label not in raw.columns:
        raise DataLoadError(f"label column '{ds.label}' is missing from partition {spec.index}")
    from veilflow.tasks.ops.steps import check_input

    # The same fail-fast input checks as `steps.load_data`, per partition (a small partition with
    # one label class or an all-null feature fails here even if the whole input would not).
    raw = check_input(raw, config, f"partition {spec.index} of {spec.kind} input")
    timings["read"] = time.perf_counter() - started
    row_hashes = pd.util.hash_pandas_object(raw, index=False).to_numpy()
    raw, suppressed = suppress_rows(raw, config, key, suppression_path)
    timings["suppressed_rows"] = float(suppressed)

    started = time.perf_counter()
    suite = load_suite(resolve_path(ds.raw_suite))
    local = raw.reset_index(drop=True)
    report = validate_frame(local, suite, gx_context, id_column=ds.id_column if ds.id_column in raw.columns else None)
    unique: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for s in suite.specs:
        if s.type == "expect_column_values_to_be_unique" and s.column in raw.columns:
            unique[s.key] = _keyed_hashes(local[s.column], salt)
    timings["validate"] = time.perf_counter() - started

    anonymized, audit, leak = None, None, None
    if ds.pii_policy is not None:
        from veilflow.tasks.privacy.leak_guard import check_leaks
        from veilflow.tasks.privacy.policy import load_policy, validate_policy_against
        from veilflow.tasks.privacy.redaction import anonymize_frame

        policy = load_policy(resolve_path(ds.pii_policy))
        validate_policy_against(policy, list(raw.columns))
        started = time.perf_counter()
        anonymized, audit = anonymize_frame(raw, policy, analyzer, key, batch_size=config.privacy.batch_size)
        timings["anonymize"] = time.perf_counter() - started
        started = time.perf_counter()
        leak = check_leaks(raw, anonymized, policy)
        timings["leak_guard"] = time.perf_counter() - started
    else:
        anonymized = raw.copy()
    header = _header(raw)
    del raw, local
    return PartitionOutput(
        index=spec.index,
        rows=len(anonymized),
        header=header,
        row_hashes=row_hashes,
        validation=report,
        unique_hashes=unique,
        anonymized=anonymized,
        audit=audit,
        leak=leak,
        seconds=timings,
    )


_LOCAL = threading.local()


def _thread_engines(nlp_model: str | None) -> tuple[Any, Any]:
    """(GX context, analyzer or None) built once per worker thread: neither can be shipped to a Dask
    or Ray worker, and neither is shared between threads."""
    from veilflow.engines.gx import build_gx_context

    engines: dict[str, Any] = getattr(_LOCAL, "engines", None) or {}
    _LOCAL.engines = engines
    if "gx" not in engines:
        engines["gx"] = build_gx_context()
    analyzer = None
    if nlp_model is not None:
        from veilflow.engines.presidio import build_analyzer

        name = f"analyzer:{nlp_model}"
        if name not in engines:
            engines[name] = build_analyzer(nlp_model)
        analyzer = engines[name]
    return engines["gx"], analyzer


def process_partition_here(
    spec: PartitionSpec, config: PipelineConfig, key: bytes | None, salt: str, suppression_path: str | None = None
) -> PartitionOutput:
    """`process_partition` with the worker thread's own engines (`_thread_engines`)."""
    gx, analyzer = _thread_engines(config.privacy.nlp_model if config.dataset.pii_policy is not None else None)
    return process_partition(spec, config, key, salt, gx, analyzer, suppression_path)


# --------------------------------------------------------------------------- batch scoring


@dataclass
class ScoredPartition:
    """What a scoring worker hands back: the anonymized partition, its predictions and counts (no raw rows)."""

    index: int
    rows: int
    header: str
    columns: list[str]
    row_hashes: np.ndarray = field(repr=False)
    validation: Any = field(repr=False)  # ValidationReport of the batch suite on this partition (never raised here)
    unique_hashes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    anonymized: pd.DataFrame | None = field(default=None, repr=False)  # index: positions in the whole batch
    predictions: pd.DataFrame | None = field(default=None, repr=False)  # the partition's locally clean rows
    positions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64), repr=False)  # of `predictions`' rows
    audit: Any = None  # PiiAudit, or None without a policy
    seconds: dict[str, float] = field(default_factory=dict)


def score_partition(
    spec: PartitionSpec,
    champion: Any,
    key: bytes | None,
    salt: str,
    top_k: int,
    gx_context: Any,
    analyzer: Any,
) -> ScoredPartition:
    """Read one partition of a batch, validate it (batch suite), anonymize it and score its clean rows.

    Nothing raises on a failed expectation: the merged report decides in the flow, and rows that fail
    only across partitions (duplicates) are dropped from the predictions there.

    Args:
        spec: from `plan_file_partitions` on the batch.
        champion: a `veilflow.tasks.ops.scoring.ChampionModel` (its fitted pipeline and training config).
        key: the pseudonymization key the champion was trained under (None without a policy).
        salt: keys the uniqueness hashes of this run.
        top_k: reason codes per row.
    """
    from veilflow.tasks.ops.raw_scoring import prepare_scorer, score_raw_records

    ds = champion.pipeline_config.dataset
    timings: dict[str, float] = {}
    started = time.perf_counter()
    raw = read_file_partition(spec, ds.max_bytes)
    timings["read"] = time.perf_counter() - started
    row_hashes = pd.util.hash_pandas_object(raw, index=False).to_numpy()
    header, columns = _header(raw), [str(c) for c in raw.columns]

    # The one raw-record code path (`veilflow score` whole, per partition, and the serving model).
    scorer = prepare_scorer(champion, key, gx_context, analyzer, top_k=top_k)
    suite = scorer.gx_suite(raw.columns)
    local = raw.reset_index(drop=True)
    unique = {
        s.key: _keyed_hashes(local[s.column], salt)
        for s in (suite.specs if suite is not None else ())
        if s.type == "expect_column_values_to_be_unique" and s.column in local.columns
    }
    scored = score_raw_records(raw, scorer)
    anonymized = scored.anonymized.set_axis(raw.index)
    timings.update(scored.seconds)
    del raw, local
    predictions = scored.predictions.reset_index(drop=True) if len(scored.predictions) else None
    positions = scored.predictions.index.to_numpy(dtype=np.int64) + spec.start
    return ScoredPartition(
        index=spec.index,
        rows=len(anonymized),
        header=header,
        columns=columns,
        row_hashes=row_hashes,
        validation=scored.report,
        unique_hashes=unique,
        anonymized=anonymized,
        predictions=predictions,
        positions=positions,
        audit=scored.pii_audit,
        seconds=timings,
    )


def score_partition_here(spec: PartitionSpec, champion: Any, key: bytes | None, salt: str, top_k: int) -> ScoredPartition:
    """`score_partition` with the worker thread's own engines (`_thread_engines`)."""
    pipe = champion.pipeline_config
    gx, analyzer = _thread_engines(pipe.privacy.nlp_model if pipe.dataset.pii_policy is not None else None)
    return score_partition(spec, champion, key, salt, top_k, gx, analyzer)


@dataclass
class MergedScoring:
    """The whole batch after per-partition scoring: anonymized rows, the merged report, predictions by position."""

    anonymized: pd.DataFrame = field(repr=False)
    validation: Any = field(repr=False)
    predictions: pd.DataFrame = field(repr=False)
    positions: np.ndarray = field(repr=False)
    audit: dict[str, Any]
    fingerprint: str
    partitions: int
    seconds: dict[str, float]


def merge_scored(outputs: list[ScoredPartition], specs: list[PartitionSpec], champion: Any) -> MergedScoring:
    """Concatenate the partitions in order; merge their validation (uniqueness across partitions) and audits.

    Raises:
        DataLoadError: a partition is missing, or partitions disagree on columns or dtypes.
    """
    from veilflow.tasks.ops.raw_scoring import prepare_scorer

    outputs = sorted(outputs, key=lambda o: o.index)
    if [o.index for o in outputs] != [s.index for s in specs]:
        raise DataLoadError(f"expected {len(specs)} partition results, got {len(outputs)}")
    fingerprint = combine_fingerprint(outputs)
    ds = champion.pipeline_config.dataset
    starts = [s.start for s in specs]
    # The specs each partition's report holds: veilflow's row checks, then the batch suite's.
    suite = prepare_scorer(champion, None, None, None, require_key=False).report_suite(outputs[0].columns)
    validation = merge_validation([o.validation for o in outputs], starts, suite, [o.unique_hashes for o in outputs])
    anonymized = pd.concat([o.anonymized for o in outputs])
    scored = [o.predictions for o in outputs if o.predictions is not None]
    predictions = pd.concat(scored, ignore_index=True) if scored else pd.DataFrame()
    positions = np.concatenate([o.positions for o in outputs])
    if ds.pii_policy is not None:
        audit = merge_audits([o.audit for o in outputs]).model_dump(mode="json")
    else:
        audit = {"policy": None, "rows": len(anonymized), "columns": {}, "total_found": 0}
    return MergedScoring(
        anonymized=anonymized,
        validation=validation,
        predictions=predictions,
        positions=positions,
        audit=audit,
        fingerprint=fingerprint,
        partitions=len(outputs),
        seconds=_sum_floats([o.seconds for o in outputs]),
    )


# --------------------------------------------------------------------------- merging


def combine_fingerprint(outputs: Sequence[PartitionOutput | ScoredPartition]) -> str:
    """The same sha256 as `fingerprint_frame` of the concatenated raw partitions.

    Raises:
        DataLoadError: partitions disagree on columns or dtypes.
    """
    headers = {o.header for o in outputs}
    if len(headers) != 1:
        raise DataLoadError(f"partitions disagree on columns or dtypes ({len(headers)} different schemas)")
    h = hashlib.sha256()
    h.update(outputs[0].header.encode())
    for o in outputs:
        h.update(o.row_hashes.tobytes())
    return h.hexdigest()


def _expectation_kwargs(suite: Any, key: str) -> dict[str, Any]:
    for e in suite.suite.expectations:
        if e.id == key:
            return {"min_value": getattr(e, "min_value", None), "max_value": getattr(e, "max_value", None)}
    return {}


def merge_validation(
    reports: list[Any], starts: list[int], suite: Any, unique: list[dict[str, tuple[np.ndarray, np.ndarray]]]
) -> Any:
    """One `ValidationReport` for the whole input from the per-partition reports.

    Row-level counts are summed and `mostly` is re-applied to the totals; uniqueness is re-checked
    across partitions with the keyed hashes; the row count is checked on the total; schema
    expectations pass only if they passed in every partition.
    """
    from veilflow.tasks.data.validation import ExpectationOutcome, ValidationReport

    total_rows = sum(r.row_count for r in reports)
    outcomes: list[ExpectationOutcome] = []
    failing_rows: dict[str, list[int]] = {}
    failing_ids: dict[str, list[str]] = {}
    for spec in suite.specs:
        parts = [next(o for o in r.expectations if o.key == spec.key) for r in reports]
        rows = sorted({start + i for r, start in zip(reports, starts) for i in r.failing_rows.get(spec.key, [])})
        ids = [i for r in reports for i in r.failing_ids.get(spec.key, [])]
        exception = next((p.exception for p in parts if p.exception), None)
        counts: dict[str, Any] = {}
        if spec.type == "expect_table_row_count_to_be_between":
            kw = _expectation_kwargs(suite, spec.key)
            low, high = kw.get("min_value"), kw.get("max_value")
            success = (low is None or total_rows >= low) and (high is None or total_rows <= high)
        elif all(p.element_count is None for p in parts):
            success = all(p.success for p in parts)
        else:
            element = sum(p.element_count or 0 for p in parts)
            missing = sum(p.missing_count or 0 for p in parts)
            if spec.key in (unique[0] if unique else {}):
                positions = np.concatenate([u[spec.key][0] + start for u, start in zip(unique, starts)])
                hashes = np.concatenate([u[spec.key][1] for u in unique])
                dup = pd.Series(hashes).duplicated(keep=False).to_numpy()
                unexpected = int(dup.sum())
                rows = sorted(int(p) for p in positions[dup])
                ids = []  # ids of cross-partition duplicates are not kept: positions suffice for counts
            else:
                unexpected = sum(p.unexpected_count or 0 for p in parts)
            denominator = element if spec.type == "expect_column_values_to_not_be_null" else element - missing
            ratio = unexpected / denominator if denominator else 0.0
            mostly = spec.mostly if spec.mostly is not None else 1.0
            success = exception is None and (1.0 - ratio) >= mostly
            counts = {
                "element_count": element,
                "unexpected_count": unexpected,
                "unexpected_percent": round(100.0 * ratio, 6) if denominator else 0.0,
                "missing_count": missing,
            }
        outcomes.append(
            ExpectationOutcome(
                key=spec.key,
                type=spec.type,
                column=spec.column,
                critical=spec.critical,
                why=spec.why,
                mostly=spec.mostly,
                success=bool(success),
                exception=exception,
                **counts,
            )
        )
        if rows:
            failing_rows[spec.key] = rows
        if ids:
            failing_ids[spec.key] = ids
    critical_keys = {s.key for s in suite.specs if s.critical}
    critical_failures = [o.key for o in outcomes if o.critical and not o.success]
    flagged = set().union(*failing_rows.values()) if failing_rows else set()
    flagged_critical = set().union(*(v for k, v in failing_rows.items() if k in critical_keys))
    return ValidationReport(
        suite_name=suite.name,
        row_count=total_rows,
        column_count=reports[0].column_count,
        evaluated=len(outcomes),
        successful=sum(o.success for o in outcomes),
        success=all(o.success for o in outcomes),
        critical_success=not critical_failures,
        critical_failures=critical_failures,
        warnings=[o.key for o in outcomes if not o.critical and not o.success],
        rows_flagged=len(flagged),
        rows_flagged_critical=len(flagged_critical),
        seconds=round(sum(r.seconds for r in reports), 3),
        expectations=outcomes,
        failing_rows=failing_rows,
        failing_ids=failing_ids,
    )


def _sum_dicts(dicts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + int(v)
    return dict(sorted(out.items()))


def merge_audits(audits: list[Any]) -> Any:
    """One `PiiAudit` from the per-partition audits (counts summed, seconds summed over workers)."""
    from veilflow.tasks.privacy.redaction import ColumnAudit, PiiAudit

    first = audits[0]
    columns = {}
    for name, col in first.columns.items():
        parts = [a.columns[name] for a in audits]
        columns[name] = ColumnAudit(
            kind=col.kind,
            operator=col.operator,
            entities=_sum_dicts([p.entities for p in parts]),
            output_column=col.output_column,
            unparsed=sum(p.unparsed for p in parts),
            known_value_spans=sum(p.known_value_spans for p in parts),
            texts_analyzed=sum(p.texts_analyzed for p in parts),
            values_changed=sum(p.values_changed for p in parts),
        )
    return PiiAudit(
        policy=first.policy,
        engine=first.engine,
        rows=sum(a.rows for a in audits),
        seconds=round(sum(a.seconds for a in audits), 4),
        columns=columns,
        entities_not_detectable=sorted({e for a in audits for e in a.entities_not_detectable}),
    )


def merge_leaks(leaks: list[Any]) -> Any:
    """One `LeakReport` from the per-partition reports (each partition's raw values checked against its own output)."""
    from veilflow.tasks.privacy.leak_guard import LeakReport

    first = leaks[0]
    value_cols = sorted({c for lk in leaks for c in lk.value_leaks})
    pattern_cols = sorted({c for lk in leaks for c in lk.pattern_leaks})
    return LeakReport(
        policy=first.policy,
        rows=sum(lk.rows for lk in leaks),
        columns_scanned=first.columns_scanned,
        raw_values_checked=sum(lk.raw_values_checked for lk in leaks),
        min_value_length=first.min_value_length,
        short_values_skipped=_sum_dicts([lk.short_values_skipped for lk in leaks]),
        value_leaks={c: _sum_dicts([lk.value_leaks.get(c, {}) for lk in leaks]) for c in value_cols},
        pattern_leaks={c: _sum_dicts([lk.pattern_leaks.get(c, {}) for lk in leaks]) for c in pattern_cols},
        seconds=round(sum(lk.seconds for lk in leaks), 4),
    )


@dataclass
class MergedPartitions:
    """The whole input after the per-partition steps: anonymized rows and merged reports; no raw rows."""

    anonymized: pd.DataFrame = field(repr=False)
    validation: Any = field(repr=False)
    audit: Any
    leak: Any
    fingerprint: str
    partitions: int
    rows: int
    columns: int
    seconds: dict[str, float]


def merge_partitions(outputs: list[PartitionOutput], specs: list[PartitionSpec], config: PipelineConfig) -> MergedPartitions:
    """Concatenate the anonymized partitions in partition order and merge their reports."""
    from veilflow.tasks.data.validation import load_suite

    outputs = sorted(outputs, key=lambda o: o.index)
    if [o.index for o in outputs] != [s.index for s in specs]:
        raise DataLoadError(f"expected {len(specs)} partition results, got {len(outputs)}")
    starts = []
    start = 0
    for o in outputs:
        starts.append(start)
        start += o.rows
    suite = load_suite(resolve_path(config.dataset.raw_suite))
    validation = merge_validation([o.validation for o in outputs], starts, suite, [o.unique_hashes for o in outputs])
    anonymized = pd.concat([o.anonymized for o in outputs], ignore_index=True)
    audit = merge_audits([o.audit for o in outputs]) if outputs[0].audit is not None else None
    leak = merge_leaks([o.leak for o in outputs]) if outputs[0].leak is not None else None
    return MergedPartitions(
        anonymized=anonymized,
        validation=validation,
        audit=audit,
        leak=leak,
        fingerprint=combine_fingerprint(outputs),
        partitions=len(outputs),
        rows=len(anonymized),
        columns=len(outputs[0].header.split("|")),
        seconds=_sum_floats([o.seconds for o in outputs]),
    )


def _sum_floats(dicts: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = round(out.get(k, 0.0) + float(v), 4)
    return out


def partition_source(config: PipelineConfig, specs: list[PartitionSpec]) -> str:
    """The dataset source string for a partitioned run (names the partition size when it changes the data)."""
    ds = config.dataset
    if ds.source == "generate":
        base = f"generated:customers?n_rows={ds.n_rows}&seed={config.seed}&defect_rate={ds.defect_rate}"
        return base + (f"&partition_rows={config.execution.partition_rows}" if len(specs) > 1 else "")
    if ds.source == "breast_cancer":
        return "sklearn:load_breast_cancer"
    return f"file:{Path(str(ds.path)).name}"


def record_merged(
    merged: MergedPartitions, config: PipelineConfig, client: Any, run_id: str, out_dir: Path, wall_seconds: float
) -> dict[str, Any]:
    """Record what the unpartitioned steps record (same artifact, metric and tag names), then apply
    their gates: critical raw expectations (DataValidationError), then the leak guard (PiiLeakError).

    Returns:
        The leak-guard result dict the register/gate step expects.
    """
    from veilflow.engines import tracking
    from veilflow.tasks.data.validation import render_validation_html

    report = merged.validation
    summary = report.to_summary_dict()
    html = render_validation_html(report, out_dir / "validation_raw.html")
    tracking.log_dict(client, run_id, summary, "validation/raw.json")
    tracking.log_artifact(client, run_id, html, "validation")
    failed = [e for e in summary["expectations"] if not e["success"]]
    tracking.log_metrics(
        client,
        run_id,
        {
            "validation.raw.evaluated": summary["evaluated"],
            "validation.raw.failed": len(failed),
            "validation.raw.critical_failed": len(summary["critical_failures"]),
            "validation.raw.seconds": merged.seconds.get("validate", 0.0),
            "data.suppressed_rows": merged.seconds.get("suppressed_rows", 0.0),
            "partitions.count": merged.partitions,
            "partitions.wall_seconds": wall_seconds,
            **{f"partitions.{k}.seconds": v for k, v in merged.seconds.items()},
        },
    )
    tracking.set_tags(
        client,
        run_id,
        {
            "veilflow.validation.raw": "passed" if not summary["critical_failures"] else "failed",
            "veilflow.execution.runner": config.execution.runner,
            "veilflow.execution.partitions": str(merged.partitions),
        },
    )
    report.raise_if_critical("raw")
    if merged.audit is None:
        tracking.log_dict(
            client,
            run_id,
            {"policy": None, "rows": merged.rows, "columns": {}, "note": "dataset declares no PII policy"},
            "pii/audit.json",
        )
        return {"checked": False, "leaks": 0, "passed": True}
    tracking.log_dict(client, run_id, merged.audit.model_dump(mode="json"), "pii/audit.json")
    tracking.log_metrics(
        client, run_id, {"pii.entities_found": float(merged.audit.total_found), "pii.seconds": merged.audit.seconds}
    )
    from veilflow.tasks.privacy.leak_guard import enforce_no_leaks
    from veilflow.tasks.privacy.policy import load_policy

    policy_path = config.dataset.pii_policy
    if policy_path is None:  # an audit exists only under a policy: not reached
        raise ConfigError("the partitions carry a PII audit, but the dataset declares no PII policy")
    policy = load_policy(resolve_path(policy_path))
    result = merged.leak.model_dump(mode="json")
    tracking.log_dict(client, run_id, result, "pii/leak_guard.json")
    tracking.set_tags(client, run_id, {"veilflow.leak_guard": "passed" if merged.leak.total == 0 else "failed"})
    enforce_no_leaks(merged.leak, policy.leak_tolerance)
    result["passed"] = True
    return result
