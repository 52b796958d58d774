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

    Raises:
        PiiLeakError: one line with places and counts (never values).
    """
    flush_prefect_logs()
    report = scan_run(client, run_id, index)
    result = {**report.model_dump(mode="json"), "passed": report.passed, "total": report.total}
    tracking.log_dict(client, run_id, result, "pii/leak_scan.json")
    tracking.set_tags(client, run_id, {"veilflow.leak_scan": "passed" if report.passed else "failed"})
    tracking.log_metrics(
        client,
        run_id,
        {"leak_scan.seconds": report.seconds, "leak_scan.hits": report.total, "leak_scan.bytes": report.bytes_scanned},
    )
    log.info("%s (%.2f s)", report.summary(), report.seconds)
    if not report.passed:
        raise PiiLeakError(report.summary())
    return result


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
