"""No masking of ordinary phrases: PERSON / LOCATION hits need evidence beyond capitalisation (`require_evidence`), and column-level category cells (`drop_category_cells`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import regex
from presidio_analyzer import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS as _SPACY_STOP

from veilflow.tasks.privacy.recognizers.name_shape import name_over_place
from veilflow.tasks.privacy.recognizers.patterns import _COUNTRY_WORDS, _L
from veilflow.tasks.privacy.recognizers.person_name import (
    _CUE_NAME,
    _NAME_AFTER_CUE,
    _NAME_BEFORE_CUE,
    _TITLED_NAME,
    SIGN_OFF_NAME,
)
from veilflow.tasks.privacy.recognizers.word_lists import (
    ambiguous_first_names,
    common_words,
    first_names,
    places,
    proper_common_words,
    romanized_name_shape,
    surnames,
)

# Results of these recognizers rest on capitalisation (NER) or on single listed words: they are checked.
# Title, cue, list, handle and pattern recognizers carry their own evidence and are not.
_CHECKED = frozenset({"SpacyRecognizer", "PersonNameRecognizer", "PersonNamePropagation", "PlaceRecognizer"})
_WORD = regex.compile(rf"[{_L}][{_L}'’.-]*")
_TITLE_BEFORE = regex.compile(r"(?i:\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|lady|lord|rev|sgt|capt|officer|agent|judge)\.?[ ]+)$")
_PLACE_BEFORE = regex.compile(r"(?i:\b(?:in|at|from|near|visit|visited|visiting|across|around|outside|inside|downtown|to)[ ]+)$")
# Stricter: before a hit the NER model called a person, only these make it a place ("in Hamburg", not "assistant to").
# "from", but not after a word for a message or a greeting ("an update from Göknur Şensoy").
_FROM_PLACE = (
    r"(?<!\b(?:update|updates|message|note|email|e-mail|mail|letter|call|word|reply|response|request|feedback|"
    r"news|text|invite|invitation|greetings|gift|hello|hi|regards|thanks|love|visit|visitors?|guests?|friends?|"
    r"colleagues?|answer|approval|sign-off|ok|okay|go-ahead|apologies|regrets)[ ]+)\bfrom[ ]+"
)
_PLACE_BEFORE_STRICT = regex.compile(
    rf"(?i:\b(?:in|near|visit|visited|visiting|across|around|outside|inside|downtown)[ ]+|{_FROM_PLACE})$"
)
_TITLE_CONNECTORS = frozenset(
    [
        "of",
        "in",
        "and",
        "or",
        "the",
        "a",
        "an",
        "for",
        "to",
        "with",
        "w",
        "on",
        "at",
        "by",
        "from",
        "de",
        "la",
        "du",
        "des",
        "del",
        "vs",
        "per",
        "n",
        "into",
        "over",
        "under",
        "without",
        "not",
        "as",
    ]
)
_VERBS = frozenset(
    [
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "has",
        "had",
        "have",
        "do",
        "does",
        "did",
        "said",
        "spent",
        "began",
        "went",
        "made",
        "took",
        "gave",
        "got",
        "met",
        "told",
        "wrote",
        "left",
        "came",
        "saw",
        "will",
        "would",
        "can",
        "could",
        "may",
        "might",
        "must",
        "should",
        "shall",
        "lives",
        "works",
        "says",
        "knows",
        "loves",
        "wants",
        "needs",
        "thinks",
    ]
)
_TITLE_WORDS = frozenset(["mr", "mrs", "ms", "miss", "mx", "master", "dr", "prof", "sir", "madam", "mme", "mlle", "rev"])
_LOWER_CUE = regex.compile(r"\b(?:in|at|to|from|near|with|by|for|named|called|is|am|meet|met|visit|visited|visiting)[ ]+$")
_SALUTATION = regex.compile(
    r"^(?:dear|hi|hello|hey|thanks|thank you,?|sincerely,|(?:best |kind |warm )?regards,|best,|cheers,|warmly,|yours,|attn|attention)$"
)
_SENTENCE = regex.compile(r"[.!?]\s+\S|\n")


def is_short_title_phrase(text: str) -> bool:
    """A short cell written in title case or capitals ("Felony Battery", "Possession of Morphine", "DISORDERLY CONDUCT").

    At most 12 words and 100 characters, one sentence, and every lower-case word a title-case connector
    ("of", "in", "and", "w/" ...), except one that is not a verb when three words or more are capitalized
    ("Side Caesar Salad with dressing"; not "Cendrillon Coudert lives at ..."): a sentence ("My name is
    Martin") has more lower-case words.
    """
    stripped = text.strip()
    if not stripped or len(stripped) > 100 or _SENTENCE.search(stripped):
        return False
    words = _WORD.findall(stripped)
    if not words or len(words) > 12:
        return False
    lower = [w for w in words if not w[:1].isupper() and w.lower() not in _TITLE_CONNECTORS]
    if not lower:
        return True
    verb = len(lower) == 1 and (lower[0].lower() in _VERBS or regex.search(r"(?:[^s]s|ed)$", lower[0].lower()) is not None)
    return len(lower) == 1 and not verb and sum(1 for w in words if w[:1].isupper()) >= 3


def _low(word: str) -> str:
    return word.lower().strip(".'’-").replace("’", "'")


def strong_name_evidence(words: list[str]) -> bool:
    """Evidence that words are a person's name, whatever their case: a listed name that is not an ordinary
    word or a place, a name-shaped word, a listed given name followed by a capitalized word, or initials."""
    lows = [_low(w) for w in words]
    for w in lows:
        if len(w) >= 3 and (w in first_names() or w in surnames()) and w not in common_words() and w not in places():
            return True
        if romanized_name_shape(w) and w not in common_words() and w not in places():
            return True
    if len(words) >= 2 and lows[0] in first_names() and lows[0] not in common_words() and words[-1][:1].isupper():
        return True
    return len(words) >= 2 and any(regex.fullmatch(r"\p{Lu}\.", w) for w in words)


def _proper_reading(words: list[str]) -> bool:
    """Some word of the span is a name or proper noun in some reading (Will, Trump, Grace, Reading)."""
    for w in (_low(x) for x in words):
        if w in first_names() or w in surnames() or w in ambiguous_first_names() or w in proper_common_words():
            return True
        if w not in common_words() and w not in _SPACY_STOP:
            return True  # not an ordinary word at all: a proper noun
    return False


def _ordinary_word(word: str) -> bool:
    return _low(word) in common_words() or _low(word) in _SPACY_STOP


def _ordinary(words: list[str]) -> bool:
    return all(_ordinary_word(w) for w in words)


@functools.cache
def _support_recognizers() -> tuple[Any, ...]:
    from veilflow.tasks.privacy.recognizers.name_gazetteer import GazetteerNameRecognizer
    from veilflow.tasks.privacy.recognizers.name_list import SurnameFirstNameRecognizer

    return SurnameFirstNameRecognizer(), GazetteerNameRecognizer()


def _structural_support(text: str) -> list[tuple[int, int]]:
    """Spans that a title, a cue phrase or a surname-first layout marks as names (Presidio keeps only the
    highest-scoring copy of a span, so an NER hit may have replaced the hit that carried this evidence)."""
    # A cue in a title-case cell ("Patient Interaction") counts only when written as a label or in lower case.
    spans = [
        (m.start("name"), m.end("name"))
        for m in _CUE_NAME.finditer(text)
        if ":" in text[m.start() : m.start("name")]
        or text[m.start() : m.start("name")].islower()
        or _SALUTATION.match(text[m.start() : m.start("name")].strip().lower())
    ]
    spans += [(m.start("name"), m.end("name")) for m in _TITLED_NAME.finditer(text)]
    # "my cousin Morena", "Dexter lives on ...": kinship and person-verb cues
    spans += [
        (m.start("name"), m.end("name")) for p in (_NAME_AFTER_CUE, _NAME_BEFORE_CUE, SIGN_OFF_NAME) for m in p.finditer(text)
    ]
    for rec in _support_recognizers():
        spans += [(r.start, r.end) for r in rec.analyze(text, ["PERSON"], None)]
    return spans


@functools.lru_cache(maxsize=256)
def _layout_support(text: str) -> tuple[tuple[int, int], ...]:
    """Name spans that a courtesy title, a kinship cue ("my cousin X") or a surname-first list marks."""
    spans = [(m.start("name"), m.end("name")) for p in (_TITLED_NAME, _NAME_AFTER_CUE, SIGN_OFF_NAME) for m in p.finditer(text)]
    spans += [(r.start, r.end) for r in _support_recognizers()[0].analyze(text, ["PERSON"], None)]
    return tuple(spans)


def _relabel(r: RecognizerResult, entity: str) -> RecognizerResult:
    return RecognizerResult(
        entity,
        r.start,
        r.end,
        r.score,
        analysis_explanation=r.analysis_explanation,
        recognition_metadata=dict(r.recognition_metadata or {}),
    )


def _trimmed(r: RecognizerResult, start: int, end: int) -> RecognizerResult:
    return RecognizerResult(
        r.entity_type,
        start,
        end,
        r.score,
        analysis_explanation=r.analysis_explanation,
        recognition_metadata=dict(r.recognition_metadata or {}),
    )


def _source(r: RecognizerResult) -> str:
    return str((r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, ""))


def _listed(word: str) -> bool:
    w = _low(word)
    return w in first_names() or w in surnames() or w in ambiguous_first_names()


def _position_explained(text: str, start: int) -> bool:
    """The word starts the text, a sentence, a clause or a list item: its capital may just mark that."""
    before = text[:start].rstrip(" \t")
    return before == "" or before[-1] in '.!?:;,(\n"“|/' or regex.search(r"(?:\band|\bor|&)$", before) is not None


def _list_of_things(text: str) -> bool:
    """A list whose items are mostly lower-case words ("Glass, steel, Perspex and paint"): capitals in it mark
    item starts or brand names, not people."""
    items = [i.strip() for i in regex.split(r"[,;]|\band\b|&", text) if i.strip()]
    lower = sum(1 for i in items if i[:1].islower())
    short_items = all(len(i.split()) <= 4 for i in items)
    return len(items) >= 2 and short_items and lower >= max(1, (len(items) - 1) / 2)


def _camel(word: str) -> bool:
    """Inner capitals that names do not have ("MeV", "eV", "iPhone"; "McDonald", "DeVito" are names)."""
    return regex.search(r"\p{Ll}\p{Lu}", word) is not None and not regex.match(
        r"^(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|O['’]|D['’])\p{Lu}", word
    )


def _keep_person(
    text: str, r: RecognizerResult, words: list[str], short: bool, support: Callable[[], list[tuple[int, int]]]
) -> bool:
    titled = bool(_TITLE_BEFORE.search(text[max(0, r.start - 12) : r.start]))
    strong = titled or strong_name_evidence(words)
    if (strong and not short) or (not strong and not _weak_person(text, r, words, short)):
        return True
    # About to drop it: Presidio keeps one copy of a span, so a title, cue, surname-first or gazetteer hit on the
    # same characters may have been replaced by this one. Those recognizers are run again here.
    supported = any(a < r.end and r.start < b for a, b in support())
    if not strong:
        return supported
    if short and not supported and not titled and any(_ordinary_word(w) and not _listed(w) for w in words):
        # "Chicken Caesar Salad", "Reuben Sandwich": a listed name among ordinary words is a dish, not a person,
        # unless the span is a given name followed by surnames ("John Baker").
        rest_ok = all(_listed(w) or _low(w) in proper_common_words() or regex.fullmatch(r"\p{Lu}\.?", w) for w in words[1:])
        return _low(words[0]) in first_names() and _low(words[0]) not in common_words() and rest_ok
    return True


def _weak_person(text: str, r: RecognizerResult, words: list[str], short: bool) -> bool:
    """True when a PERSON hit without strong evidence rests on capitalisation alone (see `require_evidence`);
    for a hit with strong evidence, True when it is in a short cell (where the dish rule applies)."""
    if short:
        return True
    if not regex.search(r"\p{Lu}", "".join(words)):
        # Lower-case words the NER model called a name, with no listed name: in mixed-case text never enough; in
        # all-lower-case text only after a word that introduces a person or place ("returned to kiel").
        return text != text.lower() or not _LOWER_CUE.search(text[max(0, r.start - 12) : r.start])
    if len(words) == 1 and _camel(words[0]):
        return True
    if _ordinary(words) and not _proper_reading(words):
        return True
    # "Glass, steel and wire", "..., Perspex, stainless steel": an item of a list of lower-case things.
    return _position_explained(text, r.start) and _list_of_things(text)


def _keep_location(text: str, r: RecognizerResult, span: str, words: list[str], short: bool) -> bool:
    place = span.lower() in places() or any(w in _COUNTRY_WORDS for w in words)
    prep = bool(_PLACE_BEFORE.search(text[max(0, r.start - 12) : r.start]))
    if not regex.search(r"\p{Lu}", span):
        return place or (text == text.lower() and bool(_LOWER_CUE.search(text[max(0, r.start - 12) : r.start])))
    if any(_camel(w) for w in words) and not place:
        return False  # "MeV", "eV": units and brand spellings
    if short:
        if not place:
            return prep
        return prep or not _ordinary(words)  # "Carved Turkey", "Green Chile": the country names are food here
    if not place and _ordinary(words) and not _proper_reading(words) and not prep:
        return False
    return not (not place and not prep and _position_explained(text, r.start) and _list_of_things(text))


# Before a name the NER model called a place, these keep it a place: place prepositions, and "to" after a verb
# of movement ("moved to Gitarama"; not "escalate to Savak Durdu").
_PLACE_BEFORE_NAME = regex.compile(
    r"(?i:\b(?:in|at|near|visit|visited|visiting|across|around|outside|inside|downtown|via)[ ]+|"
    + _FROM_PLACE
    + r"|\b(?:go|goes|going|gone|went|move[sd]?|moving|travel(?:l?ed|s)?|flew|fly|flying|drove|drive|driving|"
    r"return(?:ed|s)?|came|come|coming|back|trip|way|road|headed|heading|relocated?|moved|sent|ship(?:ped)?|"
    r"welcome|south|north|east|west)[ ]+to[ ]+)$"
)
# Separators between two names of one list or coordination ("Ruth; Wambui", "Ostasz, Soyinka and ...").
_NAME_JOIN = regex.compile(r"^[ ]*(?:[,;/&+][ ]*(?:and[ ]+|&[ ]*)?|(?:and|&)[ ]+)$")


def _rare(word: str) -> bool:
    """Not an ordinary word, stop word, country word or acronym: a proper noun no word list explains."""
    low = _low(word)
    return low not in common_words() and low not in _SPACY_STOP and word not in _COUNTRY_WORDS and not word.isupper()


def _person_not_place(
    text: str,
    r: RecognizerResult,
    span: str,
    words: list[str],
    persons: list[tuple[int, int]],
    support: Callable[[], list[tuple[int, int]]],
) -> bool:
    """A LOCATION guess of the NER model that is a person's name.

    Never a span with an ordinary word ("North Andrew", "Saint Joseph"), digits, a country, or one after a place
    preposition ("in", "at", "near", "moved to"; "from" only before one word); a known place only when a title, a
    kinship cue, a sign-off line or a name list says person. Otherwise evidence that it is a name: a title, cue,
    surname-first list or gazetteer hit on it; a listed given name or surname in it; a list or coordination
    with a person ("Ruth; Wambui", "Ostasz, Omobobola Soyinka and ..."); or two or more words that the
    character model (`name_shape`) finds, together, more name-like than place-like ("Sarabi Omondi").
    """
    long_words = [w for w in words if len(_low(w)) >= 3]
    if not long_words or regex.search(r"\d", span) or not regex.search(r"\p{Lu}", span):
        return False
    after_from = text[max(0, r.start - 5) : r.start].lower() == "from "
    if any(w in _COUNTRY_WORDS for w in words) or (
        _PLACE_BEFORE_NAME.search(text[max(0, r.start - 30) : r.start]) and not (after_from and len(long_words) >= 2)
    ):
        return False  # a place preposition; but "Apologies from Ugo Antonetti": two name words after "from"
    known_place = span.lower() in places() or all(_low(w) in places() for w in long_words)
    if known_place:
        # "my cousin Morena", "Einaudi, Victoria;": only a title, a kinship cue or a name list beats a known place
        return any(a <= r.start and r.end <= b for a, b in _layout_support(text))
    if not all(_rare(w) for w in long_words):
        return False
    if any(a <= r.start and r.end <= b for a, b in support()):
        return True
    if any(_low(w) in first_names() for w in long_words) or (len(long_words) >= 2 and any(_listed(w) for w in long_words)):
        return True  # a listed given name, or a listed surname with another word ("Savak Durdu"); not "Jerusalem" alone
    for a, b in persons:
        gap = text[b : r.start] if b <= r.start else text[r.end : a] if r.end <= a else None
        if gap is not None and _NAME_JOIN.match(gap):
            return True
    return len(long_words) >= 2 and sum(name_over_place(_low(w)) for w in long_words) > 0


def _names_among_places(text: str, results: list[RecognizerResult], support: Callable[[], list[tuple[int, int]]]) -> set[int]:
    """Indexes of the NER model's LOCATION results that `_person_not_place` finds to be names; a name found so
    counts as a person for the next one in a list ("Olawale, Ruth; Wambui, Akumu")."""
    persons = [(r.start, r.end) for r in results if r.entity_type == "PERSON"]
    found: set[int] = set()
    candidates = sorted(
        (i for i, r in enumerate(results) if r.entity_type == "LOCATION" and _source(r) == "SpacyRecognizer"),
        key=lambda i: results[i].start,
    )
    changed = True
    while changed:
        changed = False
        for i in candidates:
            r = results[i]
            if i in found:
                continue
            span = text[r.start : r.end]
            if _person_not_place(text, r, span, _WORD.findall(span), persons, support):
                found.add(i)
                persons.append((r.start, r.end))
                changed = True
    return found


def require_evidence(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Drop PERSON / LOCATION hits that rest on capitalisation alone; relabel places found as PERSON.

    PERSON: in a short title-case cell ("Felony Battery", "Possession of Morphine") a hit needs strong
    name evidence (`strong_name_evidence`, a title, a cue phrase or a surname-first layout), and a listed
    name among ordinary words ("Chicken Caesar Salad") counts only as a given name followed by surnames.
    Elsewhere a hit is dropped when it is lower case with no listed name, made only of ordinary words
    with no proper-noun reading ("Disorderly Conduct"), made of ordinary unlisted words whose capital only
    starts the text or an item ("Glass, steel ..."), or an item of a list of lower-case things ("...,
    Perspex, stainless steel and cardboard"). A hit with no listed name that is a known place, or follows
    a place preposition ("in Hamburg"), becomes LOCATION.

    LOCATION: a known place (gazetteer, countries) or a place preposition before it is evidence; in a
    short cell one of them is required, and a country that is also an ordinary word ("Turkey Club")
    needs the preposition. Lower-case and camel-case hits ("MeV") need to be known places.

    A LOCATION guess of the NER model that is a person's name becomes PERSON (`_person_not_place`).

    Hits from title, cue, list, handle and pattern recognizers are not touched.

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text`` (not mutated).

    Returns:
        The kept (and relabelled) results.
    """
    cached: list[list[tuple[int, int]]] = []

    def support() -> list[tuple[int, int]]:
        if not cached:
            cached.append(_structural_support(text))
        return cached[0]

    short = is_short_title_phrase(text) if any(r.entity_type == "LOCATION" for r in results) else None
    names = _names_among_places(text, results, support) if short is False else set()
    out: list[RecognizerResult] = []
    for i, r in enumerate(results):
        if i in names:
            out.append(_relabel(r, "PERSON"))
            continue
        if r.entity_type not in ("PERSON", "LOCATION") or _source(r) not in _CHECKED:
            out.append(r)
            continue
        if _source(r) == "PersonNameRecognizer" and r.score >= 0.85:
            out.append(r)  # a courtesy title
            continue
        span = text[r.start : r.end]
        words = _WORD.findall(span)
        if not words or (_source(r) == "PlaceRecognizer" and regex.search(r"\d", span)):
            out.append(r)  # a labelled postcode ("ZIP: 7412 SL"): not a capitalisation guess
            continue
        if all(w.rstrip(".").lower() in _TITLE_WORDS for w in words) or text[max(0, r.start - 1) : r.start] == "#":
            continue  # a courtesy title alone, or a hashtag ("#TARC Watch")
        if short is None:
            short = is_short_title_phrase(text)
        if r.entity_type == "PERSON":
            if not _keep_person(text, r, words, short, support):
                continue
            titled = bool(_TITLE_BEFORE.search(text[max(0, r.start - 12) : r.start]))
            if (
                not any(_listed(w) for w in words)
                and not titled
                and regex.search(r"\p{Lu}", span)
                and not any(a < r.end and r.start < b for a, b in support())
                and (
                    span.lower() in places()
                    or all(w in _COUNTRY_WORDS for w in words)
                    or (
                        _source(r) == "SpacyRecognizer"
                        and _PLACE_BEFORE_STRICT.search(text[max(0, r.start - 12) : r.start])
                        # "Apologies from Ugo Antonetti": a given-name-and-surname pair after "from" stays a person
                        and not (len(words) >= 2 and text[max(0, r.start - 5) : r.start].lower() == "from ")
                    )
                )
            ):
                out.append(_relabel(r, "LOCATION"))
                continue
            out.append(r)
        elif _keep_location(text, r, span, words, short):
            lead = regex.match(r"(?i:the)[ ]+", span)
            tail = regex.search(r"['’]s$", span)
            start, end = r.start + (lead.end() if lead else 0), r.end - (2 if tail else 0)
            out.append(_trimmed(r, start, end) if (start, end) != (r.start, r.end) else r)  # "the United States", "City’s"
    return out


def covers_cell(text: str, start: int, end: int) -> bool:
    """The span covers (almost) the whole cell: at least 90% of its non-blank characters."""
    core = len(text.strip())
    return core > 0 and (end - start) >= 0.9 * core


def drop_category_cells(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """A cell repeated verbatim across many subjects of a column is a category, not a person or place.

    For such a cell, a PERSON / LOCATION hit (from the NER model or a single listed word) is dropped
    unless it is a name by strong evidence written as a name: a listed, non-ordinary name
    (`strong_name_evidence`) that is capitalized or has two name words. A support agent's "Sarah
    Jones", which recurs across subjects, is still masked; so is any hit from a title, cue, list or
    handle recognizer. Called by the column-level path for cells that repeat.
    """
    out = []
    for r in results:
        if (
            r.entity_type in ("PERSON", "LOCATION")
            and _source(r) in _CHECKED
            and not (_source(r) == "PersonNameRecognizer" and r.score >= 0.85)
        ):
            words = _WORD.findall(text[r.start : r.end])
            named = strong_name_evidence(words) and (
                any(w[:1].isupper() for w in words) or sum(1 for w in words if _listed(w)) >= 2
            )
            if not named:
                continue
        out.append(r)
    return out
