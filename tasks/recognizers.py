"""Custom Presidio recognizers and post-processing that raise veilflow's PII detection quality."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
import regex
from presidio_analyzer import EntityRecognizer, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


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
    r"(?<![\w.+/:,-])"
    r"(?:(?:\+|00)\d{1,3}[ .-]?)?"  # country code
    r"(?:\(0\)[ .-]?)?"  # the "(0)" trunk prefix of Swiss/German/Swedish numbers
    r"(?:\(\d{1,5}\)[ .-]?)?"  # area code in parentheses
    r"\d{1,6}(?:[ .-]\d{1,6}){0,5}"
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
)


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
_CAP = rf"(?:\p{{Lu}}[{_L}'’.-]*|\p{{Lu}}\.)"  # capitalized word or initial, any script
_PARTICLE = r"(?:de|la|le|les|del|della|di|da|do|dos|das|du|des|e|y|van|von|der|den|al|el|na|nad|am|an|sur|en|of|the)"
_NUM = r"\d{1,6}[A-Za-z]?"
_STREET_TYPES = (
    "Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    "Square|Sq|Terrace|Ter|Crescent|Cres|Circle|Cir|Close|Parkway|Pkwy|Highway|Hwy|Park|Parks|"
    "Green|Greens|Hill|Hills|Row|Mews|Gardens|Grove|Walk|Path|Trail|Trl|Alley|Plaza|Loop|"
    "Expressway|Freeway|Pike|Turnpike|Heights|Hts|Landing|Point|Ridge|Run|Vista|Meadows?|Mills?|"
    "Estates?|Bridge|Gate|Wharf|Quay|Rise|Vale|Glen|Fields?|Junction|Crossing|Center|Centre|"
    "Route|Rte|Cove|Creek|Causeway|Parade|Promenade|Esplanade|Broadway|Lodge|Manor|Ranch|"
    "Springs?|Station|Summit|Track|Valley|Villas?|Knoll|Harbor|Harbour|Hollow|Isle|Brook|Forge|"
    "Forges|Ford|Fort|Flats?|Falls|Dale|Cliffs?|Burg|Bluffs?|Bend|Beach|Arcade|Yards?|Port"
)
_STREET_PREFIXES = (
    "Rue|Avenue|Av\\.|Avda\\.|Avenida|Via|Viale|Vicolo|Piazza|Piazzale|Piazzetta|Largo|Corso|Strada|"
    "Contrada|Borgo|Calle|Carrer|Camino|Paseo|Plaza|Rambla|Ronda|Travesía|Rua|Travessa|Praça|"
    "Estrada|Alameda|Ladeira|ul\\.|ulica|al\\.|aleja|pl\\.|plac|os\\.|osiedle|trg|Boulevard|Bd\\.?|"
    "Chemin|Impasse|Allée|Quai|Place|Cours|Route|Πλατεία|Λεωφόρος|Λ\\.|Οδός|ул\\.|улица|проспект|"
    "Jalan|Jl\\.|Carretera|Avinguda|Passeig|Rruga|Sokak|Cadde|Bulevar|Bulevardul|Strada|Calea|Str\\."
)
_STREET_SUFFIXES = (
    "strasse|straße|str\\.|gasse|weg|platz|allee|ring|damm|ufer|steig|chaussee|katu|tie|kuja|polku|"
    "raitti|vej|gade|stræde|gatan|vägen|väg|gata|gränd|stigen|veien|vegen|gate|laan|straat|plein|"
    "gracht|kade|singel|dreef|hove|utca|út|tér|ulica|cesta|ulice|náměstí|nábřeží|tänav|iela|"
    "gatvė|sokak|caddesi|bulvarı|stien|vangen|bakken|höfði|vegur|gata"
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
_UNIT = r"(?i:apt|apartment|suite|ste|unit|flat|room|rm|floor|fl|bldg|building|box|no|\#)\.?[ ]?\#?\d{1,6}[A-Za-z]?\b"
_MILITARY_TAIL = r"(?i:apo|fpo|dpo)[ ](?i:aa|ae|ap)[ ]\d{5}\b"
_ZIP = r"(?:\d{5}(?:-\d{3,4})?|\d{4}(?:[ ]\p{Lu}{2})?|\d{3}[ ]\d{2}|\p{Lu}{1,2}\d[\p{Lu}\d]?[ ]\d\p{Lu}{2})(?![\w-])"
_STATE = r"\p{Lu}{2,3}(?![\w'’-])"
_CITY_WORD = rf"(?:{_CAP}|\({_CAP}(?:[ ]{_CAP})*\))"
_CITY = rf"{_CITY_WORD}(?:[ -](?:{_CITY_WORD}|{_PARTICLE}(?=[ -]\p{{Lu}})))*"

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
    (?:(?:{_UNIT})[ ,]+)?                          # a unit written before the house number
    (?:
        (?P<typed>{_NUM}(?:[ ]{_NUM})?[ ](?:{_CAP}[ ]){{0,4}}(?i:{_STREET_TYPES})\b\.?)
      | (?P<prefixed>(?:{_NUM}(?:[ ]{_NUM})?[ ])?(?:{_STREET_PREFIXES})[ ]
            (?:(?:{_CAP}|{_PARTICLE})[ ]){{0,5}}?{_CAP}(?:[ ]{_NUM}\b)?)
      | (?P<suffixed>(?:{_NUM}(?:[ ]{_NUM})?[ ])?[{_L}-]*(?i:{_STREET_SUFFIXES})[ ]{_NUM}\b)
      | (?P<box>(?:{_NUM}[ ])?(?i:p\.?[ ]?o\.?[ ]?box|post[ ]office[ ]box|postbox|(?:psc|unit|cmr)[ ]\d{{1,5}},?[ ]box)[ ]?\d{{1,6}}\b)
      | (?P<ship>(?:USS|USNS|USNV|USCGC|uss|usns|usnv|uscgc)[ ]{_CAP}(?:[ ]{_CAP}){{0,2}}(?=\s*\n?\s*(?i:apo|fpo|dpo)))
      | (?P<numbered>{_NUM}(?:[ ]{_NUM})?[ ]{_CAP}(?:[ ](?:{_CAP}|{_PARTICLE})){{0,4}}[ ]{_NUM}\b)
    )
    """,
    regex.VERBOSE,
)
_TAIL_SEP = regex.compile(r"[ \t]*(?:,[ \t]*(?:\n[ \t>]*)?|\n[ \t>]*(?:,[ \t]*)?(?:\n[ \t>]*)?|[ \t]+)")
_TAIL_PIECES = (
    ("unit", regex.compile(_UNIT)),
    ("military", regex.compile(_MILITARY_TAIL)),
    ("country", regex.compile(rf"(?:{_COUNTRIES})(?![\w-])")),
    ("zip", regex.compile(_ZIP)),
    ("state", regex.compile(_STATE)),
    ("city", regex.compile(_CITY)),
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
    number-name-number anchor, +0.25 with a unit/ZIP/country/state piece, +0.25 with
    address context words before it.
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
            kind = m.lastgroup
            end, pieces = _extend_tail(probe, end)
            score = 0.35 if kind == "numbered" else 0.6
            if pieces & {"unit", "zip", "country", "state", "military"} or kind in ("box", "ship"):
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
                        p.match(text, nxt) for k, p in _TAIL_PIECES if k in ("zip", "country", "state", "military")
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


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \t\n,.>-":
        # Keep the period of an abbreviation such as "St." or "Apt.".
        if text[end - 1] == "." and regex.search(r"(?:\b\p{L}{1,4}|\p{Lu}\p{L}*)\.$", text[start:end]):
            break
        end -= 1
    return end


# --------------------------------------------------------------------------- person names

_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord|Rev|Fr|Capt|Sgt|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)"
_NAME_WORD = rf"(?:\p{{Lu}}[{_L}'’-]+|\p{{Lu}}\.)"
_NAME_STOP = frozenset(
    "Suite Apt Street Road Avenue The And I Is Was Are Has Have Will Would Please Thanks Thank "
    "From With For To At In On Of By Mobile Phone Desk Fax Email Address Name Card Company Inc "
    "Ltd LLC Corp University Hospital Bank My Your Our Their His Her Dear Hello Hi Yes No".split()
)
_TITLED_NAME = regex.compile(
    rf"(?<![\p{{L}}\d][ ])\b{_TITLE}\.?[ ]+(?P<name>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,3}})"
)
_CUE_NAME = regex.compile(
    rf"(?i:\b(?:my name is|name is|name's|name:|named|called|signed|sincerely,|regards,|dear|"
    rf"directed by:?|written by:?|contact person:?|last name\??|first name\??|surname\??|full name:?|"
    rf"this is|i am|i'm|hi|hello|thanks|thank you,?|attn:?|attention:?|patient:?|customer:?|"
    rf"cardholder:?|from:|to:|cc:))[ \t]*\n?[ \t]*(?P<name>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,3}})"
)
_LOWER_CUE_NAME = regex.compile(
    rf"\b(?:my name is|name is|name:|called|named|last name\??|first name\??)[ \t]*\n?[ \t]*"
    rf"(?P<name>[{_L}][{_L}'’-]+(?:[ ][{_L}][{_L}'’-]*){{0,2}})"
)
_TOKEN = regex.compile(rf"[{_L}][{_L}'’-]*\.?")


