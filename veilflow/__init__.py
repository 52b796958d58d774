"""veilflow: train models on data that contains personal information, safely and reproducibly.

`veilflow.detect(texts, policy=None, column=None, analyzer=None)` is the public PII detection API (see
`veilflow.detection`); it is imported on first use, so `import veilflow` stays cheap (no Presidio, no spaCy).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Span", "__version__", "detect"]


def __getattr__(name: str) -> Any:
    if name in ("detect", "Span"):
        from veilflow import detection

        return getattr(detection, name)
    raise AttributeError(f"module 'veilflow' has no attribute {name!r}")
