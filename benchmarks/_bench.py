"""Shared set-up for the scale benchmarks: a private Prefect home and MLflow store, offline defaults, a fixed key."""

from __future__ import annotations

import os
import platform
import resource
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# A fixed, non-secret benchmark key: pseudonyms here protect nothing and must be reproducible.
BENCH_KEY = "veilflow-benchmark-key-not-a-secret"


def isolated_environment(prefix: str) -> Path:
    """Point Prefect, MLflow and veilflow's state at a fresh temporary folder (call before importing them)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"veilflow-{prefix}-"))
    os.environ["PREFECT_HOME"] = str(tmp / "prefect-home")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["VEILFLOW_ARTIFACT_ROOT"] = (tmp / "artifacts").as_uri()
    os.environ["VEILFLOW_STATE_DIR"] = str(tmp / "state")
    os.environ.setdefault("VEILFLOW_PII_KEY", BENCH_KEY)
    sys.path.insert(0, str(ROOT))
    from veilflow.runtime import configure_environment

    configure_environment()
    return tmp


def peak_rss_gb(children: bool = True) -> float:
    """Peak resident memory of this process (plus its waited-for children) in GB (ru_maxrss is in KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if children:
        kib = max(kib, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return kib / 1024**2


def header(command: str) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Command: `{command}`  \n"
        f"Run: {now}, Python {platform.python_version()}, {os.cpu_count()} CPU cores shared with other jobs "
        "(compare ratios measured in the same run, not absolute times).\n"
    )


def md_table(rows: list[dict], columns: list[str]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    return "\n".join(out)
