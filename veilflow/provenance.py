"""Where a run's code came from: the git commit and whether the tree was dirty."""

from __future__ import annotations

import subprocess
from pathlib import Path

from veilflow.config import PROJECT_ROOT


def code_version(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """{"commit": sha or "unknown", "dirty": "true"/"false"/"unknown"} read with git, never raising."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit or "unknown",
        "dirty": "unknown" if status is None else str(bool(status)).lower(),
    }


_SOURCE_DIRS = ("veilflow", "tasks", "flows")


def source_digest(root: Path = PROJECT_ROOT) -> str:
    """sha256 of veilflow's own Python sources: a code version that also sees uncommitted edits.

    Used in cache keys, so a resumed run never reuses a result computed by different code.
    """
    import hashlib

    digest = hashlib.sha256()
    for folder in _SOURCE_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def is_known_commit(commit: str, root: Path = PROJECT_ROOT) -> bool:
    """True when `commit` is the running HEAD or one of its ancestors in this repository (git), never raising."""
    if not commit or commit == "unknown" or not all(c in "0123456789abcdef" for c in commit.lower()):
        return False
    try:
        out = subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=root, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0
