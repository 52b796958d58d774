"""Where veilflow keeps privacy state outside MLflow: the forget log and the suppression list (env-configurable)."""

from __future__ import annotations

import os
from pathlib import Path

from veilflow.core.paths import project_root


def state_dir() -> Path:
    """`VEILFLOW_STATE_DIR`, default `<project>/.veilflow` (ignored by git)."""
    return Path(os.environ.get("VEILFLOW_STATE_DIR") or project_root() / ".veilflow")


def forget_log_path() -> Path:
    """The append-only erasure log: `VEILFLOW_FORGET_LOG`, default `<state dir>/forget-log.jsonl`."""
    return Path(os.environ.get("VEILFLOW_FORGET_LOG") or state_dir() / "forget-log.jsonl")


def suppression_list_path() -> Path:
    """Pseudonyms every load step drops: `VEILFLOW_SUPPRESSION_LIST`, default `<state dir>/suppression.json`."""
    return Path(os.environ.get("VEILFLOW_SUPPRESSION_LIST") or state_dir() / "suppression.json")
