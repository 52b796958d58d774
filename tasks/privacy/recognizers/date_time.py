"""ISO-style timestamps ("2018-02-24 12:45:18") as one DATE_TIME span: `DateTimeRecognizer`."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.results import _result

_DATETIME = regex.compile(r"(?<![\w:.-])\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])")


class DateTimeRecognizer(LocalRecognizer):
    """ISO-style timestamps ("2018-02-24 12:45:18") as one DATE_TIME span, time included."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=["DATE_TIME"], supported_language=supported_language, name="DateTimeRecognizer")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        return [_result("DATE_TIME", m.start(), m.end(), 0.9, self) for m in _DATETIME.finditer(text)]
