"""Custom Presidio recognizers and post-processing that raise veilflow's PII detection quality."""

from __future__ import annotations

import itertools
import re

import phonenumbers
import regex
from presidio_analyzer import EntityRecognizer, LocalRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as _SPACY_STOP


# Default Presidio recognizers (registry names) that misfire for a US locale or that the
# recognizers below replace: the UK NHS checksum fires on bare 10-digit US phone numbers;
# the default card pattern misses 19-digit cards; the default phone recognizer scans the
# whole text once per region (the slowest recognizer) and misses numbers without a region
# match. Drop them with ``analyzer.registry.remove_recognizer(name)``.
RECOGNIZERS_TO_REMOVE: tuple[str, ...] = ("NhsRecognizer", "CreditCardRecognizer", "PhoneRecognizer")

# Entities produced here that Presidio's defaults do not know: a policy must list them.
ADDRESS_ENTITY = "STREET_ADDRESS"
CUSTOM_ENTITIES: tuple[str, ...] = (ADDRESS_ENTITY,)

# Entities whose spans are never a date: a DATE_TIME hit overlapping one is dropped.
_NOT_DATE_ENTITIES = frozenset(
    {"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", ADDRESS_ENTITY, "US_BANK_NUMBER"}
)

_PHONE_REGIONS: dict[str, tuple[str, ...]] = {
    # Own country first, then the regions most often seen in international customer notes.
    "US": ("US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK",
           "FI", "PL", "PT", "IE", "IN", "AU", "BR", "MX", "ZA", "IL", "JP", "CZ", "HU", "GR"),
}


# --------------------------------------------------------------------------- credit cards


def luhn_valid(digits: str) -> bool:
    """Return True when a digit string passes the Luhn (mod 10) checksum."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Maestro is the only scheme issuing 12-digit numbers; its IIN ranges keep 12-digit
# order numbers out.
_MAESTRO_12 = regex.compile(r"^(?:5018|5020|5038|5893|6304|6390|6759|676[1-3]|0604|5[6-8])")
_CARD_CANDIDATE = regex.compile(r"(?<![\w.+/:-])\d(?:[ -]?\d){11,18}(?![\w-]|[.:/]\d)")


def is_card_number(candidate: str) -> bool:
    """Return True for a 12-19 digit payment card number in a card-like layout with a valid Luhn sum.

    Accepted layouts: digits only, or one separator kind (space or dash) in groups of
    4-4-4-(1..7) or the 4-6-(4|5) Amex/Diners layout.
    """
    digits = regex.sub(r"[ -]", "", candidate)
    if not 12 <= len(digits) <= 19 or not digits.isdigit():
        return False
    seps = set(regex.findall(r"[ -]", candidate))
    if len(seps) > 1:
        return False
    if seps:
        groups = [len(g) for g in regex.split(r"[ -]", candidate)]
        four_blocks = groups[0] == 4 and all(g == 4 for g in groups[1:-1]) and 1 <= groups[-1] <= 7
        amex = groups[:2] == [4, 6] and len(groups) == 3 and groups[2] in (4, 5)
        if not (four_blocks or amex):
            return False
    if len(digits) == 12 and not _MAESTRO_12.match(digits):
        return False
    if digits[0] not in "123456" and not digits.startswith("0604"):
        return False
    return luhn_valid(digits)


class LuhnCardRecognizer(LocalRecognizer):
    """Payment cards of 12-19 digits (with spaces, dashes or none), validated by Luhn."""

    SCORE = 0.9

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["CREDIT_CARD"],
            supported_language=supported_language,
            name="LuhnCardRecognizer",
        )

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for m in _CARD_CANDIDATE.finditer(text):
            if is_card_number(m.group()):
                results.append(_result("CREDIT_CARD", m.start(), m.end(), self.SCORE, self))
        return results


# --------------------------------------------------------------------------- phone numbers

_PHONE_CANDIDATE = regex.compile(
    r"(?<![\w.+/:-])"
    r"(?:(?:\+|00)\d{1,3}[ .-]?)?"  # country code
    r"(?:\(0\)[ .-]?)?"  # the "(0)" trunk prefix of Swiss/German/Swedish numbers
    r"(?:\(\d{1,5}\)[ .-]?)?"  # area code in parentheses
    r"\d{1,12}(?:[ .-]\d{1,10}){0,5}"
    r"(?:[ ]?(?:x|ext\.?|ext)[ ]?\d{1,6})?"  # extension
    r"(?![\w:/]|[.,-]\d)",
    regex.IGNORECASE,
)
_PHONE_CONTEXT = regex.compile(
    r"\b(?:phone|phones|telephone|tel|mobile|cell|cellphone|fax|desk|office|call|calls|calling|"
    r"called|reach|text|sms|whatsapp|contact|dial|ring|landline|home|work|messages?|answering|"
    r"voicemail|hotline|number)\b",
    regex.IGNORECASE,
)
_NOT_PHONE_SHAPES = (
    regex.compile(r"^\d{3}-\d{2}-\d{4}$"),  # SSN
    regex.compile(r"^\d{4}[-.]\d{1,2}[-.]\d{1,2}$"),  # ISO date
    regex.compile(r"^\d{1,2}[-.]\d{1,2}[-.](?:\d{2}|\d{4})$"),  # d-m-y date
    regex.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$"),  # IPv4
    regex.compile(r"^\d{5}-\d{4}$"),  # ZIP+4
    regex.compile(r"^\d{4,5}-\d{3}$"),  # Portuguese / Brazilian postal codes
)
# An identifier label right before a number (in the same sentence) means it is not a phone,
# even near "number"; "...close the account. Call back on 614-205-6012" is still a phone.
_ID_CONTEXT = regex.compile(
    r"(?i)\b(?:licen[cs]e|account|acct|order|invoice|ticket|id|passport|ssn|social security|routing|"
    r"policy|member|tracking|reference|ref|serial|case|claim|iban|card)\b[^\n.!?]{0,20}$"
)
_POSTAL_CONTEXT = regex.compile(r"(?i)\b(?:zip|postal|post ?code|postcode|cep|plz)\b")


class InternationalPhoneRecognizer(LocalRecognizer):
    """Phone numbers in US and international formats, checked with ``phonenumbers``.

    Candidates are found with one cheap regex; each is then parsed (as an international
    number when it starts with ``+``/``00``, else against each region of the locale) and
    scored by validity, formatting and phone context words (phone, mobile, fax, call ...)
    in the same line. Bare digit runs need context, so order numbers stay untouched.
    """

    def __init__(self, locale: str = "US", supported_language: str = "en") -> None:
        self.regions = _PHONE_REGIONS.get(locale.upper(), (locale.upper(), "US", "GB", "DE", "FR"))
        super().__init__(
            supported_entities=["PHONE_NUMBER"],
            supported_language=supported_language,
            name="InternationalPhoneRecognizer",
        )

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for m in _PHONE_CANDIDATE.finditer(text):
            score = self._score(text, m.start(), m.end(), m.group())
            if score > 0:
                results.append(_result("PHONE_NUMBER", m.start(), m.end(), score, self))
        return results

    def _score(self, text: str, start: int, end: int, cand: str) -> float:
        main = regex.split(r"(?i)[ ]?(?:x|ext)", cand)[0]
        digits = regex.sub(r"\D", "", main)
        if not 7 <= len(digits) <= 15:
            return 0.0
        if any(p.match(cand) for p in _NOT_PHONE_SHAPES) or is_card_number(cand):
            return 0.0
        if _POSTAL_CONTEXT.search(text[max(0, start - 25) : start]) or _ID_CONTEXT.search(
            text[max(0, start - 40) : start]
        ):
            return 0.0
        international = cand.startswith(("+", "00"))
        formatted = international or "(" in cand or bool(regex.search(r"\d[ .-]\d", main))
        valid = False
        if international:
            try:
                num = phonenumbers.parse("+" + digits[2:] if cand.startswith("00") else main, None)
                valid = phonenumbers.is_possible_number(num)
            except phonenumbers.NumberParseException:
                valid = False
        else:
            for region in self.regions:
                try:
                    if phonenumbers.is_valid_number(phonenumbers.parse(main, region)):
                        valid = True
                        break
                except phonenumbers.NumberParseException:
                    continue
        line_start = text.rfind("\n", 0, start) + 1
        # Context: the same line up to 40 chars before, the 15 chars after, or a label line
        # ("Phone:\n0393 ...") right above.
        before = text[max(line_start, start - 40) : start]
        prev_line = text[max(0, text.rfind("\n", 0, max(line_start - 1, 0)) + 1) : line_start]
        after = text[end : end + 15].split("\n")[0]
        context = bool(
            _PHONE_CONTEXT.search(before)
            or _PHONE_CONTEXT.search(after)
            or (before.strip() == "" and _PHONE_CONTEXT.search(prev_line) and prev_line.rstrip().endswith(":"))
        )
        if valid and formatted:
            score = 0.6
        elif valid or formatted:
            score = 0.3
        else:
            score = 0.15
        if context:
            score += 0.35
        return min(score, 1.0)


# --------------------------------------------------------------------------- street addresses

_L = r"\p{L}\p{M}"
_CAP = rf"(?:\p{{Lu}}[{_L}∆'’.-]*|\p{{Lu}}\.)"  # capitalized word or initial, any script
_PARTICLE = (
    r"(?:de|la|le|les|del|della|delle|dei|degli|di|da|do|dos|das|du|des|d'|l'|e|y|i|u|v|z|van|von|"
    r"der|den|ten|ter|het|op|aan|bei|im|zum|zur|al|el|na|nad|pod|am|an|sur|en|of|the)"
)
_NUM = r"\d{1,6}[A-Za-z]?"
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
    "way ways place run key keys pass rest union unions well wells wall light lights lock locks "
    "mission points point divide trace views view camp mall loaf neck oval ramp cape mount lakes "
    "rivers plains pines stream passage spurs falls fall station center centers".split()
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
_COUNTRIES = (
    "United States(?: of America)?|USA|U\\.S\\.A\\.|Canada|Mexico|Brazil|Argentina|Chile|Peru|Colombia|"
    "Uruguay|Paraguay|Venezuela|Ecuador|Bolivia|United Kingdom|UK|England|Scotland|Wales|"
    "Northern Ireland|Ireland|France|Germany|Deutschland|Austria|Switzerland|Belgium|Netherlands|"
    "Luxembourg|Italy|Spain|Portugal|Greece|Cyprus(?: \\(Greek\\)| \\(Turkish\\))?|Malta|Denmark|"
    "Norway|Sweden|Finland|Iceland|Greenland|Greenlander|Estonia|Latvia|Lithuania|Poland|"
    "Czech Republic|Czechia|Slovakia|Hungary|Slovenia|Croatia|Serbia|Bosnia and Herzegovina|"
    "Montenegro|Albania|North Macedonia|Macedonia|Bulgaria|Romania|Moldova|Ukraine|Belarus|Russia|"
    "Turkey|Georgia|Armenia|Azerbaijan|Kazakhstan|Israel|Lebanon|Jordan|Egypt|Morocco|Algeria|"
    "Tunisia|Libya|Nigeria|Ghana|Kenya|Ethiopia|South Africa|Namibia|Zimbabwe|India|Pakistan|"
    "Bangladesh|Sri Lanka|Nepal|China|Japan|South Korea|Korea|Taiwan|Hong Kong|Singapore|Malaysia|"
    "Indonesia|Philippines|Thailand|Vietnam|Australia|New Zealand|Saudi Arabia|United Arab Emirates|"
    "UAE|Qatar|Kuwait|Iran|Iraq"
)
_COUNTRY_WORDS = frozenset(w for c in _COUNTRIES.replace("\\", "").split("|") for w in regex.findall(r"\p{L}{2,}", c))
_UNIT = r"(?i:apt|apartment|suite|ste|unit|flat|room|rm|floor|fl|bldg|building|box|no|\#)\.?[ ]?\#?\d{1,6}[A-Za-z]?\b"
_MILITARY_TAIL = r"(?i:apo|fpo|dpo)[ ](?i:aa|ae|ap)[ ]\d{5}\b"
_ZIP = r"(?:\d{5}(?:-\d{3,4})?|\d{2}-\d{3}|\d{4}(?:[ ]\p{Lu}{2})?|\d{3}[ ]\d{2}|\p{Lu}{1,2}\d[\p{Lu}\d]?[ ]\d\p{Lu}{2})(?![\w-]|[ .]\d)"
_STATE = r"\p{Lu}{2,3}(?![\w'’-])"
# "∆" (U+2206) stands in for the Greek capital delta in some address data ("∆ΟΜΕΤΙΟΣ").
_CITY_WORD = rf"(?:{_CAP}|∆[{_L}∆'’.-]+|\({_CAP}(?:[ ]{_CAP})*\))"
_CITY = rf"{_CITY_WORD}(?:[ -](?!(?:{_COUNTRIES})(?![\w-]))(?:{_CITY_WORD}|{_PARTICLE}(?=[ -]\p{{Lu}})))*"

# A word that starts a sentence or a form label, never part of a city name.
_CITY_STOP = frozenset(
    "I The A An My Our We You He She It They This That These Those Please Thanks Thank But And Or "
    "So If When Then Also Call Mobile Desk Fax Phone Tel Email E-mail Website Name Address Card "
    "Hello Hi Dear Regards Best Sincerely Bot User Yes No Is Are Was Can Could Would Should Will "
    "What Where Who How Why For From With Do Does Did Have Has Had Office Home Work Cell Personal "
    "Info Billing Shipping Zip Postal Code".split()
)

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
      | (?P<typed>{_NUM}(?:[ ]{_NUM})?[ ](?:{_CAP}[ ]){{0,4}}(?P<type>(?i:{_STREET_TYPES}))\b\.?)
      | (?P<suffixed>(?:{_NUM}(?:[ ]{_NUM})?[ ])?(?:{_CAP}[ ](?:\p{{Ll}}[{_L}-]*[ ])?){{0,2}}(?:{_PARTICLE}[ ])?[{_L}-]*
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
_TAIL_SEP = regex.compile(
    rf"[ \t]*(?:,[ \t]*(?:\n{_LINE_MARK})?|\n{_LINE_MARK}(?:,[ \t]*)?(?:\n{_LINE_MARK})?|[ \t]+)"
)
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

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
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
                k for k in ("corner", "prefixed", "lowprefixed", "onstreet", "typed", "suffixed", "box", "ship", "midnum", "numbered") if m.group(k)
            )
            end, pieces = _extend_tail(probe, end)
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
        return results


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
                    or any(
                        p.match(text, nxt)
                        for k, p in _TAIL_PIECES
                        if k in ("zip", "country", "state", "military", "missing")
                    )
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


# --------------------------------------------------------------------------- date-times

_DATETIME = regex.compile(
    r"(?<![\w:.-])\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])"
)


class DateTimeRecognizer(LocalRecognizer):
    """ISO-style timestamps ("2018-02-24 12:45:18") as one DATE_TIME span, time included."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["DATE_TIME"], supported_language=supported_language, name="DateTimeRecognizer"
        )

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [_result("DATE_TIME", m.start(), m.end(), 0.9, self) for m in _DATETIME.finditer(text)]


