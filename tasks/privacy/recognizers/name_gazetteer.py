"""Lower-case, hyphenated, apostrophed and non-Western names, and names in e-mail-style ids, from the name lists (`GazetteerNameRecognizer`)."""

from __future__ import annotations

import functools
import itertools

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as _SPACY_STOP

from veilflow.tasks.privacy.recognizers.name_shape import name_over_word
from veilflow.tasks.privacy.recognizers.patterns import _L
from veilflow.tasks.privacy.recognizers.results import _result
from veilflow.tasks.privacy.recognizers.word_lists import (
    ambiguous_first_names,
    common_words,
    first_names,
    is_inflected_word,
    places,
    romanized_name_shape,
    surnames,
)

_LOWER_TOKEN = regex.compile(rf"(?<![{_L}'’@#/\-.])\p{{Ll}}[\p{{Ll}}\p{{M}}'’-]*\p{{Ll}}(?![{_L}'’@\-]|\.[{_L}])")
_SURNAME_PREFIX = regex.compile(r"^(?:o['’]|mc|mac|d['’]|fitz)\p{Ll}{3,}$")
# Words before a lower-case name that say a person follows.
_CUE_BEFORE = regex.compile(
    r"(?i:\b(?:with|and|thanks|thank you|thx|hi|hey|hello|dear|cc|ask|asked|tell|told|met|meet|meeting|love|miss|"
    r"text|texted|email|emailed|ping|pinged|call|called|congrats|congratulations|happy birthday|bye|"
    r"by|from|to|for|ft\.?|feat\.?|vs\.?|name is|named|called|i'm|i am))[ ,]+$"
)
# Words after a lower-case name that say it is a person ("natasza is on leave", "eta and me").
_CUE_AFTER = regex.compile(
    r"[ ,]+(?:is|was|said|says|asked|told|wrote|called|texted|thinks|wants|will|would|can|could|has|had|and me|and i|"
    r"n me|&amp; me|& me)\b"
)
# Hand-off and greeting cues of mail and chat: an unknown lower-case word right after one, standing alone, is a name.
_HANDOFF = regex.compile(
    r"(?i:\b(?:cc|bcc|attn|attention|forward(?:ed|ing)? to|escalate to|hand(?:ed)? (?:it )?(?:over )?to|thanks|thx|"
    r"hi|hey|dear|ping|pinged|ask|tell|shout[ -]?outs? to|props to|if you see|say hi to|tell|with|met|miss|love))[ ,:]+$"
)
_HANDOFF_END = regex.compile(
    r"[ \t]*(?:[-–—,.;:!?)\n]|$|(?:is|was|and|said|says|will|has|for|tell|who|told|lol|haha)\b|\p{So}|\p{Cs})"
)
# A slot only a person fills (`GazetteerNameRecognizer._person_slots`): cues before it, and what may follow it.
_SLOT_BEFORE = regex.compile(
    r"(?i:(?:^|\b)(?:omg|happy (?:birthday|bday|anniversary)|hbd|congrats(?: to)?|congratulations(?: to)?|me and|ask|"
    r"tell|told|thanks|thank you|thank u|thanku|ty|tysm|thx|hi|hey|hello|dear|miss|with|met|text|texted|ping|pinged|"
    r"add|invite|invited|cc|rip|bro|sis|dude|shout[ -]?outs? to|props to|love you|married|dating|date with|"
    r"hang(?:ing)? out with|check with|talk to|spoke (?:to|with)|apologies from))[ ,:]+$"
)
# The start of a text, line or sentence: a slot there needs a person verb after it ("adedeji and i are going").
_SLOT_START = regex.compile(r"(?:^|[\n.!?][ \t]*)$")
_SLOT_AFTER = regex.compile(
    r"(?:[ ]*(?:[!?.,;:)\n]|$|\p{So}|\p{Cs})|[ ]+(?:just|texted|called|said|says|told|knows|is|was|and me|and i|"
    r"and|&|at the|on the|for the|to the|she|he|they|who|lol|haha|tho|whether|about|if|when|because|before|after|"
    r"today|tomorrow|tonight|now|again|too|back|please|pls|owes|owe)\b)"
)
_SLOT_VERB = regex.compile(r"[ ]+(?:just|texted|called|said|says|told|knows|replied|wrote|owes|and i|and me)\b|:[ ]+(?=\S)")
# Cues that also start ordinary phrases ("with care", "miss you"): after them an unknown word must look like a name.
_WEAK_HANDOFF = regex.compile(r"(?i:\b(?:with|met|miss|love|tell|ask)[ ,:]+)$")
# "first.last", "first_last": an e-mail-style id without its domain ("cc priya.raghunathan").
_DOTTED_ID = regex.compile(
    rf"(?<![\w.@\-])(?P<first>[{_L}]{{2,}})[._](?P<last>[{_L}]{{2,}})(?:[._]?\d{{1,4}})?(?![\w@\-]|\.[{_L}])"
)
# Mail-header and hand-off words before an id ("cc", "To:", "loop in"): a first.last id after them is a person
# even when neither part is a listed name.
_ID_CUE = regex.compile(
    r"(?i:\b(?:to|cc|bcc|from|ping|loop in|attn|reply to|forward(?:ed|ing)? to)[ \t]*:?[ \t]*(?:[\w.]+,[ ]*)*)$"
)
_FILE_ENDINGS = frozenset(
    [
        "txt",
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "csv",
        "json",
        "py",
        "js",
        "html",
        "htm",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "zip",
        "exe",
        "md",
        "yaml",
        "yml",
        "xml",
        "com",
        "org",
        "net",
        "io",
        "log",
        "tmp",
    ]
)
_COORDINATION = regex.compile(r"^[ ]*(?:,[ ]*(?:and[ ]+|&[ ]*)?|[ ]+(?:and|&|n|x)[ ]+|[ ]*/[ ]*|[ ]*\+[ ]*)$")


