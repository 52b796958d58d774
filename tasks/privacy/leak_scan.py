"""Leak scan matching: an in-memory index of raw PII values and the key, searched for in everything a run logged.

What is read from MLflow and Prefect is gathered in `veilflow.engines.leak_sources`; the training step and
`veilflow audit` are in `veilflow.tasks.ops.audit`; how each file format is read is in
`veilflow.tasks.privacy.leak_formats`.

**Values, not substrings of structure.** Raw values (the policy's PII columns and the subject column) and the PII
key are held in memory in a `LeakIndex` (never pickled, never logged). Texts and values are NFC-normalised,
lower-cased and cut into tokens: Unicode letter/digit runs (`[^\\W_]+`, so "Müller" and "Øyvind" are one token each
and `_`, `-`, `.`, `@` separate), except that a dotted number ("0.30368", "1.2.3") is one token. A raw value is
found when its whole token sequence appears at token boundaries, so "Jane.Doe@Example.com" is found in "mail
jane.doe@example.com" and "(415) 555-1234" in "415 555 1234". Letters are compared case-insensitively (names are
logged capitalised, upper-cased or lower-cased alike); each hit is classed `exact`, `case_insensitive` or
`token_sequence` (same tokens, other punctuation). A number is found only where it stands as a number: a whole
digit token, never inside a longer digit run, a hex digest, an alphanumeric token or the decimals of a float
(a float value is found only as that float).

**Rules by format** (`leak_formats`): JSON and YAML are compared on their values (strings and numbers; keys that
look like identifiers and `true`/`false`/`null` are structure), tables on their decoded cells, PNG files on their
text chunks only (never the compressed pixels), pickles and cloudpickles on their pickled strings (walked with
`pickletools.genops`, never unpickled), zip archives (skops, torch) member by member, any other binary on its
printable runs of 4+ characters (like `strings`). MLflow param and tag values, Prefect logs and state messages
are texts (`token`); a name (param or tag key, metric name, artifact path) holding a raw value is withheld from
the report and counted under `name`. Each hit records the rule that found it. Bytes that are not text (pixels,
numeric buffers, pickled integers) are never matched: a 5-digit id "found" in them is chance, not a leak.

**Not searchable.** A value that cannot be told apart from the structure around it is not searched for, and is
counted per column and reason, never silently passed: `short` (fewer than `min_leak_value_length` letters and
digits), `short_number` (an all-digit value with fewer than `leak_scan.min_number_digits` digits: ids 7, 42,
1234 next to counts), `common_word` (a one-word value that is an ordinary English word — SCOWL's lower-case list
shipped in `recognizers/data/common_words.txt` plus `true/false/null/none/nan/inf/yes/no/on/off` — such as the
surnames True, Register, Will, May, Long). Values of two or more tokens ("Will May") are always searched. Such
a value cannot be told from ordinary words and counts, so a hit would be noise; the counts (in the report, the
run's tag `veilflow.leak_scan.not_searchable` and `veilflow audit --explain`) say what the scan cannot vouch for.
The policy can change the thresholds (`leak_scan.min_number_digits`, `leak_scan.common_words: false`).

**Deliberate exceptions.** A policy's `leak_scan.allow` lists keyed hashes (HMAC-SHA256 with the PII key,
domain-separated from pseudonyms; 64 hex characters) of values whose hits are counted as allowed instead of
failing the run; `veilflow audit RUN --explain` prints that hash for each hit. Reports hold counts, places,
columns, rules and keyed hashes — never the values.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from veilflow.core.errors import ConfigError
from veilflow.tasks.privacy.leak_formats import file_pieces

log = logging.getLogger("veilflow")

_TOKEN = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
_KEY_SOURCE = "<pii-key>"
_ALLOW_DOMAIN = b"veilflow-leak-scan-allow\x00"
HASH_PREFIX = 12
_STRUCTURAL_WORDS = frozenset({"true", "false", "null", "none", "nan", "inf", "yes", "no", "on", "off"})
_COMMON_WORDS_FILE = Path(__file__).with_name("recognizers") / "data" / "common_words.txt"


@cache
def common_words() -> frozenset[str]:
    """Ordinary English words (lower case) a one-word value must not be to be searchable."""
    try:
        text = _COMMON_WORDS_FILE.read_text(encoding="utf-8")
    except OSError:  # a trimmed install without the recognizer data: the structural words still apply
        log.warning("leak scan: %s missing; only structural words count as common", _COMMON_WORDS_FILE.name)
        text = ""
    words = (w for line in text.splitlines() if (w := line.strip()) and not w.startswith("#"))
    return frozenset(words) | _STRUCTURAL_WORDS


def leak_value_hash(key: bytes, value: str) -> str:
    """The keyed hash of a raw value that `leak_scan.allow` takes and `veilflow audit --explain` prints (64 hex)."""
    return hmac.new(key, _ALLOW_DOMAIN + value.encode("utf-8"), hashlib.sha256).hexdigest()


def _norm(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


class LeakHit(BaseModel):
    """One place where a raw value was found: where, its column, how it matched, the rule, how often, its keyed hash."""

    model_config = ConfigDict(frozen=True)

    where: str
    source: str
    kind: str
    count: int
    rule: str = "token"
    value_hash: str | None = Field(default=None, description="leak_value_hash of the value (None: the key, or no key)")


class AllowedHit(BaseModel):
    """Hits of one `leak_scan.allow` entry: recorded with the run, not a failure."""

    model_config = ConfigDict(frozen=True)

    hash_prefix: str
    sources: list[str]
    places: int
    count: int


class LeakScanReport(BaseModel):
    """What the scan read and what it found; no values."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    flow_run_id: str | None
    prefect_checked: bool
    values_searched: int
    short_values_skipped: int = Field(description="values not searchable, all reasons (see not_searchable)")
    not_searchable: dict[str, dict[str, int]] = Field(default_factory=dict, description="column -> reason -> values")
    items_scanned: dict[str, int] = Field(description="kind of logged thing -> how many were read")
    rules_read: dict[str, int] = Field(default_factory=dict, description="rule -> pieces of text read under it")
    bytes_scanned: int
    hits: list[LeakHit]
    allowed: list[AllowedHit] = Field(default_factory=list)
    allow_entries: int = 0
    seconds: float

    @property
    def total(self) -> int:
        return sum(h.count for h in self.hits)

    @property
    def passed(self) -> bool:
        return not self.hits

    def logged(self) -> dict[str, Any]:
        """The report as recorded with the run: value hashes cut to their prefix."""
        out = self.model_dump(mode="json")
        for hit in out["hits"]:
            h = hit.pop("value_hash")
            hit["value_hash_prefix"] = h[:HASH_PREFIX] if h else None
        return {**out, "passed": self.passed, "total": self.total}

    def _not_searchable_line(self) -> str:
        reasons: Counter[str] = Counter()
        for per in self.not_searchable.values():
            reasons.update(per)
        if not reasons:
            return ""
        return f"; {sum(reasons.values())} not searchable ({', '.join(f'{r} {n}' for r, n in sorted(reasons.items()))})"

    def summary(self) -> str:
        """One line: the verdict with counts per place (never values)."""
        allowed = f"; {sum(a.count for a in self.allowed)} allowed hit(s)" if self.allowed else ""
        if self.passed:
            return (
                f"leak scan clean: {sum(self.items_scanned.values())} items, {self.bytes_scanned} bytes, "
                f"{self.values_searched} values{self._not_searchable_line()}{allowed}"
            )
        places: Counter[tuple[str, str, str, str]] = Counter()
        for h in self.hits:
            places[(h.where, h.source, h.rule, h.kind)] += h.count
        shown = "; ".join(f"{w}<-{s} ({r}, {k}) x{n}" for (w, s, r, k), n in list(places.items())[:20])
        more = f"; +{len(places) - 20} more" if len(places) > 20 else ""
        return (
            f"leak scan found {self.total} raw PII occurrence(s) in {len(places)} place(s): {shown}{more}"
            f" (see `veilflow audit {self.run_id} --explain`)"
        )

    def explain(self) -> list[str]:
        """Per hit: place, rule, match, column, count and the keyed hash to copy into `leak_scan.allow`."""
        lines = [self.summary()]
        for h in self.hits:
            digest = h.value_hash or ("<the PII key itself: cannot be allowed>" if h.source == _KEY_SOURCE else "<no key>")
            lines.append(f"  {h.where}  rule={h.rule} match={h.kind} column={h.source} x{h.count}  value_hash={digest}")
        for a in self.allowed:
            lines.append(f"  allowed {a.hash_prefix}…  column(s)={','.join(a.sources)} x{a.count} in {a.places} place(s)")
        for column, per in sorted(self.not_searchable.items()):
            lines.append(f"  not searchable in {column}: {', '.join(f'{r} {n}' for r, n in sorted(per.items()))}")
        return lines


