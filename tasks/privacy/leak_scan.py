"""Leak scan matching: an in-memory index of raw PII values and the key, searched for in logged texts.

What is read from MLflow and Prefect is gathered in `veilflow.engines.leak_sources`; the training step and
`veilflow audit` are in `veilflow.tasks.ops.audit`.

Raw PII values (from the raw frame's policy PII columns) and the PII key are held in memory in a
`LeakIndex` and searched for in every logged text. Matching is on lower-cased alphanumeric token
sequences (a hash lookup per token, one pass per text, like Aho-Corasick over tokens), so
"Jane.Doe@Example.com" is found in "contact jane.doe@example.com" and a 5-digit zip code is not
"found" inside a hex digest or a float. Each hit is then classed as `exact` (the value appears
verbatim), `case_insensitive`, or `token_sequence` (same tokens, other punctuation). Reports hold
counts, places and source columns — never the values.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from veilflow.core.errors import ConfigError

log = logging.getLogger("veilflow")

# Alphanumeric runs (as the anonymization leak guard), except that a dotted number ("0.30368", "1.2.3")
# is one token: a zip code must not be "found" in the decimals of a logged float.
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
_KEY_SOURCE = "<pii-key>"
_TABULAR = {".parquet", ".csv"}


class LeakHit(BaseModel):
    """One place where a raw value was found: where, which PII column it came from, how it matched, how often."""

    model_config = ConfigDict(frozen=True)

    where: str
    source: str
    kind: str
    count: int


class LeakScanReport(BaseModel):
    """What the scan read and what it found; no values."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    flow_run_id: str | None
    prefect_checked: bool
    values_searched: int
    short_values_skipped: int
    items_scanned: dict[str, int] = Field(description="kind of logged thing -> how many were read")
    bytes_scanned: int
    hits: list[LeakHit]
    seconds: float

    @property
    def total(self) -> int:
        return sum(h.count for h in self.hits)

    @property
    def passed(self) -> bool:
        return not self.hits

    def summary(self) -> str:
        """One line: the verdict with counts per place (never values)."""
        if self.passed:
            return f"leak scan clean: {sum(self.items_scanned.values())} items, {self.bytes_scanned} bytes, {self.values_searched} values"
        places = "; ".join(f"{h.where}<-{h.source} ({h.kind}) x{h.count}" for h in self.hits[:20])
        more = f"; +{len(self.hits) - 20} more" if len(self.hits) > 20 else ""
        return f"leak scan found {self.total} raw PII occurrence(s) in {len(self.hits)} place(s): {places}{more}"


class LeakIndex:
    """Raw values as token sequences -> (source column, the value), held in memory only; never logged or pickled."""

    def __init__(self, min_length: int = 4) -> None:
        self.min_length = min_length
        self._table: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._first: set[str] = set()
        self._lengths: set[int] = set()
        self.values = 0
        self.skipped = 0

    def __reduce__(self) -> Any:  # raw values must never be serialized (Prefect results, caches, pickles)
        raise TypeError("a LeakIndex holds raw PII and cannot be pickled")

    def __repr__(self) -> str:
        return f"LeakIndex(values={self.values}, skipped={self.skipped})"

    def add(self, source: str, values: Iterable[Any], min_length: int | None = None) -> None:
        """Add distinct raw values of one column (missing values ignored; short ones counted as skipped)."""
        floor = self.min_length if min_length is None else min_length
        for value in {str(v) for v in values if v is not None and not (isinstance(v, float) and v != v)}:
            tokens = tuple(_TOKEN.findall(value.lower()))
            if not tokens or len("".join(tokens)) < floor:
                self.skipped += 1
                continue
            entries = self._table.setdefault(tokens, [])
            if not any(s == source and v == value for s, v in entries):
                entries.append((source, value))
                self.values += 1
            self._first.add(tokens[0])
            self._lengths.add(len(tokens))

    def add_secret(self, secret: bytes | str | None) -> None:
        """Add the PII key (as text and as hex) so a logged key is caught like a raw value."""
        if not secret:
            return
        raw = secret if isinstance(secret, bytes) else secret.encode("utf-8")
        self.add(_KEY_SOURCE, [raw.decode("utf-8", errors="ignore"), raw.hex()], min_length=1)

    def find(self, text: str) -> Counter[tuple[str, str]]:
        """(source, kind) -> occurrences of raw values in `text`."""
        found: Counter[tuple[str, str]] = Counter()
        if not text or not self._table:
            return found
        lower = text.lower()
        first = self._first
        matches = list(_TOKEN.finditer(lower))
        if not any(m.group() in first for m in matches):
            return found
        tokens = [m.group() for m in matches]
        lengths = sorted(self._lengths, reverse=True)
        n, i = len(tokens), 0
        while i < n:
            if tokens[i] not in first:
                i += 1
                continue
            hit = 0
            for length in lengths:
                if i + length <= n:
                    entries = self._table.get(tuple(tokens[i : i + length]))
                    if entries:
                        start, end = matches[i].start(), matches[i + length - 1].end()
                        span = text[start:end] if len(lower) == len(text) else None
                        for source, value in entries:
                            if span is None:  # lower-casing changed offsets (rare scripts): judge on the whole text
                                kind = (
                                    "exact"
                                    if value in text
                                    else "case_insensitive"
                                    if value.lower() in lower
                                    else "token_sequence"
                                )
                            elif span == value:
                                kind = "exact"
                            elif span.lower() == value.lower():
                                kind = "case_insensitive"
                            else:
                                kind = "token_sequence"
                            found[(source, kind)] += 1
                        hit = length
                        break
            i += hit or 1
        return found