# Chat words that some locale also lists as a name.
_CHAT_WORDS = frozenset(
    [
        "lol",
        "lmao",
        "omg",
        "ngl",
        "tbh",
        "idk",
        "imo",
        "btw",
        "rip",
        "pls",
        "thx",
        "ty",
        "ok",
        "okay",
        "yay",
        "ya",
        "yo",
        "bro",
        "sis",
    ]
)


@functools.lru_cache(maxsize=65536)
def _kind(word: str) -> str:
    """'name' (a listed name that is not an ordinary word or place), 'shape' (name-shaped), 'weak' (a listed name
    that is also an ordinary word: "john", "maria"; it counts only next to a 'name') or ''."""
    low = word.lower().replace("’", "'")
    if low in places() or low in _SPACY_STOP or low in _CHAT_WORDS:
        return ""
    if len(low) < 3:
        return "weak" if low in first_names() or low in surnames() else ""  # "lê", "li": only beside another name
    if low in common_words():
        return "weak" if len(low) >= 3 and (low in first_names() or low in surnames() or low in ambiguous_first_names()) else ""
    parts = [p for p in low.split("-") if p]
    if parts and all((p in first_names() or p in surnames()) and p not in common_words() for p in parts):
        return "name"
    if len(parts) > 1 and all(p in first_names() or p in surnames() or p in ambiguous_first_names() for p in parts):
        return "name"
    if (
        len(parts) > 1
        and any((p in first_names() or p in surnames()) and p not in common_words() for p in parts)
        and all(p not in common_words() or p in first_names() or p in surnames() for p in parts)
    ):
        return "name"  # "jun-serfinaz", "owens-poulain": a listed name joined to one no list holds
    if _SURNAME_PREFIX.match(low) or romanized_name_shape(low):
        return "shape"
    if regex.search(r"(\p{L})\1\1", low) or is_inflected_word(low):
        return ""  # "hmmmm", "sooo": chat elongation; "owes", "texted": inflected ordinary words
    # not a word we know: a surname after a given name ("zoé": three letters, but not an English spelling)
    return "unknown" if (len(low) >= 4 or (len(low) == 3 and not low.isascii())) and low.isalpha() else ""


