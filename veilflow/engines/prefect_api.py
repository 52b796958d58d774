"""The one place that calls Prefect's client and runtime APIs outside flows: concurrency limits and run identity."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def ensure_concurrency_limit(name: str, limit: int = 1) -> None:
    """Create the global concurrency limit `name` on the Prefect API unless it exists (a race is fine)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except Exception:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
            except Exception:
                client.read_global_concurrency_limit_by_name(name)  # created concurrently: fine


@contextmanager
def occupy_concurrency_slot(name: str, timeout_s: float) -> Iterator[None]:
    """Hold one slot of the global concurrency limit `name` (created with limit 1 if missing)."""
    from prefect.concurrency.sync import concurrency

    ensure_concurrency_limit(name)
    with concurrency(name, occupy=1, timeout_seconds=timeout_s, strict=True):
        yield


def current_flow_run() -> tuple[str, str]:
    """(id, name) of the Prefect flow run this code runs in; ("", "") outside a flow run."""
    from prefect.runtime import flow_run

    return str(flow_run.id or ""), str(flow_run.name or "")
