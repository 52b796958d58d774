"""Person names the small NER model misses: titles, cue phrases, and runs of known or surname-shaped words (`PersonNameRecognizer`)."""

from __future__ import annotations

import itertools

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as _SPACY_STOP

from veilflow.tasks.privacy.recognizers.patterns import _COUNTRY_WORDS, _L, _NAME_WORD
from veilflow.tasks.privacy.recognizers.results import _result
from veilflow.tasks.privacy.recognizers.stop_words import _CITY_STOP, _COMMON_WORDS, _NAME_STOP
from veilflow.tasks.privacy.recognizers.word_lists import (
    ambiguous_first_names,
    common_words,
    first_names,
    is_inflected_word,
    places,
    romanized_name_shape,
    surnames,
)

_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord|Rev|Fr|Capt|Sgt|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)"
_NAME_SUFFIXES = frozenset(["Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV", "PhD", "MD", "DDS", "DVM", "Esq", "Esq."])
_SURNAME_SHAPE = regex.compile(
    r"^\p{Lu}\p{Ll}{2,}(?:sson|son|sen|dóttir|dottir|ov|ova|ev|eva|ovich|ovna|evich|evna|enko|"
    r"ski|ska|cki|cka|wicz|vić|vic|ić|escu|poulos|opoulou|akis|idis|ides|yan|nen|berg|ström|"
    r"qvist|kvist|gaard|gård|mann|stein|baum|feld|ez|oglu|oğlu|shvili|dze|czyk|czak|chuk|uk|"
    r"ová|ský|ská|ovský|ovská)$|^(?:O['’]|Mc|Mac|Fitz)\p{Lu}\p{Ll}{2,}$"
)
# Capitalized English words and place names with a surname-like ending.
_SURNAME_SHAPE_STOP = frozenset(
    [
        "Person",
        "Persons",
        "Reason",
        "Season",
        "Lesson",
        "Poison",
        "Prison",
        "Comparison",
        "Unison",
        "Venison",
        "Treason",
        "Liaison",
        "Crimson",
        "Bison",
        "Arson",
        "Garrison",
        "Chosen",
        "Essen",
        "Kiev",
        "Alaska",
        "Nebraska",
        "Moldova",
        "Heidelberg",
        "Nuremberg",
        "Liechtenstein",
        "Frankenstein",
        "Iceberg",
        "Casanova",
        "Facebook",
        "Outlook",
        "Madison",
        "Jefferson",
        "Edison",
        "Anderson",
        "Dickson",
        "Mission",
        "Session",
        "Lessons",
        "Reasons",
        "Seasons",
        "Golden",
        "Wooden",
        "Sudden",
        "Hidden",
        "Listen",
        "Often",
        "Women",
        "Children",
        "Garden",
        "Dozen",
        "Citizen",
        "Kitchen",
        "Chicken",
        "Written",
        "Broken",
        "Chosen",
        "Given",
        "Frozen",
    ]
)
_TITLED_NAME = regex.compile(rf"(?<![\p{{L}}\d][ ])\b{_TITLE}\.?[ ]+(?P<name>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,3}})")
_CUE_NAME = regex.compile(
    rf"(?i:\b(?:my name is|name is|name's|name:|named|called|call me|signed|sincerely,|regards,|"
    rf"(?<=(?:^|[\n.!?])[ \t]*)(?:best|cheers|warmly|yours),|dear|"
    rf"directed by:?|written by:?|contact person:?|last name\??|first name\??|surname\??|full name:?|"
    rf"this is|i am|i'm|hi|hello|thanks|thank you,?|attn:?|attention:?|patient:?|customer:?|"
    rf"cardholder:?|speak to|ask for|said|says|asked|told|replied|according to|known as|nicknamed|a\.?k\.?a\.?))"
    rf"[ \t]*\n?[ \t]*(?P<name>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,3}})"
)
# A closing line of a letter or mail ("Thanks again,", "All the best", "Take care,") and the name on the next line.
SIGN_OFF_NAME = regex.compile(
    rf"(?m)^[ \t>]*(?i:thanks(?:[ ](?:again|so much|a lot|in advance))?|many thanks|thank you(?:[ ](?:again|so much))?|"
    rf"best(?:[ ](?:wishes|regards))?|all the best|kind(?:est)? regards|warm(?:est)? regards|regards|cheers|sincerely|"
    rf"yours(?:[ ](?:truly|sincerely|faithfully))?|talk soon|take care|love|hugs|warmly|respectfully|br|rgds)"
    rf"[ \t]*[,!.]?[ \t]*\n[ \t>]*(?P<name>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,2}})[ \t]*$"
)
# Names identified by what follows them: "Dexter lives on ...", "I'm Melvin's daughter".
_NAME_BEFORE_CUE = regex.compile(
    rf"(?P<name>\p{{Lu}}[{_L}'’-]+(?:[ ](?:\p{{Lu}}\.?|\p{{Lu}}[{_L}'’-]+)){{0,2}})"
    rf"(?:[ ](?:lives|lived|resides|resided|was born|grew up|works at|worked at|is from|had given|has given|"
    rf"says|said|explained|replied|wrote|began|joins us|joined us|will join)\b"
    rf"|['’]s[ ](?:daughter|son|wife|husband|mother|father|brother|sister|kid|child|children|parents|"
    rf"friend|boss|partner|widow|widower)\b)"
)
_NAME_AFTER_CUE = regex.compile(
    rf"(?i:\bmy[ ](?:kid|son|daughter|wife|husband|mother|mom|father|dad|brother|sister|friend|boss|"
    rf"colleague|neighbou?r|partner|grandmother|grandfather|child|uncle|aunt|cousin|nephew|niece))[ ]"
    rf"(?P<name>\p{{Lu}}[{_L}'’-]+(?:[ ]\p{{Lu}}[{_L}'’-]+)?)"
)
_LOWER_CUE_NAME = regex.compile(
    rf"\b(?:my name is|name is|call me|calls me|called|named|last name\??|first name\??)[ \t]*\n?[ \t]*"
    rf"(?P<name>[{_L}][{_L}'’-]+(?:[ ][{_L}][{_L}'’-]+)?)"
)
_TOKEN = regex.compile(rf"[{_L}][{_L}'’-]*\.?")
_INITIAL = regex.compile(r"\p{Lu}\.?")
_POSSESSIVE = regex.compile(r"['’]s$")
_SENTENCE_START = regex.compile(r"(?:^|[.!?:;\n>\"“(]\s*|\?\?\?\s*)$")