class LeakIndex:
    """Raw values as token sequences -> entries (column, value), held in memory only; never logged or pickled.

    Values are collected by `add` and classified (searchable or not, allowed or not) when first searched, so the
    policy's settings (`configure`) and the key (`add_secret`) may come in any order.
    """

    def __init__(self, min_length: int = 4, *, min_number_digits: int = 5, stop_common_words: bool = True) -> None:
        self.min_length = min_length
        self.min_number_digits = min_number_digits
        self.stop_common_words = stop_common_words
        self.allow: frozenset[str] = frozenset()
        self.configured = False
        self._raw: dict[tuple[str, str], int | None] = {}
        self._key: bytes | None = None
        self._compiled = False
        self._table: dict[tuple[str, ...], list[int]] = {}
        self._entries: list[tuple[str, str, bool]] = []  # (source, value, allowed)
        self._first: set[str] = set()
        self._lengths: list[int] = []
        self._not_searchable: dict[str, Counter[str]] = {}
        self._hashes: dict[int, str | None] = {}

    def __reduce__(self) -> Any:  # raw values must never be serialized (Prefect results, caches, pickles)
        raise TypeError("a LeakIndex holds raw PII and cannot be pickled")

    def __repr__(self) -> str:
        return f"LeakIndex(values={self.values}, skipped={self.skipped})"

    def configure(self, policy: Any) -> None:
        """Take the policy's minimum length and `leak_scan` settings (min_number_digits, common_words, allow)."""
        self.min_length = policy.min_leak_value_length
        scan = getattr(policy, "leak_scan", None)
        if scan is not None:
            self.min_number_digits = scan.min_number_digits
            self.stop_common_words = scan.common_words
            self.allow = frozenset(scan.allow)
        self.configured = True
        self._compiled = False

    def add(self, source: str, values: Iterable[Any], min_length: int | None = None) -> None:
        """Add distinct raw values of one column (missing values ignored)."""
        raw = self._raw
        for v in values:
            if v is None or (isinstance(v, float) and v != v):
                continue
            raw.setdefault((source, str(v)), min_length)
        self._compiled = False

    def add_secret(self, secret: bytes | str | None) -> None:
        """Add the PII key (as text and as hex) so a logged key is caught like a raw value; it also keys the hashes."""
        if not secret:
            return
        raw = secret if isinstance(secret, bytes) else secret.encode("utf-8")
        self._key = raw
        self.add(_KEY_SOURCE, [raw.decode("utf-8", errors="ignore"), raw.hex()], min_length=1)

    # ----------------------------------------------------------------------------------------- classification

    def _reason(self, source: str, tokens: tuple[str, ...], floor: int | None) -> str | None:
        if not tokens or len("".join(tokens)) < (self.min_length if floor is None else floor):
            return "short"
        if source == _KEY_SOURCE or len(tokens) > 1:
            return None
        tok = tokens[0]
        if tok.isdigit() and len(tok) < self.min_number_digits:
            return "short_number"
        if self.stop_common_words and tok.isalpha() and tok in common_words():
            return "common_word"
        return None

    def compile(self) -> None:
        """Classify the collected values (idempotent).

        Raises:
            ConfigError: `leak_scan.allow` has entries but no PII key was given (the hashes are keyed).
        """
        if self._compiled:
            return
        if self.allow and self._key is None:
            raise ConfigError("the PII policy's leak_scan.allow needs the PII key (its entries are keyed hashes)")
        table: dict[tuple[str, ...], list[int]] = {}
        entries: list[tuple[str, str, bool]] = []
        skipped: dict[str, Counter[str]] = {}
        first: set[str] = set()
        lengths: set[int] = set()
        for (source, value), floor in self._raw.items():
            tokens = tuple(_TOKEN.findall(_norm(value).lower()))
            reason = self._reason(source, tokens, floor)
            if reason is not None:
                skipped.setdefault(source, Counter())[reason] += 1
                continue
            allowed = bool(self.allow) and source != _KEY_SOURCE and leak_value_hash(self._key or b"", value) in self.allow
            table.setdefault(tokens, []).append(len(entries))
            entries.append((source, value, allowed))
            first.add(tokens[0])
            lengths.add(len(tokens))
        self._table, self._entries, self._not_searchable = table, entries, skipped
        self._first, self._lengths = first, sorted(lengths, reverse=True)
        self._hashes = {}
        self._compiled = True

    @property
    def values(self) -> int:
        self.compile()
        return len(self._entries)

    @property
    def skipped(self) -> int:
        self.compile()
        return sum(sum(c.values()) for c in self._not_searchable.values())

    @property
    def not_searchable(self) -> dict[str, dict[str, int]]:
        self.compile()
        return {s: dict(sorted(c.items())) for s, c in sorted(self._not_searchable.items())}

    @property
    def allowed_values(self) -> int:
        """Values of the data that an allow entry names."""
        self.compile()
        return sum(1 for _, _, a in self._entries if a)

    def entry(self, i: int) -> tuple[str, bool]:
        """(source column, allowed) of entry `i`."""
        source, _, allowed = self._entries[i]
        return source, allowed

    def entry_hash(self, i: int) -> str | None:
        """The keyed hash of entry `i`'s value (None for the key itself, or without a key)."""
        if i not in self._hashes:
            source, value, _ = self._entries[i]
            self._hashes[i] = None if source == _KEY_SOURCE or self._key is None else leak_value_hash(self._key, value)
        return self._hashes[i]

    # ----------------------------------------------------------------------------------------------- matching

    def find_entries(self, text: str) -> Counter[tuple[int, str]]:
        """(entry id, kind) -> occurrences in `text`."""
        found: Counter[tuple[int, str]] = Counter()
        self.compile()
        if not text or not self._table:
            return found
        text = _norm(text)
        lower = text.lower()
        first = self._first
        if first.isdisjoint(_TOKEN.findall(lower)):  # most texts: no token can start a raw value
            return found
        matches = list(_TOKEN.finditer(lower))
        tokens = [m.group() for m in matches]
        same_offsets = len(lower) == len(text)
        n, i = len(tokens), 0
        while i < n:
            if tokens[i] not in first:
                i += 1
                continue
            hit = 0
            for length in self._lengths:
                if i + length <= n:
                    ids = self._table.get(tuple(tokens[i : i + length]))
                    if ids:
                        span = text[matches[i].start() : matches[i + length - 1].end()] if same_offsets else None
                        for e in ids:
                            found[(e, self._kind(self._entries[e][1], span, text, lower))] += 1
                        hit = length
                        break
            i += hit or 1
        return found

    @staticmethod
    def _kind(value: str, span: str | None, text: str, lower: str) -> str:
        value = _norm(value)
        if span is None:  # lower-casing changed offsets (rare scripts): judge on the whole text
            return "exact" if value in text else "case_insensitive" if value.lower() in lower else "token_sequence"
        if span == value:
            return "exact"
        return "case_insensitive" if span.lower() == value.lower() else "token_sequence"

    def find(self, text: str) -> Counter[tuple[str, str]]:
        """(source, kind) -> occurrences of raw values in `text` (allowed values left out)."""
        found: Counter[tuple[str, str]] = Counter()
        for (e, kind), n in self.find_entries(text).items():
            source, allowed = self.entry(e)
            if not allowed:
                found[(source, kind)] += n
        return found


