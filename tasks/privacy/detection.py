"""PII detection in free text, as the flow runs it: `Span`, `detect_spans` (batched Presidio, gated recognizers,
post-processing, column-level category evidence). `veilflow.detect` and `redaction.anonymize_frame` both call it."""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from veilflow.core.progress import Progress
from veilflow.tasks.privacy.policy import DEFAULT_CATEGORY_MIN_ROWS, LANGUAGE

log = logging.getLogger(__name__)

_DIGIT = re.compile(r"\d")
_DIGIT_WORD = re.compile(r"(?i)\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b")


class Span(NamedTuple):
    """One detected PII span: character offsets into the text, entity type, score and the recognizer that found it."""

    start: int
    end: int
    entity: str
    score: float
    recognizer: str


# Necessary conditions for pattern recognizers to match (read from their regexes; veilflow's own in
# veilflow.tasks.privacy.recognizers need 7-15 phone digits, or digit words, and 12-19 card digits): a text
# that fails them cannot produce a hit, so the recognizer is not run on it. Thresholds sit at or below the
# real minimum.
_RECOGNIZER_GATES: dict[str, Callable[[str, int], bool]] = {
    "EmailRecognizer": lambda text, digits: "@" in text,
    "PhoneRecognizer": lambda text, digits: digits >= 5,
    "InternationalPhoneRecognizer": lambda text, digits: digits >= 3 or _DIGIT_WORD.search(text) is not None,
    "CreditCardRecognizer": lambda text, digits: digits >= 12,
    "LuhnCardRecognizer": lambda text, digits: digits >= 12,
    "UsSsnRecognizer": lambda text, digits: digits >= 9,
}

# Set in a forked worker by `_init_worker`: the analyzer is inherited through fork, never pickled.
_WORKER: dict[str, Any] = {}


def _entity_gates(analyzer: Any, entities: Sequence[str]) -> dict[str, Callable[[str, int], bool]]:
    """For each entity served only by gated pattern recognizers, a cheap test a text must pass to be searched."""
    gates: dict[str, Callable[[str, int], bool]] = {}
    recognizers = analyzer.registry.recognizers
    for entity in entities:
        serving = [r for r in recognizers if entity in r.supported_entities and r.supported_language == LANGUAGE]
        if serving and all(r.name in _RECOGNIZER_GATES for r in serving):
            gates[entity] = _any_gate([_RECOGNIZER_GATES[r.name] for r in serving])
    return gates


def _any_gate(tests: list[Callable[[str, int], bool]]) -> Callable[[str, int], bool]:
    """A gate that passes when any of `tests` does."""

    def gate(text: str, digits: int) -> bool:
        return any(t(text, digits) for t in tests)

    return gate


def _recognizer_name(result: Any) -> str:
    return str((result.recognition_metadata or {}).get("recognizer_name", ""))


def _analyze_chunk(
    texts: list[str],
    analyzer: Any,
    entities: list[str],
    threshold: float,
    batch_size: int,
    categories: frozenset[int],
    report: bool = True,
) -> list[list[Span]]:
    """Presidio on a batch of texts: spaCy runs through `nlp.pipe`, recognizers only where they can match.

    With `report`, a long call logs its progress (texts done, texts/s) every 10 s (`veilflow.core.progress`).
    """
    # Imports Presidio: only when texts are analyzed.
    from veilflow.tasks.privacy.recognizers import drop_category_cells, postprocess_results

    gates = _entity_gates(analyzer, entities)
    wanted = set(entities)
    out: list[list[Span]] = []
    batches = analyzer.nlp_engine.process_batch(texts, LANGUAGE, batch_size=batch_size, n_process=1)
    progress = Progress("PII detection in free text", len(texts), unit="texts") if report else None
    for i, (text, (_, artifacts)) in enumerate(zip(texts, batches)):
        if progress is not None and i % 64 == 0:
            progress.update(i)
        if gates:
            digits = len(_DIGIT.findall(text))
            ents = [e for e in entities if e not in gates or gates[e](text, digits)]
        else:
            ents = entities
        if not ents:  # Presidio reads an empty entity list as "all entities"
            out.append([])
            continue
        results = analyzer.analyze(
            text=text, language=LANGUAGE, entities=ents, score_threshold=threshold, nlp_artifacts=artifacts
        )
        results = postprocess_results(text, results)
        if i in categories:
            results = drop_category_cells(text, results)
        out.append(
            [Span(r.start, r.end, r.entity_type, float(r.score), _recognizer_name(r)) for r in results if r.entity_type in wanted]
        )
    return out


