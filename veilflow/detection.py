"""The public PII detection API: `veilflow.detect(texts, policy=None, column=None, analyzer=None)`.

It runs exactly the detection the flow's redaction runs (`veilflow.tasks.privacy.detection.detect_spans`:
the same recognizers, post-processing, evidence rules and column-level category evidence), so a
measurement of "the detector" is a measurement of what the flow does. Importing this module imports
neither Presidio nor spaCy; the default analyzer is built on first use and then reused.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veilflow.core.errors import ConfigError
from veilflow.tasks.privacy.detection import Span, detect_spans
from veilflow.tasks.privacy.policy import DEFAULT_CATEGORY_MIN_ROWS, DEFAULT_TEXT_ENTITIES, PiiPolicy, TextRule, load_policy

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

__all__ = ["Span", "default_analyzer", "detect"]


@functools.cache
def default_analyzer() -> AnalyzerEngine:
    """The analyzer `detect` uses when none is given: `engines.presidio.build_analyzer()` (the installed small
    spaCy model, veilflow's recognizers), built once per process."""
    from veilflow.engines.presidio import build_analyzer

    return build_analyzer()


def _rule(policy: PiiPolicy | str | Path | None, column: str | None) -> TextRule:
    if policy is None:
        return TextRule(entities=list(DEFAULT_TEXT_ENTITIES), category_min_rows=DEFAULT_CATEGORY_MIN_ROWS)
    if not isinstance(policy, PiiPolicy):
        policy = load_policy(policy)
    if column is None:
        if len(policy.text_columns) == 1:
            return next(iter(policy.text_columns.values()))
        raise ConfigError(
            f"PII policy '{policy.dataset}' has {len(policy.text_columns)} text columns: pass column= to choose one"
        )
    if column not in policy.text_columns:
        raise ConfigError(f"PII policy '{policy.dataset}' has no text column '{column}'")
    return policy.text_columns[column]


def _as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def detect(
    texts: str | Iterable[Any],
    policy: PiiPolicy | str | Path | None = None,
    column: str | None = None,
    analyzer: AnalyzerEngine | None = None,
    batch_size: int = 256,
    n_process: int = 1,
) -> list[list[Span]]:
    """Find PII spans in free text, the way `anonymize_frame` does.

    Args:
        texts: one text or the cells of one text column, in order (None / NaN count as empty). The
            texts are treated as one column: a cell repeated verbatim in many rows is a category
            (`TextRule.category_min_rows`), as in the flow.
        policy: a `PiiPolicy` or a policy file; its text rule for `column` gives the entities, the
            score threshold and the category rule. None: `policy.DEFAULT_TEXT_ENTITIES`, threshold 0.4.
        column: the policy's text column (may be left out when the policy has exactly one).
        analyzer: a Presidio analyzer from `veilflow.engines.presidio.build_analyzer`; None builds (once)
            the default one.
        batch_size: texts per spaCy batch.
        n_process: forked worker processes.

    Returns:
        For each text, its spans (`Span(start, end, entity, score, recognizer)`), sorted by start.
        Overlapping spans are all reported; `anonymize_frame` merges them when it replaces text.

    Raises:
        ConfigError: the policy cannot be read, or names no such text column.
    """
    items = [texts] if isinstance(texts, str) else [_as_text(t) for t in texts]
    rule = _rule(policy, column)
    engine = analyzer if analyzer is not None else default_analyzer()
    return detect_spans(
        items,
        engine,
        rule.entities,
        rule.score_threshold,
        batch_size,
        n_process,
        category_min_rows=rule.category_min_rows,
    )
