"""Where a run's code and inputs came from: the git commit, whether the tree was dirty, and a digest of every file the run read."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from veilflow.core.paths import package_dir, project_root


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_root() -> Path | None:
    """The git checkout veilflow's own code runs from, or None for an installed package.

    Read from the package's location, never from the project folder: a user's project may be a git repository
    of its own, whose commit says nothing about the code that trained a model. The package folder counts as a
    checkout only when git tracks its files (a virtual environment inside a user's repository is not one).
    """
    base = package_dir()
    if _git(base, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    top = _git(base, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def code_version(root: Path | None = None) -> dict[str, str]:
    """{"commit": ..., "dirty": "true"/"false"/"unknown"} of veilflow's own code, never raising.

    In a checkout (`root`, default `code_root()`): the git commit, and whether tracked files are modified.
    An installed package has no commit: its version is `veilflow-<version>+<source digest>` (the digest covers
    every source file, so two installs with the same version string but different code differ), never dirty.
    """
    cwd = root or code_root()
    commit = _git(cwd, "rev-parse", "HEAD") if cwd is not None else None
    if commit is None and root is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("veilflow")
        except PackageNotFoundError:
            installed = "0"
        return {"commit": f"veilflow-{installed}+{source_digest()[:16]}", "dirty": "false"}
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no") if cwd is not None else None
    return {
        "commit": commit or "unknown",
        "dirty": "unknown" if status is None else str(bool(status)).lower(),
    }


def source_digest(root: Path | None = None) -> str:
    """sha256 of veilflow's own Python sources: a code version that also sees uncommitted edits.

    Used in cache keys, so a resumed run never reuses a result computed by different code.
    """
    import hashlib
    import os

    base = root or package_dir()
    digest = hashlib.sha256()
    files: list[Path] = []
    # followlinks: `veilflow/tasks` and `veilflow/flows` are links to the top-level folders in a checkout.
    for folder, _dirs, names in os.walk(base, followlinks=True):
        files.extend(Path(folder) / n for n in names if n.endswith(".py"))
    for path in sorted(files, key=lambda p: p.relative_to(base).as_posix()):
        digest.update(path.relative_to(base).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_known_commit(commit: str, root: Path | None = None) -> bool:
    """True when `commit` is the running HEAD or one of its ancestors in this repository (git), never raising."""
    if not commit or commit == "unknown" or not all(c in "0123456789abcdef" for c in commit.lower()):
        return False
    try:
        out = subprocess.run(
            ["git", "merge-base", "--is-ancestor", commit, "HEAD"],
            cwd=root or code_root() or project_root(),
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


# Set by `veilflow train` to the config file it read, for the run's provenance (a deployment's parameters have none).
CONFIG_FILE_ENV = "VEILFLOW_CONFIG_FILE"

# Roles whose file, when not committed as read, makes the run irreproducible from its commit. The data file is
# the exception: data is usually kept out of git, so only a modified or untracked (not ignored) one counts.
_DIRTY = {"modified", "untracked", "ignored", "outside"}
_DIRTY_DATA = {"modified", "untracked"}


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _git_status(paths: list[Path], root: Path) -> tuple[Path | None, dict[Path, str]]:
    """(repository top level, path -> "clean" | "modified" | "untracked" | "ignored" | "outside"); (None, {}) without git."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None, {}
    if top.returncode != 0:
        return None, {}
    repo = Path(top.stdout.strip()).resolve()
    status: dict[Path, str] = {}
    inside = []
    for p in paths:
        try:
            p.resolve().relative_to(repo)
        except ValueError:
            status[p] = "outside"
            continue
        inside.append(p)
    if inside:
        rel = [str(p.resolve().relative_to(repo)) for p in inside]
        try:
            out = subprocess.run(
                ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching", "--", *rel],
                cwd=repo,
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None, {}
        if out.returncode != 0:
            return None, {}
        seen: dict[str, str] = {}
        for entry in out.stdout.split("\0"):
            if len(entry) < 4:
                continue
            code, name = entry[:2], entry[3:]
            seen[name] = {"??": "untracked", "!!": "ignored"}.get(code, "modified")
        for p, r in zip(inside, rel):
            # An ignored folder is reported once, as "folder/": its files share its state.
            folder = next((state for name, state in seen.items() if name.endswith("/") and r.startswith(name)), "clean")
            status[p] = seen.get(r, folder)
    return repo, status


def inputs_provenance(files: Mapping[str, Path | None], root: Path | None = None) -> dict[str, Any]:
    """A digest and the git state of each file a run read, and how many of them are not committed as read.

    Args:
        files: role (config, pii_policy, raw_suite, anonymized_suite, data) -> path; None or a missing file is skipped.
        root: the project root (paths are recorded relative to it when inside it).

    Returns:
        {"files": {role: {"path", "sha256", "git"}}, "dirty_inputs": n, "git": "available" | "unavailable"}. A file
        is dirty when modified or untracked in the repository, ignored by it, or outside it (the data file: only
        modified or untracked). Paths are not personal data; no file content is recorded.
    """
    base = (root or project_root()).resolve()
    present = {role: p for role, p in files.items() if p is not None and Path(p).is_file()}
    repo, status = _git_status([Path(p) for p in present.values()], base)
    out: dict[str, Any] = {}
    dirty = 0
    for role, p in present.items():
        path = Path(p).resolve()
        try:
            shown = str(path.relative_to(base))
        except ValueError:
            shown = str(path)
        state = status.get(Path(p), "unknown")
        if state in (_DIRTY_DATA if role == "data" else _DIRTY):
            dirty += 1
        out[role] = {"path": shown, "sha256": file_digest(path), "git": state}
    return {"files": out, "dirty_inputs": dirty, "git": "available" if repo is not None else "unavailable"}


def run_provenance_tags(code: Mapping[str, str], inputs: Mapping[str, Any]) -> dict[str, str]:
    """The run tags: `veilflow.git_dirty` (code or any input not committed as read), the count of dirty inputs,
    the code tree's own state, and `veilflow.input_digest.<role>` per file read."""
    dirty_inputs = int(inputs.get("dirty_inputs", 0))
    code_dirty = code.get("dirty", "unknown")
    if code_dirty == "true" or dirty_inputs:
        overall = "true"
    elif code_dirty == "unknown" or inputs.get("git") != "available":
        overall = "unknown"
    else:
        overall = "false"
    tags = {"veilflow.git_dirty": overall, "veilflow.git_dirty_inputs": str(dirty_inputs), "veilflow.git_dirty_code": code_dirty}
    for role, entry in inputs.get("files", {}).items():
        tags[f"veilflow.input_digest.{role}"] = str(entry["sha256"])
    return tags
