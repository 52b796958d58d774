"""GazetteerNameRecognizer: lower-case, hyphenated, non-Western names and e-mail-style ids (PERSON)."""

from __future__ import annotations

import pytest
from _helpers import found

from veilflow.tasks.privacy.recognizers import GazetteerNameRecognizer, PersonNameRecognizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i love taehyung and jungkook so much", ["taehyung", "jungkook"]),
        ("mary-kate o'neill called back", ["mary-kate o'neill"]),
        ("cc priya.raghunathan on this", ["priya.raghunathan"]),
        ("forwarding to priya raghunathan now", ["priya raghunathan"]),
        ("thanks ana for the ride", ["ana"]),
        ("ok so john lê and mohammed both said yes", ["mohammed"]),
        ("tomorrow; natasza is on leave", ["natasza"]),
        ("To: xqiang.ozturkmen\nSubject: invoice", ["xqiang.ozturkmen"]),
        (
            "forwarding to wqzimbu - she asked for it",
            ["wqzimbu"],
        ),  # an unknown word alone after a hand-off cue  # unlisted parts, after a header cue
    ],
)
def test_gazetteer_when_lowercase_or_shaped_name_then_found(text: str, expected: list[str]) -> None:
    assert all(e in found(GazetteerNameRecognizer(), text, "PERSON") for e in expected)


@pytest.mark.parametrize(
    "text",
    [
        "i work for trump",  # "trump" is an ordinary word: no evidence in the text itself
        "we went to lima and then to bogota",  # places
        "lol and omg",  # chat words
        "send the file.txt to the team",  # a file name, not a first.last id
        "cc notes.pdf and report.docx",  # file names after a cue
        "the sushi and ramen were great",  # name-shaped but ordinary words
        "he is on leave",  # a two-letter word that some locale lists as a name
        "forwarding to marketing - they asked",  # an ordinary word after the hand-off cue
    ],
)
def test_gazetteer_when_ordinary_words_then_nothing(text: str) -> None:
    assert found(GazetteerNameRecognizer(), text, "PERSON") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("new ep with Marco-Oliwier Zawalich is up", "Marco-Oliwier Zawalich"),
        ("Kieron de Hóir (born 1962) is a novelist", "Kieron de Hóir"),
        ("Taehyung Kim sang", "Taehyung Kim"),
    ],
)
def test_person_name_when_hyphen_particle_or_romanized_then_found(text: str, expected: str) -> None:
    assert expected in found(PersonNameRecognizer(), text, "PERSON")


@pytest.mark.parametrize("text", ["the Museo is closed", "Per the note, we wait"])
def test_person_name_when_shape_alone_or_lead_word_then_nothing(text: str) -> None:
    assert found(PersonNameRecognizer(), text, "PERSON") == []
