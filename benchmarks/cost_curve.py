"""Cost curve: the whole training flow at 10k, 100k and 1M rows — wall time per step and peak memory.

Each size runs in its own child process (so its peak memory is its own), one after the other, in
one invocation; the table and `results/cost_curve.md` are rewritten after every size, so a run
stopped during 1M rows still leaves the smaller sizes. Per-step times are the Prefect task runs'
own run times, read back from the Prefect API; "flow, outside tasks" is the rest (MLflow calls made
by the flow itself, dataset logging, the leak scan set-up, the summary).

Targets (2-core, 24 GB machine): 1M rows completes; peak memory < 8 GB; t(1M)/t(100k) <= 11.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import (
    TEMP_PREFIX,
    TreeMemory,
    command_line,
    header,
    isolated_environment,
    md_table,
    parser,
    peak_rss_gb,
    repo_root,
    write_report,
)


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        k, v = pair.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def run_one(rows: int, sets: list[str], out: Path) -> None:
    """Child: one training flow at `rows` rows; writes a JSON line of timings and peak memory."""
    isolated_environment(f"cost-{rows}")
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter

    from veilflow.core.config import load_config
    from veilflow.flows.training import training

    @flow(name="warm-up")
    def warm_up() -> None:  # starts the temporary Prefect server outside the timed call
        return None

    warm_up()
    from veilflow.engines import tracking

    tracking.make_client().search_experiments()  # creates the fresh MLflow store (migrations) outside the timing
    config = load_config(repo_root() / "benchmarks/configs/customers-min.yaml", {"dataset.n_rows": rows, **_overrides(sets)})
    with TreeMemory() as tree:
        started = time.perf_counter()
        state = training(config, return_state=True)
        wall = time.perf_counter() - started
    steps: dict[str, float] = {}  # the training flow's own task runs (a subflow counts as one, its wall time)
    inner: dict[str, float] = {}  # task runs inside subflows (prepare-partitions), summed over parallel workers
    with get_client(sync_client=True) as client:
        flow_run_id = state.state_details.flow_run_id
        subs = [
            sub.id for sub in client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id={"any_": [flow_run_id]}))
        ]
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [flow_run_id, *subs]}))
        for tr in task_runs:
            name = re.sub(r"-[0-9a-f]{3}$", "", tr.name)  # Prefect's default task run names end in a short id
            name = "train-candidate" if name.startswith("train-") else name
            name = "process-partition" if name.startswith("partition-") else name
            name = re.sub(r"^(prepare-partitions)-\d+$", r"\1 (subflow)", name)
            bucket = steps if tr.flow_run_id == flow_run_id else inner
            bucket[name] = bucket.get(name, 0.0) + tr.total_run_time.total_seconds()
        flow_total = client.read_flow_run(flow_run_id).total_run_time.total_seconds()
    result = {
        "rows": rows,
        "state": state.name,
        "wall_s": round(wall, 2),
        "flow_run_s": round(flow_total, 2),
        "steps": {k: round(v, 2) for k, v in sorted(steps.items(), key=lambda kv: -kv[1])},
        "inner": {k: round(v, 2) for k, v in sorted(inner.items(), key=lambda kv: -kv[1])},
        "peak_rss_gb": round(peak_rss_gb(), 3),
        "peak_tree_gb": round(tree.peak_gb, 3),
        "message": (state.message or "")[:200] if not state.is_completed() else "",
    }
    out.write_text(json.dumps(result))


def render(results: list[dict], command: str, pending: list[int]) -> str:
    names: list[str] = []
    for r in results:
        for k in r.get("steps", {}):
            if k not in names:
                names.append(k)
    inner_names: list[str] = []
    for r in results:
        for k in r.get("inner", {}):
            if k not in inner_names:
                inner_names.append(k)
    rows = []
    for r in results:
        row = {
            "rows": f"{r['rows']:,}",
            "state": r["state"],
            "wall s": r["wall_s"],
            "peak GB": r["peak_rss_gb"],
            "peak GB, all processes": r.get("peak_tree_gb", ""),
        }
        outside = r["wall_s"] - sum(r["steps"].values())
        for n in names:
            row[n] = r["steps"].get(n, "")
        for n in inner_names:
            row[f"in subflow: {n}"] = r.get("inner", {}).get(n, "")
        row["flow, outside tasks"] = round(outside, 1)
        rows.append(row)
    cols = [
        "rows",
        "state",
        "wall s",
        "peak GB",
        "peak GB, all processes",
        *names,
        *(f"in subflow: {n}" for n in inner_names),
        "flow, outside tasks",
    ]
    lines = ["# Cost curve: the training flow from 10k to 1M rows", "", header(command), "", md_table(rows, cols), ""]
    if inner_names:
        lines += [
            "Step columns are seconds of the training flow's own task runs (a subflow counts once, its wall time); "
            "`in subflow:` columns are the subflow's task runs summed over parallel workers, so they can exceed its wall time.",
            "",
        ]
    by = {r["rows"]: r for r in results if r["state"] in ("Completed", "Rejected")}
    checks = []
    if 1_000_000 in by:
        checks.append(f"- 1M rows completes: PASS ({by[1_000_000]['state']}, {by[1_000_000]['wall_s']} s)")
    else:
        checks.append("- 1M rows completes: NOT MEASURED in this run" + (f" (still pending: {pending})" if pending else ""))
    peak = max((max(r["peak_rss_gb"], r.get("peak_tree_gb", 0.0)) for r in results), default=0.0)
    checks.append(
        f"- peak memory < 8 GB: {'PASS' if peak < 8 else 'FAIL'} (max {peak:.2f} GB over the sizes run, "
        "the larger of the flow process's own peak and the sampled sum over all its processes)"
    )
    if 1_000_000 in by and 100_000 in by:
        ratio = by[1_000_000]["wall_s"] / by[100_000]["wall_s"]
        checks.append(f"- t(1M)/t(100k) <= 11: {'PASS' if ratio <= 11 else 'FAIL'} ({ratio:.2f})")
    if 100_000 in by and 10_000 in by:
        checks.append(f"- t(100k)/t(10k): {by[100_000]['wall_s'] / by[10_000]['wall_s']:.2f} (fixed costs dominate at 10k)")
    lines += ["Checks:", "", *checks, ""]
    failed = [r for r in results if r["state"] not in ("Completed", "Rejected")]
    for r in failed:
        lines.append(f"- {r['rows']:,} rows ended {r['state']}: {r.get('message', '')}")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = parser(__file__, __doc__.splitlines()[0])
    p.add_argument("--rows", default="10000,100000,1000000", help="comma-separated sizes")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for every size")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        run_one(args.one, args.set, args.json)
        return 0
    sizes = [int(x) for x in args.rows.split(",")]
    command = command_line(__file__)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "cost-") as tmp:
        for i, n in enumerate(sizes):
            out = Path(tmp) / f"cost-{n}.json"
            cmd = [
                sys.executable,
                __file__,
                "--one",
                str(n),
                "--json",
                str(out),
                *(part for s in args.set for part in ("--set", s)),
            ]
            started = time.perf_counter()
            proc = subprocess.run(cmd, cwd=repo_root(), capture_output=True, text=True)
            if proc.returncode != 0 or not out.exists():
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                results.append(
                    {
                        "rows": n,
                        "state": f"error rc={proc.returncode}",
                        "wall_s": round(time.perf_counter() - started, 1),
                        "flow_run_s": 0,
                        "steps": {},
                        "peak_rss_gb": 0.0,
                        "peak_tree_gb": 0.0,
                        "message": tail[0][:200],
                    }
                )
            else:
                results.append(json.loads(out.read_text()))
            write_report(args.out, render(results, command, sizes[i + 1 :]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