# --------------------------------------------------------------------------- places

_PLACE_CUE = regex.compile(
    rf"(?i:\b(?:grew up in|born in|raised in|moved (?:here |there )?(?:from|to)|travel(?:l)?ing to|"
    rf"trip to|flew to|flying to|live[sd]? in|living in|home (?:city|town)|city of|town of|"
    rf"village of|based in|located in|i am in|i'm in|we are in|visit(?:ing|ed)?|stay(?:ing|ed)? in|"
    rf"relocat(?:e|ed|ing) to|arriv(?:e|es|ed|ing) (?:at|in)|return(?:s|ed|ing)? to|originally from|"
    rf"comes? from|university of|where:|location:|city:|town:|hometown:?|place of birth:?))[ ]+(?P<place>{_CITY_WORD}(?:[ -](?:{_CITY_WORD}|{_PARTICLE}(?=[ -]\p{{Lu}}))){{0,3}})"
)
_POSTCODE_CUE = regex.compile(
    r"(?i:\b(?:zip(?:[ ]?code)?|postal[ ]code|post[ ]?code|plz|cep)\b)(?:[^\w\n]|\bis\b|\bwas\b){0,12}"
    r"(?P<zip>\d{3,6}(?:[- ]\d{2,4})?(?:[ ][A-Z]{2})?|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d)(?![\w-])"
)
_COUNTRY_MENTION = regex.compile(rf"(?<![\w-])(?:{_COUNTRIES})(?![\w-])")
# In mixed-case text, a word written in capitals after a place preposition is a place name
# (addresses and forms write cities in capitals: "arrived at ESPOO"). Five letters or more,
# so acronyms ("at IBM", "in NASA") stay out.
_CAPS_PLACE = regex.compile(
    r"(?<=\b(?:[Ii]n|[Aa]t|[Tt]o|[Ff]rom|[Oo]f|[Nn]ear)[ ])(?P<place>\p{Lu}[\p{Lu}\p{M}∆'’-]{4,}(?:[ -]\p{Lu}[\p{Lu}\p{M}∆'’-]{1,})*)(?![\p{L}\p{M}])"
)
# "in <Place words> <postcode>": a place name directly followed by a postal code.
_PLACE_POSTCODE = regex.compile(
    rf"(?<=\b[Ii]n[ ])(?P<place>{_CITY_WORD}(?:[ -](?:{_CITY_WORD}|{_PARTICLE}(?=[ -]\p{{Lu}}))){{0,3}})[ ]"
    r"(?P<zip>\d{5}|\d{3}[ ]\d{2}|\d{4}-\d{3}|\d{2}-\d{3})(?![\w-]|[.,]\d)"
)


