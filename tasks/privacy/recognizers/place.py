"""Places as LOCATION: countries, places after cue phrases, capitalized place names and labeled postcodes (`PlaceRecognizer`)."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.patterns import _CITY_WORD, _COUNTRIES, _PARTICLE
from veilflow.tasks.privacy.recognizers.results import _result
from veilflow.tasks.privacy.recognizers.stop_words import _CITY_STOP, _NAME_STOP

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

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = [_result("LOCATION", m.start(), m.end(), 0.6, self) for m in _COUNTRY_MENTION.finditer(text)]
        results += [_result("LOCATION", m.start("zip"), m.end("zip"), 0.6, self) for m in _POSTCODE_CUE.finditer(text)]
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
