"""Nationalities and religious groups (Presidio's NRP entity): a deny-list `PatternRecognizer` over `data/demonyms.txt`."""

from __future__ import annotations

import functools
import re

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from veilflow.tasks.privacy.recognizers.word_lists import word_list

# Demonyms (nationalities) and religious groups: Presidio's NRP entity. The small NER model
# finds only some; a deny list (Presidio's own PatternRecognizer) finds the rest. Plurals
# ("Saudis", "Bruneians") are generated; words that are also languages ("English") stay in
# because the word still names a nationality far more often in customer text than not.

# Demonyms that are also ordinary English words ("polish the car", "a pole") count only
# when capitalized.
_NRP_CASED = frozenset(["polish", "pole", "english", "scot", "dane", "swede", "finn", "orthodox", "solomon", "jain"])


def _plurals(word: str) -> set[str]:
    if word.endswith(("ese", "ss", "ish", "sh")):
        return set()
    return {word + "s"}


@functools.lru_cache(maxsize=1)
def _nrp_regex() -> str:
    """The deny-list pattern: every demonym (`data/demonyms.txt`) and its plural, case rules applied."""
    forms = {w: {w} | _plurals(w) for w in word_list("demonyms.txt")}
    any_case = sorted({f.replace("-", " ") for w, fs in forms.items() if w not in _NRP_CASED for f in fs}, key=len, reverse=True)
    capitalized = sorted({f.capitalize() for w, fs in forms.items() if w in _NRP_CASED for f in fs}, key=len, reverse=True)
    return (
        r"(?<![\w-])(?:(?i:"
        + "|".join(regex.escape(w) for w in any_case)
        + r")|"
        + "|".join(regex.escape(w) for w in capitalized)
        + r")(?![\w-])"
    )


def build_nrp_recognizer(supported_language: str = "en") -> PatternRecognizer:
    """A deny-list recognizer for nationalities and religious groups (entity NRP, score 0.5)."""
    return PatternRecognizer(
        supported_entity="NRP",
        name="NrpDenyListRecognizer",
        supported_language=supported_language,
        patterns=[Pattern("nrp_word", _nrp_regex(), 0.5)],
        # No global IGNORECASE: the pattern scopes case-insensitivity itself (see _NRP_CASED).
        global_regex_flags=re.DOTALL | re.MULTILINE,
    )
