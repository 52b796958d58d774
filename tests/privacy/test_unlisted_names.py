"""Names no word list holds: surname-first lists of unusual words, NER place guesses that are names, pairs of
rare capitalized words, hand-off cues before lower-case names, ids after To: / cc, signature lines above an
address, and the character model that tells names from places. Each rule has a case where it must not fire."""

from __future__ import annotations

import _helpers  # noqa: F401  # sets the offline tldextract variable before Presidio is imported
import pytest
from _helpers import found

import veilflow
from veilflow.engines.presidio import build_analyzer
from veilflow.tasks.privacy.recognizers import GazetteerNameRecognizer, PostcodeAddressRecognizer, SurnameFirstNameRecognizer
from veilflow.tasks.privacy.recognizers.name_shape import name_over_place, name_over_word
from veilflow.tasks.privacy.recognizers.word_lists import common_words, first_names, places, surnames

# Invented names: in no list, no ordinary word, no place (checked below, so the tests stay about unlisted names).
UNLISTED = ("kwabrenu", "tesfarion", "oduwabi", "zelimkhov", "brannoc", "ithuvel", "mbarozi", "quillaume")


def test_unlisted_names_are_unlisted() -> None:
    for w in UNLISTED:
        assert w not in first_names() and w not in surnames() and w not in common_words() and w not in places()


@pytest.fixture(scope="module")
def analyzer():
    return build_analyzer()


def _spans(analyzer, text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.entity) for s in veilflow.detect([text], analyzer=analyzer)[0]]


def test_surname_first_list_when_unusual_words_then_every_item() -> None:
    text = "Panel: Kwabrenu, Tesfarion; Oduwabi, Ithuvel; Mbarozi, Brannoc."
    names = found(SurnameFirstNameRecognizer(), text, "PERSON")
    assert {"Kwabrenu", "Tesfarion", "Oduwabi", "Ithuvel", "Mbarozi", "Brannoc"} <= set(names)


def test_surname_first_list_when_initials_item_then_other_items_count() -> None:
    text = "The archive lists Zelimkhov, Ithuvel; Brannoc, T. as members."
    assert {"Zelimkhov", "Ithuvel", "Brannoc"} <= set(found(SurnameFirstNameRecognizer(), text, "PERSON"))


@pytest.mark.parametrize(
    "text",
    [
        "Paris, France; Berlin, Germany; Rome, Italy.",
        "Sales, Marketing; Finance, Legal",
        "In Paris, Marie said no; Berlin, Germany.",
    ],
)
def test_surname_first_list_when_places_or_words_then_nothing(text: str) -> None:
    assert found(SurnameFirstNameRecognizer(), text, "PERSON") == []


def test_detect_when_ner_place_guess_sits_in_a_name_list_then_person(analyzer) -> None:
    spans = _spans(analyzer, "Team: Abdullahi, Almasi; Kwabrenu, Tesfarion; Mbarozi, Ithuvel. Escalate to Oduwabi Brannoc.")
    for name in ("Kwabrenu", "Tesfarion", "Mbarozi", "Ithuvel"):
        assert (name, "PERSON") in spans and (name, "LOCATION") not in spans


def test_detect_when_kinship_cue_before_a_place_name_then_person(analyzer) -> None:
    spans = _spans(analyzer, "my cousin Morena lives in Hamburg now")
    assert ("Morena", "PERSON") in spans and ("Morena", "LOCATION") not in spans
    assert ("Hamburg", "LOCATION") in spans


@pytest.mark.parametrize(
    ("text", "place"),
    [("The meeting was held in Schweinfurt last May.", "Schweinfurt"), ("We flew from Kigali to Nairobi.", "Nairobi")],
)
def test_detect_when_place_after_place_preposition_then_location(analyzer, text: str, place: str) -> None:
    spans = _spans(analyzer, text)
    assert (place, "LOCATION") in spans and (place, "PERSON") not in spans


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("The expedition was led by Kwabrenu Tesfarion and two guides.", "Kwabrenu Tesfarion"),
        ("Ithuvel Zelimkhov founded the company in 1911.", "Ithuvel Zelimkhov"),
        ("ngl Oduwabi Mbarozi carried the whole game", "Oduwabi Mbarozi"),
    ],
)
def test_detect_when_two_rare_capitalized_words_then_person(analyzer, text: str, name: str) -> None:
    assert (name, "PERSON") in _spans(analyzer, text)


@pytest.mark.parametrize(
    "text",
    [
        "Kwabrenu Tesfarion Group reported higher earnings.",  # an organisation word after the pair
        "Felony Battery",
        "Possession of Morphine",
        "Kwabrenu Tesfarion",  # a short title-case cell: two rare words alone are not enough there
    ],
)
def test_detect_when_rare_pair_is_an_organisation_or_a_short_cell_then_not_person(analyzer, text: str) -> None:
    assert not [s for s, e in _spans(analyzer, text) if e == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Forwarding to kwabrenu tesfarion - she asked for the draft.", "kwabrenu tesfarion"),
        ("shoutout to ithuvel for the ride home 🙏", "ithuvel"),
        ("if you see oduwabi tell her i said hi", "oduwabi"),
    ],
)
def test_gazetteer_when_unknown_words_after_hand_off_cue_then_person(text: str, name: str) -> None:
    assert name in found(GazetteerNameRecognizer(), text, "PERSON")


@pytest.mark.parametrize("text", ["i will be with xyz tmrw", "forwarding to everyone - thanks", "miss hmmmm."])
def test_gazetteer_when_cue_before_non_name_then_nothing(text: str) -> None:
    assert found(GazetteerNameRecognizer(), text, "PERSON") == []


@pytest.mark.parametrize(
    ("text", "name"),
    [("From: Ana Lima\nTo: martin.kwabrenu\nSubject: invoice", "martin.kwabrenu"), ("cc robin.harris, li.lei please", "li.lei")],
)
def test_gazetteer_when_id_after_header_cue_then_person(text: str, name: str) -> None:
    assert name in found(GazetteerNameRecognizer(), text, "PERSON")


@pytest.mark.parametrize("text", ["To: config.yaml", "cc notes.txt please", "send to main.house"])
def test_gazetteer_when_file_or_word_pair_after_cue_then_nothing(text: str) -> None:
    assert found(GazetteerNameRecognizer(), text, "PERSON") == []


def test_postcode_address_when_name_line_above_house_line_then_name_not_in_address(analyzer) -> None:
    text = "Regards,\nKwabrenu Tesfarion\nOld Mill Farm, Church Lane, Norwich NR21 0AA\nMobile: 07700 900123"
    addresses = found(PostcodeAddressRecognizer(), text, "STREET_ADDRESS")
    assert addresses and all("Kwabrenu" not in a for a in addresses)
    assert ("Kwabrenu Tesfarion", "PERSON") in _spans(analyzer, text)


def test_postcode_address_when_locality_after_street_then_kept() -> None:
    text = "Send it to 12 Church Lane, Little Snoring, Norwich NR21 0AA please"
    assert any("Little Snoring" in a for a in found(PostcodeAddressRecognizer(), text, "STREET_ADDRESS"))


def test_name_shape_tells_names_from_places_and_words() -> None:
    assert name_over_place("omondi") > 0 and name_over_place("schweinfurt") < 0
    assert name_over_word("oduwabi") > 0 and name_over_word("thoughtfulness") < 0
