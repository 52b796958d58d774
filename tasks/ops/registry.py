"""Registry decisions: the serialized compare-and-promote, manual promotion, rollback and status.

Aliases move only here. `champion` moves under a lock — a file lock beside a local SQLite store, and a
Prefect global concurrency limit when a Prefect server is configured — so two runs finishing together
cannot leave `champion` on the worse model.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from veilflow.core.errors import PromotionRejected
from veilflow.engines import prefect_api, tracking

log = logging.getLogger("veilflow")

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_TAG = "veilflow.previous_champion"
GATES_TAG = "veilflow.gates"
DECISION_TAG = "veilflow.decision"


def _sqlite_path(tracking_uri: str) -> Path | None:
    if tracking_uri.startswith("sqlite:///"):
        return (
            Path(tracking_uri[len("sqlite:///") - 1 :])
            if tracking_uri.startswith("sqlite:////")
            else Path(tracking_uri[len("sqlite:///") :])
        )
    return None


def _lock_file(tracking_uri: str, model_name: str) -> Path:
    db = _sqlite_path(tracking_uri)
    base = db.parent if db is not None else Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_name)
    path = base / ".veilflow-locks" / f"promote-{safe}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"promotion lock {path.name} not acquired within {timeout_s:.0f}s") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def promotion_lock(model_name: str, tracking_uri: str, timeout_s: float = 600.0) -> Iterator[None]:
    """Serialize compare-and-promote for one registered model across processes (and machines, with a server)."""
    with ExitStack() as stack:
        if os.environ.get("PREFECT_API_URL"):
            stack.enter_context(prefect_api.occupy_concurrency_slot(f"veilflow-promote-{model_name}", timeout_s))
        stack.enter_context(_file_lock(_lock_file(tracking_uri, model_name), timeout_s))
        yield


def promote_if_still_better(
    client: tracking.TrackingClient,
    model_name: str,
    version: str,
    scored_champion: str | None,
    still_passes: Callable[[str | None], bool],
    tracking_uri: str,
) -> tuple[bool, str | None]:
    """Under the lock: if champion moved since it was scored, re-check; then move champion to `version`.

    Args:
        scored_champion: the champion version the gates compared against (None: there was none).
        still_passes: called with the current champion version when it differs from `scored_champion`;
            returns whether the candidate still beats it (re-scored on the same held-out data).

    Returns:
        (promoted, champion version after the decision).
    """
    with promotion_lock(model_name, tracking_uri):
        current = tracking.get_alias_version(client, model_name, CHAMPION)
        if current != scored_champion and not still_passes(current):
            log.info("champion moved to version %s while gating; candidate %s no longer beats it", current, version)
            return False, current
        tracking.set_alias(client, model_name, CHAMPION, version)
        if current is not None:
            tracking.set_version_tags(client, model_name, version, {PREVIOUS_TAG: current})
        return True, version


def _gates_passed(client: tracking.TrackingClient, model_name: str, version: str) -> bool:
    mv = client.get_model_version(model_name, version)
    return mv.tags.get(DECISION_TAG) == "promoted" or mv.tags.get("veilflow.gates_passed") == "true"


def promote_version(model_name: str, version: str, force_reason: str | None = None) -> str:
    """Manual promotion: the version's recorded gates must all have passed, unless forced with a reason."""
    client = tracking.make_client()
    uri = tracking.tracking_uri_of(client)
    client.get_model_version(model_name, version)  # raises a clear MlflowException when absent
    if not _gates_passed(client, model_name, version) and not force_reason:
        failed = client.get_model_version(model_name, version).tags.get("veilflow.failed_gates", "unknown")
        raise PromotionRejected(f"version {version} of {model_name} failed gates ({failed}); use --force REASON to override")
    with promotion_lock(model_name, uri):
        current = tracking.get_alias_version(client, model_name, CHAMPION)
        tracking.set_alias(client, model_name, CHAMPION, version)
        tags = {PREVIOUS_TAG: current or "none", "veilflow.promoted_by": "manual"}
        if force_reason:
            tags["veilflow.forced_reason"] = force_reason
        tracking.set_version_tags(client, model_name, version, tags)
    return f"champion: {model_name} version {current} -> {version}"


def rollback(model_name: str, reason: str) -> str:
    """Move champion back to the version that held it before the current one, recording why."""
    client = tracking.make_client()
    uri = tracking.tracking_uri_of(client)
    with promotion_lock(model_name, uri):
        current = tracking.get_alias_version(client, model_name, CHAMPION)
        if current is None:
            raise PromotionRejected(f"{model_name} has no champion to roll back")
        previous = client.get_model_version(model_name, current).tags.get(PREVIOUS_TAG)
        if not previous or previous == "none":
            raise PromotionRejected(f"{model_name} version {current} has no previous champion to roll back to")
        tracking.set_alias(client, model_name, CHAMPION, previous)
        tracking.set_version_tags(
            client, model_name, current, {"veilflow.rolled_back": "true", "veilflow.rollback_reason": reason}
        )
        tracking.set_version_tags(client, model_name, previous, {"veilflow.restored_from": current})
    return f"champion: {model_name} version {current} -> {previous} (rollback: {reason})"


def status_rows(model_name: str) -> list[dict[str, Any]]:
    client = tracking.make_client()
    rows = []
    for mv in tracking.list_versions(client, model_name):
        rows.append(
            {
                "version": str(mv.version),
                "aliases": ",".join(sorted(mv.aliases)) if getattr(mv, "aliases", None) else "",
                "decision": mv.tags.get(DECISION_TAG, "-"),
                "failed_gates": mv.tags.get("veilflow.failed_gates", ""),
                "primary": mv.tags.get("veilflow.primary_metric_value", "-"),
                "run_id": mv.run_id,
            }
        )
    return rows


def format_status(model_name: str) -> str:
    rows = status_rows(model_name)
    if not rows:
        return f"{model_name}: no registered versions"
    header = f"{'version':>7}  {'aliases':<22} {'decision':<9} {'primary':<8} failed gates"
    lines = [f"model {model_name}", header]
    for r in rows:
        lines.append(f"{r['version']:>7}  {r['aliases']:<22} {r['decision']:<9} {r['primary']:<8} {r['failed_gates'] or '-'}")
    return "\n".join(lines)
