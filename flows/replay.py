"""Replay: re-run a past training run from its logged config and data fingerprint, and compare metrics."""

from __future__ import annotations

import json
from typing import Any

from veilflow.core.config import parse_config
from veilflow.core.errors import DataLoadError
from veilflow.engines import tracking
from veilflow.tasks.ops.steps import load_data

COMPARED_PREFIXES = ("test.", "champion.")


def compare_metrics(original: dict[str, float], replayed: dict[str, float]) -> dict[str, Any]:
    """Differences of every model-quality metric both runs logged (timings are excluded)."""
    keys = sorted(
        k for k in original
        if k in replayed and ("seconds" not in k) and (k.startswith("test.") or ".val." in k)
    )
    diffs = {k: replayed[k] - original[k] for k in keys}
    return {
        "compared": len(keys),
        "max_abs_diff": max((abs(v) for v in diffs.values()), default=0.0),
        "differences": {k: v for k, v in diffs.items() if v != 0.0},
        "identical": bool(keys) and all(v == 0.0 for v in diffs.values()),
    }


def replay_run(run_id: str) -> dict[str, Any]:
    """Re-run training from the config logged with `run_id`; refuse if the data's fingerprint changed.

    Raises:
        DataLoadError: the data the config points at no longer has the logged fingerprint.
    """
    from veilflow.flows.training import training

    client = tracking.make_client()
    original = client.get_run(run_id)
    with tracking.temp_dir() as tmp:
        path = tracking.download_artifact(client, run_id, "config/pipeline.json", tmp)
        raw_config = json.loads(path.read_text())
    raw_config.setdefault("registry", {})["register"] = False
    # A replay re-trains from scratch: reusing the original's cached fits would prove nothing.
    raw_config.setdefault("training", {})["resume"] = False
    config = parse_config(raw_config, source=f"run {run_id}")
    logged = original.data.tags.get("veilflow.data_fingerprint")
    current = load_data(config).fingerprint
    if logged != current:
        raise DataLoadError(
            f"data fingerprint changed since run {run_id} (logged {str(logged)[:12]}, now {current[:12]}): refusing to replay"
        )
    state = training(config, return_state=True)
    if state.is_failed():
        raise DataLoadError(f"replay of run {run_id} failed: {state.message}")
    result = state.result()
    result = getattr(result, "data", result)
    tracking.set_tags(client, result.run_id, {"veilflow.replay_of": run_id})
    replayed = client.get_run(result.run_id)
    report = compare_metrics(original.data.metrics, replayed.data.metrics)
    report.update({"original_run": run_id, "replay_run": result.run_id, "fingerprint": current})
    return report