def build_leak_index(raw: pd.DataFrame, policy: Any, key: bytes | str | None, extra_columns: Iterable[str] = ()) -> LeakIndex:
    """An index of the raw values of the policy's structured PII columns (and `extra_columns`) plus the key.

    Raises:
        ConfigError: a policy column is missing from the frame.
    """
    index = LeakIndex()
    if policy is not None:
        index.configure(policy)
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


def artifact_pieces(path: Path) -> Iterator[tuple[str, str]]:
    """(rule, text) pieces of one downloaded artifact file, by its format (see `leak_formats`)."""
    return file_pieces(path.name, path.read_bytes())


def artifact_texts(path: Path) -> Iterator[str]:
    """The searchable texts of one downloaded artifact file."""
    for _, text in artifact_pieces(path):
        yield text


class LeakScanner:
    """Counts the indexed values found in named texts; `scan_run` (veilflow.engines.leak_sources) feeds it."""

    def __init__(self, index: LeakIndex) -> None:
        index.compile()
        self.index = index
        self.items: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.bytes = 0
        self.hits: Counter[tuple[str, str, str, int]] = Counter()  # (where, kind, rule, entry) -> n
        self.allowed: Counter[tuple[str, int]] = Counter()  # (where, entry) -> n

    def label(self, kind: str, name: str) -> str:
        """The place name for a report; a name (tag key, artifact path) that itself holds a raw value is withheld
        from the report and its hits are counted there (rule `name`)."""
        if not self.index.find_entries(name):
            return f"{kind}:{name}"
        where = f"{kind}:<name withheld: holds raw PII>"
        self._match(where, name, "name")
        return where

    def scan(self, kind: str, where: str, text: str, rule: str = "token") -> None:
        self.items[kind] += 1
        self._match(where, text, rule)

    def scan_file(self, kind: str, where: str, path: Path) -> None:
        """One downloaded file, read piece by piece under its format's rules; counted as one item."""
        self.items[kind] += 1
        for rule, text in artifact_pieces(path):
            self._match(where, text, rule)

    def _match(self, where: str, text: str, rule: str) -> None:
        self.rules[rule] += 1
        self.bytes += len(text)
        for (e, how), n in self.index.find_entries(text).items():
            if self.index.entry(e)[1]:
                self.allowed[(where, e)] += n
            else:
                self.hits[(where, how, rule, e)] += n

    def hit_list(self) -> list[LeakHit]:
        out = []
        for (where, how, rule, e), n in self.hits.items():
            source, _ = self.index.entry(e)
            out.append(LeakHit(where=where, source=source, kind=how, count=n, rule=rule, value_hash=self.index.entry_hash(e)))
        return sorted(out, key=lambda h: (h.where, h.source, h.kind, h.rule, h.value_hash or ""))

    def allowed_list(self) -> list[AllowedHit]:
        per: dict[str, tuple[set[str], set[str], int]] = {}
        for (where, e), n in self.allowed.items():
            digest = self.index.entry_hash(e) or ""
            sources, places, count = per.get(digest, (set(), set(), 0))
            sources.add(self.index.entry(e)[0])
            places.add(where)
            per[digest] = (sources, places, count + n)
        return [
            AllowedHit(hash_prefix=d[:HASH_PREFIX], sources=sorted(s), places=len(p), count=c)
            for d, (s, p, c) in sorted(per.items())
        ]


def scan_texts(texts: Mapping[str, str], index: LeakIndex) -> list[LeakHit]:
    """Scan named texts (e.g. a forget log's lines) for the indexed values."""
    scanner = LeakScanner(index)
    for name, text in texts.items():
        scanner.scan("text", name, text)
    return scanner.hit_list()
