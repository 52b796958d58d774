"""Partitioned raw-data steps, merging: one fingerprint, validation report, PII audit and leak report for the
whole input from the per-partition results (training and batch scoring), and what training records of them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.core.errors import ConfigError, DataLoadError
from veilflow.tasks.ops.partition_steps import PartitionOutput, ScoredPartition
from veilflow.tasks.ops.partitions import PartitionSpec


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
        outcomes.append(ExpectationOutcome.of(spec, bool(success), exception=exception, **counts))
        if rows:
            failing_rows[spec.key] = rows
        if ids:
            failing_ids[spec.key] = ids
    return ValidationReport.from_outcomes(
        suite.name,
        outcomes,
        failing_rows,
        rows=total_rows,
        columns=reports[0].column_count,
        seconds=round(sum(r.seconds for r in reports), 3),
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


def record_merged(
    merged: MergedPartitions, config: PipelineConfig, client: Any, run_id: str, out_dir: Path, wall_seconds: float
) -> dict[str, Any]:
    """Record what the unpartitioned steps record (same artifact, metric and tag names), then apply
    their gates: critical raw expectations (DataValidationError), then the leak guard (PiiLeakError).

    Returns:
        The leak-guard result dict the register/gate step expects.
    """
    from veilflow.engines import tracking
    from veilflow.tasks.data.validation_docs import render_validation_html

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


# --------------------------------------------------------------------------- batch scoring


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
