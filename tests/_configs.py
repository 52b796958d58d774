"""Config files the tests share."""

from pathlib import Path

# The demo dataset with the library's defaults elsewhere (see the file's header).
DEFAULTS = Path(__file__).resolve().parent / "configs" / "defaults.yaml"
