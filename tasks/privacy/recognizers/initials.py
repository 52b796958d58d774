"""Names written with initials: "W.N. Street", "C. Kaynak", "R. P. Anderson" (`InitialsNameRecognizer`)."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as _SPACY_STOP

from veilflow.tasks.privacy.recognizers.patterns import _COUNTRY_WORDS, _L
from veilflow.tasks.privacy.recognizers.results import _result
from veilflow.tasks.privacy.recognizers.stop_words import _CITY_STOP, _NAME_STOP
from veilflow.tasks.privacy.recognizers.word_lists import common_words, places

# One to three initials ("W.", "W.N.", "J.-I.", "D. L."), then a capitalized word that is not all capitals.
_INITIALS_NAME = regex.compile(
    rf"(?<![{_L}.'’-])(?P<initials>(?:\p{{Lu}}\.(?:[ ]?-?)){{1,3}})[ ]?(?P<word>(?:(?:de|van|von|da|di|le|la)[ ])?\p{{Lu}}\p{{Ll}}[{_L}'’-]+)"
)
# Abbreviations that are places or bodies, not initials ("U.S. Army", "D.C. Comics").
_NOT_INITIALS = frozenset(
    ["U.S.", "U.K.", "U.N.", "E.U.", "D.C.", "L.A.", "N.Y.", "U.S.A.", "S.A.", "N.V.", "B.V.", "P.O.", "A.M.", "P.M."]
)
# Words that never follow a person's initials (sentence starters, organisations); street words may be surnames
# after two initials ("W.N. Street").
_NEVER = frozenset(
    [
        "The",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "He",
        "She",
        "We",
        "They",
        "You",
        "I",
        "In",
        "On",
        "At",
        "For",
        "And",
        "But",
        "Or",
        "If",
        "When",
        "Then",
        "Army",
        "Navy",
        "Comics",
        "Government",
        "Congress",
        "Senate",
        "Department",
        "Dept",
        "Airways",
        "Airlines",
        "Inc",
        "Corp",
        "Ltd",
        "Box",
        "Morgan",
    ]
)


class InitialsNameRecognizer(LocalRecognizer):
    """A person written as initials and a surname (PERSON): reference lists, credits, signatures.

    "R.A. Fisher", "K. P. Bennett", "J.-I. Takeuchi", "O. de Vel". The word after the initials
    must be capitalized, not a sentence starter or organisation word, not a known place, and not
    after a place abbreviation ("U.S. Army"); street and other stop words are accepted only after
    two or more initials.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=["PERSON"], supported_language=supported_language, name="InitialsNameRecognizer")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if "." not in text:
            return []
        results = []
        for m in _INITIALS_NAME.finditer(text):
            initials = m.group("initials").strip()
            word = m.group("word").split()[-1]
            if initials.replace(" ", "") in _NOT_INITIALS or word in _NEVER or word.lower() in _SPACY_STOP:
                continue
            if word.lower() in places() or word in _COUNTRY_WORDS:
                continue
            if (word in _NAME_STOP or word in _CITY_STOP) and initials.count(".") < 2:
                continue
            if initials.count(".") >= 3 and word.lower() in common_words():
                continue  # "B.L.T. Salad": an acronym before an ordinary word
            results.append(_result("PERSON", m.start(), m.end(), 0.7, self))
        return results
