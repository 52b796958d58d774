"""Regenerate the recognizers' word lists from their sources: Faker's locale name lists and SCOWL's English words.

    python benchmarks/pii_sets/make_recognizer_data.py [--shared-set PATH]

Writes, under `tasks/privacy/recognizers/data/`:

- `common_words.txt`: the lower-case entries of SCOWL's `american-english` list (Debian package `wamerican`,
  `/usr/share/dict/american-english`), 3-24 letters, no possessives. A capitalized entry of that list is a
  proper noun, so only lower-case ones are ordinary words.
- `proper_common_words.txt`: the SCOWL words that are also capitalized entries (Trump, Smith, Will ...).
- `places.txt`: Latin-script place names of Faker's address providers plus large world cities.
- `given_names_intl.txt`, `surnames_intl.txt`: the Latin-script given names and surnames of every Faker locale
  (including the romanized Japanese and Chinese lists), lower case, minus ordinary English words and minus the
  names already in `first_names.txt` / `surnames.txt`.

Two groups of names are kept OUT of the lists on purpose, so that the benchmarks stay honest:

- held-out names: every name whose CRC-32 is divisible by 8 (`is_held_out_name`). The generated dev set
  (`benchmarks/pii_sets/generate.py`) draws its held-out half only from these, so that half measures names the
  gazetteer has never seen;
- names in the shared synthetic set's PERSON spans (`--shared-set`, default `../shared/data/pii/...`): that set
  was generated from Faker too, so copying Faker's lists would otherwise leak its answers into the detector.
"""

from __future__ import annotations

import argparse
import importlib
import json
import unicodedata
import zlib
from pathlib import Path

import faker

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tasks" / "privacy" / "recognizers" / "data"
SCOWL = Path("/usr/share/dict/american-english")
SHARED = ROOT.parent / "shared" / "data" / "pii" / "presidio_research_synth_dataset_v2.json"
_NAME_ATTRS = (
    "first_names",
    "first_names_male",
    "first_names_female",
    "first_romanized_names",
    "first_romanized_names_male",
    "first_romanized_names_female",
)
_SURNAME_ATTRS = ("last_names", "last_romanized_names")


def is_held_out_name(name: str) -> bool:
    """Names the gazetteer never contains: the generated set's held-out half uses only these."""
    return zlib.crc32(name.lower().encode("utf-8")) % 8 == 0


def _latin(word: str) -> bool:
    return all(unicodedata.name(c, "").startswith("LATIN") or c in "'’-" for c in word)


def _class_attr(cls: type, attr: str) -> object:
    for base in cls.__mro__:
        if attr in base.__dict__:
            return base.__dict__[attr]
    return None


