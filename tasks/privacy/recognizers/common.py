"""Building blocks the recognizers and the post-processing share: regex fragments, stop words, word lists, the result helper."""

from __future__ import annotations

import functools
from importlib.resources import files

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

# Entities produced here that Presidio's defaults do not know: a policy must list them.
ADDRESS_ENTITY = "STREET_ADDRESS"
CUSTOM_ENTITIES: tuple[str, ...] = (ADDRESS_ENTITY,)

_L = r"\p{L}\p{M}"
_CAP = rf"(?:\p{{Lu}}[{_L}∆'’.-]*|\p{{Lu}}\.)"  # capitalized word or initial, any script
_PARTICLE = (
    r"(?:de|la|le|les|del|della|delle|dei|degli|di|da|do|dos|das|du|des|d'|l'|e|y|i|u|v|z|van|von|"
    r"der|den|ten|ter|het|op|aan|bei|im|zum|zur|al|el|na|nad|pod|am|an|sur|en|of|the)"
)
_COUNTRIES = (
    "United States(?: of America)?|USA|U\\.S\\.A\\.|Canada|Mexico|Brazil|Argentina|Chile|Peru|Colombia|"
    "Uruguay|Paraguay|Venezuela|Ecuador|Bolivia|United Kingdom|UK|England|Scotland|Wales|"
    "Northern Ireland|Ireland|France|Germany|Deutschland|Austria|Switzerland|Belgium|Netherlands|"
    "Luxembourg|Italy|Spain|Portugal|Greece|Cyprus(?: \\(Greek\\)| \\(Turkish\\))?|Malta|Denmark|"
    "Norway|Sweden|Finland|Iceland|Greenland|Greenlander|Estonia|Latvia|Lithuania|Poland|"
    "Czech Republic|Czechia|Slovakia|Hungary|Slovenia|Croatia|Serbia|Bosnia and Herzegovina|"
    "Montenegro|Albania|North Macedonia|Macedonia|Bulgaria|Romania|Moldova|Ukraine|Belarus|Russia|"
    "Turkey|Georgia|Armenia|Azerbaijan|Kazakhstan|Israel|Lebanon|Jordan|Egypt|Morocco|Algeria|"
    "Tunisia|Libya|Nigeria|Ghana|Kenya|Ethiopia|South Africa|Namibia|Zimbabwe|India|Pakistan|"
    "Bangladesh|Sri Lanka|Nepal|China|Japan|South Korea|Korea|Taiwan|Hong Kong|Singapore|Malaysia|"
    "Indonesia|Philippines|Thailand|Vietnam|Australia|New Zealand|Saudi Arabia|United Arab Emirates|"
    "UAE|Qatar|Kuwait|Iran|Iraq"
)
_COUNTRY_WORDS = frozenset(w for c in _COUNTRIES.replace("\\", "").split("|") for w in regex.findall(r"\p{L}{2,}", c))
# "∆" (U+2206) stands in for the Greek capital delta in some address data ("∆ΟΜΕΤΙΟΣ").
_CITY_WORD = rf"(?:{_CAP}|∆[{_L}∆'’.-]+|\({_CAP}(?:[ ]{_CAP})*\))"

# A word that starts a sentence or a form label, never part of a city name.
_CITY_STOP = frozenset(
    ["I", "The", "A", "An", "My", "Our", "We", "You", "He", "She", "It", "They", "This", "That", "These", "Those", "Please", "Thanks", "Thank", "But", "And", "Or", "So", "If", "When", "Then", "Also", "Call", "Mobile", "Desk", "Fax", "Phone", "Tel", "Email", "E-mail", "Website", "Name", "Address", "Card", "Hello", "Hi", "Dear", "Regards", "Best", "Sincerely", "Bot", "User", "Yes", "No", "Is", "Are", "Was", "Can", "Could", "Would", "Should", "Will", "What", "Where", "Who", "How", "Why", "For", "From", "With", "Do", "Does", "Did", "Have", "Has", "Had", "Office", "Home", "Work", "Cell", "Personal", "Info", "Billing", "Shipping", "Zip", "Postal", "Code"]
)

