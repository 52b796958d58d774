"""Where veilflow finds the project: `VEILFLOW_ROOT` or the working directory, then the contracts shipped in the package."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

ROOT_ENV = "VEILFLOW_ROOT"


def project_root() -> Path:
    """The project folder: `VEILFLOW_ROOT` when set, else the current working directory.

    Relative paths in configs (suites, policies, data files), the embedded MLflow store (`mlruns/`),
    Prefect's home (`.prefect/`) and the privacy state (`.veilflow/`) all live under it.
    """
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser().resolve() if env else Path.cwd().resolve()


def package_data(relative: Path | str) -> Path:
    """A file shipped inside the installed package (the demo's configs, suites and policies)."""
    return Path(str(files("veilflow") / "_data" / Path(relative)))


def package_dir() -> Path:
    """The folder of the installed `veilflow` package (its own sources, for a code digest)."""
    return Path(str(files("veilflow")))


def resolve_path(path: Path | str, base: Path | None = None) -> Path:
    """Absolute path for a config entry.

    A relative path is taken from `base` (default: the project root). When nothing exists there but the
    package ships a file under the same relative path (`expectations/...`, `deploy/...`), that file is
    used: a wheel installed outside a checkout still finds the demo's data contracts.
    """
    p = Path(path)
    if p.is_absolute():
        return p
    candidate = (base or project_root()) / p
    if candidate.exists():
        return candidate
    shipped = package_data(p)
    return shipped if shipped.exists() else candidate