def build_leak_index(raw: pd.DataFrame, policy: Any, key: bytes | str | None, extra_columns: Iterable[str] = ()) -> LeakIndex:
    """An index of the raw values of the policy's structured PII columns (and `extra_columns`) plus the key.

    Raises:
        ConfigError: a policy column is missing from the frame.
    """
    index = LeakIndex(policy.min_leak_value_length if policy is not None else 4)
    columns = list(dict.fromkeys([*(policy.columns if policy is not None else []), *extra_columns]))
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise ConfigError(f"leak scan: column(s) missing from the raw frame: {', '.join(missing)}")
    for column in columns:
        index.add(column, pd.unique(raw[column].dropna().astype("str")))
    index.add_secret(key)
    return index


def index_for_config(raw: pd.DataFrame, config: Any, key: bytes | str | None) -> LeakIndex:
    """The leak index a pipeline config implies: its policy's PII columns, its subject column, and the key."""
    from veilflow.core.config import resolve_path
    from veilflow.tasks.privacy.policy import load_policy

    ds = config.dataset
    policy = load_policy(resolve_path(ds.pii_policy)) if ds.pii_policy else None
    extra = [ds.subject_column] if ds.subject_column and ds.subject_column in raw.columns else []
    return build_leak_index(raw, policy, key, extra)


# --------------------------------------------------------------------------- matching what was logged


def artifact_texts(path: Path) -> Iterator[str]:
    """The searchable text of one downloaded artifact file."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in _TABULAR:
        try:
            frame = pd.read_parquet(io.BytesIO(data)) if suffix == ".parquet" else pd.read_csv(io.BytesIO(data), dtype=str)
            yield " | ".join(map(str, frame.columns))
            for col in frame.columns:
                yield "\n".join(frame[col].dropna().astype("str").tolist())
        except Exception as exc:  # unreadable table: fall back to its bytes
            log.info("leak scan: %s not readable as a table (%s); scanning bytes", path.name, type(exc).__name__)
    # Text formats (JSON, YAML, HTML, MLmodel, requirements) and any binary (pickles hold strings too).
    yield data.decode("utf-8", errors="replace") if _looks_text(data) else data.decode("latin-1")


def _looks_text(data: bytes) -> bool:
    return b"\x00" not in data[:4096]


class LeakScanner:
    """Counts the indexed values found in named texts; `scan_run` (veilflow.engines.leak_sources) feeds it."""

    def __init__(self, index: LeakIndex) -> None:
        self.index = index
        self.items: Counter[str] = Counter()
        self.bytes = 0
        self.hits: Counter[tuple[str, str, str]] = Counter()

    def label(self, kind: str, name: str) -> str:
        # A name (tag key, artifact path) can itself carry a raw value: then it is withheld from the report.
        return f"{kind}:<name withheld: holds raw PII>" if self.index.find(name) else f"{kind}:{name}"

    def scan(self, kind: str, where: str, text: str) -> None:
        self.items[kind] += 1
        self.bytes += len(text)
        for (source, how), n in self.index.find(text).items():
            self.hits[(where, source, how)] += n


def scan_texts(texts: Mapping[str, str], index: LeakIndex) -> list[LeakHit]:
    """Scan named texts (e.g. a forget log's lines) for the indexed values."""
    scanner = LeakScanner(index)
    for name, text in texts.items():
        scanner.scan("text", name, text)
    return [LeakHit(where=w, source=s, kind=k, count=n) for (w, s, k), n in sorted(scanner.hits.items())]
