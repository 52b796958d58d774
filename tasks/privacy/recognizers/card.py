"""Payment card numbers: the card-number test and `LuhnCardRecognizer` (12-19 digits, Luhn-checked; spaces, dashes, dots or a line break between groups)."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.luhn import luhn_valid
from veilflow.tasks.privacy.recognizers.results import _result

# Maestro is the only scheme issuing 12-digit numbers; its IIN ranges keep 12-digit
# order numbers out.
_MAESTRO_12 = regex.compile(r"^(?:5018|5020|5038|5893|6304|6390|6759|676[1-3]|0604|5[6-8])")
# A line break (with any spaces around it) may split the number between two groups.
_BREAK = r"[ \t]*\r?\n[ \t]*"
_CARD_CANDIDATE = regex.compile(rf"(?<![\w.+/:-])\d(?:(?:[ .-]|{_BREAK})?\d){{11,18}}(?![\w-]|[.:/]\d)")
_SEPARATOR = regex.compile(rf"{_BREAK}|[ .-]")


def is_card_number(candidate: str) -> bool:
    """Return True for a 12-19 digit payment card number in a card-like layout with a valid Luhn sum.

    Accepted layouts: digits only, or one separator kind (space, dash or dot) in groups of
    4-4-4-(1..7) or the 4-6-(4|5) Amex/Diners layout. A line break may stand in for the
    separator between two groups (a number wrapped across lines).
    """
    digits = _SEPARATOR.sub("", candidate)
    if not 12 <= len(digits) <= 19 or not digits.isdigit():
        return False
    found = _SEPARATOR.findall(candidate)
    seps = {s for s in found if "\n" not in s}
    if len(seps) > 1:
        return False
    if found:
        groups = [len(g) for g in _SEPARATOR.split(candidate)]
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

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        for m in _CARD_CANDIDATE.finditer(text):
            if is_card_number(m.group()):
                results.append(_result("CREDIT_CARD", m.start(), m.end(), self.SCORE, self))
        return results
