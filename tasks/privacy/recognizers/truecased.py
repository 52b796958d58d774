"""Names in all-lower-case text, found by the NER model on a truecased copy (`TruecasedNameRecognizer`).

The small spaCy model leans on capital letters, so "bro kwabrenu owes me 20 bucks" gives it nothing. This
recognizer gives it a copy in which every word that could be a name (no ordinary English word, stop word or
chat word; see `name_gazetteer._kind`) is capitalized, and keeps the PERSON entities the model then finds, when
their words are such candidates and one of them is a listed name or looks like a name to the character model
(`name_shape`). It runs only on lower-case sentences (handles, hashtags and links aside; a pronoun or an auxiliary verb in them, so
never on a category cell), once per text.
"""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.name_gazetteer import _LOWER_TOKEN, _kind
from veilflow.tasks.privacy.recognizers.name_shape import name_over_word
from veilflow.tasks.privacy.recognizers.results import _result

_SKIP = regex.compile(r"[@#]\w+|https?://\S+|www\.\S+")
_CANDIDATE_KINDS = frozenset({"unknown", "name", "shape", "weak"})


# Pronouns and auxiliaries: lower-case text with one of them is a sentence someone wrote, not a label or category
# cell ("nuclear magneton", "behavioral hosp").
_CLAUSE_WORDS = frozenset(
    [
        "i",
        "me",
        "my",
        "you",
        "u",
        "ur",
        "your",
        "we",
        "us",
        "our",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "is",
        "are",
        "was",
        "were",
        "am",
        "be",
        "been",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "just",
        "gonna",
        "wanna",
        "im",
        "i'm",
    ]
)


def lowercase_prose(text: str) -> bool:
    """The text is a lower-case sentence: its words are all lower case once @handles, #hashtags and links are
    left out, there are at least three of them, and one is a pronoun or an auxiliary verb."""
    rest = _SKIP.sub(" ", text)
    if rest != rest.lower():
        return False
    words = regex.findall(r"[\p{Ll}']+", rest)
    return len(words) >= 3 and any(w in _CLAUSE_WORDS for w in words)


class TruecasedNameRecognizer(LocalRecognizer):
    """PERSON in lower-case prose: the NER model run again on a copy with candidate name words capitalized."""

    def __init__(self, nlp: Any, supported_language: str = "en") -> None:
        super().__init__(supported_entities=["PERSON"], supported_language=supported_language, name="TruecasedNameRecognizer")
        self.nlp = nlp

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if not lowercase_prose(text):
            return []
        candidates = {
            m.start(): (m.end(), kind) for m in _LOWER_TOKEN.finditer(text) if (kind := _kind(m.group())) in _CANDIDATE_KINDS
        }
        if not any(kind != "weak" for _, kind in candidates.values()):
            return []
        chars = list(text)
        for start in candidates:
            chars[start] = chars[start].upper()
        results = []
        for ent in self.nlp("".join(chars)).ents:
            if ent.label_ != "PERSON":
                continue
            words = [(m.start() + ent.start_char, m.group()) for m in _LOWER_TOKEN.finditer(text[ent.start_char : ent.end_char])]
            if not words or any(s not in candidates for s, _ in words):
                continue
            kinds = [candidates[s][1] for s, _ in words]
            unknown = [w for (_, w), k in zip(words, kinds) if k == "unknown"]
            if "name" not in kinds and "shape" not in kinds and not (unknown and sum(map(name_over_word, unknown)) > 0):
                continue
            start, end = words[0][0], words[-1][0] + len(words[-1][1])
            results.append(_result("PERSON", start, end, 0.5, self))
        return results
