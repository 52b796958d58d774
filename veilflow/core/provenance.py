"""Where a run's code came from: the git commit and whether the tree was dirty."""

from __future__ import annotations

import subprocess
from pathlib import Path

from veilflow.core.paths import package_dir, project_root


def code_version(root: Path | None = None) -> dict[str, str]:
    """{"commit": sha or "unknown", "dirty": "true"/"false"/"unknown"} read with git, never raising."""
    cwd = root or project_root()

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
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
            ["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=root or project_root(), capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0
