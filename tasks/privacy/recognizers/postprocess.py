"""Post-processing of analyzer results: false-positive filters, person-name propagation and address span merging."""

from __future__ import annotations

import regex
from presidio_analyzer import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS as _SPACY_STOP

from veilflow.tasks.privacy.recognizers.evidence import require_evidence
from veilflow.tasks.privacy.recognizers.patterns import _COUNTRY_WORDS, _L, _NAME_WORD
from veilflow.tasks.privacy.recognizers.results import ADDRESS_ENTITY
from veilflow.tasks.privacy.recognizers.stop_words import _CITY_STOP, _COMMON_WORDS, _NAME_STOP
from veilflow.tasks.privacy.recognizers.word_lists import (
    ambiguous_first_names,
    common_words,
    first_names,
    proper_common_words,
    surnames,
)

# Entities whose spans are never a date: a DATE_TIME hit overlapping one is dropped.
_NOT_DATE_ENTITIES = frozenset(
    {"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", ADDRESS_ENTITY, "US_BANK_NUMBER"}
)


_MONTHS_DAYS = regex.compile(
    r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    r"july|august|september|october|november|december|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
)


def filter_false_positives(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Drop detections that are not PII under veilflow's policy.

    DATE_TIME hits are kept only when they look like a calendar date or year: a hit that
    is a bare digit string (other than a 4-digit year 1900-2099), has no digit and no
    month/weekday name ("next week", "36 years"), or overlaps a phone/card/SSN/IBAN/IP/
    address hit is dropped. URL hits inside an e-mail address hit are dropped (the e-mail
    already covers them), and so are PHONE_NUMBER hits without "+"/"(" lying inside a street
    address (house-number pairs such as "3536 1659 Hoog St").

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text``.

    Returns:
        A new list without the dropped results (inputs are not mutated).
    """
    blockers = [r for r in results if r.entity_type in _NOT_DATE_ENTITIES]
    emails = [r for r in results if r.entity_type == "EMAIL_ADDRESS"]
    cards = [r for r in results if r.entity_type == "CREDIT_CARD"]
    addresses = [r for r in results if r.entity_type == ADDRESS_ENTITY]
    kept = []
    for r in results:
        if (
            r.entity_type == "PHONE_NUMBER"
            and not text[r.start : r.end].startswith(("+", "("))
            and any(a.start <= r.start and r.end <= a.end for a in addresses)
        ):
            # A digit pair inside a street address is a house number, not a phone.
            continue
        if r.entity_type == "DATE_TIME":
            value = text[r.start : r.end]
            compact = regex.sub(r"[\s,.]", "", value)
            if compact.isdigit() and not regex.fullmatch(r"(?:19|20)\d\d", compact):
                continue
            if not regex.search(r"\d", value) and not _MONTHS_DAYS.search(value):
                continue
            if regex.search(
                r"(?i)\b(?:years?|yrs?|months?|weeks?|days?|hours?|minutes?|age|aged|old)\b", value
            ) and not _MONTHS_DAYS.search(value):
                continue
            if any(b.start < r.end and r.start < b.end for b in blockers):
                continue
        if r.entity_type in ("URL", "PERSON", "LOCATION", "USERNAME") and any(
            e.start <= r.start and r.end <= e.end and (e.start, e.end) != (r.start, r.end) for e in emails
        ):
            continue  # part of an e-mail address, which is masked whole
        if r.entity_type != "CREDIT_CARD" and any(
            c.start <= r.start and r.end <= c.end and (c.start, c.end) != (r.start, r.end) for c in cards
        ):
            continue  # a piece of a card number (a "phone", a MAC address)
        kept.append(r)
    return kept


_MERGE_GAP = regex.compile(r"^[\s,>?|]*$")


def merge_adjacent_spans(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Merge each street-address span with LOCATION/address spans next to or inside it.

    Spans separated only by whitespace, commas or quote markers (``>``) are joined into
    one ``STREET_ADDRESS`` span with the highest score, so "42 Main St" + "Springfield"
    is masked as one address instead of leaving fragments or gaps.

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text``.

    Returns:
        A new list: merged address spans plus all other results unchanged.
    """
    mergeable = sorted((r for r in results if r.entity_type in (ADDRESS_ENTITY, "LOCATION")), key=lambda r: (r.start, r.end))
    if not any(r.entity_type == ADDRESS_ENTITY for r in mergeable):
        return list(results)
    groups: list[list[RecognizerResult]] = []
    for r in mergeable:
        if groups:
            last_end = max(x.end for x in groups[-1])
            if r.start <= last_end or _MERGE_GAP.match(text[last_end : r.start]):
                groups[-1].append(r)
                continue
        groups.append([r])
    merged: list[RecognizerResult] = []
    for g in groups:
        if not any(r.entity_type == ADDRESS_ENTITY for r in g):
            merged.extend(g)
            continue
        best = max(g, key=lambda r: r.score)
        merged.append(
            RecognizerResult(
                entity_type=ADDRESS_ENTITY,
                start=min(r.start for r in g),
                end=max(r.end for r in g),
                score=max(r.score for r in g),
                analysis_explanation=best.analysis_explanation,
                recognition_metadata=dict(best.recognition_metadata or {}),
            )
        )
    others = [r for r in results if r.entity_type not in (ADDRESS_ENTITY, "LOCATION")]
    return others + merged


# Titles and roles before a name that are not part of it ("President Obama", "General John Kelly").
_ROLE_TITLES = frozenset(
    [
        "President",
        "General",
        "Gen",
        "Senator",
        "Sen",
        "Governor",
        "Gov",
        "Mayor",
        "Judge",
        "Justice",
        "Sgt",
        "Sergeant",
        "Officer",
        "Captain",
        "Capt",
        "Colonel",
        "Col",
        "Lieutenant",
        "Lt",
        "Major",
        "Chairman",
        "Chairwoman",
        "Secretary",
        "Minister",
        "Prime",
        "Director",
        "Professor",
        "Coach",
        "Pastor",
        "Father",
        "Sister",
        "Uncle",
        "Aunt",
        "King",
        "Queen",
        "Prince",
        "Princess",
        "Lord",
        "Lady",
        "Sheriff",
        "Deputy",
        "Agent",
        "Detective",
        "Chief",
        "Commissioner",
        "Ambassador",
        "Miss",
        "Mister",
        "Saint",
        "Rep",
        "Representative",
        "Congressman",
        "Congresswoman",
        "Speaker",
        "Comedian",
        "Lyin",
        "Crooked",
        "Goofy",
        "Dr",
        "Mr",
        "Mrs",
        "Ms",
        "Master",
        "Rev",
    ]
)
# Lower-case chat and verb words the NER model glues to a name ("lol peadar", "ping jaime.saucedo").
_LEAD_IN = frozenset(
    [
        "lol",
        "lmao",
        "omg",
        "ngl",
        "tbh",
        "rip",
        "ping",
        "pinged",
        "cc",
        "thanks",
        "thx",
        "ty",
        "tell",
        "ask",
        "call",
        "text",
        "email",
        "dm",
        "hi",
        "hey",
        "hello",
        "dear",
        "met",
        "with",
        "for",
        "to",
        "from",
        "and",
        "or",
        "but",
        "so",
        "ok",
        "okay",
        "congrats",
        "love",
        "miss",
        "bye",
        "yo",
        "shoutout",
        "ft",
        "feat",
        "vs",
    ]
)
# Courtesy titles that a name span may have swallowed ("Allen, Miss"): never propagated as a name.
_TITLE_PARTS = frozenset(["Miss", "Master", "Madam", "Mme", "Mlle", "Mister", "Missus"])

_NAME_LINE = regex.compile(
    rf"^[ \t>?]*(?:[\p{{L}} ]{{1,30}}:[ \t]*)?(?P<name>(?:{_NAME_WORD}|[{_L}]+)(?:[ ]{{1,2}}(?:{_NAME_WORD}|[{_L}]+\.?)){{1,3}})[ \t]*$"
)


def _addressee_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """PERSON results for the name line heading a letter-style address block.

    In "Jane Doe\nAcme Corp\n12 Main St ..." the top line of the (up to 3) lines right
    above a street address that starts a line is the addressee, when it is shaped like a
    name (2-4 words, no digits, no organisation words). Repeats of that line are marked too.
    """
    found: list[RecognizerResult] = []
    for addr in results:
        if addr.entity_type != ADDRESS_ENTITY:
            continue
        line_start = text.rfind("\n", 0, addr.start) + 1
        if text[line_start : addr.start].strip(" \t>?") and not text[line_start : addr.start].rstrip().endswith(":"):
            continue
        above = text[:line_start].rstrip("\n").split("\n")
        block = [ln for ln in above[-5:] if ln.strip(" \t>?")][-3:]
        if not block or any(ln.rstrip().endswith(":") for ln in block):
            continue
        m = _NAME_LINE.match(block[0])
        if not m:
            continue
        words = m.group("name").split()
        if any(w.rstrip(".") in _NAME_STOP or w.rstrip(".").lower() in _COMMON_WORDS for w in words):
            continue
        name = m.group("name")
        for occ in regex.finditer(rf"(?<![\p{{L}}]){regex.escape(name)}(?![\p{{L}}])", text[: addr.start]):
            found.append(
                RecognizerResult(
                    "PERSON",
                    occ.start(),
                    occ.end(),
                    0.5,
                    recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: "AddresseeLine"},
                )
            )
    return found


