"""UsernameRecognizer: social handles and user ids (USERNAME)."""

from __future__ import annotations

import pytest
from _helpers import found

from veilflow.tasks.privacy.recognizers import UsernameRecognizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks @MissUniverse and @TrumpDoral!", ["@MissUniverse", "@TrumpDoral"]),
        (".@THEGaryBusey is definitely different", ["@THEGaryBusey"]),
        ("@_Just_Mads_ #asktrump", ["@_Just_Mads_"]),
        ("tag @brad_mcmichael pls", ["@brad_mcmichael"]),
        ("full-width ＠janedoe works too", ["＠janedoe"]),
        ("see u/throwaway_4821 on reddit", ["u/throwaway_4821"]),
        ("username: jdoe_84", ["jdoe_84"]),
        ("my user id = 188321", ["188321"]),
        ("login is m.kowalski", ["m.kowalski"]),
        ("gamertag xXSn1perXx", ["xXSn1perXx"]),
    ],
)
def test_username_when_handle_or_labelled_id_then_found(text: str, expected: list[str]) -> None:
    assert found(UsernameRecognizer(), text, "USERNAME") == expected


@pytest.mark.parametrize(
    "text",
    [
        "write to jane.doe@example.com",  # an e-mail address, not a handle
        "see you @ 3pm",  # "@" as "at"
        "meeting @5pm today",  # a time
        "hey @everyone, standup now",  # the whole audience
        "username is required",  # a label followed by an ordinary word
        "the handle broke off the door",  # "handle" as a word
        "price: 5 @ $3",  # digits only
    ],
)
def test_username_when_no_handle_then_nothing(text: str) -> None:
    assert found(UsernameRecognizer(), text, "USERNAME") == []