_NAME_WORD = rf"(?:\p{{Lu}}[{_L}'’-]+|\p{{Lu}}\.?)"
# Capitalized words that are never part of a person's name: sentence starters, form
# labels, organisation and street words.
_NAME_STOP = frozenset(
    ["Suite", "Apt", "Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane", "Drive", "Court", "Way", "Place", "Square", "Box", "Unit", "The", "And", "I", "Is", "Was", "Are", "Has", "Have", "Will", "Would", "Please", "Thanks", "Thank", "From", "With", "For", "To", "At", "In", "On", "Of", "By", "Mobile", "Phone", "Desk", "Fax", "Email", "E-mail", "Address", "Name", "Card", "Company", "Inc", "Inc.", "Ltd", "LLC", "Corp", "Corporation", "Co", "Group", "Bank", "Systems", "Technologies", "Technology", "Solutions", "Software", "Agency", "Services", "Consulting", "Partners", "Associates", "University", "College", "Institute", "Hospital", "Foundation", "Insurance", "Transit", "Research", "Traffic", "Labs", "Analytics", "Media", "Capital", "Holdings", "Markets", "Global", "International", "Incorporated", "PLC", "GmbH", "AG", "SA", "Network", "Networks", "Data", "Energy", "Health", "Financial", "Management", "Marketing", "Communications", "Industries", "Enterprises", "Ventures", "My", "Your", "Our", "Their", "His", "Her", "Dear", "Hello", "Hi", "Yes", "No", "Not", "Mr", "Mrs", "Ms", "Dr", "Prof", "Sir", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December", "Bot", "User", "Customer", "Agent", "Answer", "Question", "Website", "Info", "Personal", "Billing", "Shipping", "Zip", "Postal", "Code", "Apartment", "Floor", "Room", "North", "South", "East", "West", "New", "Old", "Saint", "San", "Santa", "Fort", "Mount", "Lake", "Port", "Cape", "City", "County", "State", "Republic", "Kingdom", "United", "Union", "Airport", "Station", "Park", "Hill", "Tower", "Center", "Centre", "Church", "Club", "Hotel", "Restaurant", "School", "Street"]
)

# Frequent English words: in lowercase notes they end a name.
_COMMON_WORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "so", "to", "of", "in", "on", "at", "by", "for", "from", "with", "as", "is", "are", "was", "were", "be", "been", "am", "i", "me", "my", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her", "it", "its", "they", "them", "their", "this", "that", "these", "those", "here", "there", "what", "who", "how", "why", "when", "where", "which", "will", "would", "can", "could", "should", "may", "might", "must", "shall", "do", "does", "did", "have", "has", "had", "not", "no", "yes", "please", "thanks", "thank", "hello", "hi", "dear", "call", "phone", "number", "card", "address", "street", "lives", "live", "at", "moved", "new", "old", "name", "last", "first", "middle", "mobile", "desk", "fax", "email", "e-mail", "website", "office", "info", "personal", "nurse", "director", "manager", "engineer", "teacher", "driver", "clerk"]
)


def _result(entity: str, start: int, end: int, score: float, rec: EntityRecognizer) -> RecognizerResult:
    """A result carrying the recognizer's name and id, as Presidio's own recognizers record them."""
    return RecognizerResult(
        entity_type=entity,
        start=start,
        end=end,
        score=score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id,
        },
    )


@functools.cache
def word_list(name: str) -> frozenset[str]:
    """The entries of `data/<name>` (one per line; blank lines and `#` comment lines skipped), read once."""
    text = (files(__package__) / "data" / name).read_text(encoding="utf-8")
    return frozenset(entry for line in text.splitlines() if (entry := line.strip()) and not entry.startswith("#"))


def first_names() -> frozenset[str]:
    """Given names, lower-cased: the US Census 1990 lists plus a multicultural list (`data/first_names.txt`)."""
    return word_list("first_names.txt")


def ambiguous_first_names() -> frozenset[str]:
    """Given names that are also ordinary English words, lower-cased (`data/ambiguous_first_names.txt`)."""
    return word_list("ambiguous_first_names.txt")


def surnames() -> frozenset[str]:
    """Surnames, lower-cased: the US Census 1990 list minus English words and places (`data/surnames.txt`)."""
    return word_list("surnames.txt")