class PersonNameRecognizer(LocalRecognizer):
    """Person names the small NER model misses.

    Three general signals: a courtesy title (Mr., Mrs., Dr. ...) followed by capitalized
    words; a cue phrase ("my name is", "Name:", "Dear", "signed") followed by
    capitalized words; and a first name from a built-in multicultural list followed by an
    optional initial and a capitalized surname (also in all-lowercase notes). The title
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
            if e > s and text[s:e] not in _NAME_STOP:
                results.append(_result("PERSON", s, e, 0.6, self))
        lowercase_text = text == text.lower()
        if lowercase_text:
            for m in _LOWER_CUE_NAME.finditer(text):
                results.append(_result("PERSON", m.start("name"), m.end("name"), 0.6, self))
        results += self._gazetteer(text, lowercase_text)
        return results

    def _gazetteer(self, text: str, lowercase_text: bool) -> list[RecognizerResult]:
        tokens = list(_TOKEN.finditer(text))
        results = []
        i = 0
        while i < len(tokens):
            tok = tokens[i].group().rstrip(".")
            capitalized = tok[:1].isupper() and not tok.isupper()
            if tok.lower() in FIRST_NAMES and (capitalized or (lowercase_text and len(tok) > 2)):
                start, end = tokens[i].start(), tokens[i].start() + len(tok)
                j = i + 1
                parts = 0
                while j < len(tokens) and parts < 3:
                    gap = text[end : tokens[j].start()]
                    nxt = tokens[j].group()
                    if gap not in (" ", "  "):
                        break
                    if lowercase_text:
                        ok = len(nxt) == 1 or (len(nxt) > 1 and nxt.rstrip(".").isalpha() and nxt.lower() not in _COMMON_WORDS)
                    else:
                        ok = nxt[:1].isupper() and nxt.rstrip(".") not in _NAME_STOP and nxt.rstrip(".") not in _CITY_STOP
                    if not ok:
                        break
                    end = tokens[j].start() + len(nxt.rstrip(".")) if not regex.fullmatch(r"\p{L}\.", nxt) else tokens[j].end()
                    parts += 1
                    j += 1
                score = 0.7 if parts else 0.5
                results.append(_result("PERSON", start, end, score, self))
                i = j
            else:
                i += 1
        return results


def _trim_name(text: str, start: int, end: int) -> tuple[int, int]:
    """Cut a name span at the first stop word (e.g. 'Suite', 'The') and trailing punctuation."""
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


# Frequent English words that are also given names: in lowercase notes they are not names.
_COMMON_WORDS = frozenset(
    "a an the and or but if so to of in on at by for from with as is are was were be been am i me my "
    "we us our you your he him his she her it its they them their this that these those here there "
    "what who how why when where which will would can could should may might must shall do does did "
    "have has had not no yes please thanks thank hello hi dear call phone number card address street "
    "lives live at moved new old address name last first middle".split()
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
    already covers them).

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text``.

    Returns:
        A new list without the dropped results (inputs are not mutated).
    """
    blockers = [r for r in results if r.entity_type in _NOT_DATE_ENTITIES]
    emails = [r for r in results if r.entity_type == "EMAIL_ADDRESS"]
    kept = []
    for r in results:
        if r.entity_type == "DATE_TIME":
            value = text[r.start : r.end]
            compact = regex.sub(r"[\s,.]", "", value)
            if compact.isdigit() and not regex.fullmatch(r"(?:19|20)\d\d", compact):
                continue
            if not regex.search(r"\d", value) and not _MONTHS_DAYS.search(value):
                continue
            if regex.search(r"(?i)\b(?:years?|yrs?|months?|weeks?|days?|hours?|minutes?)\b(?:\s+old)?", value) and not _MONTHS_DAYS.search(value):
                continue
            if any(b.start < r.end and r.start < b.end for b in blockers):
                continue
        if r.entity_type == "URL" and any(e.start <= r.start and r.end <= e.end for e in emails):
            continue
        kept.append(r)
    return kept


