"""Street addresses as one span (house number, street, unit, city, state, ZIP, country): `StreetAddressRecognizer`."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.patterns import _CAP, _CITY_WORD, _COUNTRIES, _L, _PARTICLE
from veilflow.tasks.privacy.recognizers.results import ADDRESS_ENTITY, _result
from veilflow.tasks.privacy.recognizers.stop_words import _CITY_STOP
from veilflow.tasks.privacy.recognizers.word_lists import common_words

_NUM = r"\d{1,6}[A-Za-z]?"
# Numbered street names: "5th Ave", "42nd Street".
_ORD = r"\d{1,3}(?:st|nd|rd|th|ST|ND|RD|TH)"
# Street designators of USPS Publication 28 (public domain) plus common UK/Commonwealth
# ones. The English-ambiguous ones ("Key", "Pass", "Union" ...) only score with support.
_STREET_TYPES = (
    "Street|Streets|St|Avenue|Ave|Av|Road|Roads|Rd|Boulevard|Blvd|Lane|Ln|Drive|Drives|Dr|Court|"
    "Courts|Ct|Way|Ways|Place|Pl|Square|Squares|Sq|Terrace|Ter|Crescent|Cres|Circle|Circles|Cir|"
    "Close|Parkway|Parkways|Pkwy|Highway|Hwy|Park|Parks|Green|Greens|Hill|Hills|Row|Mews|Garden|"
    "Gardens|Grove|Groves|Walk|Walks|Path|Trail|Trl|Alley|Plaza|Loop|Expressway|Freeway|Pike|"
    "Turnpike|Heights|Hts|Landing|Ridge|Ridges|Run|Vista|Meadows?|Mills?|Estates?|Bridge|Gate|"
    "Gateway|Wharf|Quay|Rise|Vale|Glens?|Fields?|Junctions?|Crossing|Crossroad|Centers?|Centre|"
    "Route|Rte|Coves?|Creek|Causeway|Parade|Promenade|Esplanade|Broadway|Lodge|Manors?|Ranch|"
    "Springs?|Station|Summit|Track|Valleys?|Villas?|Villages?|Ville|Knolls?|Harbors?|Harbour|"
    "Hollow|Isle|Islands?|Brooks?|Forges?|Fords?|Fort|Flats?|Falls?|Dale|Cliffs?|Burgs?|Bluffs?|"
    "Bend|Beach|Arcade|Yards?|Ports?|Bypass|Camp|Canyon|Cape|Crest|Curve|Dam|Divide|Extensions?|"
    "Ferry|Forks?|Haven|Inlet|Keys?|Lakes?|Landing|Lights?|Loaf|Locks?|Mall|Mission|Motorway|"
    "Mount|Mountains?|Neck|Orchard|Oval|Overpass|Pass|Passage|Pines?|Plains?|Points?|Prairie|"
    "Radial|Ramp|Rapids?|Rest|Rivers?|Shoals?|Shores?|Skyway|Spurs?|Stravenue|Stream|Throughway|"
    "Trace|Trafficway|Tunnel|Underpass|Unions?|Viaduct|Views?|Wall|Wells?"
)
# Unmistakable street words: a street named with one of them needs no house number.
_PLAIN_STREET_TYPES = "Street|Avenue|Road|Boulevard|Lane|Drive|Court|Terrace|Crescent|Parkway|Highway|Alley"
_AMBIGUOUS_TYPES = frozenset(
    [
        "way",
        "ways",
        "place",
        "run",
        "key",
        "keys",
        "pass",
        "rest",
        "union",
        "unions",
        "well",
        "wells",
        "wall",
        "light",
        "lights",
        "lock",
        "locks",
        "mission",
        "points",
        "point",
        "divide",
        "trace",
        "views",
        "view",
        "camp",
        "mall",
        "loaf",
        "neck",
        "oval",
        "ramp",
        "cape",
        "mount",
        "lakes",
        "rivers",
        "plains",
        "pines",
        "stream",
        "passage",
        "spurs",
        "falls",
        "fall",
        "station",
        "center",
        "centers",
    ]
)
_STREET_PREFIXES = (
    "rue|avenue|av\\.|avda\\.|avenida|via|viale|vicolo|piazza|piazzale|piazzetta|largo|corso|strada|"
    "contrada|borgo|calle|carrer|camino|paseo|plaza|rambla|ronda|travesía|rua|rúa|travessa|praça|"
    "estrada|alameda|ladeira|ul\\.|ulica|al\\.|aleja|pl\\.|plac|os\\.|osiedle|trg|boulevard|bd\\.?|"
    "chemin|impasse|allée|quai|place|cours|route|πλατεία|λεωφόρος|λ\\.|οδός|ул\\.|улица|проспект|"
    "jalan|jl\\.|carretera|avinguda|passeig|rruga|sokak|cadde|bulevar|bulevardul|calea|str\\."
)
# Prefixes that are not English words: after a house number the street name that follows
# may be written in lower case ("12 rue des lilas", "5 calle mayor").
_FOREIGN_PREFIXES = (
    "rue|avenida|viale|vicolo|piazza|piazzale|largo|corso|strada|calle|carrer|camino|paseo|rambla|"
    "rua|rúa|travessa|praça|estrada|alameda|ul\\.|ulica|aleja|chemin|impasse|allée|quai|jalan|jl\\.|"
    "carretera|avinguda|passeig|rruga|sokak|cadde|bulevar|calea|str\\."
)
_STREET_SUFFIXES = (
    "strasse|straße|str\\.|gasse|weg|platz|allee|damm|ufer|steig|chaussee|katu|tie|kuja|polku|"
    "raitti|vej|gade|stræde|gatan|vägen|väg|gata|gränd|stigen|veien|vegen|laan|straat|plein|"
    "gracht|kade|singel|dreef|hove|utca|út|útja|u\\.|krt\\.|rkp\\.|köz|fasor|sétány|tér|ulica|"
    "cesta|ulice|náměstí|nábřeží|tänav|põik|iela|gatvė|sokak|caddesi|bulvarı|stien|vangen|bakken|"
    "höfði|vegur|terrasse|brücke"
)
_UNIT = r"(?i:apt|apartment|suite|ste|unit|flat|room|rm|floor|fl|bldg|building|box|no|\#)\.?[ ]?\#?\d{1,6}[A-Za-z]?\b"
_MILITARY_TAIL = r"(?i:apo|fpo|dpo)[ ](?i:aa|ae|ap)[ ]\d{5}\b"
_ZIP = r"(?:\d{5}(?:-\d{3,4})?|\d{2}-\d{3}|\d{4}(?:[ ]\p{Lu}{2})?|\d{3}[ ]\d{2}|\p{Lu}{1,2}\d[\p{Lu}\d]?[ ]\d\p{Lu}{2})(?![\w-]|[ .]\d)"
_STATE = r"\p{Lu}{2,3}(?![\w'’-])"
_CITY = rf"{_CITY_WORD}(?:[ -](?!(?:{_COUNTRIES})(?![\w-]))(?:{_CITY_WORD}|{_PARTICLE}(?=[ -]\p{{Lu}})))*"

_ADDRESS_CONTEXT = regex.compile(
    r"(?i)\b(?:address(?:es)?|live[sd]?|living|located|location|moved?|moving|send|sent|ship(?:ping)?|"
    r"deliver(?:y|ed)?|billing|mail(?:ing)?|resides?|residence|stay(?:ing)?|visit|office[s]?|"
    r"headquarters|taxi|drops?|meet|enter)\b"
)

_ANCHORS = regex.compile(
    rf"""
    (?P<unit>(?:{_UNIT})[ ,]+)?                    # a unit written before the house number
    (?:
        (?P<corner>(?i:the[ ]+)?(?i:corner|intersection)[ ]+of[ ]+
            (?:[\w.'’-]+[ ]+){{1,5}}?and[ ]+[\w.'’-]+(?:[ ]+(?!(?i:the|a|an|to|is|was|where|when|in|on|at|for|with|and|or|but)\b)[\w'’-]+){{0,3}})
      | (?P<prefixed>(?:{_NUM}(?:[ ]{_NUM})?[ ])?(?i:{_STREET_PREFIXES})[ ]
            (?:(?:{_CAP}|{_PARTICLE})[ ]){{0,5}}{_CAP}(?:[ ]{_NUM}\b)?)
      | (?P<lowprefixed>{_NUM}(?:[ ]{_NUM})?[ ](?i:{_FOREIGN_PREFIXES})[ ]
            (?:[{_L}'’-]+[ ]){{0,3}}?[{_L}'’-]{{3,}}(?=[ \t]*(?:[,\n]|$|(?i:{_STREET_TYPES})\b|(?i:{_UNIT}))))
      | (?P<typed>{_NUM}(?:[ ]{_NUM})?[ ](?:(?:{_CAP}|{_ORD})[ ]){{0,4}}(?P<type>(?i:{_STREET_TYPES}))\b\.?)
      | (?P<suffixed>(?:{_NUM}(?:[ ]{_NUM})?[ ])?(?:{_CAP}[ ](?:(?!(?:at|in|on|by|for|to|and|or|the|with|from|of|near)[ ])\p{{Ll}}[{_L}-]*[ ])?){{0,2}}(?:{_PARTICLE}[ ])?[{_L}-]*
            (?i:{_STREET_SUFFIXES})[ ]{_NUM}\b\.?)
      | (?P<onstreet>(?<=\b(?i:on|off|along)[ ])(?:{_CAP}[ ]){{1,3}}(?P<type3>(?:{_PLAIN_STREET_TYPES}))\b\.?)
      | (?P<box>(?:{_NUM}[ ])?(?i:p\.?[ ]?o\.?[ ]?box|post[ ]office[ ]box|postbox|(?:psc|unit|cmr)[ ]\d{{1,5}},?[ ]box)[ ]?\d{{1,6}}\b)
      | (?P<ship>(?i:uss|usns|usnv|uscgc)[ ]{_CAP}(?:[ ]{_CAP}){{0,2}}(?=\s*\n?\s*(?i:apo|fpo|dpo)))
      | (?P<midnum>(?:{_CAP}[ ]){{1,3}}{_NUM}[ ](?:{_CAP}[ ]){{0,3}}(?P<type2>(?i:{_STREET_TYPES}))\b\.?)
      | (?P<numbered>{_NUM}(?:[ ]{_NUM})?[ ]{_CAP}(?:[ ](?:{_CAP}|{_PARTICLE})){{0,4}}[ ]{_NUM}\b)
    )
    """,
    regex.VERBOSE,
)
_HAS_DIGIT = regex.compile(r"\d")
_CORNER_WORD = regex.compile(rf"(?i)\b(?:corner|intersection|{_PLAIN_STREET_TYPES})\b")
# Line-start markers of quoted mail (">") and chat/bot transcripts ("???", "|") may open each line.
_LINE_MARK = r"[ \t>?|]*"
_TAIL_SEP = regex.compile(rf"[ \t]*(?:,[ \t]*(?:\n{_LINE_MARK})?|\n{_LINE_MARK}(?:,[ \t]*)?(?:\n{_LINE_MARK})?|[ \t]+)")
_TAIL_PIECES = (
    ("unit", regex.compile(_UNIT)),
    # "Storgarden 52 Trajanka Forks": a second street part after the house number.
    ("street", regex.compile(rf"(?:{_CAP}[ ]){{1,3}}(?:{_STREET_TYPES})\b\.?")),
    # pandas writes a missing address component as "nan".
    ("missing", regex.compile(r"nan(?![\w])")),
    ("military", regex.compile(_MILITARY_TAIL)),
    ("country", regex.compile(rf"(?:{_COUNTRIES})(?![\w-])")),
    ("zip", regex.compile(_ZIP)),
    ("state", regex.compile(_STATE)),
    ("city", regex.compile(_CITY)),
)


_CITY_ONLY = regex.compile(_CITY)
# A lower-case street in mixed-case text ("221b baker st, london"): house number, one to three lower-case
# words and an unmistakable street word; it is then read on a title-cased copy of the text.
_LOWER_TYPED = regex.compile(
    r"(?<![\w.,-])\d{1,5}[a-z]?(?:[ ](?:[a-z][a-z'’-]+|\d{1,3}(?:st|nd|rd|th))){1,3}[ ]"
    r"(?:(?:street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|close|crescent|terrace|place|court|square|"
    r"gardens|grove|mews|parkway|pkwy|highway|hwy)\b\.?"
    # any other street word only right before a comma or line end ("30b troy ville, lake antony")
    rf"|(?i:{_STREET_TYPES})\b(?=[ \t]*(?:[,\n]|$)))"
)


def _titlecase_same_length(text: str) -> str:
    """Capitalize word starts without changing any offset (for all-lowercase notes)."""

    def up(m: regex.Match) -> str:
        u = m.group().upper()
        return u if len(u) == 1 else m.group()

    return regex.sub(r"(?<![\p{L}\p{M}'’])\p{Ll}", up, text)


class StreetAddressRecognizer(LocalRecognizer):
    """Street addresses as one span: house number, street, unit, city, state/region, ZIP, country.

    An anchor (house number + street name with a street-type word or prefix, a numbered
    European street, a P.O./military box) is extended over the following address pieces
    (unit, city words, 2-3 letter state code, ZIP/postcode, country) across commas and
    line breaks. Score: 0.6 for an anchor with a street word, 0.35 for a bare
    number-name-number anchor, +0.25 with a unit/ZIP/country/state piece or a second
    line, +0.25 with address context words before it.
    """

    def __init__(self, supported_language: str = "en", entity: str = ADDRESS_ENTITY) -> None:
        super().__init__(
            supported_entities=[entity],
            supported_language=supported_language,
            name="StreetAddressRecognizer",
        )
        self.entity = entity

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        # Every anchor but an intersection needs a digit: skip digit-free text cheaply.
        if not _HAS_DIGIT.search(text) and not _CORNER_WORD.search(text):
            return []
        probe = text
        letters = regex.sub(r"[^\p{L}]", "", text)
        if letters and letters == letters.lower():
            probe = _titlecase_same_length(text)
        results = []
        pos = 0
        while True:
            m = _ANCHORS.search(probe, pos)
            if not m:
                break
            start, end = m.start(), m.end()
            kind = next(
                k
                for k in (
                    "corner",
                    "prefixed",
                    "lowprefixed",
                    "onstreet",
                    "typed",
                    "suffixed",
                    "box",
                    "ship",
                    "midnum",
                    "numbered",
                )
                if m.group(k)
            )
            end, pieces = _extend_tail(probe, end)
            if (
                kind == "typed"
                and probe is text
                and regex.fullmatch(rf"{_NUM}(?:[ ]{_NUM})?[ ]", text[start : m.start("type")])
                and text[m.start("type")].islower()
            ):
                pos = start + 1  # "5 flat screens": a number and a lower-case street word alone are no street
                continue
            street_type = (m.group("type") or m.group("type2") or "").lower()
            weak = kind in ("numbered", "lowprefixed") or street_type in _AMBIGUOUS_TYPES
            # A street named without a house number ("on Maple Avenue") is less certain.
            score = 0.35 if weak else 0.45 if kind == "onstreet" else 0.6
            if (
                pieces & {"unit", "zip", "country", "state", "military"}
                or kind in ("box", "ship")
                or m.group("unit")
                or "\n" in text[m.end() : end]
            ):
                score += 0.25
            if _ADDRESS_CONTEXT.search(text[max(0, start - 60) : start]):
                score += 0.25
            end = _trim_end(text, start, end)
            results.append(_result(self.entity, start, end, min(score, 1.0), self))
            pos = max(end, start + 1)
        if probe is text:
            results += self._lowercase_streets(text, results)
        return results

    def _lowercase_streets(self, text: str, found: list[RecognizerResult]) -> list[RecognizerResult]:
        """Lower-case addresses inside mixed-case text, read on a title-cased copy."""
        extra: list[RecognizerResult] = []
        candidates = [m for m in _LOWER_TYPED.finditer(text) if not any(r.start <= m.start() < r.end for r in found)]
        if not candidates:
            return extra
        probe = _titlecase_same_length(text)
        for c in candidates:
            m = _ANCHORS.match(probe, c.start())
            if not m or m.group("typed") is None:
                continue
            end, pieces = _extend_tail(probe, m.end())
            # The title-cased copy makes every word a city word: stop at an ordinary lower-case word.
            for w in regex.finditer(r"[\p{L}'’-]+", text[m.end() : end]):
                if w.group().islower() and w.group() in common_words():
                    end = m.end() + w.start()
                    break
            score = (
                0.6
                + (0.25 if pieces else 0.0)
                + (0.25 if _ADDRESS_CONTEXT.search(text[max(0, c.start() - 60) : c.start()]) else 0.0)
            )
            extra.append(_result(self.entity, c.start(), _trim_end(text, c.start(), end), min(score, 1.0), self))
        return extra


def _extend_tail(text: str, end: int) -> tuple[int, set[str]]:
    """Extend an address anchor over following address pieces; return new end and piece kinds."""
    found: set[str] = set()
    for _ in range(10):
        sep = _TAIL_SEP.match(text, end)
        if not sep:
            break
        at = sep.end()
        for kind, pattern in _TAIL_PIECES:
            m = pattern.match(text, at)
            if not m or m.end() == at:
                continue
            if kind == "city":
                m = _shortest_ok_city(text, m)
                if m is None:
                    continue
            if kind in ("city", "state"):
                first = regex.match(r"[\p{L}\p{M}'’-]+", m.group())
                if first and first.group() in _CITY_STOP:
                    continue
                if text[m.end() : m.end() + 1] == ":":
                    continue
                # A city must be followed by a line break, a comma, the end, or another piece.
                follow = _TAIL_SEP.match(text, m.end())
                nxt = follow.end() if follow else m.end()
                tail_ok = (
                    m.end() == len(text)
                    or text[m.end()] in ",\n?!.)"
                    or any(p.match(text, nxt) for k, p in _TAIL_PIECES if k in ("zip", "country", "state", "military", "missing"))
                )
                if kind == "city" and not tail_ok:
                    continue
                if kind == "state" and not tail_ok and "," not in sep.group():
                    continue
            found.add(kind)
            end = m.end()
            break
        else:
            break
    return end, found


def _city_tail_ok(text: str, end: int) -> bool:
    """A city must be followed by a line break, a comma, the end, or another address piece."""
    if end == len(text) or text[end] in ",\n?!.)":
        return True
    follow = _TAIL_SEP.match(text, end)
    nxt = follow.end() if follow else end
    return any(p.match(text, nxt) for k, p in _TAIL_PIECES if k in ("zip", "country", "state", "military", "missing"))


def _shortest_ok_city(text: str, m: regex.Match) -> regex.Match | None:
    """The longest word prefix of a city match that is properly followed ("POLSING OO after" -> "POLSING")."""
    if _city_tail_ok(text, m.end()):
        return m
    cuts = [w.start() for w in regex.finditer(r"[ -]", m.group())]
    for cut in reversed(cuts):
        shorter = _CITY_ONLY.fullmatch(text, m.start(), m.start() + cut)
        if shorter and _city_tail_ok(text, shorter.end()):
            return shorter
    return None


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \t\n,.>-":
        # Keep the period of an abbreviation such as "St." or "Apt.".
        if text[end - 1] == "." and regex.search(r"(?:^|[^\p{L}])\p{L}{1,4}\.$", text[start:end]):
            break
        end -= 1
    return end
