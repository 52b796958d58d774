"""Shared helpers for the recognizer tables (imported by the test modules of this folder)."""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # no suffix-list download in tests


def found(recognizer, text: str, entity: str, threshold: float = 0.4) -> list[str]:
    """The texts of `recognizer`'s hits of `entity` at or above `threshold`, in order."""
    hits = recognizer.analyze(text, [entity], None)
    return sorted({text[r.start : r.end] for r in hits if r.entity_type == entity and r.score >= threshold}, key=text.find)