class GazetteerNameRecognizer(LocalRecognizer):
    """Names the capitalisation-based recognizers cannot see (PERSON).

    Lower-case words that are listed names (given names and surnames of many locales, minus ordinary
    English words and places) or name-shaped (two romanized Korean/Mandarin name syllables such as
    "taehyung"; "o'neill", "mcbride"), hyphenated ones included ("mary-kate"). One such word alone is
    not enough in mixed-case text: it needs a neighbouring name ("priya raghunathan"), a coordination
    with another ("taehyung and jungkook") or a cue word before it ("thanks ana", "with jimin").
    Also "first.last" / "first_last" ids without a domain ("cc priya.raghunathan"), when the first
    part is a known given name.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=["PERSON"], supported_language=supported_language, name="GazetteerNameRecognizer")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        tokens = [(m, _kind(m.group())) for m in _LOWER_TOKEN.finditer(text)]
        marked: set[int] = set()
        i = 0
        while i < len(tokens):
            m, kind = tokens[i]
            if not kind:
                i += 1
                continue
            if kind == "unknown":
                i += 1
                continue
            j = i
            while (
                j + 1 < len(tokens)
                and tokens[j + 1][1]
                and text[tokens[j][0].end() : tokens[j + 1][0].start()] == " "
                and j - i < 2
            ):
                j += 1
            # An unknown word counts only right after a listed given name ("priya raghunathan").
            while (
                j > i
                and tokens[j][1] == "unknown"
                and not (j == i + 1 and kind == "name" and tokens[i][0].group().split("-")[0] in first_names())
            ):
                j -= 1
            if j > i and any(k == "name" for _, k in tokens[i : j + 1]):
                results.append(_result("PERSON", m.start(), tokens[j][0].end(), 0.6, self))
                marked.update(range(i, j + 1))
            i = j + 1
        named = [n for n, (_, kind) in enumerate(tokens) if kind in ("name", "shape", "weak")]
        for n, k in itertools.pairwise(named):
            a, b = tokens[n][0], tokens[k][0]
            # "taro and franciszek": a listed name that is also a word counts beside a name that is not.
            if "weak" in (tokens[n][1], tokens[k][1]) and "name" not in (tokens[n][1], tokens[k][1]):
                continue
            if _COORDINATION.match(text[a.end() : b.start()]):
                for idx in (n, k):
                    if idx not in marked:
                        results.append(_result("PERSON", tokens[idx][0].start(), tokens[idx][0].end(), 0.55, self))
                        marked.add(idx)
        for n, (m, kind) in enumerate(tokens):
            if kind not in ("unknown", "name", "shape") or n in marked:
                continue
            cue = _HANDOFF.search(text[max(0, m.start() - 20) : m.start()])
            if not cue:
                continue
            # "forwarding to wisnu - she asked", "forwarding to sneha walia - ...": one or two words we do not know
            # (or listed names), right after a hand-off cue, and then the end of the phrase.
            last = n
            if (
                n + 1 < len(tokens)
                and tokens[n + 1][1] in ("unknown", "name", "shape")
                and n + 1 not in marked
                and text[m.end() : tokens[n + 1][0].start()] == " "
            ):
                last = n + 1
            if not _HANDOFF_END.match(text, tokens[last][0].end()):
                if last == n or not _HANDOFF_END.match(text, m.end()):
                    continue
                last = n
            picked = [tokens[k] for k in range(n, last + 1)]
            if all(k == "unknown" for _, k in picked) and (
                _WEAK_HANDOFF.search(text[max(0, m.start() - 20) : m.start()])
                and sum(name_over_word(t.group()) for t, _ in picked) <= 0
            ):
                continue
            results.append(_result("PERSON", m.start(), tokens[last][0].end(), 0.45, self))
            marked.update(range(n, last + 1))
        results += self._person_slots(text, tokens, marked)
        for n, (m, kind) in enumerate(tokens):
            if (
                kind == "name"
                and n not in marked
                and (_CUE_BEFORE.search(text[max(0, m.start() - 20) : m.start()]) or _CUE_AFTER.match(text, m.end()))
            ):
                results.append(_result("PERSON", m.start(), m.end(), 0.5, self))
        if "." in text or "_" in text:
            for m in _DOTTED_ID.finditer(text):
                first, last = m.group("first").lower(), m.group("last").lower()
                first_known = first in first_names() and first not in common_words()
                last_known = (last in surnames() or last in first_names()) and last not in common_words()
                if (
                    (first_known and (last_known or (last not in common_words() and len(last) >= 3)))
                    or (last_known and last in surnames() and first not in places())  # "patience.ogunleye"
                ) and last not in places():
                    results.append(_result("PERSON", m.start(), m.end(), 0.6, self))
                elif (
                    _ID_CUE.search(text[max(0, m.start() - 40) : m.start()])
                    # "martin.poulain", "li.lei": after To: / cc, an id with a part that is not a word, or two names
                    and (
                        first not in common_words()
                        or last not in common_words()
                        or ((first in first_names() or first in surnames()) and (last in surnames() or last in first_names()))
                    )
                    and last not in _FILE_ENDINGS
                    and first not in places()
                    and last not in places()
                ):
                    results.append(_result("PERSON", m.start(), m.end(), 0.5, self))
        return results

    def _person_slots(self, text: str, tokens: list[tuple[regex.Match, str]], marked: set[int]) -> list[RecognizerResult]:
        """One or two words no list explains (or a listed name that is also a word) in a slot only a person fills:
        after a cue such as "omg", "happy birthday", "congrats to", "me and", "ask", "with", and before a person
        verb ("just texted", "said", "knows"), a coordination or the end of the phrase. Unlisted words must also
        look like names to the character model (`name_shape`)."""
        found: list[RecognizerResult] = []
        for n, (m, kind) in enumerate(tokens):
            if n in marked or kind not in ("unknown", "weak", "shape", "name"):
                continue
            # "add antonino and janko blümel": the next item of a coordination with a name just found
            coordinated = bool(found) and _COORDINATION.match(text[found[-1].end : m.start()]) is not None
            # At the start of a line or sentence only a person verb after the words makes it a person's slot
            # ("adedeji and i are going", "xiulan: let's go").
            at_start = _SLOT_START.search(text[: m.start()]) is not None
            if not coordinated and not at_start and not _SLOT_BEFORE.search(text[max(0, m.start() - 24) : m.start()]):
                continue
            last = n
            if (
                n + 1 < len(tokens)
                and n + 1 not in marked
                and tokens[n + 1][1] in ("unknown", "name", "shape", "weak")
                and text[m.end() : tokens[n + 1][0].start()] == " "
                and _SLOT_AFTER.match(text, tokens[n + 1][0].end())
            ):
                last = n + 1
            if not _SLOT_AFTER.match(text, tokens[last][0].end()):
                continue
            cued = coordinated or _SLOT_BEFORE.search(text[max(0, m.start() - 24) : m.start()]) is not None
            if not cued and not _SLOT_VERB.match(text, tokens[last][0].end()):
                continue
            kinds = [k for _, k in tokens[n : last + 1]]
            if "name" not in kinds and "shape" not in kinds:
                unknown = [t.group() for t, k in tokens[n : last + 1] if k == "unknown"]
                if unknown and sum(name_over_word(w) for w in unknown) <= 0:
                    continue
                # a listed name that is also a word ("jack") alone needs a person verb after it ("jack just texted")
                if not unknown and not _SLOT_VERB.match(text, tokens[last][0].end()):
                    continue
            found.append(_result("PERSON", m.start(), tokens[last][0].end(), 0.45, self))
            marked.update(range(n, last + 1))
        return found
