"""LuhnCardRecognizer: card numbers with dots or split by a line break (CREDIT_CARD)."""

from __future__ import annotations

import pytest
from _helpers import found

from veilflow.tasks.privacy.recognizers import LuhnCardRecognizer, is_card_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111.1111.1111.1111 ok", "4111.1111.1111.1111"),
        ("card 4111 1111\n1111 1111 on file", "4111 1111\n1111 1111"),
        ("card 4111-1111\n  1111-1111 on file", "4111-1111\n  1111-1111"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
    ],
)
def test_card_when_dotted_or_wrapped_then_found(text: str, expected: str) -> None:
    assert found(LuhnCardRecognizer(), text, "CREDIT_CARD") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111.1111.1111.1112 declined",  # Luhn fails
        "version 4111.1111.1111 only",  # too short
        "ref 4111-1111 1111.1111",  # mixed separators
        "ids 41111111\n11111111",  # a line break inside a group layout that is no card layout
    ],
)
def test_card_when_not_a_card_then_nothing(text: str) -> None:
    assert found(LuhnCardRecognizer(), text, "CREDIT_CARD") == []


def test_is_card_number_when_line_break_then_counts_as_group_separator() -> None:
    assert is_card_number("4111 1111\n1111 1111") and not is_card_number("4111 1111 1111 1112")
