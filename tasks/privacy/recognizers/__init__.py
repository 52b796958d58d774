"""veilflow's custom Presidio recognizers (one per module) and result post-processing; `build_custom_recognizers` builds them."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from veilflow.tasks.privacy.luhn import luhn_valid
from veilflow.tasks.privacy.recognizers.card import LuhnCardRecognizer, is_card_number
from veilflow.tasks.privacy.recognizers.common import ADDRESS_ENTITY, CUSTOM_ENTITIES
from veilflow.tasks.privacy.recognizers.date_time import DateTimeRecognizer
from veilflow.tasks.privacy.recognizers.nrp import build_nrp_recognizer
from veilflow.tasks.privacy.recognizers.person_name import PersonNameRecognizer
from veilflow.tasks.privacy.recognizers.phone import InternationalPhoneRecognizer
from veilflow.tasks.privacy.recognizers.place import PlaceRecognizer
from veilflow.tasks.privacy.recognizers.postprocess import (
    filter_false_positives,
    merge_adjacent_spans,
    postprocess_results,
    propagate_person_names,
)
from veilflow.tasks.privacy.recognizers.street_address import StreetAddressRecognizer

__all__ = [
    "ADDRESS_ENTITY",
    "CUSTOM_ENTITIES",
    "RECOGNIZERS_TO_REMOVE",
    "DateTimeRecognizer",
    "InternationalPhoneRecognizer",
    "LuhnCardRecognizer",
    "PersonNameRecognizer",
    "PlaceRecognizer",
    "StreetAddressRecognizer",
    "build_custom_recognizers",
    "build_nrp_recognizer",
    "filter_false_positives",
    "is_card_number",
    "luhn_valid",
    "merge_adjacent_spans",
    "postprocess_results",
    "propagate_person_names",
]

# Default Presidio recognizers (registry names) that misfire for a US locale or that the
# recognizers below replace: the UK NHS checksum fires on bare 10-digit US phone numbers;
# the default card pattern misses 19-digit cards; the default phone recognizer scans the
# whole text once per region (the slowest recognizer) and misses numbers without a region
# match. Drop them with ``analyzer.registry.remove_recognizer(name)``.
RECOGNIZERS_TO_REMOVE: tuple[str, ...] = ("NhsRecognizer", "CreditCardRecognizer", "PhoneRecognizer")


def build_custom_recognizers(locale: str = "US") -> list[EntityRecognizer]:
    """Build veilflow's custom recognizers for one locale.

    Args:
        locale: ISO country code of the data's home country; it orders the regions tried
            for phone numbers written without a country code.

    Returns:
        New recognizer instances (cards, phones, street addresses, places, person names,
        timestamps), to be
        added with ``analyzer.registry.add_recognizer`` after removing
        ``RECOGNIZERS_TO_REMOVE``.

    Raises:
        ValueError: If ``locale`` is not a two-letter code.
    """
    if not (isinstance(locale, str) and len(locale) == 2 and locale.isalpha()):
        raise ValueError("build_custom_recognizers: locale must be a two-letter country code")
    return [
        LuhnCardRecognizer(),
        InternationalPhoneRecognizer(locale=locale),
        StreetAddressRecognizer(),
        PlaceRecognizer(),
        PersonNameRecognizer(),
        DateTimeRecognizer(),
        build_nrp_recognizer(),
    ]
