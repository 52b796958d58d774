"""Raw PII values indexed as token sequences, found in text by the free-text redaction and the leak guard."""

from __future__ import annotations

import re

import pandas as pd

from veilflow.tasks.privacy.policy import PiiPolicy

TOKEN = re.compile(r"[^\W_]+")  # alphanumeric runs; punctuation and underscores separate tokens


def as_str(series: pd.Series) -> pd.Series:
    """The cells as pandas strings (`astype("str")`), as every operator and the leak guard read them."""
    return series.astype("str")


class ValueIndex:
    """Raw PII values as lower-cased alphanumeric token sequences, matched at token boundaries.

    Matching token sequences (not raw substrings) keeps a zip code from "appearing" inside a hex
    pseudonym, and still catches a value whose punctuation changed ("(415) 555-1234" vs "415 555 1234").
    """

    def __init__(self, min_length: int) -> None:
        self.min_length = min_length
        self.table: dict[tuple[str, ...], set[str]] = {}
        self.first: set[str] = set()
        self._lengths: set[int] = set()
        self.skipped: dict[str, int] = {}
        self.checked = 0

    @property
    def lengths(self) -> list[int]:
        return sorted(self._lengths, reverse=True)

    def add(self, column: str, series: pd.Series) -> None:
        skipped = 0
        table, first, lengths, findall = self.table, self.first, self._lengths, TOKEN.findall
        for value in pd.unique(as_str(series).dropna()):
            tokens = tuple(findall(value.lower()))
            if len("".join(tokens)) < self.min_length:
                skipped += 1
                continue
            sources = table.get(tokens)
            if sources is None:
                table[tokens] = {column}
                first.add(tokens[0])
                lengths.add(len(tokens))
            else:
                sources.add(column)
            self.checked += 1
        self.skipped[column] = skipped

    def find(self, text: str, overlapping: bool = True) -> list[tuple[int, int, set[str]]]:
        """Spans (start, end, source columns) of raw values in `text`; longest match per start."""
        lower = text.lower()
        first = self.first
        # Fast exit (most cells): no token can start a raw value.
        if not any(tok in first for tok in TOKEN.findall(lower)):
            return []
        # Offsets of the lower-cased text are valid unless lower-casing changed its length (rare scripts).
        source = lower if len(lower) == len(text) else text
        matches = list(TOKEN.finditer(source))
        tokens = [m.group().lower() for m in matches]
        n = len(tokens)
        lengths = self.lengths
        spans: list[tuple[int, int, set[str]]] = []
        covered = 0
        for i, tok in enumerate(tokens):
            if tok not in first or (not overlapping and i < covered):
                continue
            for length in lengths:
                if i + length <= n:
                    sources = self.table.get(tuple(tokens[i : i + length]))
                    if sources:
                        spans.append((matches[i].start(), matches[i + length - 1].end(), sources))
                        covered = i + length
                        break
        return spans


def known_value_index(df: pd.DataFrame, policy: PiiPolicy) -> ValueIndex:
    """The raw values of the policy's structured columns that the frame has."""
    index = ValueIndex(policy.min_leak_value_length)
    for column in policy.columns:
        if column in df.columns:
            index.add(column, df[column])
    return index
