"""SurnameFirstNameRecognizer and InitialsNameRecognizer: names in rosters, bibliographies and credits (PERSON)."""

from __future__ import annotations

import pytest
from _helpers import found

from veilflow.tasks.privacy.recognizers import InitialsNameRecognizer, SurnameFirstNameRecognizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Murkowski, Frank", ["Murkowski", "Frank"]),
        ("Allen, Miss. Elisabeth Walton", ["Allen", "Elisabeth Walton"]),
        ('Fisher, R.A. "The use of multiple measurements"', ["Fisher", "R.A."]),
        ("Duda, R.O., & Hart, P.E. (1973)", ["Duda", "R.O.", "Hart", "P.E."]),
        ("Nguyen , Thi Mai", ["Nguyen", "Thi Mai"]),
        ("Attendees: Ibrahim, Mary; Ojo, Comfort; Tank, Sachi", ["Ibrahim", "Mary", "Ojo", "Comfort", "Tank", "Sachi"]),
        ("Begich, Mark", ["Begich", "Mark"]),
    ],
)
def test_surname_first_when_roster_or_reference_then_both_parts(text: str, expected: list[str]) -> None:
    assert found(SurnameFirstNameRecognizer(), text, "PERSON") == expected


@pytest.mark.parametrize(
    "text",
    [
        "In London, Mary said hello",  # a clause, not a list item
        "Yesterday, John called",
        "Hello, Sarah",
        "Washington, D.C. is the capital",  # a place abbreviation
        "Sincerely, Tom",
        "Paris, Texas",
    ],
)
def test_surname_first_when_clause_or_place_then_nothing(text: str) -> None:
    assert found(SurnameFirstNameRecognizer(), text, "PERSON") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("W.N. Street, W.H. Wolberg and O.L. Mangasarian.", ["W.N. Street", "W.H. Wolberg", "O.L. Mangasarian"]),
        ("  - C. Kaynak (1995) Methods", ["C. Kaynak"]),
        ("S. Aeberhard, D. Coomans and O. de Vel,", ["S. Aeberhard", "D. Coomans", "O. de Vel"]),
        ("K. Yamanishi, J.-I. Takeuchi", ["K. Yamanishi", "J.-I. Takeuchi"]),
    ],
)
def test_initials_when_initials_and_surname_then_found(text: str, expected: list[str]) -> None:
    assert found(InitialsNameRecognizer(), text, "PERSON") == expected


@pytest.mark.parametrize(
    "text", ["the U.S. Army said", "in the U.S. The next day", "at 5 p.m. Monday", "P.O. Box 12", "Mr. Smith", "B.L.T. Salad"]
)
def test_initials_when_abbreviation_then_nothing(text: str) -> None:
    assert found(InitialsNameRecognizer(), text, "PERSON") == []