class PlaceRecognizer(LocalRecognizer):
    """Countries (built-in list), places after explicit cues ("grew up in X") and labeled postcodes.

    Emits LOCATION, the entity the NER model uses for cities and countries, so merging
    with street addresses and policies keep working unchanged.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["LOCATION"],
            supported_language=supported_language,
            name="PlaceRecognizer",
        )

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = [_result("LOCATION", m.start(), m.end(), 0.6, self) for m in _COUNTRY_MENTION.finditer(text)]
        results += [
            _result("LOCATION", m.start("zip"), m.end("zip"), 0.6, self) for m in _POSTCODE_CUE.finditer(text)
        ]
        letters = regex.sub(r"[^\p{L}]", "", text)
        if letters != letters.upper():
            for m in _CAPS_PLACE.finditer(text):
                results.append(_result("LOCATION", m.start("place"), m.end("place"), 0.45, self))
        for m in _PLACE_POSTCODE.finditer(text):
            if m.group("place").split()[0] not in _CITY_STOP:
                results.append(_result("LOCATION", m.start("place"), m.end("zip"), 0.5, self))
        for m in _PLACE_CUE.finditer(text):
            words = m.group("place").split()
            if words[0].rstrip(".,") in _CITY_STOP or words[0].rstrip(".,") in _NAME_STOP:
                continue
            end = m.end("place")
            while end > m.start("place") and text[end - 1] in ".,":
                end -= 1
            results.append(_result("LOCATION", m.start("place"), end, 0.5, self))
        return results


# --------------------------------------------------------------------------- nationalities, religions

# Demonyms (nationalities) and religious groups: Presidio's NRP entity. The small NER model
# finds only some; a deny list (Presidio's own PatternRecognizer) finds the rest. Plurals
# ("Saudis", "Bruneians") are generated; words that are also languages ("English") stay in
# because the word still names a nationality far more often in customer text than not.
_DEMONYMS = """
afghan albanian algerian american andorran angolan antiguan argentine argentinian armenian
australian austrian azerbaijani azeri bahamian bahraini bangladeshi barbadian belarusian belgian
belizean belizian beninese bhutanese bolivian bosnian botswanan brazilian british briton bruneian
bulgarian burkinabe burmese burundian cambodian cameroonian canadian cape-verdean chadian chilean
chinese colombian comorian congolese costa-rican croatian cuban cypriot czech dane danish
djiboutian dominican dutch ecuadorian egyptian emirati english equatoguinean eritrean estonian
ethiopian fijian filipino finn finnish french gabonese gambian georgian german ghanaian greek
grenadian guatemalan guinean guyanese haitian honduran hungarian icelandic icelander indian
indonesian iranian iraqi irish israeli italian ivorian jamaican japanese jordanian kazakh kenyan
kiribati korean kosovar kuwaiti kyrgyz lao laotian latvian lebanese liberian libyan
liechtensteiner lithuanian luxembourger luxembourgish macedonian malagasy malawian malaysian
maldivian malian maltese marshallese mauritanian mauritian mexican micronesian moldovan monegasque
mongolian montenegrin moroccan mozambican namibian nauruan nepalese nepali dutchman newzealander
nicaraguan nigerian nigerien norwegian omani pakistani palauan palestinian panamanian
papuan paraguayan peruvian polish pole portuguese qatari romanian russian rwandan salvadoran
samoan saudi scottish scot senegalese serbian seychellois singaporean slovak slovakian slovenian
solomon somali south-african spanish spaniard sri-lankan sudanese surinamese swazi swede swedish
swiss syrian taiwanese tajik tanzanian thai togolese tongan trinidadian tunisian turkish turkmen
tuvaluan ugandan ukrainian uruguayan uzbek venezuelan vietnamese welsh yemeni zambian zimbabwean
european asian african latino latina hispanic arab arabic caucasian scandinavian
christian muslim moslem jewish jew hindu buddhist sikh jain catholic protestant orthodox
evangelical lutheran methodist baptist anglican mormon sunni shia shiite shii atheist agnostic
"""
# Demonyms that are also ordinary English words ("polish the car", "a pole") count only
# when capitalized.
_NRP_CASED = frozenset("polish pole english scot dane swede finn orthodox solomon jain".split())


def _plurals(word: str) -> set[str]:
    if word.endswith(("ese", "ss", "ish", "sh")):
        return set()
    return {word + ("s" if not word.endswith("ch") else "s")}


_NRP_FORMS = {w: {w} | _plurals(w) for w in _DEMONYMS.split()}
_NRP_ANY_CASE = sorted({f.replace("-", " ") for w, fs in _NRP_FORMS.items() if w not in _NRP_CASED for f in fs}, key=len, reverse=True)
_NRP_CAPITALIZED = sorted({f.capitalize() for w, fs in _NRP_FORMS.items() if w in _NRP_CASED for f in fs}, key=len, reverse=True)
_NRP_REGEX = (
    r"(?<![\w-])(?:(?i:" + "|".join(regex.escape(w) for w in _NRP_ANY_CASE) + r")|"
    + "|".join(regex.escape(w) for w in _NRP_CAPITALIZED) + r")(?![\w-])"
)


def build_nrp_recognizer(supported_language: str = "en") -> PatternRecognizer:
    """A deny-list recognizer for nationalities and religious groups (entity NRP, score 0.5)."""
    return PatternRecognizer(
        supported_entity="NRP",
        name="NrpDenyListRecognizer",
        supported_language=supported_language,
        patterns=[Pattern("nrp_word", _NRP_REGEX, 0.5)],
        # No global IGNORECASE: the pattern scopes case-insensitivity itself (see _NRP_CASED).
        global_regex_flags=re.DOTALL | re.MULTILINE,
    )


# --------------------------------------------------------------------------- person names

_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord|Rev|Fr|Capt|Sgt|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)"
_NAME_WORD = rf"(?:\p{{Lu}}[{_L}'’-]+|\p{{Lu}}\.?)"
# Capitalized words that are never part of a person's name: sentence starters, form
# labels, organisation and street words.
_NAME_STOP = frozenset(
    """
    Suite Apt Street St Road Rd Avenue Ave Lane Drive Court Way Place Square Box Unit The And I
    Is Was Are Has Have Will Would Please Thanks Thank From With For To At In On Of By Mobile
    Phone Desk Fax Email E-mail Address Name Card Company Inc Inc. Ltd LLC Corp Corporation Co
    Group Bank Systems Technologies Technology Solutions Software Agency Services Consulting
    Partners Associates University College Institute Hospital Foundation Insurance Transit
    Research Traffic Labs Analytics Media Capital Holdings Markets Global International
    Incorporated PLC GmbH AG SA Network Networks Data Energy Health Financial Management
    Marketing Communications Industries Enterprises Ventures My Your Our Their His Her Dear
    Hello Hi Yes No Not Mr Mrs Ms Dr Prof Sir Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday January February March April May June July August September October
    November December Bot User Customer Agent Answer Question Website Info Personal Billing
    Shipping Zip Postal Code Apartment Floor Room North South East West New Old Saint San
    Santa Fort Mount Lake Port Cape City County State Republic Kingdom United Union Airport
    Station Park Hill Tower Center Centre Church Club Hotel Restaurant School Street
    """.split()
)
_NAME_SUFFIXES = frozenset("Jr Jr. Sr Sr. II III IV PhD MD DDS DVM Esq Esq.".split())
_SURNAME_SHAPE = regex.compile(
    r"^\p{Lu}\p{Ll}{2,}(?:sson|son|sen|dóttir|dottir|ov|ova|ev|eva|ovich|ovna|evich|evna|enko|"
    r"ski|ska|cki|cka|wicz|vić|vic|ić|escu|poulos|opoulou|akis|idis|ides|yan|nen|berg|ström|"
    r"qvist|kvist|gaard|gård|mann|stein|baum|feld|ez|oglu|oğlu|shvili|dze|czyk|czak|chuk|uk|"
    r"ová|ský|ská|ovský|ovská)$"
)
# Capitalized English words and place names with a surname-like ending.
_SURNAME_SHAPE_STOP = frozenset(
    """
    Person Persons Reason Season Lesson Poison Prison Comparison Unison Venison Treason Liaison
    Crimson Bison Arson Garrison Chosen Essen Kiev Alaska Nebraska Moldova Heidelberg Nuremberg
    Liechtenstein Frankenstein Iceberg Casanova Facebook Outlook Madison Jefferson Edison
    Anderson Dickson Mission Session Lessons Reasons Seasons Golden Wooden Sudden Hidden Listen
    Often Women Children Garden Dozen Citizen Kitchen Chicken Written Broken Chosen Given Frozen
    """.split()
)
_TITLED_NAME = regex.compile(
    rf"(?<![\p{{L}}\d][ ])\b{_TITLE}\.?[ ]+(?P<name>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,3}})"
)
_CUE_NAME = regex.compile(
    rf"(?i:\b(?:my name is|name is|name's|name:|named|called|call me|signed|sincerely,|regards,|dear|"
    rf"directed by:?|written by:?|contact person:?|last name\??|first name\??|surname\??|full name:?|"
    rf"this is|i am|i'm|hi|hello|thanks|thank you,?|attn:?|attention:?|patient:?|customer:?|"
    rf"cardholder:?|speak to|ask for|said|says|asked|told|replied|according to))[ \t]*\n?[ \t]*(?P<name>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,3}})"
)
# Names identified by what follows them: "Dexter lives on ...", "I'm Melvin's daughter".
_NAME_BEFORE_CUE = regex.compile(
    rf"(?P<name>\p{{Lu}}[{_L}'’-]+(?:[ ](?:\p{{Lu}}\.?|\p{{Lu}}[{_L}'’-]+)){{0,2}})"
    rf"(?:[ ](?:lives|lived|resides|resided|was born|grew up|works at|worked at|is from|had given|has given|"
    rf"says|said|explained|replied|wrote|began)\b"
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

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for m in _TITLED_NAME.finditer(text):
            s, e = _trim_name(text, m.start("name"), m.end("name"))
            if e > s:
                results.append(_result("PERSON", s, e, 0.85, self))
        for m in _CUE_NAME.finditer(text):
            s, e = _trim_name(text, m.start("name"), m.end("name"))
            if e > s:
                results.append(_result("PERSON", s, e, 0.6, self))
        for pattern in (_NAME_BEFORE_CUE, _NAME_AFTER_CUE):
            for m in pattern.finditer(text):
                s, e = _trim_name(text, m.start("name"), m.end("name"))
                if e > s:
                    results.append(_result("PERSON", s, e, 0.6, self))
        if text == text.lower():
            for m in _LOWER_CUE_NAME.finditer(text):
                words = m.group("name").split()
                keep = [w for w in itertools.takewhile(lambda w: w not in _COMMON_WORDS and w not in _SPACY_STOP, words)]
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
        i = 0
        while i < len(tokens):
            run = [i]
            j = i + 1
            while (
                j < len(tokens)
                and len(run) < 5
                and text[tokens[j - 1].end() : tokens[j].start()] in (" ", "  ")
                and not _POSSESSIVE.search(tokens[j - 1].group())
            ):
                run.append(j)
                j += 1
            kinds = [_token_kind(text, tokens[k], lowercase_text, pos_by_start) for k in run]
            # A single capital ("A", "I", "A.") between two name words is a middle initial,
            # even though on its own it is a stop word ("Juliusz A Kwiatkowski").
            for n in range(1, len(kinds) - 1):
                if (
                    kinds[n] == "stop"
                    and regex.fullmatch(r"\p{Lu}\.?", tokens[run[n]].group())
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
            if not kinds:
                i += 1
                continue
            while kinds and kinds[-1] == "initial":
                kinds.pop()
            if not kinds:
                i += 1
                continue
            # "Szabina J Gelencsér": a middle initial between two name-like words.
            middle_initial = any(
                kinds[n] == "initial" and kinds[n - 1] != "initial" and kinds[n + 1] != "initial"
                for n in range(1, len(kinds) - 1)
            )
            anchors = [n for n, kind in enumerate(kinds) if kind in ("first", "surname", "shape")]
            if not anchors and not (middle_initial and not lowercase_text):
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
                if only == "first" and word.lower() in AMBIGUOUS_FIRST_NAMES and _SENTENCE_START.search(text[: first_tok.start()]):
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


_NAME_KINDS = frozenset({"first", "surname", "shape", "cap"})


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
        if low in _COMMON_WORDS or low in _SPACY_STOP or pos_by_start.get(tok.start()) in _NON_NAME_POS:
            return "stop"
        if low in FIRST_NAMES and low not in AMBIGUOUS_FIRST_NAMES and len(low) > 2:
            return "first"
        return "cap" if len(bare) > 1 else "stop"
    if bare in _NAME_STOP or bare in _CITY_STOP or bare in _COUNTRY_WORDS:
        return "stop"
    if word in _NAME_SUFFIXES:
        return "cap"
    if regex.fullmatch(r"\p{Lu}\.?", word):
        return "initial"
    if not (bare[:1].isupper() and not bare.isupper()):
        return "stop"
    if low in FIRST_NAMES:
        return "first"
    if low in SURNAMES:
        return "surname"
    if _SURNAME_SHAPE.match(bare) and bare not in _SURNAME_SHAPE_STOP:
        return "shape"
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


# Frequent English words: in lowercase notes they end a name.
_COMMON_WORDS = frozenset(
    "a an the and or but if so to of in on at by for from with as is are was were be been am i me my "
    "we us our you your he him his she her it its they them their this that these those here there "
    "what who how why when where which will would can could should may might must shall do does did "
    "have has had not no yes please thanks thank hello hi dear call phone number card address street "
    "lives live at moved new old name last first middle mobile desk fax email e-mail website office "
    "info personal nurse director manager engineer teacher driver clerk".split()
)


# --------------------------------------------------------------------------- post-processing


def _result(entity: str, start: int, end: int, score: float, rec: EntityRecognizer) -> RecognizerResult:
    return RecognizerResult(
        entity_type=entity,
        start=start,
        end=end,
        score=score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id,
        },
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
            if regex.search(r"(?i)\b(?:years?|yrs?|months?|weeks?|days?|hours?|minutes?|age|aged|old)\b", value) and not _MONTHS_DAYS.search(value):
                continue
            if any(b.start < r.end and r.start < b.end for b in blockers):
                continue
        if r.entity_type == "URL" and any(e.start <= r.start and r.end <= e.end for e in emails):
            continue
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
    mergeable = sorted(
        (r for r in results if r.entity_type in (ADDRESS_ENTITY, "LOCATION")), key=lambda r: (r.start, r.end)
    )
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
        for occ in regex.finditer(rf"(?<![\p{{L}}]){regex.escape(name)}(?![\p{{L}}])", text[:addr.start]):
            found.append(
                RecognizerResult("PERSON", occ.start(), occ.end(), 0.5, recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: "AddresseeLine"})
            )
    return found


def _clean_person_span(text: str, r: RecognizerResult) -> RecognizerResult | None:
    """Trim a PERSON span to the name: no line break, sentence end, possessive or lead-in word."""
    start, end = r.start, r.end
    value = text[start:end]
    cut = regex.search(r"\n|(?<!\b\p{L})[.!?]\s|[:\"“”(]|['’]s\b", value)
    if cut:
        end = start + cut.start()
    while True:
        m = regex.match(r"\s*([\p{L}'’]+)\s+", text[start:end])
        if not m or not (
            m.group(1) in _NAME_STOP or m.group(1) in _CITY_STOP or m.group(1).lower() in _COMMON_WORDS
            or m.group(1).lower() in ("i'm", "i’m")
        ):
            break
        start += m.end()
    while end > start and text[end - 1] in " \t,;-":
        end -= 1
    if end - start < 2:
        return None
    if (start, end) == (r.start, r.end):
        return r
    return RecognizerResult(
        r.entity_type, start, end, r.score,
        analysis_explanation=r.analysis_explanation,
        recognition_metadata=dict(r.recognition_metadata or {}),
    )


_COORDINATION = regex.compile(
    rf"(?<![\p{{L}}\p{{M}}])\p{{Lu}}[{_L}'’-]+(?:(?:,[ ]|,?[ ]and[ ]|[ ]&[ ])\p{{Lu}}[{_L}'’-]+)+(?![\p{{L}}\p{{M}}])"
)
_SPEAKER = regex.compile(rf"(?m)^[ \t>]*(\p{{Lu}}[{_L}'’-]+)[ \t]*:[ \t]*(?=\S)")
_LABEL_WORDS = frozenset(
    "Name Phone Mobile Desk Fax Email E-mail Website Address Zip ZIP Tel Cell Office Home Work "
    "Bot User Agent Customer Answer Question Note Notes Subject Date Time Re Fwd To From Cc Ref "
    "Order Account Card Title Company Directed Written Produced Starring Genre Rating Runtime".split()
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
        known = [w for w in words if w.group() in FIRST_NAMES and w.group() not in AMBIGUOUS_FIRST_NAMES]
        if len(known) < 2 or len(known) * 2 < len(words):
            continue
        for w in words:
            if w.group() not in _COMMON_WORDS and w.group() not in _SPACY_STOP:
                found.append(_person_hit(m.start() + w.start(), m.start() + w.end(), "PersonNameList"))
    return found


def _person_hit(start: int, end: int, source: str) -> RecognizerResult:
    return RecognizerResult(
        "PERSON", start, end, 0.5, recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: source}
    )


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
            if w.group() not in _NAME_STOP and w.group() not in _CITY_STOP and w.group() not in _COUNTRY_WORDS and free(s, e):
                found.append(_person_hit(s, e, "PersonNameCoordination"))
    speakers = [m for m in _SPEAKER.finditer(text) if m.group(1) not in _LABEL_WORDS and m.group(1) not in _NAME_STOP]
    if len(speakers) >= 2 and any(
        m.group(1).lower() in FIRST_NAMES or any(p.start <= m.start(1) < p.end for p in persons) for m in speakers
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
    cleaned = [r if r.entity_type != "PERSON" else _clean_person_span(text, r) for r in results]
    out = [
        r
        for r in cleaned
        if r is not None and not (
            r.entity_type == "PERSON"
            and not (r.score >= 0.85 and (r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY) == "PersonNameRecognizer")
            and any(a.start <= r.start and r.end <= a.end for a in addresses)
        )
    ]
    out += [
        r for r in _addressee_names(text, results)
        if not any(o.entity_type == "PERSON" and o.start <= r.start and r.end <= o.end for o in out)
    ]
    out += _coordinated_and_speaker_names(text, out)
    out += [
        r for r in _lowercase_name_lists(text)
        if not any(o.entity_type == "PERSON" and o.start <= r.start and r.end <= o.end for o in out)
    ]
    persons = [r for r in out if r.entity_type == "PERSON"]
    parts = {
        w
        for r in persons
        for w in regex.findall(rf"[{_L}][{_L}'’-]+", text[r.start : r.end])
        if len(w) >= 3 and w[:1].isupper() and w not in _NAME_STOP and w not in _CITY_STOP
    }
    for part in parts:
        for m in regex.finditer(rf"(?<![\p{{L}}\p{{M}}]){regex.escape(part)}(?![\p{{L}}\p{{M}}])", text):
            if any(m.start() < r.end and r.start < m.end() for r in out if r.entity_type in ("PERSON", ADDRESS_ENTITY)):
                continue
            hit = RecognizerResult(
                "PERSON", m.start(), m.end(), 0.5,
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: "PersonNamePropagation"},
            )
            out.append(hit)
    return out


def postprocess_results(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Apply all of veilflow's post-processing, in order.

    ``filter_false_positives`` (DATE_TIME on digit strings, house-number "phones", URLs
    inside e-mails), ``propagate_person_names`` (addressee lines, repeated name parts,
    no street names as persons), then ``merge_adjacent_spans`` (one span per address).

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text`` (not mutated).

    Returns:
        The cleaned result list.
    """
    cleaned = filter_false_positives(text, results)
    return merge_adjacent_spans(text, propagate_person_names(text, cleaned))