class PersonNameRecognizer(LocalRecognizer):
    """Person names the small NER model misses.

    General signals only: a courtesy title (Mr., Mrs., Dr. ...) followed by capitalized
    words; a cue phrase ("my name is", "Name:", "Dear", "call me", "my son") before, or
    ("lives on", "'s daughter") after, capitalized words; and runs of name-like tokens containing a known given name (built-in
    multicultural list plus the US Census list), a known surname (US Census list) or a
    surname-shaped word (-son, -sen, -ov(a), -ski, -wicz, -vić, -nen, -dóttir ...). In
    all-lowercase notes only known, unambiguous given names start a name. The title
    itself is not part of the span.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["PERSON"],
            supported_language=supported_language,
            name="PersonNameRecognizer",
        )

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for m in _TITLED_NAME.finditer(text):
            s, e = _trim_name(text, m.start("name"), m.end("name"))
            if e > s:
                results.append(_result("PERSON", s, e, 0.85, self))
        for m in _CUE_NAME.finditer(text):
            s, e = _trim_name(text, m.start("name"), m.end("name"))
            if e > s:
                results.append(_result("PERSON", s, e, 0.6, self))
        if "\n" in text:
            for m in SIGN_OFF_NAME.finditer(text):
                s, e = _trim_name(text, m.start("name"), m.end("name"))
                if e > s:
                    results.append(_result("PERSON", s, e, 0.7, self))
        for pattern in (_NAME_BEFORE_CUE, _NAME_AFTER_CUE):
            for m in pattern.finditer(text):
                s, e = _trim_name(text, m.start("name"), m.end("name"))
                if e > s:
                    results.append(_result("PERSON", s, e, 0.6, self))
        if text == text.lower():
            for m in _LOWER_CUE_NAME.finditer(text):
                words = m.group("name").split()
                keep = list(itertools.takewhile(lambda w: w not in _COMMON_WORDS and w not in _SPACY_STOP, words))
                if keep:
                    end = m.start("name") + len(" ".join(keep))
                    results.append(_result("PERSON", m.start("name"), end, 0.6, self))
        results += self._name_runs(text, nlp_artifacts)
        return results

    def _name_runs(self, text: str, nlp_artifacts: NlpArtifacts | None) -> list[RecognizerResult]:
        lowercase_text = text == text.lower()
        tokens = list(_TOKEN.finditer(text))
        # POS tags only matter for lowercase notes, where capitalization says nothing.
        pos_by_start = _pos_tags(nlp_artifacts) if lowercase_text else {}
        results = []
        kind_of: dict[int, str] = {}
        i = 0
        while i < len(tokens):
            run = [i]
            j = i + 1
            while (
                j < len(tokens)
                and len(run) < 5
                and text[tokens[j - 1].end() : tokens[j].start()] in (" ", "  ")
                and not _POSSESSIVE.search(tokens[j - 1].group())
                # "... Václav. Selvi Aslan": a word with a full stop (not an initial or title) ends a sentence
                and not (
                    tokens[j - 1].group().endswith(".")
                    and len(tokens[j - 1].group()) > 2
                    and tokens[j - 1].group()[:-1] not in _NAME_STOP
                    and tokens[j - 1].group() not in _NAME_SUFFIXES
                )
            ):
                run.append(j)
                j += 1
            for k in run:
                if k not in kind_of:  # runs overlap: classify each token once
                    kind_of[k] = _token_kind(text, tokens[k], lowercase_text, pos_by_start)
            kinds = [kind_of[k] for k in run]
            # "Per Esther Nnamani's note": a function word that starts the sentence is not a given name.
            if (
                not lowercase_text
                and kinds
                and tokens[run[0]].group().lower() in _LEAD_WORDS
                and _SENTENCE_START.search(text[: tokens[run[0]].start()])
            ):
                kinds[0] = "stop"
            # A single capital ("A", "I", "A.") between two name words is a middle initial,
            # even though on its own it is a stop word ("Juliusz A Kwiatkowski").
            for n in range(1, len(kinds) - 1):
                if (
                    kinds[n] == "stop"
                    and _INITIAL.fullmatch(tokens[run[n]].group())
                    and kinds[n - 1] in _NAME_KINDS
                    and kinds[n + 1] in _NAME_KINDS
                ):
                    kinds[n] = "initial"
            # A trailing initial is not part of a name ("... Ariana, Isabel A").
            while kinds and kinds[-1] == "initial" and len(kinds) > 1 and kinds[-2] == "stop":
                kinds.pop()
            # Cut the run at the first token that cannot be part of a name.
            cut = next((n for n, kind in enumerate(kinds) if kind == "stop"), len(kinds))
            kinds = kinds[:cut]
            if not kinds or kinds[0] == "particle":
                i += 1
                continue
            while kinds and kinds[-1] in ("initial", "particle"):
                kinds.pop()
            if not kinds:
                i += 1
                continue
            # "Szabina J Gelencsér": a middle initial between two name-like words.
            middle_initial = any(
                kinds[n] == "initial" and kinds[n - 1] != "initial" and kinds[n + 1] != "initial"
                for n in range(1, len(kinds) - 1)
            )
            anchors = [
                n for n, kind in enumerate(kinds) if kind in ("first", "surname", "shape") or (kind == "cjk" and len(kinds) > 1)
            ]
            # "Coluccio Saragat", "Usiku Akinyi": two capitalized words no list explains (not ordinary words, not
            # places), the second not at a sentence start, and no organisation word after them.
            rare_pair = (
                not lowercase_text
                and len(kinds) >= 2
                and sum(1 for k in kinds if k == "rare") >= 2 - sum(1 for k in kinds if k in ("first", "surname", "shape"))
                and all(k in ("rare", "first", "surname", "shape", "initial", "particle") for k in kinds)
                and not _ORG_AFTER.match(text, tokens[run[len(kinds) - 1]].end())
            )
            if not anchors and not rare_pair and not (middle_initial and not lowercase_text):
                i += 1
                continue
            if lowercase_text:
                if kinds[0] != "first":
                    i += 1
                    continue
                # Lowercase notes: a given name, an optional initial, and at most one surname.
                keep = 1
                if keep < len(kinds) and kinds[keep] == "initial":
                    keep += 1
                if keep < len(kinds) and kinds[keep] in ("cap", "first"):
                    keep += 1
                kinds = kinds[:keep]
                while kinds[-1] == "initial":
                    kinds.pop()
            last = len(kinds)
            first_tok, last_tok = tokens[run[0]], tokens[run[last - 1]]
            start, end = first_tok.start(), last_tok.start() + len(_POSSESSIVE.sub("", last_tok.group()))
            if text[end - 1] == "." and last_tok.group() not in _NAME_SUFFIXES:
                end -= 1
            if last == 1:
                only = kinds[0]
                word = first_tok.group().rstrip(".")
                if (
                    only == "first"
                    and word.lower() in ambiguous_first_names()
                    and _SENTENCE_START.search(text[: first_tok.start()])
                ):
                    i += 1
                    continue
                score = {"first": 0.5, "surname": 0.45, "shape": 0.45}.get(only, 0.0)
                if len(word) < 3 or score == 0.0:
                    i += 1
                    continue
            else:
                score = 0.7
            results.append(_result("PERSON", start, end, score, self))
            i = run[last - 1] + 1
        return results


_NAME_KINDS = frozenset({"first", "surname", "shape", "cap", "cjk", "rare"})
_COUNTRY_WORDS_LOW = frozenset(w.lower() for w in _COUNTRY_WORDS)
# Words after a capitalized pair that make it an organisation or a product, not a person.
_ORG_AFTER = regex.compile(
    r"(?:,?[ ]+(?:Inc|Corp|Corporation|Co|Ltd|LLC|LLP|PLC|plc|GmbH|AG|SA|S\.A|NV|BV|SpA|Group|Holdings|Bank|Capital|"
    r"Partners|Associates|Systems|Technologies|Labs|Foundation|Institute|University|College|School|Hospital|Clinic|"
    r"Center|Centre|Museum|Airport|Station|Street|Road|Avenue|River|Lake|Mountains?|Island|Valley|Park|Hotel|"
    r"Restaurant|Club|Team|FC|Records|Press|Media|Studios?|Pharma|Motors|Airlines|Energy|Software)\b)"
)
# Words that start sentences and are also listed given names somewhere ("Per", "Via", "Bob" is not here).
_LEAD_WORDS = frozenset(
    ["per", "via", "re", "cc", "lol", "ok", "hey", "rip", "ngl", "tbh", "omg", "so", "and", "but", "ps", "pls", "thx"]
)
_PARTICLES = frozenset(
    [
        "de",
        "da",
        "do",
        "dos",
        "das",
        "du",
        "des",
        "del",
        "della",
        "di",
        "van",
        "von",
        "der",
        "den",
        "ten",
        "ter",
        "la",
        "le",
        "bin",
        "binti",
        "ibn",
        "af",
        "zu",
    ]
)


def _pos_tags(nlp_artifacts: NlpArtifacts | None) -> dict[int, str]:
    """Map token start offsets to coarse POS tags (empty without a tagging pipeline)."""
    if nlp_artifacts is None or nlp_artifacts.tokens is None:
        return {}
    return {t.idx: t.pos_ for t in nlp_artifacts.tokens if t.pos_}


_NON_NAME_POS = frozenset({"VERB", "AUX", "ADP", "DET", "PRON", "CCONJ", "SCONJ", "PART", "NUM", "PUNCT", "ADV"})


def _token_kind(text: str, tok: regex.Match, lowercase_text: bool, pos_by_start: dict[int, str]) -> str:
    """Classify one word token: first / surname / shape / cap / stop."""
    word = _POSSESSIVE.sub("", tok.group())
    bare = word.rstrip(".")
    low = bare.lower()
    if lowercase_text:
        if len(bare) == 1:
            return "initial"
        if (
            low in _COMMON_WORDS
            or low in _SPACY_STOP
            or low in _LEAD_WORDS
            or pos_by_start.get(tok.start()) in _NON_NAME_POS
            or (low not in first_names() and is_inflected_word(low))
        ):
            return "stop"
        if low in first_names() and low not in ambiguous_first_names() and len(low) > 2:
            return "first"
        return "cap" if len(bare) > 1 else "stop"
    if bare in _NAME_STOP or bare in _CITY_STOP or bare in _COUNTRY_WORDS:
        return "stop"
    if bare in _PARTICLES:
        return "particle"  # "Kieron de Hóir", "Maria da Silva": inside a name only
    if word in _NAME_SUFFIXES:
        return "cap"
    if _INITIAL.fullmatch(word):
        return "initial"
    if not (bare[:1].isupper() and not bare.isupper()):
        return "stop"
    if low in first_names():
        return "first"
    if low in surnames():
        return "surname"
    if "-" in low and all(p in first_names() or p in surnames() for p in low.split("-") if p):
        return "first" if low.split("-")[0] in first_names() else "surname"  # "Marco-Oliwier", "Lloyd-Jones"
    if _SURNAME_SHAPE.match(bare) and bare not in _SURNAME_SHAPE_STOP and low not in common_words():
        return "shape"
    if len(low) >= 5 and romanized_name_shape(low) and low not in common_words() and low not in places():
        return "cjk"  # "Taehyung", "Xiaoming": two romanized Korean/Mandarin name syllables; never a name alone
    parts = [p for p in low.replace("’", "'").split("-") if p]
    if (
        parts
        and all(len(p) >= 2 and p not in common_words() and p not in _SPACY_STOP for p in parts)
        and not (low in places() or any(p in _COUNTRY_WORDS_LOW for p in parts))
    ):
        return "rare"  # not an ordinary word or a place: a proper noun no list explains ("Saragat")
    return "cap"


def _trim_name(text: str, start: int, end: int) -> tuple[int, int]:
    """Cut a name span at the first stop word (e.g. 'Suite', 'The') and trailing punctuation."""
    words = list(regex.finditer(r"\S+", text[start:end]))
    while words and (words[0].group() in _NAME_STOP or words[0].group() in _CITY_STOP or words[0].group() in ("I'm", "I’m")):
        words = words[1:]
    if not words:
        return start, start
    start += words[0].start()
    words = list(regex.finditer(r"\S+", text[start:end]))
    keep_end = start
    for w in words:
        if w.group().rstrip(".,") in _NAME_STOP or w.group().rstrip(".,") in _CITY_STOP:
            break
        keep_end = start + w.end()
    while keep_end > start and text[keep_end - 1] in ".,":
        if regex.search(r"(?:^|\s)\p{Lu}\.$", text[start:keep_end]):
            break
        keep_end -= 1
    return start, keep_end
