"""The partitioned raw-data step as a subflow whose task runner comes from `config.execution`.

`training` keeps its own (thread) runner for candidates; only this subflow runs on threads, a Dask
cluster or a Ray cluster. Its only parameter is the config: partitions are planned inside it and
each task reads its own partition, so no data is a flow parameter.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from veilflow.core.config import ExecutionConfig, PipelineConfig, resolve_path
from veilflow.core.errors import ConfigError
from veilflow.engines.secrets import resolve_key
from veilflow.flows import prefect_tasks as t
from veilflow.tasks.ops.partition_merge import MergedPartitions, MergedScoring, merge_partitions, merge_scored
from veilflow.tasks.ops.partitions import plan_file_partitions, plan_partitions


def _flow_api_url() -> str | None:
    """The Prefect API URL the running flow talks to (None outside a flow run).

    Local Dask workers are given it explicitly: with a temporary server (no PREFECT_API_URL) each
    worker would otherwise start a temporary server of its own, and an API set only in this process's
    settings (a profile override, a test harness) would not reach them at all."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    client = getattr(ctx, "client", None) if ctx is not None else None
    url = getattr(client, "api_url", None)
    return str(url) if url else None


# Dask's worker defaults suit numeric work; for veilflow's CPU-bound Python (Presidio + spaCy) two of
# them cost ~8% CPU per worker (measured on 6,000 rows: 12.66 s in a default worker, 11.93 s without
# these, 11.75 s in a plain process): the statistical profiler sampling the task thread every 10 ms,
# and MALLOC_TRIM_THRESHOLD_, which switches off glibc's dynamic mmap threshold. The one-thread BLAS
# settings Dask also sets before spawning stay. (A Dask nanny also leaves its pre-spawn variables in
# its parent's environment, so a process that started a default Dask cluster earlier hands
# MALLOC_TRIM_THRESHOLD_ down anyway; a flow run in its own process does not.)
LOCAL_WORKER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


def local_dask_cluster(**kwargs: Any) -> Any:
    """A `distributed.LocalCluster` whose workers start with `LOCAL_WORKER_CONFIG` (read while they spawn)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_WORKER_CONFIG):
        return LocalCluster(**kwargs)


def build_task_runner(execution: ExecutionConfig) -> Any:
    """The Prefect task runner named by the config.

    Raises:
        ConfigError: the runner's integration package is not installed.
    """
    if execution.runner == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=execution.workers)
    if execution.runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise ConfigError("execution.runner 'dask' needs prefect-dask: pip install 'veilflow[dask]'") from None
        if execution.address:
            return DaskTaskRunner(address=execution.address)
        # Processes, one thread each: anonymization is CPU-bound Python (the GIL).
        cluster_kwargs: dict[str, Any] = {
            "n_workers": execution.workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
        api_url = _flow_api_url()
        if api_url:
            # Workers report their task runs to the flow's own Prefect API.
            cluster_kwargs["env"] = {"PREFECT_API_URL": api_url}
        return DaskTaskRunner(cluster_class=local_dask_cluster, cluster_kwargs=cluster_kwargs)
    try:
        from prefect_ray import RayTaskRunner
    except ImportError:
        raise ConfigError("execution.runner 'ray' needs prefect-ray: pip install 'veilflow[ray]'") from None
    if execution.address:
        return RayTaskRunner(address=execution.address)
    return RayTaskRunner(init_kwargs={"num_cpus": execution.workers, "include_dashboard": False})


@flow(name="prepare-partitions", persist_result=False, log_prints=False)
def prepare_partitions(config: PipelineConfig, suppression_path: str | None = None) -> MergedPartitions:
    """Validate, anonymize and leak-check every partition (mapped tasks), then merge in partition order."""
    logger = get_run_logger()
    specs = plan_partitions(config)
    key = resolve_key(config.privacy.key_env, config.privacy.key_block) if config.dataset.pii_policy else None
    salt = secrets.token_hex(8)  # keys the uniqueness hashes for this run only
    futures = [
        t.process_partition.with_options(task_run_name=f"partition-{s.index}").submit(s, config, key, salt, suppression_path)
        for s in specs
    ]
    outputs = [f.result() for f in futures]
    merged = merge_partitions(outputs, specs, config)
    logger.info(
        "%d partition(s) on %s: %d rows x %d columns", merged.partitions, config.execution.runner, merged.rows, merged.columns
    )
    return merged


def run_partitioned(config: PipelineConfig, suppression_path: str | None = None) -> tuple[MergedPartitions, float]:
    """Run `prepare_partitions` on the configured runner; returns the merged result and its wall seconds."""
    started = time.perf_counter()
    merged = prepare_partitions.with_options(task_runner=build_task_runner(config.execution))(config, suppression_path)
    return merged, time.perf_counter() - started


@flow(name="score-partitions", persist_result=False, log_prints=False)
def score_partitions(
    input_path: str,
    model_name: str,
    version: str,
    top_k: int,
    execution: ExecutionConfig,
    require_same_code: bool = False,
    allow_unverified_code: bool = False,
) -> MergedScoring:
    """Read, validate, anonymize and score every partition of a batch (mapped tasks), then merge in order.

    Parameters are names only (a path, a model version, the runner's config): the subflow loads the
    version itself (verified again, before loading) and each task reads its own partition, so neither
    a fitted model nor a raw row is a flow parameter recorded by Prefect.
    """
    from veilflow.engines import tracking
    from veilflow.tasks.ops.scoring import load_champion_version

    logger = get_run_logger()
    champion = load_champion_version(
        tracking.make_client(),
        model_name,
        version,
        require_same_code=require_same_code,
        allow_unverified_code=allow_unverified_code,
    )
    pipe = champion.pipeline_config
    if execution.partition_rows is None:
        raise ConfigError("execution.partition_rows is null: partitioning is off")
    specs = plan_file_partitions(resolve_path(input_path, Path.cwd()), execution.partition_rows, pipe.dataset.max_bytes)
    key = resolve_key(pipe.privacy.key_env, pipe.privacy.key_block) if pipe.dataset.pii_policy else None
    salt = secrets.token_hex(8)
    futures = [
        t.score_partition.with_options(task_run_name=f"score-partition-{s.index}").submit(s, champion, key, salt, top_k)
        for s in specs
    ]
    merged = merge_scored([f.result() for f in futures], specs, champion)
    logger.info(
        "%d batch partition(s) on %s: %d rows, %d scored before cross-partition checks",
        merged.partitions,
        execution.runner,
        len(merged.anonymized),
        len(merged.predictions),
    )
    return merged


def run_partitioned_scoring(
    input_path: Path,
    champion: Any,
    execution: ExecutionConfig,
    top_k: int,
    *,
    require_same_code: bool = False,
    allow_unverified_code: bool = False,
) -> tuple[MergedScoring, float]:
    """Run `score_partitions` for `champion`'s version on the configured runner; returns the merged result and its wall seconds."""
    started = time.perf_counter()
    merged = score_partitions.with_options(task_runner=build_task_runner(execution))(
        str(input_path),
        champion.model_name,
        champion.version,
        top_k,
        execution,
        require_same_code=require_same_code,
        allow_unverified_code=allow_unverified_code,
    )
    return merged, time.perf_counter() - started
