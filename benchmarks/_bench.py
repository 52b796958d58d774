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
    from veilflow.core.runtime import configure_environment

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


class TreeMemory:
    """Peak summed resident memory of this process and all its descendants, sampled every `interval` s.

    `ru_maxrss` sees one process at a time; with Dask or Ray workers, forked analyzer pools or the
    ephemeral Prefect server the footprint is their sum, so it is sampled (psutil, a dependency of
    dask.distributed and Prefect's server)."""

    def __init__(self, interval: float = 0.5) -> None:
        import threading

        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)

    def _sample(self) -> int:
        import psutil

        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())

    @property
    def peak_gb(self) -> float:
        return self.peak_bytes / 1024**3
