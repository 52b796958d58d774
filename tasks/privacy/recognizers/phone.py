"""Phone numbers in US and international formats, vanity and spelled-out numbers: `InternationalPhoneRecognizer`, checked with `phonenumbers`.

It composes Presidio's own `PhoneRecognizer` (phonenumbers' matcher, Presidio's default regions): every
number that recognizer finds is kept, and veilflow's candidates add what it misses.
"""

from __future__ import annotations

import phonenumbers
import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from veilflow.tasks.privacy.recognizers.card import _CARD_CANDIDATE, is_card_number
from veilflow.tasks.privacy.recognizers.results import _result

_PHONE_REGIONS: dict[str, tuple[str, ...]] = {
    # Own country first, then the regions most often seen in international customer notes.
    "US": (
        "US",
        "CA",
        "GB",
        "DE",
        "FR",
        "IT",
        "ES",
        "NL",
        "BE",
        "CH",
        "AT",
        "SE",
        "NO",
        "DK",
        "FI",
        "PL",
        "PT",
        "IE",
        "IN",
        "AU",
        "BR",
        "MX",
        "ZA",
        "IL",
        "JP",
        "CZ",
        "HU",
        "GR",
    ),
}

# Separators: space, dot, hyphen, en/em dash, slash ("555/867/5309"); up to 14 groups, so digits written
# one by one ("5 5 5 8 6 7 5 3 0 9") are one candidate.
_SEP = r"[ .\-–—/]"
_PHONE_CANDIDATE = regex.compile(
    r"(?<![\w.+/:\-–—])"
    r"(?:(?:\+|00)\d{1,3}" + _SEP + r"?)?"  # country code
    r"(?:\(0\)" + _SEP + r"?)?"  # the "(0)" trunk prefix of Swiss/German/Swedish numbers
    r"(?:\(\d{1,5}\)" + _SEP + r"?)?"  # area code in parentheses
    r"\d{1,12}(?:" + _SEP + r"\d{1,10}){0,14}"
    r"(?:[ ]?(?:x|ext\.?|ext)[ ]?\d{1,6})?"  # extension
    r"(?![\w:/]|[.,\-–—]\d)",
    regex.IGNORECASE,
)
# Vanity numbers: toll-free or area code, then letters standing for digits ("1-800-FLOWERS", "(888) GOT-JUNK").
_VANITY = regex.compile(
    r"(?<![\w\-])(?:\+?1[ .\-–]?)?(?:\(\d{3}\)|\d{3})[ .\-–]?(?=[A-Z0-9\- .]{0,3}[A-Z])"
    r"(?P<rest>[A-Z0-9]{2,7}(?:[ .\-–][A-Z0-9]{1,7}){0,2})(?![\w\-])"
)
_LETTER_DIGITS = {
    c: d
    for d, letters in {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO", "7": "PQRS", "8": "TUV", "9": "WXYZ"}.items()
    for c in letters
}
# Numbers written out in words: seven or more digit words ("five five five, eight six seven, five three oh nine").
_DIGIT_WORD = r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|double[ ](?:zero|oh|one|two|three|four|five|six|seven|eight|nine))"
_SPELLED = regex.compile(rf"(?i)(?<![\w-])(?:{_DIGIT_WORD}(?:[ ,\-–]+|(?=\d))){{6,14}}(?:{_DIGIT_WORD}|\d)(?![\w-])")
_SPELLED_CUE = regex.compile(r"(?i)\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b")
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
    regex.compile(r"^(?:1\d|20)\d\d ?- ?(?:1\d|20)\d\d$"),  # a range of years: "(1901–1977)"
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

    Presidio's own ``PhoneRecognizer`` runs inside (on texts with five digits or more) and every
    number it finds is kept, unless it is certainly something else (an id, date, IP, card, postcode;
    see ``_presidio_score``). On top: vanity numbers ("1-800-FLOWERS") and numbers spelled out in
    words ("five five five, eight six seven ...").

    Candidates are found with one cheap regex; each is then parsed (as an international
    number when it starts with ``+``/``00``, else against each region of the locale) and
    scored by validity, formatting and phone context words (phone, mobile, fax, call ...)
    in the same line. Bare digit runs need context, so order numbers stay untouched.
    """

    def __init__(self, locale: str = "US", supported_language: str = "en") -> None:
        self.regions = _PHONE_REGIONS.get(locale.upper(), (locale.upper(), "US", "GB", "DE", "FR"))
        # Presidio's own recognizer, composed: whatever it finds is kept (its matcher finds spaced, slashed and
        # en-dash numbers in its default regions).
        self.presidio = PhoneRecognizer(supported_language=supported_language)
        super().__init__(
            supported_entities=["PHONE_NUMBER"],
            supported_language=supported_language,
            name="InternationalPhoneRecognizer",
        )

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        digits = sum(c.isdigit() for c in text)
        if digits >= 5:
            for m in _PHONE_CANDIDATE.finditer(text):
                score = self._score(text, m.start(), m.end(), m.group())
                if score > 0:
                    results.append(_result("PHONE_NUMBER", m.start(), m.end(), score, self))
            own = [(r.start, r.end) for r in results if r.score >= 0.4]
            # Presidio's matcher (the costly part) can only add numbers made of digits that no confident phone
            # and no card number here covers already: when every digit is covered, it is not run.
            covered = bytearray(len(text))
            for s, e in own + [(m.start(), m.end()) for m in _CARD_CANDIDATE.finditer(text) if is_card_number(m.group())]:
                covered[s:e] = b"\x01" * (e - s)
            pending = any(c.isdigit() and not covered[i] for i, c in enumerate(text))
            for r in self.presidio.analyze(text, ["PHONE_NUMBER"], nlp_artifacts) if pending else []:  # type: ignore[arg-type]  # Presidio's PhoneRecognizer.analyze defaults nlp_artifacts to None, so None is accepted
                if any(s <= r.start and r.end <= e for s, e in own):
                    continue
                score = self._presidio_score(text, r.start, r.end)
                if score > 0:
                    results.append(_result("PHONE_NUMBER", r.start, r.end, score, self))
        if digits >= 3:
            for m in _VANITY.finditer(text):
                score = self._vanity_score(text, m)
                if score > 0:
                    results.append(_result("PHONE_NUMBER", m.start(), m.end(), score, self))
        if _SPELLED_CUE.search(text):
            for m in _SPELLED.finditer(text):
                words = regex.findall(r"(?i)double|[a-z]+|\d", m.group())
                if len(words) >= 7:  # "double five" is two digits: one word each
                    context = bool(_PHONE_CONTEXT.search(text[max(0, m.start() - 40) : m.start()]))
                    results.append(_result("PHONE_NUMBER", m.start(), m.end(), 0.75 if context else 0.5, self))
        return results

    def _presidio_score(self, text: str, start: int, end: int) -> float:
        """Score a number Presidio's matcher found and veilflow's candidates did not.

        Kept at Presidio's 0.4 (0.75 with a phone word before it), except what is certainly no phone
        (an SSN, date, IP address, ZIP+4 or card shape; an id or postal label before it), and a bare digit
        run with no phone word and no separators, which stays below the threshold (0.3): an order number.
        """
        value = regex.sub(r"[–—/]", "-", text[start:end])
        if any(p.match(value) for p in _NOT_PHONE_SHAPES) or is_card_number(value):
            return 0.0
        if _POSTAL_CONTEXT.search(text[max(0, start - 25) : start]) or _ID_CONTEXT.search(text[max(0, start - 40) : start]):
            return 0.0
        context = bool(_PHONE_CONTEXT.search(text[max(0, start - 40) : start]) or _PHONE_CONTEXT.search(text[end : end + 15]))
        if context:
            return 0.75
        return 0.3 if value.isdigit() else PhoneRecognizer.SCORE

    def _vanity_score(self, text: str, m: regex.Match) -> float:
        """A vanity number must spell 7 characters after the area code, with letters, in a valid number."""
        rest = regex.sub(r"[ .\-–]", "", m.group("rest"))
        if (
            not regex.search(r"[A-Z]", rest)
            or len(rest) not in (7, 8)
            or not regex.search(r"\d", m.group()[: m.start("rest") - m.start()])
        ):
            return 0.0
        prefix = regex.sub(r"\D", "", m.group()[: m.start("rest") - m.start()])
        number = prefix[-3:] + "".join(_LETTER_DIGITS.get(c, c) for c in rest[:7])
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(number, "US"))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            return 0.0
        context = bool(_PHONE_CONTEXT.search(text[max(0, m.start() - 40) : m.start()]))
        return 0.85 if context or prefix[-3:] in ("800", "833", "844", "855", "866", "877", "888") else 0.5

    def _score(self, text: str, start: int, end: int, cand: str) -> float:
        cand = regex.sub(r"[–—/]", "-", cand)
        main = regex.split(r"(?i)[ ]?(?:x|ext)", cand)[0]
        digits = regex.sub(r"\D", "", main)
        if not 7 <= len(digits) <= 15:
            return 0.0
        if any(p.match(cand) for p in _NOT_PHONE_SHAPES) or is_card_number(cand):
            return 0.0
        if _POSTAL_CONTEXT.search(text[max(0, start - 25) : start]) or _ID_CONTEXT.search(text[max(0, start - 40) : start]):
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
