"""Pre-flight: the checks a run cannot succeed without, made on a bounded sample in about a second, before Prefect starts.

`preflight(config)` is what `veilflow train` (and `score`, `anonymize`) call before the flow: the input file exists,
is readable, within `dataset.max_bytes`, decodes with `dataset.encoding` and has no duplicate column names; its
columns match the config and the PII policy (missing and extra); numbers are numbers and dates parse with the
policy's formats on the sampled rows; the label fits the task (when the sample is the whole file); the suites and
the policy load; the key is there when the policy needs one. Every failure is a `VeilflowError` with one line
naming files, columns, checks and counts, never a value. The flow repeats the whole-data checks on every row.

Nothing here imports Prefect or MLflow: a bad input is refused before either is loaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.core.errors import ConfigError, DataLoadError
from veilflow.engines.secrets import resolve_key
from veilflow.tasks.data.files import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    check_columns_unique,
    check_decodes,
    check_file,
    parquet_columns,
    read_sample,
)
from veilflow.tasks.data.io import check_frame
from veilflow.tasks.privacy.policy import PiiPolicy, load_policy, validate_policy_against
from veilflow.tasks.privacy.pseudonyms import check_key
from veilflow.tasks.privacy.redaction import check_unparsed, parse_dates

# Rows read for the column, type and date checks: a few MB of CSV, ~0.1-0.3 s.
SAMPLE_ROWS = 20_000
# The encoding check reads this much of a CSV (the load step decodes the rest): ~0.1 s.
DECODE_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class PreflightReport:
    """What the pre-flight looked at: counts and names only."""

    source: str
    rows_sampled: int
    whole_file: bool
    columns: int
    seconds: float


def input_path(config: PipelineConfig) -> Path | None:
    """The input file of a file-sourced config, resolved as the load step resolves it (None for built-in sources)."""
    ds = config.dataset
    if ds.source != "file" or ds.path is None:
        return None
    return resolve_path(ds.path, Path.cwd())


def check_input_file(path: Path, max_bytes: int, encoding: str = "utf-8", rows: int = SAMPLE_ROWS) -> tuple[pd.DataFrame, bool]:
    """The file-level checks (exists, readable, size, encoding, header) and a bounded sample of its rows.

    Returns:
        The first `rows` rows and whether they are the whole file.

    Raises:
        DataLoadError: one line naming the file and the problem.
    """
    p = check_file(path, max_bytes)
    if p.suffix.lower() in CSV_SUFFIXES:
        check_decodes(p, encoding, DECODE_BYTES)
    return read_sample(p, encoding, rows)


def _sample_shards(folder: Path, max_bytes: int, rows: int) -> tuple[pd.DataFrame, bool]:
    """A partitioned run's folder of Parquet shards: every shard's header, and a sample of the first shard.

    Raises:
        DataLoadError: no shards, a shard with duplicate column names, or an unreadable first shard.
    """
    shards = sorted(p for p in folder.iterdir() if p.suffix.lower() in PARQUET_SUFFIXES and p.is_file())
    if not shards:
        raise DataLoadError(f"input folder holds no Parquet shards: {folder}")
    for shard in shards:
        check_columns_unique(parquet_columns(shard), shard)
    sample, whole = check_input_file(shards[0], max_bytes, rows=rows)
    return sample, whole and len(shards) == 1


def _policy(config: PipelineConfig) -> PiiPolicy | None:
    ds = config.dataset
    return load_policy(resolve_path(ds.pii_policy)) if ds.pii_policy is not None else None


def _check_suites(config: PipelineConfig) -> None:
    ds = config.dataset
    for role, suite in (("raw_suite", ds.raw_suite), ("anonymized_suite", ds.anonymized_suite)):
        if suite is not None and not resolve_path(suite).is_file():
            raise ConfigError(f"dataset.{role} not found: {resolve_path(suite)}")


def _check_key(config: PipelineConfig, policy: PiiPolicy | None) -> None:
    """A policy with hash/encrypt columns needs the key: fail before any data is read (a Secret block is checked in the flow)."""
    if policy is None or config.privacy.key_block:
        return
    check_key(resolve_key(config.privacy.key_env), policy)


def check_columns(
    frame: pd.DataFrame, config: PipelineConfig, policy: PiiPolicy | None, source: str, *, whole: bool
) -> pd.DataFrame:
    """The config's and the policy's columns against a raw frame (or a sample of one, `whole=False`).

    Raises:
        ConfigError: the PII policy names a column the data does not have.
        DataLoadError: a missing or extra column, a mistyped number, a text cell over the limit, and (whole frames
            only) an entirely null feature.
    """
    ds = config.dataset
    policy_cols: list[str] = []
    text_cols = [ds.text_feature] if ds.text_feature else []
    created: set[str] = set()
    if policy is not None:
        policy_cols = [*policy.columns, *policy.text_columns]
        text_cols = list(dict.fromkeys([*text_cols, *policy.text_columns]))
        created = set(policy.new_columns())
        absent = [c for c in policy_cols if c not in frame.columns]
        if absent:
            name = Path(str(ds.pii_policy)).name
            raise ConfigError(f"PII policy {name} names column(s) not in {source}: {', '.join(absent)}")
        validate_policy_against(policy, frame.columns)
    named = [ds.id_column, ds.label, *ds.feature_columns, *ds.sensitive_columns]
    named += [c for c in [ds.subject_column] if c]
    required = [c for c in dict.fromkeys(named) if c not in created]
    return check_frame(
        frame,
        source=source,
        label=ds.label,
        required=required,
        known={*required, *policy_cols},
        numeric=[c for c in ds.numeric_features if c not in created],
        features=[c for c in ds.feature_columns if c not in created],
        text=text_cols,
        max_text_chars=ds.max_text_chars,
        extra_columns=ds.extra_columns,
        whole=whole,
    )


def check_dates(frame: pd.DataFrame, policy: PiiPolicy) -> None:
    """Each date column a `generalize` rule reads must parse with its formats, within its max_unparsed_share.

    Raises:
        DataValidationError: column, share, limit and format(s), never a value.
    """
    for column, rule in policy.columns.items():
        if rule.operator != "generalize" or column not in frame.columns:
            continue
        values = frame[column]
        parsed = parse_dates(values, rule.formats)
        unparsed = int((parsed.isna() & values.notna()).sum())
        check_unparsed(column, unparsed, int(values.notna().sum()), rule.formats, policy.unparsed_limit(column))


def check_label_fits(frame: pd.DataFrame, config: PipelineConfig) -> None:
    """The label against the task (class count, numeric for regression); judged only on a whole file.

    Raises:
        DataLoadError: the label column is absent; LabelError (a DataLoadError): it does not fit the task.
    """
    ds = config.dataset
    if ds.label not in frame.columns:
        raise DataLoadError(f"label column '{ds.label}' is missing from the input")
    from veilflow.tasks.data.labels import check_label

    check_label(frame[ds.label], ds.task, positive_label=ds.positive_label, max_classes=ds.max_classes, column=ds.label)


def preflight(config: PipelineConfig, *, rows: int = SAMPLE_ROWS) -> PreflightReport:
    """Everything a run needs that can be checked in about a second, before any flow starts.

    Args:
        config: the pipeline config the run will use.
        rows: the most input rows read (the file is never read whole).

    Returns:
        What was checked (source, rows sampled, whether that was the whole file, seconds).

    Raises:
        VeilflowError: `ConfigError` (suites, policy, policy columns), `MissingKeyError`, `DataLoadError` (file,
            encoding, header, columns, types, label) or `DataValidationError` (dates); each one line, no values.
    """
    started = time.perf_counter()
    ds = config.dataset
    _check_suites(config)
    policy = _policy(config)
    _check_key(config, policy)
    path = input_path(config)
    if path is None:  # a built-in source: generated or bundled data is well formed by construction
        return PreflightReport(f"{ds.source}", 0, True, 0, round(time.perf_counter() - started, 3))
    source = f"file:{path.name}"
    if path.is_dir() and config.execution.partition_rows is not None:
        sample, whole = _sample_shards(path, ds.max_bytes, rows)  # a folder of Parquet shards, read per partition
    else:
        sample, whole = check_input_file(path, ds.max_bytes, ds.encoding, rows)
    if ds.label not in sample.columns:
        raise DataLoadError(f"label column '{ds.label}' is missing from {source}")
    checked = check_columns(sample, config, policy, source, whole=whole)
    if policy is not None:
        check_dates(checked, policy)
    if whole:
        check_label_fits(checked, config)
    return PreflightReport(source, len(sample), whole, sample.shape[1], round(time.perf_counter() - started, 3))
