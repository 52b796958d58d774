"""E-mail addresses written to dodge scrapers ("jane dot doe at gmail dot com", "jane.doe[at]gmail.com", "＠"): `ObfuscatedEmailRecognizer`."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.results import _result
from veilflow.tasks.privacy.recognizers.word_lists import common_words

# Top-level domains an obfuscated address may end in (the generic ones and the country codes seen most).
_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|co|me|us|uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|ie|ca|au|nz|in|"
    "jp|cn|kr|ru|br|mx|ar|za|ng|ke|tr|il|gr|cz|hu|ro|eu|app|dev|ai|tv|xyz|online|email|mail"
)
_WORD = r"[A-Za-z0-9](?:[A-Za-z0-9_%+\-]*[A-Za-z0-9])?"
# Bracketed forms are unmistakable; bare words ("at", "dot") and spaces around "@" need the rest of the shape.
_AT_BRACKET = r"[ \t]*(?:\[[ ]?(?:at|@)[ ]?\]|\([ ]?(?:at|@)[ ]?\)|\{[ ]?(?:at|@)[ ]?\}|<[ ]?at[ ]?>|'[ ]?(?:at|@)[ ]?'|\"[ ]?(?:at|@)[ ]?\")[ \t]*"
_AT_OTHER = r"(?:[ \t]+(?:at|AT)[ \t]+|[ \t]*＠[ \t]*|[ \t]+@[ \t]*|[ \t]*@[ \t]+)"
_DOT_BRACKET = r"[ \t]*(?:\[[ ]?(?:dot|\.)[ ]?\]|\([ ]?(?:dot|\.)[ ]?\)|\{[ ]?(?:dot|\.)[ ]?\}|<[ ]?dot[ ]?>)[ \t]*"
_DOT_OTHER = r"(?:[ \t]+(?:dot|DOT)[ \t]+|[ \t]*\.[ \t]*|[ \t]*．[ \t]*)"
_DOT = rf"(?:{_DOT_BRACKET}|{_DOT_OTHER})"
_OBFUSCATED = regex.compile(
    rf"(?<![\w.@\-])(?P<local>{_WORD}(?:{_DOT}{_WORD}){{0,3}})"
    rf"(?P<at>{_AT_BRACKET}|{_AT_OTHER})"
    rf"(?P<domain>{_WORD}(?:{_DOT}{_WORD}){{0,3}}{_DOT}(?i:{_TLDS}))(?![\w\-]|\.\w)",
    regex.IGNORECASE,
)
_HAS_AT = regex.compile(r"[@＠]|(?i:\bat\b)")
_HAS_TLD = regex.compile(r"(?i:[.．][a-z]{2,6}\b|\bdot\b)")
_PLAIN_EMAIL = regex.compile(r"^[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+$")


class ObfuscatedEmailRecognizer(LocalRecognizer):
    """E-mail addresses with the "@" or the dots spelled out, bracketed, spaced or full-width (EMAIL_ADDRESS).

    ``jane.doe[at]gmail.com``, ``jane(at)gmail(dot)com``, ``jane dot doe at gmail dot com``,
    ``jane @ gmail.com``, ``jane＠gmail.com``. The address must end in a known top-level domain. A
    plain-word "at" with real dots ("look at google.com") needs a local part that is not an ordinary
    word; plain addresses are left to Presidio's ``EmailRecognizer``.
    """

    SCORE = 0.8

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["EMAIL_ADDRESS"], supported_language=supported_language, name="ObfuscatedEmailRecognizer"
        )

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        # Cheap necessary conditions first: an "at" of some kind and a top-level domain after a dot of some kind.
        if not _HAS_AT.search(text) or not _HAS_TLD.search(text):
            return []
        results = []
        for m in _OBFUSCATED.finditer(text):
            value, at, local = m.group(), m.group("at"), m.group("local")
            if _PLAIN_EMAIL.match(value):
                continue  # an ordinary address: Presidio's EmailRecognizer has it
            bracketed = bool(regex.search(r"[\[\(\{<'\"]", at + m.group("domain")))
            spelled_dot = bool(regex.search(r"(?i)\bdot\b", value))
            if not bracketed and at.strip().lower() == "at":
                # "at" as a plain word: the local part must not be an ordinary word ("look at google.com"),
                # unless the dots are spelled out too.
                if not spelled_dot and (local.lower() in common_words() and "." not in local):
                    continue
                if "\n" in value:
                    continue
            results.append(_result("EMAIL_ADDRESS", m.start(), m.end(), self.SCORE if bracketed or spelled_dot else 0.6, self))
        return results