_MERGE_GAP = regex.compile(r"^[\s,>]*$")


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


def postprocess_results(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Apply veilflow's post-processing: ``filter_false_positives`` then ``merge_adjacent_spans``.

    Args:
        text: The analyzed text.
        results: Analyzer results for ``text`` (not mutated).

    Returns:
        The cleaned result list.
    """
    return merge_adjacent_spans(text, filter_false_positives(text, results))


# --------------------------------------------------------------------------- factory


def build_custom_recognizers(locale: str = "US") -> list[EntityRecognizer]:
    """Build veilflow's custom recognizers for one locale.

    Args:
        locale: ISO country code of the data's home country; it orders the regions tried
            for phone numbers written without a country code.

    Returns:
        New recognizer instances (cards, phones, street addresses, person names), to be
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
        PersonNameRecognizer(),
    ]


# A multicultural list of common given names (written for veilflow from general knowledge;
# no third-party list copied). Given names that are also frequent English words or place
# names (Will, May, Grace, Jordan, Paris ...) are left out: they would fire on ordinary text.
FIRST_NAMES: frozenset[str] = frozenset(
    """
    aada aaliyah aaron abdullah abebe abena abigail adaeze adalynn adam adela adeline aditya adrian
    adriana adrián adéla afonso agathe agnes agnieszka ahmad ahmed aikaterini aino aisha aishwarya
    aivars akhmed akiko akira akosua alain alan alba albert alberto aldo alejandra alejandro
    aleksandr aleksandra aleksi alena alessandro alessia alexa alexander alexandra alexandre
    alexandru alexei alexey alexis alfie alice alina allison alva alvaro alyssa amanda amandine
    amara amelia amina aminat amit amy anais ananya anastasia anaïs anders andre andrea andreas
    andreea andrei andres andrew andrey andris andrzej andré andrés anette angeliki angelo angus anh
    anil anita anja anjali anke ann anna annabelle anne anneli annemieke annika anthony antoine
    anton antonella antonia antonio  aoi aoife apolline archie aria ariana arianna ariel arjen
    arjun arne arsen artem arthur arturo arun arya ashley aslan aslanbek astrid athanasios athena
    attila aubrey audrey aurelie aurélie ava axel azamat baiba balazs balázs baptiste barbara
    barbora barry bartosz bas beata beatrice beatriz bella bence benedikt benjamin benoit benoît
    bernard bernd betty beverly bilal billy birgit birgitta bjorn bjørn bogdan bolesław 
    boris  bożena bram brandon brenda brian brianna bridget brielle brigitte britt brittany
    bruce bruna bryan  caleb callum camila camilla camille capucine carl carlo carlos carmela
    carmen carolina caroline carolyn catarina caterina catherine celine chantal charles charlie chen
    cheryl chiara chidi chioma  chloe chloé christina christine christophe christopher christos
    chukwuemeka cian ciara claire clara claudia claudio clemence clement clive clémence clément
    colin colleen connor conor constantin cora cristian cristina csaba cynthia czesław céline daan
    dace daiki daniel daniela danielle danuta daria dario darius dariusz darren darya david davide
    dawid deborah debra declan deepa deepak delilah delphine denise derek despina diana diane didier
    diego dieter dimitar dimitra dimitrios diogo dirk divya dmitri dmitry dolores domenico dominik
    dominique donald donna dora doris dorota dorothy douglas dragan dragana duarte duncan dusan
    dušan dylan dóra ebba edgars edith edoardo eduardo edward eetu egle einar eino eirik ekaterina
    eleanor elena eleni eliana elias elijah eline elisa elise eliza elizabeth ella elodie elsa
    elzbieta elżbieta emanuele emeka emery emil emilia emiliano emilie emily emma enrico enrique
    enzo eoin eric erik erika erzsebet erzsébet esme espen esther eszter ethan eugene evan evangelos
    eveliina evelyn everly evgeny evie ewa fabian fabio fadi fatima federica federico femi femke
    feng ferenc fernanda fernando filip finn fiona fleur florian florin folake franc frances
    francesca francesco francisca francisco francois francoise françois françoise freddie frederic
    fredrik freja freya frieda frédéric gabor gabriel gabriela gabriele gabriella galina ganesh gary
    gemma gennady george georgi georgios gerald gerhard gerrit gheorghe gianluca gianna gilles
    ginevra giorgia giorgio giorgos giovanna giovanni gisela gita giulia giuseppe giuseppina gloria
    goncalo gonzalo gonçalo goran gordon graham grazyna grażyna gregory greta grzegorz guadalupe
    gudrun guenter guillaume gunnar gustav gustavo guðrún gábor günter haakon hadley haile hailey
    halina halvor hamish hamza hana hanna hannah  hans hao harold harriet harry haruka haruto
    hassan heather hege heike heikki heinz helen helene helga helgi helmi helmut hendrik henrik
    henrique henry henryk herve hervé hina hiroki hiroshi horst hristo huda huong hussein håkon
    hélène ian ibrahim ichiro ieva ignacio igor iida ilona ilse ilya ilze imogen indrek ines inese
    ingrid inès inês ioana ioannis ion irena irene irina irini isaac isabel isabella isabelle isak
    isla istvan istván ivan ivana iván jaan jack jacob jacqueline jadwiga jakob jakub james jana
    janet janez janice janina janis janne janneke janos janusz jari jaroslav jaroslava jasmine jason
    javier jean jeffrey jelena jennifer jens jeremy jeroen jerome jerry  jesse jessica jesus
    jesús ji-hoon ji-woo jian jie jiri jiří joan joana joanna joao joaquin joaquín jocelyn joe johan
    johanna johannes john johnny jolanta jon jonas jonathan joonas joost jorge jorgen jose josef
    josefa joseph josephine joshua josip josé joyce jozef jozsef joão juan judit judith judy juergen
    juha juho jukka jules julia julian juliana julie julien juliette jun jurgita juris justyna ján
    jános jérôme jón józef józsef jørgen jürgen jānis kadri kalle kamil karel karen karim karin karl
    karolina kasper katalin katarzyna katerina kateřina katherine kathleen kathryn katja katrin
    kavita kayla kaylee kazimierz kazuki keiko keith kelly kenji kenneth kenta kersti kerstin kerttu
    kevin khalid khloe kimberly kinsley kiran kirill klara klaus klára knut koen kofi kojo
    konstantin konstantinos kostas krishna kristaps kristian kristiina kristin kristyna kristín
    kristýna krisztina krystyna krzysztof ksenia kwame kyle kylie kyoko ladislav laetitia laima
    lakshmi larisa larissa larry lars laszlo laura lauren laurent lauri lawrence  lea leena
    leevi leila leilani lena lene lenka leo leon leonardo leonor leszek leticia letícia leyla liam
    liis liliana linda linh linnea lisa logan lorenz lorenzo lori lotte louis louise luca lucas
    lucia luciano lucie lucy lucía   ludovica ludvig luigi luis luisa luka lukas
    lukasz luke lukáš luuk luís luísa lydia lyla lyudmila lászló léa léo maarja maarten maciej
    mackenzie madeline madelyn madina mads maeve magdalena magnus magnús magomed mahmoud maja makoto
    malcolm malgorzata malin manfred manoj manon mantas manuel marat marcin marco marek margaret
    margareta margarida margaux margit margus maria mariam mariana marie marieke marija mariko
    marilyn marina mario marit mariusz marja marketa markku marko markus markéta marlene marta
    martha martim martin martina martine martins mary maryam maría massimo  mateo mateusz
    mathieu mathilda mathilde matias matilda matilde matteo matthew matthias matti matías matěj
    maurizio maxim maxime maximilian maya małgorzata meera megan melanie melissa mercedes  mia
    michael michaela michail michal michał michel michele michelle miguel mihai mikael mikhail mikko
    mila milan milica millie min-jun ming minh minna mirjam mirjana miroslav mirosław misaki mohamed
    mohammed mohan mojca monika monique montserrat moritz morten muhammad murat mustafa mária
    mélanie mārtiņš nabil nadezhda nancy naoko naomi natalia natalie natalya nathalie nathan neha
    neil nejc nenad nevaeh ngozi nguyen niall niamh nicholas nicolae nicolas nicole nicolás niels
    nigel niklas nikola nikolai nikolaos nikos nils  nisha nkechi noah noemi noemie noor nora
    norah nour noémie nuno nuria núria obinna océane oksana olafur oleg olga oliver olivia olivier
    oliwia olof oluwaseun omar ondrej ondřej onni orla oscar oskar oskari otto owen pablo paivi
    pamela panagiotis paola paolo pascal patricia patrick paul paula paulina pauline paulo pavel
    pawel paweł pedro pekka penelope petar peter petr petra petri philip philipp philippe phoebe pia
    pierre pieter pietro pihla pilar piotr piret polina pooja poppy prakash priit priya przemysław
    päivi péter quentin rachel radek radha raelynn rafael ragnhild rahul raj rajesh ralph raluca
    ramesh rami ramon ramzan ramón randi randy rania raphael raphaël raquel rasa rasmus raul ravi
    raymond raúl rebecca reem reka rekha remco renata renate ricardo riccardo richard riitta rinat
    rita robert roberto rocio rocío rodrigo roger rohan roisin rolf romain roman ronald ronan rosa
    roy ruben rubén rui ruslan russell rustam ruth ruud ryan rylee ryszard réka sabine sachiko sadie
    saga sakura salma salvatore samantha samir  samuel sander sandor sandra sandrine sanjay
    sanna sanne santiago saoirse sarah  satoshi scott sean sebastian sebastien sebastián segun
    selma sem seo-yeon sergei sergey sergio shamil shane shannon sharon shirley shota shreya sigrid
    sigridur sigríður sigurd sigurdur sigurður siiri silje silke silvia simone sinead siobhan sita
    sjoerd snežana sofia sofía solveig sonia sophia sophie soren spyridon srinivas stanislav
    stanislaw stanisław stefan stefanie stefano stefán steinar stephane stephanie stephen steven
    stijn stoyan stuart stéphane stéphanie sunil sunita suresh susan susanne sven svetlana swati
    sylvie szymon sándor sébastien søren tadeusz takashi takumi tamas tamás tariq taro tatiana
    tatyana teresa tereza terry tesfaye thanh theo theresa thiago thierry thijs thomas théo tiago
    tibor tiina tiiu tim timo timothy timur tobias toby todor tomas tomasz tomislav tommaso tomoko
     tomás tomáš tone toomas  tove trevor triin trond tuan tunde tuomas tuula tyler
    tõnu ursula urszula uwe vaclav vadim vaino valentina valerie valérie vasco vasile vasileios
    vasiliki veeti venkat venla vera veronika veronique verónica vesna vicente vijay vikram viktor
    viktoria ville vincent vincenzo virginie vitaly vivian vladimir vojtech vojtěch vytautas václav
    väinö véronique věra waldemar walid walter wanda wei werner weronika wiesław wiktoria willem
    william willie wilma wojciech wolfgang wouter ximena yang yannis yasmin yevgeny yoko youssef yui
    yuki yuko yulia yumiko yuri yusuf yusuke yves zachary zainab zane  zaur zbigniew zdenek
    zdeněk zdzisław ziga zoey zofia zoltan zoltán zoran zsolt zsuzsanna zsófia zuzana zuzanna ádám
    ágnes álvaro ángel élise élodie émilie éric éva ólafur óscar þór ľubomír łukasz štefan žiga
    """.split()
)
