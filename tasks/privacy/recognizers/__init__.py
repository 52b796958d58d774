"""veilflow's custom Presidio recognizers (one per module) and result post-processing; `build_custom_recognizers` builds them."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from veilflow.tasks.privacy.luhn import luhn_valid
from veilflow.tasks.privacy.recognizers.card import LuhnCardRecognizer, is_card_number
from veilflow.tasks.privacy.recognizers.date_time import DateTimeRecognizer
from veilflow.tasks.privacy.recognizers.email_obfuscated import ObfuscatedEmailRecognizer
from veilflow.tasks.privacy.recognizers.evidence import drop_category_cells, is_short_title_phrase, require_evidence
from veilflow.tasks.privacy.recognizers.initials import InitialsNameRecognizer
from veilflow.tasks.privacy.recognizers.name_gazetteer import GazetteerNameRecognizer
from veilflow.tasks.privacy.recognizers.name_list import SurnameFirstNameRecognizer
from veilflow.tasks.privacy.recognizers.nrp import build_nrp_recognizer
from veilflow.tasks.privacy.recognizers.person_name import PersonNameRecognizer
from veilflow.tasks.privacy.recognizers.phone import InternationalPhoneRecognizer
from veilflow.tasks.privacy.recognizers.place import PlaceRecognizer
from veilflow.tasks.privacy.recognizers.postal_address import PostcodeAddressRecognizer
from veilflow.tasks.privacy.recognizers.postprocess import (
    filter_false_positives,
    merge_adjacent_spans,
    postprocess_results,
    propagate_person_names,
)
from veilflow.tasks.privacy.recognizers.results import ADDRESS_ENTITY, CUSTOM_ENTITIES, USERNAME_ENTITY
from veilflow.tasks.privacy.recognizers.street_address import StreetAddressRecognizer
from veilflow.tasks.privacy.recognizers.truecased import TruecasedNameRecognizer
from veilflow.tasks.privacy.recognizers.username import UsernameRecognizer

__all__ = [
    "ADDRESS_ENTITY",
    "CUSTOM_ENTITIES",
    "RECOGNIZERS_TO_REMOVE",
    "USERNAME_ENTITY",
    "DateTimeRecognizer",
    "GazetteerNameRecognizer",
    "InitialsNameRecognizer",
    "InternationalPhoneRecognizer",
    "LuhnCardRecognizer",
    "ObfuscatedEmailRecognizer",
    "PersonNameRecognizer",
    "PlaceRecognizer",
    "PostcodeAddressRecognizer",
    "StreetAddressRecognizer",
    "SurnameFirstNameRecognizer",
    "TruecasedNameRecognizer",
    "UsernameRecognizer",
    "build_custom_recognizers",
    "build_nrp_recognizer",
    "drop_category_cells",
    "filter_false_positives",
    "is_card_number",
    "is_short_title_phrase",
    "luhn_valid",
    "merge_adjacent_spans",
    "postprocess_results",
    "propagate_person_names",
    "require_evidence",
]

# Default Presidio recognizers (registry names) that misfire for a US locale or that the
# recognizers below replace: the UK NHS checksum fires on bare 10-digit US phone numbers;
# the default card pattern misses 19-digit cards; the default phone recognizer is composed
# inside ``InternationalPhoneRecognizer`` (everything it finds is kept, on texts with digits
# only). Drop them with ``analyzer.registry.remove_recognizer(name)``.
RECOGNIZERS_TO_REMOVE: tuple[str, ...] = ("NhsRecognizer", "CreditCardRecognizer", "PhoneRecognizer")


def build_custom_recognizers(locale: str = "US") -> list[EntityRecognizer]:
    """Build veilflow's custom recognizers for one locale.

    Args:
        locale: ISO country code of the data's home country; it orders the regions tried
            for phone numbers written without a country code.

    Returns:
        New recognizer instances (cards, phones, obfuscated e-mails, user names, street and
        postcode addresses, places, person names in running text, surname-first lists and
        lower-case / non-Western names, timestamps, nationalities), to be
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
        ObfuscatedEmailRecognizer(),
        UsernameRecognizer(),
        StreetAddressRecognizer(),
        PostcodeAddressRecognizer(),
        PlaceRecognizer(),
        PersonNameRecognizer(),
        SurnameFirstNameRecognizer(),
        InitialsNameRecognizer(),
        GazetteerNameRecognizer(),
        DateTimeRecognizer(),
        build_nrp_recognizer(),
    ]
