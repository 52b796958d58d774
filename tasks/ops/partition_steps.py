"""Partitioned raw-data steps, the work on one partition: validate + anonymize + leak-check it (training), or
validate + anonymize + score it (batch scoring), on the worker that read it.

Only the anonymized partition, counts and keyed hashes travel back to the flow (`partition_merge` merges them).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.core.errors import DataLoadError
from veilflow.tasks.ops.partitions import PartitionSpec, read_file_partition, read_partition, suppress_rows


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
    raw = read_file_partition(spec, ds.max_bytes, ds.encoding)
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