def faker_names() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Latin-script given names and surnames of every Faker locale, lower case -> the locales having it."""
    folder = Path(faker.__file__).parent / "providers" / "person"
    given: dict[str, set[str]] = {}
    family: dict[str, set[str]] = {}
    for loc in sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")):
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attrs, target in ((_NAME_ATTRS, given), (_SURNAME_ATTRS, family)):
            for attr in attrs:
                values = _class_attr(provider, attr)
                if values is None or isinstance(values, property):
                    continue
                for name in values:
                    if not isinstance(name, str):
                        continue
                    for part in name.split():
                        if len(part) >= 2 and _latin(part):
                            target.setdefault(part.lower(), set()).add(loc)
    return given, family


_PLACE_ATTRS = (
    "cities",
    "city_names",
    "real_city_names",
    "states",
    "countries",
    "provinces",
    "regions",
    "prefectures",
    "metropolitan_cities",
    "districts",
    "region_names",
)
# Village-level lists: thousands of small places whose names are also surnames; left out.
_PLACE_SKIP = {"it_IT", "nl_NL", "nl_BE", "sk_SK", "en_PH"}
# Large cities Faker's lists miss (its US, UK and French providers invent city names), written for veilflow.
_MAJOR_CITIES = (
    "New York|Los Angeles|Chicago|Houston|Phoenix|Philadelphia|San Antonio|San Diego|Dallas|San Jose|Austin|"
    "Jacksonville|Fort Worth|Columbus|Charlotte|San Francisco|Indianapolis|Seattle|Denver|Washington|Boston|El Paso|"
    "Nashville|Detroit|Oklahoma City|Portland|Las Vegas|Memphis|Louisville|Baltimore|Milwaukee|Albuquerque|Tucson|"
    "Fresno|Sacramento|Kansas City|Mesa|Atlanta|Omaha|Colorado Springs|Raleigh|Miami|Long Beach|Virginia Beach|"
    "Oakland|Minneapolis|Tulsa|Tampa|Arlington|New Orleans|Wichita|Cleveland|Bakersfield|Aurora|Anaheim|Honolulu|"
    "Santa Ana|Riverside|Corpus Christi|Lexington|Stockton|Henderson|Saint Paul|St. Louis|Cincinnati|Pittsburgh|"
    "Greensboro|Anchorage|Plano|Lincoln|Orlando|Irvine|Newark|Toledo|Durham|Chula Vista|Fort Wayne|Jersey City|"
    "St. Petersburg|Laredo|Madison|Chandler|Buffalo|Lubbock|Scottsdale|Reno|Glendale|Gilbert|Norfolk|Boise|Spokane|"
    "Richmond|Des Moines|Montgomery|Birmingham|Salt Lake City|Little Rock|Hartford|Providence|Savannah|Charleston|"
    "London|Manchester|Liverpool|Leeds|Glasgow|Edinburgh|Bristol|Cardiff|Belfast|Sheffield|Newcastle|Nottingham|"
    "Leicester|Oxford|Cambridge|Brighton|Dublin|Cork|Paris|Marseille|Lyon|Toulouse|Nice|Nantes|Strasbourg|Bordeaux|"
    "Lille|Montpellier|Rennes|Berlin|Hamburg|Munich|München|Cologne|Köln|Frankfurt|Stuttgart|Düsseldorf|Dortmund|"
    "Essen|Leipzig|Bremen|Dresden|Hanover|Hannover|Nuremberg|Nürnberg|Vienna|Wien|Zurich|Zürich|Geneva|Genève|Bern|"
    "Basel|Amsterdam|Rotterdam|The Hague|Utrecht|Brussels|Antwerp|Madrid|Barcelona|Valencia|Seville|Lisbon|Porto|Rome|"
    "Milan|Naples|Turin|Florence|Venice|Bologna|Athens|Istanbul|Ankara|Moscow|Warsaw|Krakow|Prague|Budapest|Bucharest|"
    "Sofia|Belgrade|Zagreb|Copenhagen|Stockholm|Oslo|Helsinki|Reykjavik|Toronto|Montreal|Vancouver|Calgary|Ottawa|"
    "Edmonton|Winnipeg|Quebec|Mexico City|Guadalajara|Monterrey|Bogota|Lima|Santiago|Buenos Aires|Sao Paulo|"
    "São Paulo|Rio de Janeiro|Caracas|Havana|Cairo|Lagos|Nairobi|Johannesburg|Cape Town|Casablanca|Accra|"
    "Addis Ababa|Dubai|Abu Dhabi|Riyadh|Doha|Tehran|Baghdad|Karachi|Lahore|Mumbai|Delhi|New Delhi|Bangalore|"
    "Bengaluru|Chennai|Kolkata|Hyderabad|Pune|Dhaka|Kathmandu|Colombo|Bangkok|Hanoi|Ho Chi Minh City|Manila|Jakarta|"
    "Kuala Lumpur|Singapore|Beijing|Shanghai|Shenzhen|Guangzhou|Hong Kong|Taipei|Seoul|Busan|Tokyo|Osaka|Kyoto|"
    "Sydney|Melbourne|Brisbane|Perth|Adelaide|Auckland|Wellington"
)


def faker_places() -> set[str]:
    """Latin-script place names (cities, states, regions, countries) of Faker's address providers, plus major cities."""
    folder = Path(faker.__file__).parent / "providers" / "address"
    places = {c.lower() for c in _MAJOR_CITIES.split("|")}
    for loc in sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if loc in _PLACE_SKIP:
            continue
        provider = importlib.import_module(f"faker.providers.address.{loc}").Provider
        for attr in _PLACE_ATTRS:
            values = _class_attr(provider, attr)
            if not isinstance(values, (tuple, list)):
                continue
            for place in values:
                if isinstance(place, str) and 3 <= len(place) <= 40 and all(_latin(w) for w in place.split()):
                    places.add(place.lower())
    return places