# --------------------------------------------------------------------------- factory


def build_custom_recognizers(locale: str = "US") -> list[EntityRecognizer]:
    """Build veilflow's custom recognizers for one locale.

    Args:
        locale: ISO country code of the data's home country; it orders the regions tried
            for phone numbers written without a country code.

    Returns:
        New recognizer instances (cards, phones, street addresses, places, person names,
        timestamps), to be
        added with ``analyzer.registry.add_recognizer`` after removing
        ``RECOGNIZERS_TO_REMOVE``.

    Raises:
        ValueError: If ``locale`` is not a two-letter code.
    """
    if not (isinstance(locale, str) and len(locale) == 2 and locale.isalpha()):
        raise ValueError("build_custom_recognizers: locale must be a two-letter country code")
    return [
        LuhnCardRecognizer(),
        InternationalPhoneRecognizer(locale=locale),
        StreetAddressRecognizer(),
        PlaceRecognizer(),
        PersonNameRecognizer(),
        DateTimeRecognizer(),
        build_nrp_recognizer(),
    ]


# --------------------------------------------------------------------------- name lists


# Given names: the US Census Bureau 1990 first-name lists (public domain; names with a
# frequency of at least 0.005 %) plus a multicultural list written for veilflow.
# Names that are English words or place names (Will, May, Grace, Paris ...) are left out.
FIRST_NAMES: frozenset[str] = frozenset(
    """
    aada aaliyah aaron abbie abby abdul abdullah abe abebe abel abena abigail abraham abram ada
    adaeze adalberto adalynn adam adan addie adela adelaide adele adelina adeline adell aditya
    adolfo adolph adrian adriana adrianne adrienne adrián adéla afonso agatha agathe agnes agnieszka
    agustin ahmad ahmed aida aikaterini aileen aimee aino aisha aishwarya aivars akhmed akiko akira
    akosua al alain alaina alan alana alba albert alberta alberto alden aldo alec alecia alejandra
    alejandro aleksandr aleksandra aleksi alena alene alessandro alessia aletha alex alexa alexander
    alexandra alexandre alexandria alexandru alexei alexey alexis alfie alfonso alfonzo alfred
    alfreda alfredo ali alice alicia alina aline alisa alisha alison alissa allan allen allene allie
    allison allyson alma alonzo alphonse alphonso alta althea alton alva alvaro alvin alvina alyce
    alyson alyssa amado amalia amanda amandine amara amber amelia amie amina aminat amit amos amparo
    amy ana anais ananya anastasia anaïs anders anderson andra andre andrea andreas andreea andrei
    andres andrew andrey andria andris andrzej andré andrés andy anette angel angela angelia
    angelica angeliki angelina angeline angelique angelita angelo angie angus anh anibal anil anissa
    anita anja anjali anke ann anna annabelle annamarie anne anneli annemarie annemieke annetta
    annette annie annika annmarie anthony antionette antoine antoinette anton antone antonella
    antonette antonia antonio antony antwan aoi aoife apolline araceli archie aretha aria ariana
    arianna ariel arjen arjun arleen arlene arline armand armando arne arnold arnulfo aron arron
    arsen artem arthur arturo arun arya ashlee ashleigh ashley asia aslan aslanbek astrid athanasios
    athena attila aubrey audra audrey augusta augustine augustus aura aurelia aurelie aurelio aurora
    aurélie autumn ava avery avis axel azamat baiba balazs balázs baptiste barb barbara barbora
    barbra barney barrett barry bart barton bartosz bas basil beata beatrice beatriz beau becky
    belen belinda bella belle belva ben bence benedikt benita benito benjamin bennett bennie benny
    benoit benoît bernadette bernadine bernard bernardo bernd bernice bernie berniece berry bert
    berta bertha bertie bertram beryl bess bessie beth bethany betsy bette bettie bettina betty
    bettye beulah beverley beverly bianca bilal billie billy birdie birgit birgitta bjorn bjørn
    blaine blair blake blanca blanche bo bob bobbi bobbie bobby bogdan bolesław bonita bonnie booker
    boris boyd bożena brad bradford bradley bradly brady bram branden brandi brandie brandon brandy
    brant breanna brenda brendan brendon brenna brent brenton bret brett brian briana brianna
    brianne brice bridget bridgett bridgette brielle brigitte britney britt brittany brittney brock
    brooke brooks bruce bruna bruno bryan bryant bryce bryon bud buddy buford burl burt burton byron
    caitlin caleb callie callum calvin cameron camila camilla camille candace candi candice candida
    candy capucine cara caren carey cari caridad carissa carl carla carlene carlo carlos carlton
    carly carmel carmela carmelita carmella carmelo carmen carmine carol carole caroline carolyn
    carrie carrol carroll carson carter cary caryn casandra casey cassandra cassie catalina catarina
    caterina catharine catherine cathleen cathrine cathryn cathy catrina cecelia cecil cecile
    cecilia cedric celeste celestine celia celina celine cesar chad chadwick chandra chanel chang
    chantal chantel charla charleen charlene charles charley charlie charline charmaine chase
    chasity chauncey chelsea chelsey chen cheri cherie cherry cheryl chester chet chi chiara chidi
    chioma chiquita chloe chloé chong chris christa christal christen christi christian christie
    christin christina christine christoper christophe christopher christos christy chrystal chuck
    chukwuemeka chung cian ciara cindi cindy clair claire clara clare clarence clarice clarissa
    clark claude claudette claudia claudine claudio clay clayton clemence clement clementine cleo
    cletus cliff clifford clifton clint clinton clive clyde clémence clément cody colby cole coleen
    coleman colette colin colleen collette collin columbus concepcion concetta connie connor conor
    conrad constance constantin consuelo cora cordelia corey cori corina corine corinne cornelia
    cornelius cornell corrie corrine cortney cory courtney coy craig cristal cristian cristina
    cristy cruz crystal csaba curt curtis cynthia cyril cyrus czesław céline daan dace daiki daisy
    dale dalia dalton damaris damian damien damion damon dan dana dane danelle danette danial daniel
    daniela danielle danita danna dannie danny dante danuta daphne dara darcy daren daria darin
    dario darius dariusz darla darleen darlene darnell darrel darrell darren darrick darrin darryl
    darwin darya daryl dave david davide davis dawid dayna dean deana deandre deann deanna deanne
    debbie debby debi debora deborah debra debrah declan dee deena deepa deepak deidra deidre
    deirdre delbert delfina delia delilah della delma delmar delmer delois delores deloris delphine
    demarcus demetria demetrius dena denice denis denise dennis denny deon derek derick derrick
    desiree desmond despina dessie devin devon dewayne dewey dewitt dexter diana diane diann dianna
    dianne dick didier diego dieter dillon dimitar dimitra dimitrios dina dinah dino diogo dion
    dionne dirk divya dixie dmitri dmitry dollie dolly dolores domenico dominga domingo dominic
    dominick dominik dominique don dona donald donn donna donnell donnie donny donovan donte dora
    dorcas doreen dorene doretha dorian doris dorota dorothea dorothy dorris dortha dorthy dottie
    doug douglas dovie doyle dragan dragana drew duane duarte dudley dulce duncan dusan dustin dusty
    dušan dwain dwayne dwight dylan dóra earl earle earlene earline earnest earnestine easter ebba
    ebony ed eddie eddy edgar edgardo edgars edith edmond edmund edna edoardo eduardo edward edwardo
    edwin edwina edythe eetu effie efrain efren egle eileen einar eino eirik ekaterina elaine elba
    elbert elda eldon eleanor eleanore elena eleni eli elia eliana elias elida elijah eline elinor
    elisa elisabeth elise eliseo elisha elissa eliza elizabeth ella ellen ellie elliot elliott ellis
    elma elmer elmo elnora elodie eloisa eloise elouise eloy elsa elsie elton elva elvia elvin
    elvira elvis elwood elyse elzbieta elżbieta emanuel emanuele emeka emerson emery emil emile
    emilia emiliano emilie emilio emily emma emmanuel emmett emory enid enoch enrico enrique enzo
    eoin eric erica erich erick ericka erik erika erin erlinda erma erna ernest ernestina ernestine
    ernesto ernie errol ervin erwin erzsebet erzsébet esme esmeralda espen esperanza essie esteban
    estela estella estelle ester esther eszter ethan ethel etta eugene eugenia eugenio eula eulalia
    eunice eva evan evangelina evangeline evangelos eve eveliina evelyn everett everette everly
    evette evgeny evie ewa ezra fabian fabio fabiola fadi fannie fanny fatima faustino fay faye
    federica federico felecia felicia felicita felipe felix femi femke feng ferdinand ferenc fermin
    fern fernanda fernando fidel filip filomena finn fiona fletcher fleur flor flora florencio
    florian florin florine flossie floy floyd folake forrest foster fran franc frances francesca
    francesco francine francis francisca francisco francois francoise frank frankie franklin
    françois françoise fred freda freddie freddy frederic frederick fredric fredrick fredrik freeman
    freida freja freya frieda fritz frédéric gabor gabriel gabriela gabriele gabriella gabrielle
    gail gale galen galina ganesh garfield garland garrett garry garth gary gavin gaye gayla gayle
    gemma gena genaro gene geneva genevieve gennady genoveva geoffrey george georgette georgi
    georgiana georgianna georgina georgios gerald geraldine geraldo gerard gerardo gerhard geri
    germaine german gerri gerrit gerry gertie gertrude gheorghe gianluca gianna gil gilbert gilberto
    gilda gilles gillian gina ginevra ginger ginny gino giorgia giorgio giorgos giovanna giovanni
    gisela gita giulia giuseppe giuseppina gladys glen glenda glenn glenna gloria goldie goncalo
    gonzalo gonçalo goran gordon gracie graciela grady graham grant grazyna grażyna greg gregg
    gregoria gregorio gregory greta gretchen griselda grover grzegorz guadalupe gudrun guenter
    guillaume guillermina guillermo gunnar gus gussie gustav gustavo guy guðrún gwen gwendolyn gábor
    günter haakon hadley haile hailey hal haley halina hallie halvor hamish hamza hana hank hanna
    hannah hans hao harlan harley harold harriet harriett harriette harris harrison harry haruka
    haruto harvey hassan hattie haydee hayley hazel heath heather hector hege heidi heike heikki
    heinz helen helena helene helga helgi hellen helmi helmut hendrik henrietta henrik henrique
    henry henryk herbert heriberto herlinda herman herminia herschel hershel herve hervé hester
    hilario hilary hilda hildegard hillary hilton hina hipolito hiram hiroki hiroshi hollie hollis
    holly homer horace horacio horst hortencia howard hristo hubert huda huey hugh hugo humberto
    hunter huong hussein håkon hélène ian ibrahim ichiro ida idella ieva ignacio igor iida ila ilene
    ilona ilse ilya ilze ima imelda imogen imogene ina indrek ines inese inez ingrid inès inês ioana
    ioannis iola ion iona ione ira irena irene irina irini iris irma irvin irving irwin isaac isabel
    isabell isabella isabelle isaiah isaias isak isiah isidro isla ismael issac istvan istván iva
    ivan ivana ivette ivonne ivory ivy iván jaan jack jackie jacklyn jackson jaclyn jacob jacque
    jacquelin jacqueline jacquelyn jacques jacquline jade jadwiga jaime jake jakob jakub jamaal
    jamal jamar jame jamel james jamey jami jamie jamison jan jana jane janel janell janelle janet
    janette janez janice janie janina janine janis janna janne janneke jannette jannie janos janusz
    jaqueline jared jari jaroslav jaroslava jarred jarrett jarrod jarvis jasmin jasmine jason jasper
    javier jay jayme jayne jayson jean jeana jeanette jeanie jeanine jeanna jeanne jeannette jeannie
    jeannine jed jeff jefferey jefferson jeffery jeffrey jeffry jelena jena jenifer jenna jennie
    jennifer jenny jens jerald jeremiah jeremy jeri jermaine jeroen jerold jerome jerri jerrod
    jerrold jerry jesica jess jesse jessica jessie jesus jesús jewel jewell ji-hoon ji-woo jian jie
    jill jillian jim jimmie jimmy jiri jiří jo joan joana joann joanna joanne joao joaquin joaquín
    jocelyn jodi jodie jody joe joel joelle joesph joey johan johanna johannes john johnathan
    johnathon johnie johnna johnnie johnny jolanta jolene jon jonah jonas jonathan jonathon joni
    joonas joost jorge jorgen jose josef josefa josefina joseph josephine josette josh joshua josiah
    josie josip josue josé jovita joyce jozef jozsef joão juan juana juanita judi judit judith
    judson judy juergen juha juho jukka jules juli julia julian juliana julianna julianne julie
    julien juliet juliette julio julius jun jung junior jurgita juris justin justina justine justyna
    ján jános jérôme jón józef józsef jørgen jürgen jānis kadri kaitlin kaitlyn kalle kamil kara
    kareem karel karen kari karim karin karina karl karla karol karolina karon karrie karyn kasey
    kasper katalin katarzyna kate katelyn katerina kateřina katharine katherine katheryn kathi
    kathie kathleen kathrine kathryn kathy katie katina katja katrin katrina katy kavita kay kaye
    kayla kaylee kazimierz kazuki keenan keiko keisha keith kelley kelli kellie kelly kelsey kelvin
    ken kendall kendra kendrick kenji kenneth kennith kenny kenta kenton kenya keri kermit kerri
    kerrie kerry kersti kerstin kerttu kesha keshia keven kevin khalid khloe kia kieth kim kimberlee
    kimberley kimberly kinsley kip kira kiran kirby kirill kirk kirsten kisha kitty klara klaus
    klára knut koen kofi kojo konstantin konstantinos kory kostas kris krishna krista kristal
    kristaps kristen kristi kristian kristie kristiina kristin kristina kristine kristopher kristy
    kristyna kristín kristýna krisztina krystal krystle krystyna krzysztof ksenia kurt kurtis kwame
    kyla kyle kylie kyoko lacey lacy ladislav ladonna laetitia laima lakeisha lakesha lakisha
    lakshmi lamar lamont lan lana lance landon lane lanny laquita lara larisa larissa larry lars
    lashawn lashonda laszlo latanya latasha latisha latonia latonya latoya latrice latricia laura
    laurel lauren laurence laurent lauretta lauri laurie lavern laverne lavonne lawanda lawerence
    lawrence lazaro lea leah leann leanna leanne leeann leena leevi leigh leila leilani lela leland
    lelia lemuel lena lenard lene lenka lenny lenora lenore leo leola leon leona leonard leonardo
    leone leonel leonor leonora leopoldo leora leota leroy les lesa lesley leslie lessie lester
    leszek leta letha leticia letitia lettie letícia levi lewis leyla lia liam libby lidia liis lila
    lilia lilian liliana lillian lillie lilly lily lina linda lindsay lindsey lindy linh linnea
    linwood lionel lisa liz liza lizette lizzie lloyd logan lois lola lolita lon lona lonnie lora
    loraine loren lorena lorene lorenz lorenzo loretta lori lorie lorine lorna lorraine lorri lorrie
    lotte lottie lou louann louella louie louis louisa louise lourdes lowell loyd luann luanne luca
    lucas lucia luciano lucie lucien lucila lucile lucille lucinda lucio lucretia lucy lucía
    ludovica ludvig luella luigi luis luisa luka lukas lukasz luke lukáš lula lupe lura luther luuk
    luz luís luísa lydia lyla lyle lyman lyn lynda lyndon lynette lynn lynne lynnette lyudmila
    lászló léa léo maarja maarten mabel mable mac maciej mack mackenzie madeleine madeline madelyn
    madge madina madonna mads mae maeve magda magdalena maggie magnus magnús magomed mahmoud mai
    maja majorie makoto malcolm malgorzata malin malinda malissa mallory mamie mandi mandy manfred
    manoj manon mantas manuel manuela mara marat marc marcel marcela marcelino marcella marcelle
    marcelo marci marcia marcie marcin marco marcos marcus marcy marek margaret margareta margarida
    margarita margarito margaux marge margery margie margit margo margot margret marguerite margus
    mari maria mariah mariam marian mariana marianna marianne mariano maribel maricela marie marieke
    marietta marija mariko marilyn marilynn marina mario marion marisa marisela marisol marissa
    marit maritza mariusz marja marjorie marjory marketa markku marko markus markéta marla marlena
    marlene marlin marlon marlyn marlys marquis marquita marsha marshall marta martha martim martin
    martina martine martins marty marva marvin mary maryam maryann maryanne marybeth maryellen
    maryjane marylou maría mason massimo mateo mateusz mathew mathieu mathilda mathilde matias
    matilda matilde matt matteo matthew matthias matti mattie matías matěj maud maude maudie maura
    maureen maurice mauricio maurine maurizio mauro mavis max maxim maxime maximilian maximo maxine
    maxwell maya mayme maynard mayra małgorzata mckinley meagan meera megan meghan mei mel melanie
    melba melinda melisa melissa mellisa mellissa melodie melody melva melvin melvina meredith merle
    merlin merrill mervin mia micaela micah michael michaela michail michal michał micheal michel
    michele michell michelle mickey migdalia miguel mihai mikael mike mikel mikhail mikko mila
    milagros milan mildred miles milford milica millard millicent millie milo milton mimi min-jun
    mina mindy minerva ming minh minna minnie miranda miriam mirjam mirjana mirna miroslav mirosław
    misaki missy misti misty mitch mitchel mitchell mitzi mohamed mohammad mohammed mohan moises
    mojca mollie molly mona monica monika monique monroe monte montserrat monty morgan moritz morris
    morten morton moses moshe mozelle muhammad murat muriel murray mustafa myles myra myrna myron
    myrtis myrtle mária mélanie mārtiņš nabil nadezhda nadia nadine nakia nan nancy nanette nannie
    naoko naomi napoleon natalia natalie natalya natasha nathalie nathan nathaniel neal ned nedra
    neha neil nejc nelda nell nellie nelly nelson nenad nereida nestor nettie neva nevaeh newton
    ngozi nguyen niall niamh nicholas nichole nick nicki nickolas nicolae nicolas nicole nicolás
    niels nigel niki nikita nikki niklas nikola nikolai nikolaos nikos nilda nils nina nisha nita
    nkechi noah noble noe noel noelle noemi noemie nola nolan nona noor nora norah norbert norberto
    noreen norma norman normand norris nour noémie nuno nuria núria obinna octavia octavio océane
    odell odessa odis ofelia oksana ola olafur oleg olen oleta olga olin olive oliver olivia olivier
    oliwia ollie olof oluwaseun oma omar omer ona ondrej ondřej onni opal ophelia ora oralia oren
    orla orval orville oscar oskar oskari osvaldo otis otto owen pablo paige paivi pam pamala pamela
    panagiotis pansy paola paolo parker pascal pasquale pat patrica patrice patricia patrick patsy
    patti pattie patty paul paula paulette paulina pauline paulo pavel pawel paweł pearl pearlie
    pearline pedro peggy pekka penelope penny percy perla perry petar pete peter petr petra petri
    phil philip philipp philippe phillip phillis philomena phoebe phyllis pia pierre pieter pietro
    pihla pilar piotr piret polina polly pooja poppy porfirio portia prakash preston pricilla priit
    prince priscilla priya przemysław päivi péter quentin quincy quinn quintin quinton rachael
    racheal rachel rachelle radek radha rae raelynn rafael rafaela ragnhild rahul raj rajesh raleigh
    ralph raluca ramesh rami ramiro ramon ramona ramzan ramón randal randall randell randi randolph
    randy rania raphael raphaël raquel rasa rasmus raul raven ravi ray raymond raymundo raúl reba
    rebeca rebecca rebekah reed reem refugio reggie regina reginald reid reina reinaldo reka rekha
    remco rena renae renata renate rene renee renita reta retha reuben reva rex reyes reyna reynaldo
    rhea rhoda rhonda ricardo riccardo richard richelle richie rick rickey rickie ricky rico
    rigoberto riitta riley rinat rita rob robbie robbin robby robert roberta roberto robin robt
    robyn rocco rochelle rocio rocky rocío rod roderick rodger rodney rodolfo rodrick rodrigo
    rogelio roger rohan roisin roland rolando rolf rolland roma romain roman romeo romona ron ronald
    ronan ronda ronnie ronny roosevelt rory rosa rosalba rosalee rosalia rosalie rosalina rosalind
    rosalinda rosalyn rosanna rosanne rosario roscoe roseann roseanne rosella roselyn rosemarie
    rosemary rosendo rosetta rosie rosita roslyn ross rowena roxana roxann roxanna roxanne roxie roy
    royal royce ruben rubin ruby rubén rudolph rudy rufus rui rupert ruslan russ russel russell
    rustam rusty ruth ruthie ruud ryan rylee ryszard réka sabina sabine sabrina sachiko sadie saga
    sakura sal sallie sally salma salvador salvatore sam samantha samatha samir sammie sammy samuel
    sander sandi sandor sandra sandrine sandy sanford sang sanjay sanna sanne santa santiago santos
    saoirse sara sarah sasha satoshi saul saundra savannah scot scott scottie scotty sean sebastian
    sebastien sebastián segun selena selina selma sem seo-yeon serena sergei sergey sergio seth
    seymour shamil shana shanda shane shanna shannon shanon shantel shari sharlene sharon sharonda
    sharron sharyn shaun shauna shawn shawna shayla sheena sheila shelby sheldon shelia shelley
    shelli shellie shelly shelton sheree sheri sherman sherri sherrie sherry sheryl shiela shirley
    shonda shota shreya sidney sigrid sigridur sigríður sigurd sigurdur sigurður siiri silas silje
    silke silvia simon simone sinead siobhan sita sjoerd snežana socorro sofia sofía sol soledad
    solomon solveig sondra sonia sonja sonny sonya sophia sophie soren spencer spyridon srinivas
    stacey staci stacia stacie stacy stan stanford stanislav stanislaw stanisław stanley stefan
    stefanie stefano stefán steinar stella stephan stephane stephanie stephany stephen stephenie
    sterling steve steven stevie stewart stijn stoyan stuart stéphane stéphanie sue sung sunil
    sunita sunny suresh susan susana susanna susanne susie suzan suzanna suzanne suzette sven
    svetlana swati sybil sydney sylvester sylvia sylvie szymon sándor sébastien søren tabatha
    tabitha tad tadeusz takashi takumi tamara tamas tameka tamela tamera tami tamika tammi tammie
    tammy tamra tamás tana tania tanisha tanner tanya tara tariq taro taryn tasha tatiana tatyana
    tawana taylor ted teddy tena teodoro tera terence teresa teresita tereza teri terra terrance
    terrell terrence terri terrie terry tesfaye tessa tessie thad thaddeus thanh thea theda thelma
    theo theodora theodore theresa therese theron thiago thierry thijs thomas thurman théo tia tiago
    tiana tiara tibor tiffani tiffany tiina tiiu tillie tim timmy timo timothy timur tina tisha
    tobias toby tod todd todor tom tomas tomasa tomasz tomislav tommaso tommie tommy tomoko tomás
    tomáš tone toni tonia tonja tony tonya toomas tori tory tosha tove tracey traci tracie tracy
    travis trent trenton treva trevor trey tricia triin trina trinidad trisha trista tristan trond
    troy trudy truman tuan tunde tuomas tuula twila twyla ty tyler tyra tyree tyrell tyron tyrone
    tyson tõnu ulysses una ursula urszula uwe vaclav vada vadim vaino valarie valencia valentin
    valentina valentine valeria valerie valorie valérie vance vanessa vasco vasile vasileios
    vasiliki vaughn veda veeti velda velma venessa venkat venla venus vera verda verla vern verna
    vernell vernice vernon veronica veronika veronique verónica vesna vesta vicente vicki vickie
    vicky victor vida vijay vikki vikram viktor viktoria ville vilma vince vincent vincenzo viola
    violet violeta virgie virgil virgina virginie vitaly vito vivian viviana vladimir vojtech
    vojtěch vonda vytautas václav väinö véronique věra wade waldemar waldo walid walker wallace
    walter wanda ward warren wayne wei weldon wendell wendi wendy werner weronika wesley weston
    whitney wiesław wiktoria wilbert wilbur wilburn wilda wiley wilford wilfred wilfredo wilhelmina
    willa willard willem william williams willie willis willy wilma wilmer wilson wilton winfred
    winifred winnie winona winston wm wojciech wolfgang woodrow wouter wyatt xavier ximena yadira
    yang yannis yasmin yesenia yevgeny yoko yolanda yong youssef yui yuki yuko yulia yumiko yuri
    yusuf yusuke yves yvette yvonne zachariah zachary zachery zainab zane zaur zbigniew zdenek
    zdeněk zdzisław zelda zella zelma zenaida ziga zoe zoey zofia zoila zoltan zoltán zoran zsolt
    zsuzsanna zsófia zuzana zuzanna ádám ágnes álvaro ángel élise élodie émilie éric éva ólafur
    óscar þór ľubomír łukasz štefan žiga
    """.split()
)


