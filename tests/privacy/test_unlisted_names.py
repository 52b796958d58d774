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
from veilflow.tasks.privacy.recognizers.word_lists import common_words, first_names, is_inflected_word, places, surnames

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


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("omg kwabrenu just texted me back 😭", "kwabrenu"),
        ("happy birthday ithuvel mbarozi!! love you", "ithuvel mbarozi"),
        ("me and oduwabi at the beach today", "oduwabi"),
        ("congrats to brannoc on the new job 🎉", "brannoc"),
        ("omg jack just texted me", "jack"),  # a listed name that is also a word, with a person verb after it
    ],
)
def test_gazetteer_when_person_slot_then_person(text: str, name: str) -> None:
    assert name in found(GazetteerNameRecognizer(), text, "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "omg rewatchable 😭",  # not name-like to the character model
        "congrats to the team on the new job",
        "me and jack at the beach",  # a listed word-name with no person verb and no unlisted name beside it
        "hanging out with zoomers at the mall",
    ],
)
def test_gazetteer_when_person_slot_holds_a_word_then_nothing(text: str) -> None:
    assert found(GazetteerNameRecognizer(), text, "PERSON") == []


def test_gazetteer_when_coordinated_with_a_found_name_then_both() -> None:
    names = found(GazetteerNameRecognizer(), "Please add kwabrenu and ithuvel zelimkhov to the list.", "PERSON")
    assert "kwabrenu" in names and "ithuvel zelimkhov" in names


def test_surname_first_list_when_most_items_backed_then_every_item() -> None:
    names = found(SurnameFirstNameRecognizer(), "The reviewers were Kwabrenu, Ithuvel; Naidu, G.; Lei, Na; and others.", "PERSON")
    assert {"Kwabrenu", "Ithuvel", "Lei", "Na"} <= set(names)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Quick update from Oduwabi Mbarozi: the vendor called twice.", "Oduwabi Mbarozi"),  # "from" after "update"
        ("Thanks for the call. Best, Ithuvel", "Ithuvel"),
        ("Cheers,\nKwabrenu Tesfarion\nDirect line 020 7946 0018", "Kwabrenu Tesfarion"),
    ],
)
def test_detect_when_message_or_sign_off_cue_then_person(analyzer, text: str, name: str) -> None:
    assert (name, "PERSON") in _spans(analyzer, text)


def test_detect_when_sign_off_word_inside_a_sentence_then_no_cue(analyzer) -> None:
    assert not [s for s, e in _spans(analyzer, "We chose the best, Bristol was too far.") if e == "PERSON"]


def test_phone_when_range_of_years_then_not_a_phone(analyzer) -> None:
    spans = _spans(analyzer, "Gareth Parkin (1901–1977) was a painter; see also 1899-1950.")
    assert not [s for s, e in spans if e == "PHONE_NUMBER"]
    assert ("020 7946 0018", "PHONE_NUMBER") in _spans(analyzer, "Call 020 7946 0018 after five.")


def test_street_address_when_name_before_at_then_name_left_out(analyzer) -> None:
    spans = _spans(analyzer, "Signed for by Kwabrenu Tesfarion at Heckergasse 14, 15170 Ilmenau.")
    addresses = [s for s, e in spans if e == "STREET_ADDRESS"]
    assert addresses and all("Tesfarion" not in a for a in addresses)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Thanks again,\nOduwabi\n\nSent from my phone", "Oduwabi"),
        ("All the best,\nVictoria", "Victoria"),  # a place's name, but the layout says person
        ("Nicola Campbell, known as Ithuvel, was a footballer.", "Ithuvel"),
        ("Welcome aboard! Brannoc joins us from the Hanoi office.", "Brannoc"),
        ("Minutes attached. Apologies from Oduwabi Mbarozi.", "Oduwabi Mbarozi"),
    ],
)
def test_detect_when_sign_off_alias_or_join_cue_then_person(analyzer, text: str, name: str) -> None:
    spans = _spans(analyzer, text)
    assert (name, "PERSON") in spans and (name, "LOCATION") not in spans


def test_detect_when_sign_off_line_is_not_a_name_then_nothing(analyzer) -> None:
    assert not [s for s, e in _spans(analyzer, "Thanks again,\nthe support team") if e == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("kwabrenu and i are going to the game tonight", "kwabrenu"),
        ("bro ithuvel owes me 20 bucks lmao", "ithuvel"),
        ("thank u oduwabi mbarozi for the flowers", "oduwabi mbarozi"),
        ("nobody:\nabsolutely nobody:\nbrannoc: let's go hiking at 5am", "brannoc"),
    ],
)
def test_gazetteer_when_lowercase_subject_or_chat_cue_then_person(text: str, name: str) -> None:
    assert name in found(GazetteerNameRecognizer(), text, "PERSON")


@pytest.mark.parametrize(
    "text", ["zoomers and i are going to the game", "note: bring snacks", "rewatchable: 10/10", "owes me 20 bucks"]
)
def test_gazetteer_when_start_slot_holds_no_name_then_nothing(text: str) -> None:
    assert found(GazetteerNameRecognizer(), text, "PERSON") == []


def test_detect_when_inflected_word_follows_a_name_then_not_in_span(analyzer) -> None:
    persons = [s for s, e in _spans(analyzer, "bro jun owes me 20 bucks") if e == "PERSON"]
    assert all("owes" not in p for p in persons)
    assert is_inflected_word("owes") and is_inflected_word("texted") and not is_inflected_word("kwabrenus")


def test_detect_when_emoji_after_name_then_trimmed(analyzer) -> None:
    persons = [s for s, e in _spans(analyzer, "everyone say happy anniversary to james 💕") if e == "PERSON"]
    assert persons and all("💕" not in p for p in persons)


def test_truecased_when_lowercase_sentence_then_ner_finds_the_name(analyzer) -> None:
    rec = next(r for r in analyzer.registry.recognizers if r.name == "TruecasedNameRecognizer")
    assert "kwabrenu" in found(rec, "bro kwabrenu owes me 20 bucks lmao", "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "nuclear magneton in inverse meter per tesla",  # a category cell: no pronoun or auxiliary verb
        "behavioral hosp",
        "Bro Kwabrenu owes me 20 bucks",  # not lower case: the NER model already sees the capitals
    ],
)
def test_truecased_when_not_a_lowercase_sentence_then_not_run(text: str) -> None:
    from veilflow.tasks.privacy.recognizers.truecased import lowercase_prose

    assert not lowercase_prose(text)


def test_truecased_when_only_ordinary_words_then_nothing(analyzer) -> None:
    rec = next(r for r in analyzer.registry.recognizers if r.name == "TruecasedNameRecognizer")
    assert found(rec, "we are going to the game tonight and i am late", "PERSON") == []