def _read_list(name: str) -> set[str]:
    path = DATA / name
    return {ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")}


def _shared_person_tokens(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    tokens: set[str] = set()
    for item in json.loads(path.read_text(encoding="utf-8")):
        for span in item["spans"]:
            if span["entity_type"] == "PERSON":
                tokens.update(
                    w.strip(".,").lower() for w in item["full_text"][span["start_position"] : span["end_position"]].split()
                )
    return tokens


def _write(name: str, header: list[str], entries: set[str]) -> None:
    lines = [f"# {h}" for h in header] + sorted(entries)
    (DATA / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {DATA / name}: {len(entries)} entries")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared-set", type=Path, default=SHARED)
    p.add_argument("--scowl", type=Path, default=SCOWL)
    args = p.parse_args()

    words = {w for w in args.scowl.read_text(encoding="utf-8").split() if w.isalpha() and w.islower() and 3 <= len(w) <= 24}
    _write(
        "common_words.txt",
        [
            "Ordinary English words, lower case, one per line: the lower-case entries of SCOWL's american-english list",
            "(Debian package wamerican 2020.12.07; 3-24 letters, no possessives), regenerated by",
            "benchmarks/pii_sets/make_recognizer_data.py. A capitalized SCOWL entry is a proper noun, so it is not here.",
            "SCOWL: Copyright 2000-2011 by Kevin Atkinson. Permission to use, copy, modify, distribute and sell these word",
            "lists, the associated scripts, the output created from the scripts, and its documentation for any purpose is",
            "hereby granted without fee, provided that the above copyright notice appears in all copies and that both that",
            "copyright notice and this permission notice appear in supporting documentation. Kevin Atkinson makes no",
            'representations about the suitability of this array for any purpose. It is provided "as is" without express',
            "or implied warranty. Read by veilflow.tasks.privacy.recognizers.word_lists.common_words.",
        ],
        words,
    )

    scowl = args.scowl.read_text(encoding="utf-8").split()
    dual = {w.lower() for w in scowl if w.isalpha() and w[:1].isupper() and w[1:].islower() and w.lower() in words}
    _write(
        "proper_common_words.txt",
        [
            "Words that are both ordinary words and proper nouns (Trump, Smith, Will, Grace, Reading ...), lower case: the",
            "capitalized SCOWL american-english entries whose lower-case form is an entry too (same source and notice as",
            "common_words.txt). Regenerated by benchmarks/pii_sets/make_recognizer_data.py.",
            "Read by veilflow.tasks.privacy.recognizers.word_lists.proper_common_words.",
        ],
        dual,
    )
    places = faker_places()
    _write(
        "places.txt",
        [
            "Place names, lower case, one per line: the Latin-script cities, states, regions and countries of Faker's",
            f"{faker.VERSION} address providers (MIT licence, Copyright (c) 2012 Daniele Faraglia; village-level lists of",
            "it_IT, nl_NL, nl_BE, sk_SK and en_PH left out) plus ~300 large world cities written for veilflow.",
            "Regenerated by benchmarks/pii_sets/make_recognizer_data.py. Read by veilflow.tasks.privacy.recognizers.word_lists.places.",
        ],
        places,
    )
    place_words = {w for p in places for w in p.split()}
    demonyms = _read_list("demonyms.txt")
    given, family = faker_names()
    shared = _shared_person_tokens(args.shared_set)
    known_given, known_family = _read_list("first_names.txt"), _read_list("surnames.txt")
    ambiguous = _read_list("ambiguous_first_names.txt")

    def keep(name: str) -> bool:
        return (
            name not in words
            and name not in shared
            and not is_held_out_name(name)
            and name not in ambiguous
            and name not in place_words
            and name not in demonyms
        )

    held = sum(1 for n in set(given) | set(family) if is_held_out_name(n))
    note = [
        f"Faker {faker.VERSION} person providers, all {len({loc for v in given.values() for loc in v})} locales (MIT licence,",
        "Copyright (c) 2012 Daniele Faraglia), Latin-script names only (romanized Japanese/Chinese lists included), lower",
        "case, minus ordinary English words (common_words.txt), place words (places.txt), demonyms, the Census lists",
        "already shipped, minus",
        f"{held} held-out names (CRC-32 divisible by 8, kept for the generated benchmark's held-out half) and minus the",
        f"{len(shared)} words of the shared synthetic set's PERSON spans (that set was generated from Faker too).",
        "Regenerated by benchmarks/pii_sets/make_recognizer_data.py.",
    ]
    _write(
        "given_names_intl.txt",
        ["Given names, one per line.", *note, "Read by veilflow.tasks.privacy.recognizers.word_lists.first_names."],
        {n for n in given if keep(n) and n not in known_given},
    )
    _write(
        "surnames_intl.txt",
        ["Surnames, one per line.", *note, "Read by veilflow.tasks.privacy.recognizers.word_lists.surnames."],
        {n for n in family if keep(n) and n not in known_family and n not in given},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
