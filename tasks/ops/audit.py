"""The leak-scan training step and `veilflow audit`: scan what a run logged, record the report, raise on a hit."""

from __future__ import annotations

import json
import logging
from typing import Any

from veilflow.core.errors import ConfigError, PiiLeakError
from veilflow.engines import tracking
from veilflow.engines.leak_sources import flush_prefect_logs, scan_run
from veilflow.tasks.privacy.leak_scan import LeakIndex, LeakScanReport, index_for_config

log = logging.getLogger("veilflow")


def leak_scan_step(index: LeakIndex, client: tracking.TrackingClient, run_id: str) -> dict[str, Any]:
    """Training-flow step: scan what the run has logged so far; record the report; raise on any hit.

    Records `pii/leak_scan.json` (value hashes cut to a prefix), the tags `veilflow.leak_scan` (passed/failed),
    `veilflow.leak_scan.allowed` (each applied `leak_scan.allow` exception: hash prefix and hit count) and
    `veilflow.leak_scan.not_searchable` (values per reason), and the scan's time, hits and bytes as metrics.

    Raises:
        PiiLeakError: one line with places, rules and counts (never values).
        ConfigError: the policy's `leak_scan.allow` has entries but there is no PII key.
    """
    flush_prefect_logs()
    if not index.configured:  # built without the policy (the partitioned path): take its leak_scan settings now
        policy = _policy_of_run(client, run_id)
        if policy is not None:
            index.configure(policy)
    report = scan_run(client, run_id, index)
    result = report.logged()
    tracking.log_dict(client, run_id, result, "pii/leak_scan.json")
    tags = {
        "veilflow.leak_scan": "passed" if report.passed else "failed",
        "veilflow.leak_scan.not_searchable": _reasons(report.not_searchable) or "none",
    }
    if report.allowed:
        shown = ", ".join(f"{a.hash_prefix} x{a.count}" for a in report.allowed[:_TAG_ENTRIES])
        more = f", +{len(report.allowed) - _TAG_ENTRIES} more" if len(report.allowed) > _TAG_ENTRIES else ""
        tags["veilflow.leak_scan.allowed"] = (
            f"{sum(a.count for a in report.allowed)} hit(s) of {len(report.allowed)} allowed value(s): {shown}{more}"
        )
    tracking.set_tags(client, run_id, tags)
    tracking.log_metrics(
        client,
        run_id,
        {
            "leak_scan.seconds": report.seconds,
            "leak_scan.hits": report.total,
            "leak_scan.bytes": report.bytes_scanned,
            "leak_scan.allowed_hits": sum(a.count for a in report.allowed),
            "leak_scan.not_searchable": report.short_values_skipped,
        },
    )
    log.info("%s (%.2f s)", report.summary(), report.seconds)
    for a in report.allowed:
        log.info(
            "leak scan: allowed value %s… (%s): %d hit(s) in %d place(s)", a.hash_prefix, ",".join(a.sources), a.count, a.places
        )
    if not report.passed:
        raise PiiLeakError(report.summary())
    return result


_TAG_ENTRIES = 20


def _reasons(not_searchable: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{c}: " + ", ".join(f"{r} {n}" for r, n in per.items()) for c, per in not_searchable.items())


def _policy_of_run(client: tracking.TrackingClient, run_id: str) -> Any:
    """The PII policy the run's logged config names (None: no policy, or no logged config)."""
    from veilflow.core.config import parse_config, resolve_path
    from veilflow.tasks.privacy.policy import load_policy

    with tracking.temp_dir() as tmp:
        try:
            path = tracking.download_artifact(client, run_id, "config/pipeline.json", tmp)
        except Exception:  # not a veilflow training run: the scan keeps its defaults
            return None
        config = parse_config(json.loads(path.read_text()), source=f"run {run_id}")
    return load_policy(resolve_path(config.dataset.pii_policy)) if config.dataset.pii_policy else None


def audit_run(run_id: str, client: tracking.TrackingClient | None = None) -> LeakScanReport:
    """`veilflow audit`: reload the run's data from its logged config, check its fingerprint, rebuild the index, scan.

    Raises:
        DataLoadError: the data no longer has the fingerprint the run logged.
        ConfigError: the run has no logged config, or its policy cannot be read.
    """
    from veilflow.core.config import parse_config
    from veilflow.core.errors import DataLoadError
    from veilflow.engines.secrets import resolve_key
    from veilflow.tasks.ops.steps import load_data

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