# Given names that are also ordinary English words (Heather, Robin, Frank ...): they count
# only when capitalized mid-sentence or followed by a surname, never in lowercase notes.
AMBIGUOUS_FIRST_NAMES: frozenset[str] = frozenset(
    """
    aline amber angel angela aria aura aurora autumn avery barb barney basil beau belle berry beryl
    billy birdie bob bobby bonnie brad brandy brooks bud buddy candy carey carmine carol chad chase
    cherry chi christen christian chuck clay clement cliff colleen coy crystal curt daisy dale dean
    denis derrick dick dieter dirk dolly don drew dusty earl earnest ebony ed eddy emery ester eve
    fanny fern flora florin foster franc frank freeman gale garland gene ginger glen grant guy hank
    harry hazel heath heather hector holly homer hunter ion iris ivory ivy jack jade jan jarred
    jasmine jasper jay jean jewel jimmy john josh junior justin kay kelly ken kerry kitty lacy lance
    lane laurel lea lily lindsey mads margarita maria marina marlin marquis martin martins mason
    matt max maxim melody mickey mike miles misty myrtle newton nick noble noel olive olivia opal
    pansy pat patsy patty pearl penny peter phoebe poppy prince quinn randy raven ray reed rhea rick
    riley rob robin rocky rod roger roman rosemary royal ruby rusty saga sally sander sandy sang
    savannah shannon sharon sherry sol sonny sterling sue sung sunny tad tanner taro taylor terry
    tiara tom tone tony tracy troy valentine victor viola violet wade waldo walker ward warren
    """.split()
)


