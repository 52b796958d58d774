"""ObfuscatedEmailRecognizer: e-mail addresses written to dodge scrapers (EMAIL_ADDRESS)."""

from __future__ import annotations

import pytest
from _helpers import found

from veilflow.tasks.privacy.recognizers import ObfuscatedEmailRecognizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane dot doe at gmail dot com please", "jane dot doe at gmail dot com"),
        ("jane.doe[at]gmail.com", "jane.doe[at]gmail.com"),
        ("reach me: jane(at)uni-koeln(dot)de", "jane(at)uni-koeln(dot)de"),
        ("write to jane @ gmail.com", "jane @ gmail.com"),
        ("write to jane＠gmail.com", "jane＠gmail.com"),
        ("contact: j.doe [at] example [dot] co [dot] uk", "j.doe [at] example [dot] co [dot] uk"),
        ("JANE AT PROTON DOT ME", "JANE AT PROTON DOT ME"),
        ("Creator: E. Alpaydin (alpaydin '@' boun.edu.tr)", "alpaydin '@' boun.edu.tr"),
        ("or priya at corp.io", "priya at corp.io"),
    ],
)
def test_obfuscated_email_when_written_out_then_found(text: str, expected: str) -> None:
    assert found(ObfuscatedEmailRecognizer(), text, "EMAIL_ADDRESS") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "plain jane.doe@gmail.com is Presidio's",  # an ordinary address: left to Presidio's EmailRecognizer
        "look at google.com for it",  # "at" + an ordinary word
        "meet at home dot later",  # no top-level domain
        "we arrived at noon. com-ply",  # sentence punctuation
        "the cat sat at the mat",
    ],
)
def test_obfuscated_email_when_not_an_address_then_nothing(text: str) -> None:
    assert found(ObfuscatedEmailRecognizer(), text, "EMAIL_ADDRESS") == []
