"""The leak guard: search an anonymized frame for raw PII values and e-mail, phone, card and SSN patterns that survived."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter

import pandas as pd
from pydantic import Field, computed_field

from veilflow.core.errors import ConfigError, PiiLeakError
from veilflow.tasks.privacy.known_values import TOKEN, as_str, known_value_index
from veilflow.tasks.privacy.luhn import luhn_valid
from veilflow.tasks.privacy.policy import FrozenModel, PiiPolicy

log = logging.getLogger(__name__)

_DIGIT = re.compile(r"\d")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_SSN_RE = re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])")
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.\-]?)?(?:\(\d{3}\)|\d{3})[\s.\-]?\d{3}[\s.\-]?\d{4}(?!\w)"  # North American formats
    r"|(?<![\w+])\+\d{1,3}(?:[\s.\-]?\(?\d{1,4}\)?){2,5}(?!\w)"  # international "+CC ..." formats
)
_CARD_RE = re.compile(r"(?<!\w)(?:\d[ \-]?){12,18}\d(?!\w)")
# A cheap superset of the four patterns (each starts at a non-alphanumeric boundary with a digit,
# "(" or "+", and is at least 8 characters of digits and separators): only cells it finds reach
# `_pattern_hits`, so hex pseudonyms are skipped at regex-engine speed.
_PATTERN_PREFILTER = re.compile(r"@|(?<![A-Za-z0-9])[\d(+][\d\s().+\-]{6,}\d(?![A-Za-z0-9])")


def _pattern_hits(text: str) -> Counter[str]:
    hits: Counter[str] = Counter()
    if "@" in text:
        hits["EMAIL_ADDRESS"] += len(_EMAIL_RE.findall(text))
    if len(_DIGIT.findall(text)) >= 7:
        hits["US_SSN"] += sum(1 for _ in _SSN_RE.finditer(text))
        for m in _PHONE_RE.finditer(text):
            n = len(_DIGIT.findall(m.group()))
            if 10 <= n <= 15 or (m.group().startswith("+") and 8 <= n <= 15):
                hits["PHONE_NUMBER"] += 1
        for m in _CARD_RE.finditer(text):
            digits = "".join(_DIGIT.findall(m.group()))
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                hits["CREDIT_CARD"] += 1
    return +hits


class LeakReport(FrozenModel):
    """What survived anonymization, by column and kind: counts only, never values."""

    policy: str
    rows: int
    columns_scanned: list[str]
    raw_values_checked: int = Field(description="distinct raw values from structured PII columns searched for")
    min_value_length: int
    short_values_skipped: dict[str, int] = Field(
        description="per PII column, distinct raw values shorter than min_value_length that were not searched for"
    )
    value_leaks: dict[str, dict[str, int]] = Field(description="anonymized column -> source PII column -> occurrences")
    pattern_leaks: dict[str, dict[str, int]] = Field(description="anonymized column -> pattern kind -> occurrences")
    seconds: float

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property; pydantic documents this ignore for computed_field
    @property
    def total(self) -> int:
        return sum(sum(v.values()) for v in self.value_leaks.values()) + sum(sum(v.values()) for v in self.pattern_leaks.values())


def check_leaks(raw_df: pd.DataFrame, anon_df: pd.DataFrame, policy: PiiPolicy) -> LeakReport:
    """Search the anonymized frame for any raw value of the policy's structured PII columns and
    for e-mail, phone, credit-card (Luhn) and SSN patterns.

    Raw values are matched case-insensitively as whole token sequences (punctuation-insensitive)
    in every text-like column, including inside free text; in numeric columns a cell leaks when it
    equals a raw value. Raw values shorter than `policy.min_leak_value_length` are skipped and counted.

    Raises:
        ConfigError: a policy column is missing from the raw frame.
    """
    started = time.perf_counter()
    if not isinstance(raw_df, pd.DataFrame) or not isinstance(anon_df, pd.DataFrame):
        raise TypeError("check_leaks expects two pandas DataFrames")
    missing = [c for c in policy.columns if c not in raw_df.columns]
    if missing:
        raise ConfigError(f"leak guard: PII policy '{policy.dataset}' column(s) missing from the raw frame: {', '.join(missing)}")
    index = known_value_index(raw_df, policy)
    value_leaks: dict[str, dict[str, int]] = {}
    pattern_leaks: dict[str, dict[str, int]] = {}
    scanned: list[str] = []
    for column in anon_df.columns:
        series = anon_df[column]
        scanned.append(str(column))
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            # A number leaks only as a whole cell equal to a raw value (digits inside other numbers are noise).
            found: Counter[str] = Counter()
            for v, n in as_str(series).dropna().value_counts(sort=False).items():
                sources = index.table.get(tuple(TOKEN.findall(v.lower())))
                if sources:
                    found[sorted(sources)[0]] += int(n)
            if found:
                value_leaks[str(column)] = dict(sorted(found.items()))
            continue
        counts = as_str(series).dropna().value_counts(sort=False)
        values: Counter[str] = Counter()
        patterns: Counter[str] = Counter()
        prefilter = _PATTERN_PREFILTER.search
        for text, n in zip(counts.index.tolist(), counts.tolist()):
            for _, _, sources in index.find(text, overlapping=False):
                values[sorted(sources)[0]] += n
            if prefilter(text):
                for kind, k in _pattern_hits(text).items():
                    patterns[kind] += k * n
        if values:
            value_leaks[str(column)] = dict(sorted(values.items()))
        if patterns:
            pattern_leaks[str(column)] = dict(sorted(patterns.items()))
    skipped = {c: n for c, n in index.skipped.items() if n}
    if skipped:
        log.info(
            "leak guard: %d raw values shorter than %d characters were not searched for",
            sum(skipped.values()),
            policy.min_leak_value_length,
        )
    report = LeakReport(
        policy=policy.dataset,
        rows=len(anon_df),
        columns_scanned=scanned,
        raw_values_checked=index.checked,
        min_value_length=policy.min_leak_value_length,
        short_values_skipped=skipped,
        value_leaks=value_leaks,
        pattern_leaks=pattern_leaks,
        seconds=round(time.perf_counter() - started, 4),
    )
    log.info("leak guard: %d leaks in %d columns scanned (%.2f s)", report.total, len(scanned), report.seconds)
    return report


def enforce_no_leaks(report: LeakReport, tolerance: int = 0) -> None:
    """Raise when more leaks than `tolerance` were found.

    Raises:
        PiiLeakError: one line with counts per column and kind (never values).
        ValueError: a negative tolerance.
    """
    if tolerance < 0:
        raise ValueError(f"leak tolerance must be >= 0, got {tolerance}")
    if report.total <= tolerance:
        return
    parts = [f"{col}<-{src}={n}" for col, d in report.value_leaks.items() for src, n in d.items()]
    parts += [f"{col}/{kind}={n}" for col, d in report.pattern_leaks.items() for kind, n in d.items()]
    raise PiiLeakError(
        f"PII leak guard failed for '{report.policy}': {report.total} leak(s) over tolerance {tolerance} ({'; '.join(parts)})"
    )
