"""Custom Presidio recognizers and post-processing that raise veilflow's PII detection quality."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult

# Default Presidio recognizers (by class name) that misfire for a US locale.
RECOGNIZERS_TO_REMOVE: tuple[str, ...] = ()


def build_custom_recognizers(locale: str = "US") -> list[EntityRecognizer]:
    """Build veilflow's custom recognizers (work in progress: none yet)."""
    return []


def merge_adjacent_spans(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Post-process analyzer results (work in progress: identity)."""
    return list(results)