def _split_at_commas(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """A PERSON span across a comma ("Carper, Thomas") is two names or a surname and a given name: two spans."""
    out: list[RecognizerResult] = []
    for r in results:
        if r.entity_type != "PERSON" or ", " not in text[r.start : r.end]:
            out.append(r)
            continue
        for piece in regex.finditer(r"[^,]+", text[r.start : r.end]):
            s, e = r.start + piece.start(), r.start + piece.end()
            while s < e and text[s] == " ":
                s += 1
            if e - s >= 2:
                out.append(
                    RecognizerResult(
                        r.entity_type,
                        s,
                        e,
                        r.score,
                        analysis_explanation=r.analysis_explanation,
                        recognition_metadata=dict(r.recognition_metadata or {}),
                    )
                )
    return out


def _clean_person_span(text: str, r: RecognizerResult) -> RecognizerResult | None:
    """Trim a PERSON span to the name: no line break, sentence end, possessive or lead-in word."""
    start, end = r.start, r.end
    value = text[start:end]
    cut = regex.search(r"\n|(?<!\b\p{L})[.!?]\s|[:\"“”(@]|['’]s\b|\s[-–—]\s|--|\s(?:and|&|or|&amp;)\s", value)
    if cut:
        end = start + cut.start()
    while True:
        m = regex.match(r"\s*([\p{L}'’]+)\.?\s+", text[start:end])
        if not m or not (
            m.group(1) in _NAME_STOP
            or m.group(1) in _CITY_STOP
            or m.group(1).lower() in _COMMON_WORDS
            or m.group(1).lower() in ("i'm", "i’m")
            or m.group(1) in _ROLE_TITLES
            or m.group(1) in _LEAD_IN
        ):
            break
        start += m.end()
    while end > start and (text[end - 1] in " \t,;-" or regex.match(r"[\p{So}\p{Cs}\p{Sk}]", text[end - 1])):
        end -= 1  # "james 💕": an emoji is not part of the name
    if end - start < 2 or text[start:end].rstrip(".") in _TITLE_PARTS | {"Mr", "Mrs", "Ms", "Dr", "Prof", "Rev"}:
        return None
    if (start, end) == (r.start, r.end):
        return r
    return RecognizerResult(
        r.entity_type,
        start,
        end,
        r.score,
        analysis_explanation=r.analysis_explanation,
        recognition_metadata=dict(r.recognition_metadata or {}),
    )


_COORDINATION = regex.compile(
    rf"(?<![\p{{L}}\p{{M}}])\p{{Lu}}[{_L}'’-]+(?:(?:,[ ]|,?[ ]and[ ]|[ ]&[ ])\p{{Lu}}[{_L}'’-]+)+(?![\p{{L}}\p{{M}}])"
)
_SPEAKER = regex.compile(rf"(?m)^[ \t>]*(\p{{Lu}}[{_L}'’-]+)[ \t]*:[ \t]*(?=\S)")
_LABEL_WORDS = frozenset(
    [
        "Name",
        "Phone",
        "Mobile",
        "Desk",
        "Fax",
        "Email",
        "E-mail",
        "Website",
        "Address",
        "Zip",
        "ZIP",
        "Tel",
        "Cell",
        "Office",
        "Home",
        "Work",
        "Bot",
        "User",
        "Agent",
        "Customer",
        "Answer",
        "Question",
        "Note",
        "Notes",
        "Subject",
        "Date",
        "Time",
        "Re",
        "Fwd",
        "To",
        "From",
        "Cc",
        "Ref",
        "Order",
        "Account",
        "Card",
        "Title",
        "Company",
        "Directed",
        "Written",
        "Produced",
        "Starring",
        "Genre",
        "Rating",
        "Runtime",
    ]
)


_LOWER_LIST = regex.compile(
    rf"(?<![{_L}'’-])[{_L}][{_L}'’-]+(?:(?:,[ ]|,?[ ]and[ ]|[ ]&[ ])(?!and\b)[{_L}][{_L}'’-]+){{2,}}(?![{_L}'’-])"
)


def _lowercase_name_lists(text: str) -> list[RecognizerResult]:
    """In all-lowercase text, every item of a list ("adam, leonti, chad and caleb") with two or
    more known, unambiguous given names is a name (common words excepted)."""
    if text != text.lower():
        return []
    found = []
    for m in _LOWER_LIST.finditer(text):
        words = [w for w in regex.finditer(rf"[{_L}][{_L}'’-]+", m.group()) if w.group() != "and"]
        known = [w for w in words if w.group() in first_names() and w.group() not in ambiguous_first_names()]
        if len(known) < 2 or len(known) * 2 < len(words):
            continue
        for w in words:
            if w.group() not in _COMMON_WORDS and w.group() not in _SPACY_STOP:
                found.append(_person_hit(m.start() + w.start(), m.start() + w.end(), "PersonNameList"))
    return found


def _person_hit(start: int, end: int, source: str) -> RecognizerResult:
    return RecognizerResult("PERSON", start, end, 0.5, recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: source})


