"""Regex fragments the recognizers and the post-processing compose their patterns from (letters, capitalized
words, name particles, countries, city words)."""

from __future__ import annotations

import regex

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

_NAME_WORD = rf"(?:\p{{Lu}}[{_L}'’-]+|\p{{Lu}}\.?)"