def _init_worker(analyzer: Any, entities: list[str], threshold: float, batch_size: int) -> None:
    _WORKER.update(analyzer=analyzer, entities=entities, threshold=threshold, batch_size=batch_size)


def _worker_analyze(part: tuple[list[str], frozenset[int]]) -> list[list[Span]]:
    w = _WORKER
    return _analyze_chunk(part[0], w["analyzer"], w["entities"], w["threshold"], w["batch_size"], part[1], report=False)


def category_cells(repeats: Sequence[int], min_rows: int | None) -> frozenset[int]:
    """Indexes of the distinct cells that repeat verbatim in at least `min_rows` rows (None or 0: none)."""
    if not min_rows:
        return frozenset()
    return frozenset(i for i, n in enumerate(repeats) if n >= min_rows)


def detect_spans(
    texts: Sequence[str],
    analyzer: Any,
    entities: Sequence[str],
    threshold: float = 0.4,
    batch_size: int = 256,
    n_process: int = 1,
    repeats: Sequence[int] | None = None,
    category_min_rows: int | None = DEFAULT_CATEGORY_MIN_ROWS,
) -> list[list[Span]]:
    """Detect PII spans in texts the way the flow does.

    Each distinct text is analyzed once: spaCy in batches, pattern recognizers only on texts that
    can match them, veilflow's post-processing (false-positive filters, evidence for PERSON and
    LOCATION, name propagation, address merging). The texts are a column: a cell that repeats
    verbatim in `category_min_rows` rows or more is a category, and a PERSON / LOCATION hit covering
    it whole is kept only with strong name evidence (`recognizers.drop_category_cells`).

    Args:
        texts: the cells of one text column (duplicates allowed; blank texts give no spans).
        analyzer: from `veilflow.engines.presidio.build_analyzer`.
        entities: entity types to report (those the analyzer does not support are ignored).
        threshold: minimum score.
        batch_size: texts per spaCy `nlp.pipe` batch.
        n_process: forked worker processes (1 = in process).
        repeats: when `texts` are already distinct, how many rows hold each (else counted from `texts`).
        category_min_rows: rows a cell must repeat in to count as a category (None or 0: never).

    Returns:
        One list of `Span` per input text, in order, sorted by start offset.
    """
    if batch_size < 1 or n_process < 1:
        raise ValueError(f"batch_size and n_process must be >= 1, got {batch_size} and {n_process}")
    supported = set(analyzer.get_supported_entities(LANGUAGE))
    ents = [e for e in dict.fromkeys(entities) if e in supported]
    if repeats is None:
        counts = Counter(texts)
        distinct = list(counts)
        reps = [counts[t] for t in distinct]
    else:
        if len(repeats) != len(texts):
            raise ValueError("repeats must have one count per text")
        distinct, reps = list(texts), list(repeats)
    keep = [i for i, t in enumerate(distinct) if t.strip()]
    todo = [distinct[i] for i in keep]
    cats = category_cells([reps[i] for i in keep], category_min_rows)
    found = _analyze_texts(todo, analyzer, ents, threshold, batch_size, n_process, cats) if ents else [[] for _ in todo]
    by_text: dict[str, list[Span]] = {t: [] for t in distinct}
    for text, spans in zip(todo, found):
        by_text[text] = sorted(spans, key=lambda s: (s.start, -s.end))
    if repeats is None:
        return [list(by_text[t]) for t in texts]
    return [list(by_text[t]) for t in distinct]


def _analyze_texts(
    texts: list[str],
    analyzer: Any,
    entities: list[str],
    threshold: float,
    batch_size: int,
    n_process: int,
    categories: frozenset[int] = frozenset(),
) -> list[list[Span]]:
    if n_process > 1 and len(texts) >= 2 * batch_size:
        if "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            bounds = np.linspace(0, len(texts), n_process + 1).astype(int)
            parts = [(texts[a:b], frozenset(i - a for i in categories if a <= i < b)) for a, b in itertools.pairwise(bounds)]
            with ctx.Pool(n_process, initializer=_init_worker, initargs=(analyzer, entities, threshold, batch_size)) as pool:
                results = pool.map(_worker_analyze, parts)
            return [spans for part in results for spans in part]
        log.warning("n_process=%d needs the 'fork' start method; analyzing in one process", n_process)
    return _analyze_chunk(texts, analyzer, entities, threshold, batch_size, categories)
