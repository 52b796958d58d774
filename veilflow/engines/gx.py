"""The Great Expectations engine: an in-memory data context with veilflow's pandas data source and expectations."""

from __future__ import annotations

from typing import Any

from veilflow.tasks.data.validation import batch_definition, register_veilflow_expectations


def build_gx_context() -> Any:
    """Build an in-memory GX context with veilflow's pandas data source; it never reads or writes a `gx/` folder.

    Returns:
        An `EphemeralDataContext` with analytics and progress bars off, ready for `validate_frame`.
    """
    import great_expectations as gx
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    register_veilflow_expectations()
    # GX fingerprints every pandas batch it builds (pandas hash + md5 of the whole frame, twice per
    # `validate`: ~40% of a suite's time on 1M rows) unless the frame is over HASH_THRESHOLD bytes.
    # The fingerprint only labels the batch; veilflow fingerprints its data itself (`fingerprint_frame`).
    if hasattr(pandas_engine, "HASH_THRESHOLD"):
        pandas_engine.HASH_THRESHOLD = 0
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    # An explicit mode: with no mode GX silently adopts any gx/ folder in the cwd or its parents.
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch_definition(context)
    return context
