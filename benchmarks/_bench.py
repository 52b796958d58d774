"""Shared set-up for the benchmarks: paths, arguments, reports, and an isolated Prefect/MLflow environment.

Running: `python benchmarks/<script>.py [--help]` from any folder. Python puts a script's own folder first
on `sys.path`, so the scripts `import _bench` (this file) with no path edits; everything else they import is
the installed package (`veilflow...`, an editable install in `.venv`).

Paths, one rule: the repository root is `VEILFLOW_ROOT` when it is set (`veilflow.core.paths.project_root()`),
else the checkout this file lies in (`Path(__file__).resolve().parents[1]`): see `repo_root()`.

- Every file a benchmark reads (data set, config, suite, PII policy) is a command-line argument whose default
  is relative to that root, e.g. the shared PII set `../shared/data/pii/presidio_research_synth_dataset_v2.json`
  (the `shared/` folder beside the checkout, as CI lays it out). A path given on the command line is used as
  given (a relative one from the working directory). A missing file stops the script with one line naming the
  path and the argument to pass, exit code 2 (`require_file`).
- Reports (what a user reads) go to `benchmarks/results/<script>.md` (`--out`).
- Temporaries (Prefect home, MLflow store, Parquet files, child results) go under fresh `tempfile` folders
  named `veilflow-bench-*` (removed when the process exits), never a fixed path.
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import resource
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from veilflow.core.paths import ROOT_ENV, project_root

BENCHMARKS = Path(__file__).resolve().parent
RESULTS = BENCHMARKS / "results"
TEMP_PREFIX = "veilflow-bench-"
# A fixed, non-secret benchmark key: pseudonyms here protect nothing and must be reproducible.
BENCH_KEY = "veilflow-benchmark-key-not-a-secret"
# Defaults of the data-path arguments, relative to the repository root.
PII_POLICY = "expectations/policies/customers.pii.yaml"
RAW_SUITE = "expectations/customers.raw.json"
CUSTOMERS_CONFIG = "deploy/configs/customers.yaml"
PII_DATASET = "../shared/data/pii/presidio_research_synth_dataset_v2.json"


def repo_root() -> Path:
    """The repository root: `VEILFLOW_ROOT` when set, else the checkout holding `benchmarks/`."""
    return project_root() if os.environ.get(ROOT_ENV) else Path(__file__).resolve().parents[1]


def from_root(relative: str | Path) -> Path:
    """`relative` resolved from the repository root (an absolute path is returned as it is)."""
    return Path(os.path.normpath(repo_root() / relative))


def parser(script: str, description: str | None) -> argparse.ArgumentParser:
    """An argument parser with the `--out` every benchmark has: `benchmarks/results/<script name>.md`."""
    p = argparse.ArgumentParser(description=description)
    name = Path(script).stem
    p.add_argument(
        "--out",
        type=Path,
        default=RESULTS / f"{name}.md",
        metavar="PATH",
        help=f"markdown report (default: benchmarks/results/{name}.md)",
    )
    return p


def add_path_argument(p: argparse.ArgumentParser, flag: str, relative: str, what: str) -> None:
    """A file argument whose default is `relative`, taken from the repository root (see the module docstring)."""
    p.add_argument(
        flag,
        type=Path,
        default=from_root(relative),
        metavar="PATH",
        help=f"{what} (default: {relative}, from the repository root {repo_root()})",
    )


def require_file(path: Path, flag: str) -> Path:
    """`path`, made absolute, if it is a file; else one line on stderr naming it and the argument to pass, exit code 2."""
    if not path.is_file():
        print(f"{Path(sys.argv[0]).name}: error: file not found: {path.absolute()} (pass {flag} PATH)", file=sys.stderr)
        raise SystemExit(2)
    return path.resolve()


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """How to reproduce this run, from the repository root."""
    args = list(argv) if argv is not None else sys.argv[1:]
    return " ".join(["python", f"benchmarks/{Path(script).name}", *(shlex.quote(a) for a in args)])


def write_report(path: Path, text: str, echo: bool = True) -> None:
    """Write a markdown report (creating its folder) and print it (unless `echo` is false)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if echo:
        print(text, flush=True)
    print(f"wrote {path}", flush=True)


def temp_dir(name: str) -> Path:
    """A fresh `veilflow-bench-<name>-*` folder under the system temp folder, removed when the process exits."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return tmp


def isolated_environment(prefix: str) -> Path:
    """Point Prefect, MLflow and veilflow's state at a fresh temporary folder (call before importing them).

    Relative paths in configs (suites, policies) resolve from the repository root whatever the working
    directory (`VEILFLOW_ROOT`, unless already set)."""
    tmp = temp_dir(prefix)
    os.environ["PREFECT_HOME"] = str(tmp / "prefect-home")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["VEILFLOW_ARTIFACT_ROOT"] = (tmp / "artifacts").as_uri()
    os.environ["VEILFLOW_STATE_DIR"] = str(tmp / "state")
    os.environ.setdefault("VEILFLOW_PII_KEY", BENCH_KEY)
    os.environ.setdefault(ROOT_ENV, str(repo_root()))
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
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
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
