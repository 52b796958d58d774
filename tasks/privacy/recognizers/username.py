"""User names as USERNAME: social handles (`@name`, `u/name`) and values after a user-id label (`UsernameRecognizer`)."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.results import USERNAME_ENTITY, _result
from veilflow.tasks.privacy.recognizers.word_lists import common_words

# "@name": 1-30 word characters or dots (not ending in a dot), not part of an e-mail address (no word
# character, dot or "@" right before it, no domain right after it); ".@name" opens a public reply.
_HANDLE = regex.compile(
    r"(?:(?<![\w@.+\-/])|(?<=(?:^|[\s(\"“])\.))[@＠](?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}[A-Za-z0-9_])?)(?![\w@＠]|\.[A-Za-z]{2,}\b)"
)
# Reddit-style "u/name" and "/u/name".
_REDDIT = regex.compile(r"(?<![\w/])/?u/(?P<name>[A-Za-z0-9_-]{3,20})(?![\w/-])")
# A value right after a user-id label: "username: jdoe_84", "user id = 18832", "login is m.kowalski".
_LABELED = regex.compile(
    r"(?i:\b(?:user[ _-]?name|user[ _-]?id|userid|login(?:[ _-]?(?:name|id))?|handle|screen[ _-]?name|"
    r"nick(?:name)?|gamer[ _-]?tag|account[ _-]?name|member[ _-]?name|twitter|instagram|insta|tiktok|snapchat|"
    r"discord|telegram|github|skype)\b)"
    r"[ \t]*(?:[:=#]|\bis\b|-)?[ \t]*[\"'“]?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{1,31}[A-Za-z0-9_]|[A-Za-z0-9]{2})"
    r"(?![\w@])"
)
# Mentions of the whole audience and reserved words, not people.
_NOT_USERS = frozenset(["everyone", "here", "channel", "all", "admin", "admins", "team", "home", "work", "noon"])


class UsernameRecognizer(LocalRecognizer):
    """Social handles and user ids (entity USERNAME).

    ``@name`` handles (not e-mail addresses: nothing glued before the ``@``, no domain after the
    name; "@3pm" and "@everyone" are left alone), ``u/name`` handles, and the value after a user-id
    label ("username:", "user id", "login", "handle", "gamertag", "twitter", ...). A labeled value must
    look like an id, not a word: a digit, ``_``, ``.`` or inner capital, or no ordinary English word.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=[USERNAME_ENTITY], supported_language=supported_language, name="UsernameRecognizer")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        if "@" in text or "＠" in text:
            for m in _HANDLE.finditer(text):
                name = m.group("name")
                if (
                    name.lower() in _NOT_USERS
                    or not regex.search(r"[A-Za-z]", name)
                    or regex.fullmatch(r"\d{1,2}(?:am|pm|h)", name, regex.I)
                ):
                    continue
                results.append(_result(USERNAME_ENTITY, m.start(), m.end(), 0.75, self))
        if "u/" in text:
            results += [_result(USERNAME_ENTITY, m.start(), m.end(), 0.7, self) for m in _REDDIT.finditer(text)]
        for m in _LABELED.finditer(text):
            name = m.group("name")
            id_like = bool(regex.search(r"[\d_.]|\p{Ll}\p{Lu}", name))
            if not id_like and (name.lower() in common_words() or len(name) < 3):
                continue
            results.append(_result(USERNAME_ENTITY, m.start("name"), m.end("name"), 0.7 if id_like else 0.5, self))
        return results
