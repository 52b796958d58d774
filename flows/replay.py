"""Replay: re-run a past training run from its logged config and data fingerprint, and compare metrics."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from veilflow.core.config import parse_config
from veilflow.core.errors import DataLoadError
from veilflow.engines import tracking
from veilflow.tasks.ops.steps import load_data

if TYPE_CHECKING:
    from prefect.states import State

COMPARED_PREFIXES = ("test.", "champion.")
# A run with a DP candidate in secure mode (tag veilflow.dp.secure_mode=true) draws DP-SGD's noise from a
# cryptographic RNG that cannot be seeded: its replay is not bit-exact, so metrics are compared within this
# absolute tolerance (a DP model's ROC AUC moves by about 0.01 between noise draws at ε >= 1 on the demo data).
SECURE_MODE_TOLERANCE = 0.02


def compare_metrics(original: dict[str, float], replayed: dict[str, float], tolerance: float = 0.0) -> dict[str, Any]:
    """Differences of every model-quality metric both runs logged (timings are excluded).

    Compared: `test.*`, `*.val.*`, the membership audit's `mia.*` and the DP accounting's `*.dp.*`. `identical`
    means equal to the last bit; `passed` is `identical` when `tolerance` is 0, else every difference within it.
    """
    keys = sorted(
        k
        for k in original
        if k in replayed and ("seconds" not in k) and (k.startswith(("test.", "mia.")) or ".val." in k or ".dp." in k)
    )
    diffs = {k: replayed[k] - original[k] for k in keys}
    identical = bool(keys) and all(v == 0.0 for v in diffs.values())
    within = bool(keys) and all(abs(v) <= tolerance for v in diffs.values())
    report: dict[str, Any] = {
        "compared": len(keys),
        "max_abs_diff": max((abs(v) for v in diffs.values()), default=0.0),
        "differences": {k: v for k, v in diffs.items() if v != 0.0},
        "identical": identical,
        "tolerance": tolerance,
        "passed": identical if tolerance == 0 else within,
    }
    if tolerance > 0:
        report["note"] = (
            f"secure_mode: DP-SGD noise came from a cryptographic RNG, so a bit-exact replay is not expected; "
            f"metrics compared within {tolerance:g} absolute ({'all within' if within else 'NOT all within'})"
        )
    return report


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
    # `training` is a sync flow: with return_state=True it returns its final State, not an Awaitable (its `Any` return type makes mypy pick the async overload).
    state = cast("State[Any]", training(config, return_state=True))
    if state.is_failed():
        raise DataLoadError(f"replay of run {run_id} failed: {state.message}")
    result = state.result()
    result = getattr(result, "data", result)
    tracking.set_tags(client, result.run_id, {"veilflow.replay_of": run_id})
    replayed = client.get_run(result.run_id)
    secure = original.data.tags.get("veilflow.dp.secure_mode") == "true"
    report = compare_metrics(original.data.metrics, replayed.data.metrics, SECURE_MODE_TOLERANCE if secure else 0.0)
    report.update({"original_run": run_id, "replay_run": result.run_id, "fingerprint": current})
    return report
