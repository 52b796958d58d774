"""No masking of ordinary phrases: evidence rules for PERSON / LOCATION and column-level category cells."""

from __future__ import annotations

import _helpers  # noqa: F401  # sets the offline tldextract variable before Presidio is imported
import pytest

import veilflow
from veilflow.engines.presidio import build_analyzer
from veilflow.tasks.privacy.recognizers import is_short_title_phrase


@pytest.fixture(scope="module")
def analyzer():
    return build_analyzer()


def _masked(analyzer, texts: list[str], entities: tuple[str, ...] = ("PERSON", "LOCATION")) -> list[list[str]]:
    spans = veilflow.detect(texts, analyzer=analyzer)
    return [[t[s.start : s.end] for s in found if s.entity in entities] for t, found in zip(texts, spans)]


@pytest.mark.parametrize(
    "phrase",
    [
        "Felony Battery",
        "Disorderly Conduct",
        "Possession of Morphine",
        "Possession of Oxycodone",
        "Grand Theft Auto",
        "Chicken Caesar Salad",
        "Reuben Sandwich",
        "Turkey & Swiss Sandwich",
        "Hatch Green Chile Cheeseburger",
        "Glass, steel, Perspex and paint",
        "alpha particle mass energy equivalent in MeV",
        "Video, 5 flat screens, colour",
    ],
)
def test_detect_when_ordinary_domain_phrase_then_unchanged(analyzer, phrase: str) -> None:
    assert veilflow.detect([phrase], analyzer=analyzer) == [[]]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Sarah Jones", "Sarah Jones"),  # a short title-case cell that IS a name
        ("Murkowski, Frank", "Murkowski"),
        ("My name is Martin", "Martin"),
        ("Trump said so at the rally in Iowa", "Trump"),  # an ordinary word with a proper-noun reading, mid-sentence
        ("Dear Frank,", "Frank"),
    ],
)
def test_detect_when_real_name_in_short_text_then_masked(analyzer, text: str, name: str) -> None:
    assert name in _masked(analyzer, [text])[0]


def test_detect_when_place_found_as_person_then_location(analyzer) -> None:
    spans = veilflow.detect(["He moved to Hamburg last year"], analyzer=analyzer)[0]
    assert [s.entity for s in spans if s.start == 12] == ["LOCATION"]


def test_short_title_phrase_when_cell_or_sentence_then_told_apart() -> None:
    assert is_short_title_phrase("Possession of Morphine") and is_short_title_phrase("Side Caesar Salad with dressing")
    assert not is_short_title_phrase("My name is Martin")
    assert not is_short_title_phrase("Cendrillon Coudert lives at 333 Golfskálinn 78")


def test_detect_when_category_repeats_across_subjects_then_not_a_person(analyzer) -> None:
    # "Sloane Ranger" alone could be a name to the NER model; repeated verbatim across 40 subjects it is a category.
    column = ["Sloane Ranger"] * 40 + ["Other"] * 10
    assert all(spans == [] for spans in veilflow.detect(column, analyzer=analyzer)[:40])


def test_detect_when_agent_name_recurs_across_subjects_then_still_masked(analyzer) -> None:
    # A support agent's name recurs across many subjects, as a whole cell and inside notes: still a person.
    cells = ["Sarah Jones"] * 30 + [f"Ticket {i} resolved by agent Sarah Jones" for i in range(30)]
    masked = _masked(analyzer, cells)
    assert all("Sarah Jones" in m for m in masked)


def test_detect_when_handles_in_tweet_then_username(analyzer) -> None:
    spans = veilflow.detect(["The @MissUniverse contestants loved @TrumpDoral"], analyzer=analyzer)[0]
    assert {s.entity for s in spans} == {"USERNAME"} and len(spans) == 2
