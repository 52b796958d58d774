"""InternationalPhoneRecognizer: everything Presidio's PhoneRecognizer finds, plus the forms it misses (PHONE_NUMBER)."""

from __future__ import annotations

import pytest
from _helpers import found
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from veilflow.tasks.privacy.recognizers import InternationalPhoneRecognizer

PRESIDIO_FORMS = [
    "call (555) 867–5309 tonight",  # en dash
    "call 555/867/5309 tonight",  # slashes
    "office 212 555 0187, ask for the desk",
    "reach me at +44 20 7946 0958",
    "Tel. +49 30 901820",
    "mobile 98765 43210 in Pune",
    "call 1 (800) 555-0199 now",
]


@pytest.mark.parametrize("text", PRESIDIO_FORMS)
def test_phone_when_presidio_finds_a_number_then_veilflow_covers_it(text: str) -> None:
    theirs = [(r.start, r.end) for r in PhoneRecognizer().analyze(text, ["PHONE_NUMBER"], None)]
    ours = [(r.start, r.end) for r in InternationalPhoneRecognizer().analyze(text, ["PHONE_NUMBER"], None) if r.score >= 0.4]
    assert theirs, "the table should only hold numbers Presidio finds"
    assert all(any(a <= s and e <= b for a, b in ours) for s, e in theirs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 1-800-FLOWERS today", "1-800-FLOWERS"),
        ("order at (888) GOT-JUNK", "(888) GOT-JUNK"),
        (
            "my number is five five five, eight six seven, five three oh nine",
            "five five five, eight six seven, five three oh nine",
        ),
        ("phone 5 5 5 8 6 7 5 3 0 9 please", "5 5 5 8 6 7 5 3 0 9"),
        ("call (555) 867–5309", "(555) 867–5309"),
        ("fax 555/867/5309", "555/867/5309"),
    ],
)
def test_phone_when_vanity_spelled_or_odd_separators_then_found(text: str, expected: str) -> None:
    assert expected in found(InternationalPhoneRecognizer(), text, "PHONE_NUMBER")


@pytest.mark.parametrize(
    "text",
    [
        "born 12/05/2023 in Ohio",  # a date with slashes
        "order 123-45-6789 shipped",  # SSN shape
        "we counted one two three four five six seven sheep",  # no phone context, but 7 digit words: weak only
        "the IP is 192.168.10.12",
        "zip 10118-2345",
    ],
)
def test_phone_when_not_a_phone_then_nothing_confident(text: str) -> None:
    assert found(InternationalPhoneRecognizer(), text, "PHONE_NUMBER", threshold=0.6) == []
