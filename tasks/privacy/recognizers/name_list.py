"""Names written surname first: "Murkowski, Frank", "Allen, Miss. Elisabeth Walton", "Fisher, R.A." (`SurnameFirstNameRecognizer`)."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as _SPACY_STOP

from veilflow.tasks.privacy.recognizers.patterns import _COUNTRY_WORDS, _L
from veilflow.tasks.privacy.recognizers.results import _result
from veilflow.tasks.privacy.recognizers.stop_words import _CITY_STOP, _NAME_STOP
from veilflow.tasks.privacy.recognizers.word_lists import (
    ambiguous_first_names,
    common_words,
    first_names,
    places,
    proper_common_words,
    surnames,
)

_WORD = rf"\p{{Lu}}[{_L}'’]*(?:-\p{{Lu}}[{_L}'’]*)?"
_SURNAME = (
    rf"(?:(?:Ó|Ní|Nic|Ua|Uí|Mac|Mag)[ ][{_L}][{_L}'’-]+|"  # Irish: "Ó hÉaluighthe", "Nic Giolla"
    rf"(?:(?:van|von|de|del|della|di|da|du|le|la|der|den|ten|ter|al|el|bin|ibn|mac|mc|o')[ ]?)?{_WORD}(?:[ ]{_WORD})?)"
)
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Master|Dr|Prof|Rev|Fr|Sir|Dame|Lady|Lord|Capt|Col|Major|Sgt|Mme|Mlle|Don|Dona|Sr|Sra|Herr|Frau)"
# "Fisher, R.A.", "Duda, R. O.", "Street, W.N.": a surname and initials.
_INITIALS = regex.compile(rf"(?<![{_L}'’-])(?P<sur>{_SURNAME})[ ]?,[ ]?(?P<given>(?:\p{{Lu}}\.[ ]?-?){{1,3}})(?![{_L}])")
# "Murkowski, Frank", "Allen, Miss. Elisabeth Walton", "Nguyen , Thi Mai": a surname, a comma, an optional title and
# one to three given names or initials.
_SURNAME_GIVEN = regex.compile(
    rf"(?<![{_L}'’-])(?P<sur>{_SURNAME})[ ]?,[ ]+(?:(?P<title>{_TITLES})\.?[ ]+)?"
    rf"(?P<given>{_WORD}(?:[ ](?:{_WORD}|\p{{Lu}}\.(?![{_L}])|\(\p{{Lu}}[{_L}' ]+\)))*)"
)
# Abbreviations after a comma that are places, not initials ("Washington, D.C.").
_PLACE_INITIALS = frozenset(["D.C.", "U.S.", "U.K.", "U.S.A.", "N.Y.", "L.A.", "E.U."])
_LIST_SEP = regex.compile(r"^[ \t]*(?:[;\n|/]|and\b|&|$)")


class SurnameFirstNameRecognizer(LocalRecognizer):
    """Names in surname-first form, as in rosters, bibliographies and passenger lists (PERSON).

    ``Surname, Initials`` ("Fisher, R.A.") always counts. ``Surname, Given`` needs evidence that it
    is a name and not a clause ("In London, Mary said"): a courtesy title after the comma, or a known
    given name after it and a surname that is a known surname or not an ordinary word or place; and
    the pair must stand alone (the whole text, or an item of a list separated by ";", "|", line breaks
    or "and"), unless both halves are known names. Surname and given names are reported as two spans
    (the title and comma are not part of either).
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=["PERSON"], supported_language=supported_language, name="SurnameFirstNameRecognizer")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if "," not in text:
            return []
        results: list[RecognizerResult] = []
        taken: list[tuple[int, int]] = []
        for m in _INITIALS.finditer(text):
            sur = m.group("sur")
            if m.group("given").strip() in _PLACE_INITIALS or _bad_surname(sur, places_too=False):
                continue
            given_end = m.end("given")
            while given_end > m.start("given") and text[given_end - 1] in " -":
                given_end -= 1
            results.append(_result("PERSON", m.start("sur"), m.end("sur"), 0.75, self))
            results.append(_result("PERSON", m.start("given"), given_end, 0.75, self))
            taken.append((m.start(), m.end()))
        candidates = []
        for m in _SURNAME_GIVEN.finditer(text, overlapped=False):
            if any(a <= m.start() < b for a, b in taken):
                continue
            sur, given = m.group("sur"), m.group("given")
            if _bad_surname(sur) or sur.split()[-1].lower() in _SPACY_STOP:
                continue
            given_words = regex.findall(rf"[{_L}'’-]+", given)
            first = given_words[0].lower() if given_words else ""
            known_first = first in first_names() or first in ambiguous_first_names()
            sur_low = sur.split()[-1].lower()
            known_sur = sur_low in surnames() or (sur_low not in common_words() and sur_low not in places())
            standalone = _standalone(text, m.start(), m.end())
            # "Begich, Mark": a given name that is also a word ("Mark", "Will") counts in a cell of its own.
            known_first = known_first or (standalone and first in proper_common_words())
            item = _LIST_SEP.match(text[m.end() :]) is not None and text[m.end() :].strip()[:1] in (";", "|", "/")
            # The last item of a ";" list ends the sentence: "...; Bustamante, Alejandra. Escalate to ..."
            item = item or text[: m.start()].rstrip(" \t").endswith(";")
            both_known = known_first and sur_low in surnames() and first not in common_words()
            some = known_first or sur_low in surnames() or known_sur
            # Neither half an ordinary word: "Veselý, Zikmund" (names no list holds).
            unusual = known_sur and first not in common_words() and first not in _SPACY_STOP and len(first) >= 3
            candidates.append((m, known_first and known_sur, standalone or item, both_known, some, unusual))
        # A list of two or more "Surname, Given" items, each with a listed or unusual word, and one of them a known
        # name or all of them made of unusual words: every item is a name ("Ibrahim, Mary; Ojo, Comfort; Tank,
        # Sachi"; "Veselý, Zikmund; Einaudi, Victoria").
        listed = [c for c in candidates if c[2]]
        # "Surname, Initials" items ("Schuchhardt, A.") are names already and count as known items of the list.
        # Two thirds of the items must carry that evidence ("Lei, Na" rides along in "Wambui, Hadithi; Naidu, G.").
        items, backed = len(listed) + len(taken), sum(1 for c in listed if c[4]) + len(taken)
        list_ok = (
            items >= 2
            and backed >= 2
            and 3 * backed >= 2 * items
            and (bool(taken) or any(c[1] for c in listed) or all(c[1] or c[5] for c in listed if c[4]))
        )
        for m, known, standalone, both_known, _, _ in candidates:
            title = bool(m.group("title"))
            if not (title or both_known or (known and standalone) or (list_ok and standalone)):
                continue
            score = 0.8 if title or both_known else 0.6
            results.append(_result("PERSON", m.start("sur"), m.end("sur"), score, self))
            results.append(_result("PERSON", m.start("given"), m.end("given"), score, self))
        return results


def _bad_surname(sur: str, places_too: bool = True) -> bool:
    words = sur.split()
    if any(w in _NAME_STOP or w in _CITY_STOP or w in _COUNTRY_WORDS for w in words):
        return True
    return places_too and sur.lower() in places()


def _standalone(text: str, start: int, end: int) -> bool:
    """The pair is the whole text or an item of a list: only separators (or nothing) on both sides."""
    before = text[:start].rstrip(" \t")
    after = text[end:]
    left_ok = before == "" or before[-1] in ';\n|/("“' or regex.search(r"(?:\band|&)$", before) is not None
    right_ok = _LIST_SEP.match(after) is not None or regex.match(r"^[ \t]*[.)\"”]?[ \t]*$", after) is not None
    return left_ok and right_ok
