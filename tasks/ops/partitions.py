"""Partitioned raw-data steps, planning and reading: split an input into partitions and read one from its source.

Each partition is read by the worker that processes it (generated from (seed, partition index), or a
group of Parquet row groups / a shard file), so raw rows never travel from the flow process to a
worker. The per-partition steps are in `partition_steps`, merging their results in `partition_merge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def read_file_partition(spec: PartitionSpec, max_bytes: int, encoding: str = "utf-8") -> pd.DataFrame:
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
        frame = load_frame(str(spec.path), max_bytes=max_bytes, encoding=encoding)
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
        return read_file_partition(spec, ds.max_bytes, ds.encoding)
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


def partition_source(config: PipelineConfig, specs: list[PartitionSpec]) -> str:
    """The dataset source string for a partitioned run (names the partition size when it changes the data)."""
    ds = config.dataset
    if ds.source == "generate":
        base = f"generated:customers?n_rows={ds.n_rows}&seed={config.seed}&defect_rate={ds.defect_rate}"
        return base + (f"&partition_rows={config.execution.partition_rows}" if len(specs) > 1 else "")
    if ds.source == "breast_cancer":
        return "sklearn:load_breast_cancer"
    return f"file:{Path(str(ds.path)).name}"
