"""How much a word we have never listed looks like a person's name rather than a place: a character n-gram model.

A naive-Bayes model of character 2-, 3- and 4-grams (with word-boundary marks) over three classes built from the
word lists the recognizers already ship: names (given names and surnames of every locale that are not ordinary
English words), places (one-word place names) and ordinary English words. It generalises the lists to names
they do not hold ("Omondi", "Zikmund" look like names; "Schweinfurt" looks like a place). It is one piece of
evidence, used only together with context (no place preposition, a list of names, two rare words in a row), and
is built on first use from the lists (well under a second), so it adds no data file and no load time to a run
that never needs it.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

from veilflow.tasks.privacy.recognizers.word_lists import common_words, first_names, places, surnames

_SIZES = (2, 3, 4)
_ALPHA = 0.5  # additive smoothing


def _grams(word: str) -> list[str]:
    w = f"^{word}$"
    return [w[i : i + n] for n in _SIZES for i in range(len(w) - n + 1)]


@functools.cache
def _model() -> tuple[dict[str, Counter[str]], dict[str, float]]:
    words = common_words()
    classes = {
        "name": [w for w in first_names() | surnames() if w not in words],
        "place": [w for w in places() if " " not in w and w not in words],
        "word": list(words),
    }
    counts: dict[str, Counter[str]] = {}
    for label, entries in classes.items():
        c: Counter[str] = Counter()
        for entry in entries:
            c.update(_grams(entry))
        counts[label] = c
    vocabulary = len(set().union(*counts.values()))
    denominators = {label: math.log(sum(c.values()) + _ALPHA * vocabulary) for label, c in counts.items()}
    return counts, denominators


@functools.lru_cache(maxsize=65536)
def class_scores(word: str) -> dict[str, float]:
    """Mean per-n-gram log-likelihood of `word` (lower-cased) under each class: 'name', 'place', 'word'."""
    counts, denominators = _model()
    grams = _grams(word.lower())
    return {label: sum(math.log(c[g] + _ALPHA) for g in grams) / len(grams) - denominators[label] for label, c in counts.items()}


def name_over_place(word: str) -> float:
    """Log-likelihood margin of 'name' over 'place' for one word (> 0: looks more like a name)."""
    s = class_scores(word)
    return s["name"] - s["place"]


def name_over_word(word: str) -> float:
    """Log-likelihood margin of 'name' over 'ordinary word' for one word (> 0: looks more like a name)."""
    s = class_scores(word)
    return s["name"] - s["word"]