def _coordinated_and_speaker_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Names listed next to a known name ("Kadiev and Adams") and dialogue speaker labels."""
    persons = [r for r in results if r.entity_type == "PERSON"]
    taken = [r for r in results if r.entity_type in ("PERSON", ADDRESS_ENTITY, "LOCATION")]
    found: list[RecognizerResult] = []

    def free(s: int, e: int) -> bool:
        return not any(s < r.end and r.start < e for r in taken + found)

    for m in _COORDINATION.finditer(text):
        words = list(regex.finditer(rf"\p{{Lu}}[{_L}'’-]+", m.group()))
        words = [w for w in words if w.group() not in ("And",)]
        known = [w for w in words if any(p.start <= m.start() + w.start() and m.start() + w.end() <= p.end for p in persons)]
        if not known or len(known) == len(words):
            continue
        for w in words:
            s, e = m.start() + w.start(), m.start() + w.end()
            ordinary = w.group().lower() in common_words() and not (
                w.group().lower() in first_names()
                or w.group().lower() in surnames()
                or w.group().lower() in ambiguous_first_names()
            )
            if (ordinary and w.group().lower() not in proper_common_words()) or w.group().isupper() or w.group() in _ROLE_TITLES:
                continue  # "ISIS, VA, Judges and ...": acronyms and ordinary words are not names
            if w.group() not in _NAME_STOP and w.group() not in _CITY_STOP and w.group() not in _COUNTRY_WORDS and free(s, e):
                found.append(_person_hit(s, e, "PersonNameCoordination"))
    speakers = [m for m in _SPEAKER.finditer(text) if m.group(1) not in _LABEL_WORDS and m.group(1) not in _NAME_STOP]
    if len(speakers) >= 2 and any(
        m.group(1).lower() in first_names() or any(p.start <= m.start(1) < p.end for p in persons) for m in speakers
    ):
        for m in speakers:
            if free(m.start(1), m.end(1)):
                found.append(_person_hit(m.start(1), m.end(1), "PersonNameSpeaker"))
    return found


def propagate_person_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Mark later mentions of a detected person's name parts ("Jane Doe ... Doe said").

    PERSON spans are first trimmed to the name (no line break, sentence end, possessive
    "'s" or lead-in word such as "I'm"). Single words coordinated with a detected name
    ("Kadiev and Adams") and dialogue speaker labels ("Ubul: ...", when two or more lines
    have them and one is a known name) become PERSON hits. Finally each capitalized part
    (3+ letters, not a stop word) of a PERSON span becomes a PERSON hit wherever it
    appears on its own. PERSON hits inside a street address (street names
    such as "Kimberly Way") are dropped unless they came from a courtesy title.

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text`` (not mutated).

    Returns:
        The results plus the propagated mentions.
    """
    addresses = [r for r in results if r.entity_type == ADDRESS_ENTITY]
    cleaned = [r if r.entity_type != "PERSON" else _clean_person_span(text, r) for r in _split_at_commas(text, results)]
    out = [
        r
        for r in cleaned
        if r is not None
        and not (
            r.entity_type == "PERSON"
            and not (
                r.score >= 0.85
                and (r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY) == "PersonNameRecognizer"
            )
            and any(a.start <= r.start and r.end <= a.end for a in addresses)
        )
    ]
    out += [
        r
        for r in _addressee_names(text, results)
        if not any(o.entity_type == "PERSON" and o.start <= r.start and r.end <= o.end for o in out)
    ]
    out += _coordinated_and_speaker_names(text, out)
    out += [
        r
        for r in _lowercase_name_lists(text)
        if not any(o.entity_type == "PERSON" and o.start <= r.start and r.end <= o.end for o in out)
    ]
    persons = [r for r in out if r.entity_type == "PERSON"]
    parts = {
        w
        for r in persons
        for w in regex.findall(rf"[{_L}][{_L}'’-]+", text[r.start : r.end])
        if len(w) >= 3 and w[:1].isupper() and w not in _NAME_STOP and w not in _CITY_STOP and w not in _TITLE_PARTS
    }
    for part in parts:
        for m in regex.finditer(rf"(?<![\p{{L}}\p{{M}}]){regex.escape(part)}(?![\p{{L}}\p{{M}}])", text):
            if any(m.start() < r.end and r.start < m.end() for r in out if r.entity_type in ("PERSON", ADDRESS_ENTITY)):
                continue
            hit = RecognizerResult(
                "PERSON",
                m.start(),
                m.end(),
                0.5,
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: "PersonNamePropagation"},
            )
            out.append(hit)
    return out


def postprocess_results(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Apply all of veilflow's post-processing, in order.

    ``filter_false_positives`` (DATE_TIME on digit strings, house-number "phones", URLs
    inside e-mails), ``require_evidence`` (no PERSON / LOCATION on ordinary title-case
    phrases; places found as PERSON become LOCATION), ``propagate_person_names`` (addressee
    lines, repeated name parts, no street names as persons), then ``merge_adjacent_spans``
    (one span per address).

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text`` (not mutated).

    Returns:
        The cleaned result list.
    """
    cleaned = require_evidence(text, filter_false_positives(text, results))
    return merge_adjacent_spans(text, propagate_person_names(text, cleaned))
