"""Addresses anchored on a European postcode, read backwards: UK, German and French forms (`PostcodeAddressRecognizer`)."""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from veilflow.tasks.privacy.recognizers.patterns import _L
from veilflow.tasks.privacy.recognizers.results import ADDRESS_ENTITY, _result
from veilflow.tasks.privacy.recognizers.stop_words import _CITY_STOP

_CITY = rf"\p{{Lu}}[{_L}'’-]+(?:[ -](?:(?!Cedex|CEDEX)\p{{Lu}}[{_L}'’-]+|am|an|der|im|bei|sur|sous|en|le|la|les|de|du|on|upon))*"
# The postcode (+ city) that ends the address.
_END = regex.compile(
    rf"""
    (?P<uk>(?:(?<=,[ ]?|\n)|(?<=[ ]))(?:{_CITY}[ ,]+)?(?:[A-Z]{{1,2}}\d[A-Z\d]?|GIR)[ ]?\d[A-Z]{{2}}(?![\w]))
    | (?P<eu>(?<![\w-])(?:[A-Z]{{1,2}}-)?\d{{5}}[ ]{_CITY}(?:[ ](?:Cedex|CEDEX)(?:[ ]\d{{1,2}})?)?)
    | (?P<box>(?<![\w])(?:Postfach|Boîte[ ]postale|Boite[ ]postale|B\.?P\.?|C\.?S\.?)[ ]\d{{1,6}}(?:[ ]\d{{2,3}}){{0,3}}(?![\w]))
    """,
    regex.VERBOSE,
)
# A cheap necessary condition for `_END`: five digits in a row, a UK postcode shape or a post-box word.
_MAY_END = regex.compile(r"\d{5}|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|Postfach|Bo[iî]te|\bB\.?P\.?[ ]\d|\bC\.?S\.?[ ]\d")
# One comma-separated piece before the postcode: a house number + street, a named house, a unit, a box, a locality.
_HOUSE_WORDS = (
    "Cottage|Cottages|House|Farm|Farmhouse|Lodge|Manor|Barn|Hall|Mill|Villa|Croft|Grange|Court|Mews|Chambers|"
    "Mansions|Buildings|Rectory|Vicarage|Oast|Bungalow|Orchard|Gardens|Yard|Wharf|Quay|Close|Place"
)
_STREET_WORD = (
    r"(?i:street|st|road|rd|lane|ln|avenue|ave|drive|dr|way|close|crescent|terrace|place|square|row|hill|green|"
    r"gardens|grove|walk|park|rise|mews|court|parade|wharf)\.?"
)
_PIECE = regex.compile(
    rf"""^(?:
        (?P<unit>(?i:flat|apartment|apt|unit|suite|studio|maisonette|room|floor)[ ]\w{{1,5}})
      | (?P<street>(?:\d{{1,5}}[A-Za-z]?(?:[ ](?:bis|ter|quater))?,?[ ])?(?:{_CITY}[ ])*?(?:\p{{Lu}}[{_L}'’-]*[ ])?{_STREET_WORD})
      | (?P<house>(?:\p{{Lu}}[{_L}'’-]+[ ]){{1,3}}(?:{_HOUSE_WORDS}))
      | (?P<eustreet>[{_L}'’.-]*(?i:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee)[ ]\d{{1,4}}[a-z]?)
      | (?P<frstreet>\d{{1,5}}(?:[ ](?:bis|ter))?,?[ ](?i:rue|avenue|av\.|boulevard|bd|place|allée|allee|chemin|impasse|quai|cours|route)[ ](?:[{_L}'’-]+[ ]?){{1,6}})
      | (?P<numbered>\d{{1,5}}[A-Za-z]?[ ](?:\p{{Lu}}[{_L}'’-]+[ ]?){{1,4}})
      | (?P<box>(?:Postfach|B\.?P\.?|P\.?O\.?[ ]Box)[ ]\d{{1,6}}(?:[ ]\d{{2,3}}){{0,3}})
      | (?P<locality>{_CITY})
    )$""",
    regex.VERBOSE,
)
_STRONG = ("unit", "street", "house", "eustreet", "frstreet", "numbered", "box")
_CONTEXT = regex.compile(r"(?i)\b(?:address|adresse|anschrift|live[sd]?|living|send|sent|post|ship|deliver|mail|write to|at)\b")


class PostcodeAddressRecognizer(LocalRecognizer):
    """UK, German and French addresses, found from their end (STREET_ADDRESS).

    The end is a UK postcode ("NR21 0AA", with the post town before it), a 5-digit postcode and
    town ("20095 Hamburg", "75002 Paris Cedex 02") or a post box ("Postfach 10 20 30", "BP 123").
    From there up to five comma-separated pieces are taken backwards while each is a house number
    and street, a named house ("Rose Cottage"), a unit ("Flat 3"), a box or a capitalized locality.
    The address must hold a street, house, unit or box piece (a postcode and town alone are left to
    the street-address and place recognizers) unless it is a post box.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[ADDRESS_ENTITY], supported_language=supported_language, name="PostcodeAddressRecognizer"
        )

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if not _MAY_END.search(text):
            return []
        results = []
        for m in _END.finditer(text):
            start, strong = m.start(), bool(m.group("box"))
            pos = m.start()
            took_piece = strong  # a post box is a piece of its own
            for _ in range(5):
                sep = regex.search(r"(?:,[ \t]*\n?[ \t]*|[ \t]*\n[ \t]*)$", text[:pos])
                if not sep:
                    break
                piece_end = sep.start()
                line_start = max(text.rfind("\n", 0, piece_end), text.rfind(",", 0, piece_end)) + 1
                raw = text[line_start:piece_end]
                piece = raw.strip(" \t")
                lead = len(raw) - len(raw.lstrip(" \t"))
                found = _match_piece(piece)
                if found is None:
                    break
                offset, kind, whole = found
                if kind == "locality" and took_piece:
                    # A bare locality above a street / house / unit line is not part of the address: the
                    # town comes after the street. It is the addressee or a signature's name line.
                    break
                took_piece = took_piece or kind in _STRONG
                strong = strong or kind in _STRONG
                start = line_start + lead + offset
                pos = line_start
                if not whole:
                    break  # a sentence ran into the address: its tail was the first piece
            if not strong:
                continue
            end = m.end()
            score = 0.6 + (0.25 if _CONTEXT.search(text[max(0, start - 40) : start]) else 0.0)
            results.append(_result(ADDRESS_ENTITY, start, end, min(score, 1.0), self))
        return results


def _match_piece(piece: str) -> tuple[int, str, bool] | None:
    """The longest word-aligned suffix of `piece` that is an address piece: (offset, kind, whole piece?).

    A suffix shorter than the piece (a sentence before the address) counts only when it is a street,
    house, unit or box piece, never a bare locality.
    """
    if not piece or (piece.split()[0] in _CITY_STOP and len(piece.split()) == 1):
        return None
    starts = [0] + [m.end() for m in regex.finditer(r"[ \t:]+", piece)]
    for offset in starts:
        if offset >= len(piece):
            break
        pm = _PIECE.match(piece[offset:])
        if not pm:
            continue
        kind = next(k for k in (*_STRONG, "locality") if pm.group(k))
        if offset == 0 and piece.split()[0] not in _CITY_STOP:
            return 0, kind, True
        if kind in _STRONG:
            return offset, kind, False
    return None
