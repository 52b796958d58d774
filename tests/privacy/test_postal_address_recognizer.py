"""PostcodeAddressRecognizer and the street-address additions: UK, German, French, unit-first and lower-case forms."""

from __future__ import annotations

import pytest
from _helpers import found

from veilflow.tasks.privacy.recognizers import PostcodeAddressRecognizer, StreetAddressRecognizer

ENTITY = "STREET_ADDRESS"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Send it to Postfach 10 20 30, 20095 Hamburg please", "Postfach 10 20 30, 20095 Hamburg"),
        (
            "Rose Cottage, Mill Lane, Little Snoring, Norfolk NR21 0AA",
            "Rose Cottage, Mill Lane, Little Snoring, Norfolk NR21 0AA",
        ),
        ("We live at Hauptstraße 5, 10115 Berlin now", "Hauptstraße 5, 10115 Berlin"),
        ("Écrire à 12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris"),
        ("Flat 3, 14 Baker Street, London NW1 6XE", "Flat 3, 14 Baker Street, London NW1 6XE"),
        ("BP 123, 75001 Paris Cedex 01", "BP 123, 75001 Paris Cedex 01"),
    ],
)
def test_postcode_address_when_european_form_then_whole_address(text: str, expected: str) -> None:
    assert expected in found(PostcodeAddressRecognizer(), text, ENTITY)


@pytest.mark.parametrize(
    "text",
    ["Call 555 12345 today", "In 2019 Mary moved", "We met in London, SW1A 2AA is the code", "Thanks, 20095 Hamburg"],
)
def test_postcode_address_when_no_street_piece_then_nothing(text: str) -> None:
    assert found(PostcodeAddressRecognizer(), text, ENTITY) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ship to Apt 4B, 350 5th Ave, New York, NY 10118 asap", "Apt 4B, 350 5th Ave, New York, NY 10118"),
        ("I live at 221b baker st, london.", "221b baker st, london"),
        ("we stayed at 12 rose lane, Bath for a week", "12 rose lane, Bath"),
        ("Office: 100 W 33rd St, New York, NY 10001", "100 W 33rd St, New York, NY 10001"),
    ],
)
def test_street_address_when_unit_first_ordinal_or_lowercase_then_found(text: str, expected: str) -> None:
    assert expected in found(StreetAddressRecognizer(), text, ENTITY)


@pytest.mark.parametrize("text", ["Video, 5 flat screens, colour", "we had 3 more days left"])
def test_street_address_when_number_and_word_then_nothing(text: str) -> None:
    assert found(StreetAddressRecognizer(), text, ENTITY) == []