# Surnames: the US Census Bureau 1990 surname list (public domain; frequency at least
# 0.005 %) minus ordinary English words (Brown, Baker, King ...) and place names.
SURNAMES: frozenset[str] = frozenset(
    """
    abbott abernathy abney abrams acevedo acker ackerman acosta adair adams adamson adcock addison
    adkins adler agee aguilar aguilera aguirre aiken akers akins alaniz albrecht albright aldrich
    aldridge alfaro alford allard allred alonso alston altman alvarado alvarez amaya ambrose ames
    anaya andersen andrade andrews aponte aquino aragon arce arellano armstrong arnett arredondo
    arrington artis ashby ashcraft asher ashton atkins atkinson atwood avalos avila aviles ayala
    ayers babb babcock baca baer baez baggett bagley bailey bain baird baldwin ballard barajas
    barbee barbour barclay barfield barger barkley barksdale barlow barnard barnes barnett barnhart
    barr barrera barron barth bartholomew bartlett bartley bassett bateman batts bauer baugh
    baughman baum bauman bautista baxter beal bearden beasley beatty beaty beaulieu becerra becker
    beckman beebe begay belanger belcher bellamy beltran benavides benedict benitez benner benson
    bentley benton berger bergeron bergman berman bermudez bernal bernier bernstein betancourt betts
    beyer biggs billingsley bingham blackburn blackman blackmon blackwell blakely blalock blanchard
    blanco blankenship blanton bledsoe blevins blount blum boggs bolden bolin bollinger bolton
    bonilla bonner boone borden bostic boston boswell bouchard boucher boudreau boudreaux bourque
    bowden bowen bowens bowie bowles bowser boyce boyer boykin boyle boyles braden bradshaw bragg
    brandt branham brannon brantley braswell braun braxton breaux brennan brenner brewster briggs
    brinkley brinson briscoe britton bronson broussard brower browne brownlee bruner brunner brunson
    bryson buchanan buckley buckner bullard bundy bunn burch burdick burgess burgos burk burke
    burkett burkhart burks burnett burnette burnham burrell burris burroughs busch bustamante
    butterfield byers bynum byrd byrne caballero cabral cabrera cagle cahill cain calderon caldwell
    calhoun callahan callaway calloway calvert camacho campbell campos canales cano cantrell cantu
    capps carbone cardenas cardona cardwell carlisle carlson carmichael carmona carnes carney caron
    carr carranza carrasco carrillo carrington cartwright caruso casillas cason cassidy castaneda
    castellanos castillo castro cates caudill causey cavanaugh cavazos cervantes chacon chan chaney
    chapa chapman chappell chastain chatman chavez chavis cheatham cheney cheng childers childress
    childs cho choate choi christensen christenson christiansen chu churchill cisneros clarke clary
    cleary clements clemons cleveland clevenger cline cloutier coates cobb coburn cochran coe coffey
    coffman cohen coker colbert coles coley collazo collins colvin compton conklin conley conn
    connell connelly conner connolly connors conroy contreras conway cooke cooley copeland corbett
    corbin corcoran cordero cordova corley cormier cornett cornish cornwell coronado correa cortes
    cortez costa costello cottrell coughlin coulter couture covington cowan coyle crabtree crain
    cramer crandall crawford crawley creech crenshaw crespo crocker crockett croft cronin crosby
    crouse crowder crowe crowell crowley crum crump cuellar cuevas cullen culp culpepper culver
    cummings cummins cunningham curley curran currie currier cutler cyr dahl daigle dailey daley
    daly daniels darby darden daugherty davidson davies davila davison dawkins dawson deaton decker
    dejesus delacruz delaney delarosa delatorre deleon delgado deloach delong deluca dempsey
    dennison denson denton devine devore dias diaz dickens dickerson dickinson dickson diehl
    dietrich dietz diggs dillard dixon dobbins dobbs dobson dodd dodson doherty dolan dominguez
    donahue donaldson donnelly dooley doran dorman dorsey doss dotson doty dougherty douglass dow
    dowd dowell dowling downey dozier draper driscoll drummond dube dubois dubose duckworth duffy
    dugan dumas dunbar dunham dunlap dunn dupre dupree duran durant durbin durham dutton duvall
    dwyer dyson easley eason eastman eaton ebert echols eckert edmonds edmondson edwards egan elam
    eldridge elkins eller ellington ellison ellsworth elmore elrod ely emmons engel england engle
    english ennis enriquez epperson epps erickson ernst escobar escobedo esparza espinosa espinoza
    esposito esquivel estep estes estrada etheridge eubanks evans ewing ezell fagan fairchild farley
    farnsworth farr farrar farrell farris faulk faulkner faust felder feldman feliciano felton
    fennell fenton ferguson fernandez ferreira ferrell ferris figueroa finley finney fischer fitch
    fitzgerald fitzpatrick flaherty flanagan fleming flores flynn foley fontaine fontenot foote
    forbes forman fortier fortner foss fournier foust fowler fraley france franco fraser frazier
    frey friedman frye fuentes fugate fulton fultz gagne gagnon gaines gaither galindo gallagher
    gallardo gallegos gallo galloway galvan gamez gandy gann gannon gant garcia gardner garvin garza
    gaskins gaston gatlin gauthier geary geiger gerber gibbs gibson gifford gilchrist giles
    gillespie gillette gilliam gilliland gillis gilman gilmore gipson girard gleason glover goddard
    godfrey godwin goetz goff goins goldberg goldman goldstein gomes gomez gonzales gonzalez gooch
    goode gooden goodman goodrich goodson goodwin gorman goss gould graf granger grantham grayson
    greco greenberg greene greenwood greer gresham grier griffith griggs grigsby grimm grissom
    grossman grubb grubbs guajardo guerra guerrero guevara guidry guillen guillory guinn gunn gunter
    gustafson guthrie gutierrez guzman haas hackett hagan hagen hager hahn haines hairston hamby
    hamlin hamm hammond hammonds hammons hampton han hancock haney hankins hanley hansen hanson
    hardin harding hardison hargrove harkins harman harmon harper harrell harrington hartley hartman
    haskins hastings hatcher hatfield hathaway hatton hauser hawkins hawley hawthorne hayden hayes
    haynes hayward haywood healy hearn heaton hebert hedrick heller helton hemphill henderson
    hendricks hendrickson hendrix henley hensley henson hernandez herndon herrera herrington herron
    herzog hess hewitt hickman hidalgo higginbotham higgins hightower hilliard hillman hines hinkle
    hinojosa hinson hinton hirsch hitchcock hite hobbs hobson hodge hodges hoff hoffman hogue
    holbrook holcomb holden holland holley holliday hollingsworth holloway holm holman holmes holt
    holton honeycutt hong hooper hoover hopkins hopson horne horner horton hoskins houck hough houle
    houser howe howell howland hoyt huang hubbard huber huddleston hudgins hudson huerta huffman
    huggins hughes hummel humphrey humphreys humphries huntley hurd hurley hurst hurtado huston
    hutchins hutchinson hutchison hutson hutton huynh hyatt hyde hyman ibarra ingram inman irby
    irizarry isaacs isbell isom iverson ivey jacobs jacobsen jacobson jameson jansen jaramillo
    jarrell jeffers jeffries jenkins jennings jensen jernigan jeter jimenez johnson johnston jones
    jordon jorgensen joyner juarez judd kahn kaiser kane kang kaplan katz kauffman kaufman kearney
    kearns keating keene keller kellogg kemp kennedy kenney kent kenyon kern kerns kerr kessler
    keyes kidd kilgore killian kilpatrick kimball kimble kimbrough kincaid kinney kinsey kirkland
    kirkpatrick kiser klein kline knapp knott knowles knox knutson koch koehler koenig kohler
    kowalski kraft kramer kraus krause krueger kruger kruse kuhn kurtz ladd ladner laird lambert
    lancaster landers landis landrum landry lang lange langford langley langston lanier lankford
    larkin larsen larson lassiter latham lau laughlin lawler lawson lawton layne layton leal leary
    leavitt leblanc ledbetter ledford leggett lehman lentz levesque levin levine leyva liles lim lin
    lind linder linn linton lipscomb littlefield littlejohn liu livingston locke lockett lockhart
    lockwood lofton lombardo london longoria loomis lopez lott lovelace lovell lovett lowe lowery
    lowry lozano lucero ludwig lugo lujan luna lund lundy lunsford lusk lutz lyles lyon lyons lytle
    mabry macdonald machado macias mackey maddox madrid madsen magana magee maguire mahan maher
    mahon mahoney maldonado malloy malone maloney manley mann mansfield marcum marin marino markham
    marlow marquez marrero martel martinez martino massey mata mathews mathis matlock matos matson
    matthews mattingly mattox mattson mauldin maurer mayberry mayer mayes mayfield mays mcallister
    mcbride mccabe mccain mccall mccann mccarthy mccartney mccarty mccauley mcclain mcclellan
    mcclelland mcclendon mccloud mcclure mccollum mcconnell mccord mccormack mccormick mccoy
    mccracken mccrary mccray mccullough mccurdy mcdaniel mcdermott mcdonald mcdonough mcdowell
    mcduffie mcelroy mcfadden mcfarland mcgee mcghee mcgill mcginnis mcgowan mcgrath mcgraw mcgregor
    mcguire mchugh mcintosh mcintyre mckay mckee mckenna mckenzie mckinney mckinnon mcknight mclain
    mclaughlin mclean mcleod mcmahan mcmahon mcmanus mcmillan mcmillian mcmullen mcnair mcnally
    mcnamara mcneal mcneil mcneill mcpherson mcqueen mcrae mcwhorter mcwilliams meade meador
    medeiros medina medrano meehan meeks meier mejia melendez melton menard mendez mendoza mercado
    mercer merritt messer metcalf metz metzger meyer meyers meza michaels michaud middleton milam
    milligan milner mims minton mixon mize mobley moeller moffett mohr molina monahan montalvo
    montanez montano montes montgomery montoya mooney moore mora morales moran moreland moreno morin
    morrell morrison morrissey morse moseley moser mosher mosley mott moulton moya moyer mueller
    mullen muller mullins muniz munoz munson murdock murillo murphy murrell murry myers myrick
    nadeau nance napier naquin nash nava navarro naylor neely neff negron nesbitt neumann newberry
    newby newcomb newell newman newsom newsome ngo nichols nicholson nickerson nielsen nielson nieto
    nieves nixon noland nolen norton norwood novak nowak nugent nunez nunn oakes oakley obrien ochoa
    oconnell oconnor odom odonnell ogden ohara ojeda okeefe oldham oleary olivares olsen olson oneal
    oneil oneill ornelas orourke orozco orr ortega ortiz osborn osborne otero ott ouellette
    overstreet overton owens pacheco padgett padilla paine palacios palmer paquette parham paris
    parnell parr parra parris parrish parrott patel patten patterson patton paulson paxton payne
    payton peachey pearce pearson pedersen pederson pelletier pemberton pena pendleton penn
    pennington peralta perdue pereira perez perkins perryman petersen peterson pettit pham phelps
    phillips phipps pickens pickering pickett pierson pimentel pina pineda pinson pittman pitts
    platt plummer poe poindexter poirier polk pollard pollock ponce poole portillo posey potts
    poulin powell prado prater prather pratt prescott presley pressley pringle pritchard pritchett
    pruett pruitt pryor puckett pugh pullen pulliam purcell purdy purvis putnam pyle qualls quarles
    quezada quigley quinones quintana quintanilla quintero quiroz rader radford ragland ragsdale
    raines rainey ralston ramey ramirez ramos ramsey randle rangel rankin rapp rasmussen ratcliff
    ratliff rea reagan reardon reaves redd redding redman redmond reece reeder reese regan reilly
    renner renteria reynolds rhoades rhoads rhodes richards richardson richey richmond richter
    ricketts riddick ridley riggs rinehart rios ritchie ritter rivas rivera roark robb robbins
    roberson roberts robertson robinette robinson robison robles rocha roche rockwell rodgers
    rodrigues rodriguez rodriquez rojas rollins romano romero romo rooney roper rosado rosales rosas
    rosen rosenberg rosenthal rossi roth rowan rowe rowell rowland rowley rubio rucker rudd ruffin
    ruiz runyon russo rutherford rutledge ryder sadler saenz salas salazar saldana salgado salinas
    salisbury sampson sams samuels sanborn sanchez sanderson sandoval santana sapp sargent
    satterfield saucedo sauer saunders saylor scarborough schaefer schaeffer schafer schaffer schell
    schilling schmidt schmitt schmitz schneider schofield schrader schreiber schroeder schuler
    schultz schulz schumacher schuster schwab schwartz schwarz scroggins scruggs seay segura selby
    serna serrano seward sewell shafer shaffer shapiro sharpe shaw shea sheehan sheffield shepard
    sheppard sheridan sherrill sherrod sherwood shipley shipman shipp shockley shuler shultz siegel
    sikes silva silverman simmons simms simons simpkins simpson sinclair singh singletary sisk
    sizemore skaggs skelton skidmore skinner slade slater sloan smallwood sneed snell snodgrass
    snowden snyder solis sorensen sorenson sosa soto sousa souza spain spangler spann spaulding
    speer spence spicer spivey sprague springer spurlock stafford stahl staley stallings stamper
    stanton stapleton starkey starks starnes starr staton stearns steele steen steiner stephens
    stephenson stepp stevens stevenson stinson stjohn stockton stoddard stovall stover stratton
    streeter strickland stroud stubbs suarez suggs sullivan sumner sutherland sutton swann swanson
    swartz sweeney swenson switzer sykes tabor tackett talbert talbot talley tapia tate tatum teague
    templeton thacker tharp thayer thomason thompson thomson thorne thornton thorpe thurston tidwell
    tilley tillman timmons tinsley tipton tirado titus tobin tolbert tomlin tomlinson tompkins toney
    torres torrez toth tovar townsend trahan tran traylor trejo trevino trimble triplett tripp
    troutman trujillo truong tubbs turpin tuttle ulrich underwood unger upton valdez valenzuela
    valle vandyke vang vann varela vargas varner varney vasquez vaughan vazquez vega vela velasco
    velasquez velazquez velez ventura vick vickers villalobos villanueva villarreal villegas vinson
    vogel vogt voss waddell waggoner wagner waite wakefield walden waldron waller wallis walsh
    walters walton wang warner washburn waterman watkins watson waugh webb webber weber webster
    weiner weiss weller wellman westbrook westmoreland wetzel whalen whaley whatley wheatley whipple
    whitaker whitehead whitfield whitley whitlock whitman whitmore whitt whittaker whitten
    whittington wiggins wilcox wilhelm wilkerson wilkes wilkins wilkinson willett willey williamson
    willingham willoughby windham winkler winn winslow wiseman witherspoon witt wolfe wolff womack
    wong woodall woodard woodruff woodson woodward wooten worley worrell worthington wray wyman wynn
    xiong yancey yanez yarbrough yates yazzie ybarra yeager yee yoder york yost youngblood zamora
    zapata zavala zeigler zepeda ziegler zimmer zimmerman zuniga
    """.split()
)
