"""Phone numbers in US and international formats: `InternationalPhoneRecognizer`, checked with `phonenumbers`."""

from __future__ import annotations

import phonenumbers
import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.card import is_card_number
from veilflow.tasks.privacy.recognizers.common import _result

_PHONE_REGIONS: dict[str, tuple[str, ...]] = {
    # Own country first, then the regions most often seen in international customer notes.
    "US": ("US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK",
           "FI", "PL", "PT", "IE", "IN", "AU", "BR", "MX", "ZA", "IL", "JP", "CZ", "HU", "GR"),
}

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

    def load(self) -> None:
        pass

    def analyze(
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
