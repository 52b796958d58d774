"""Applying a PII policy to a frame: structured column operators, batched Presidio text redaction, and the audit."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, computed_field

from veilflow.core.errors import ConfigError, DataValidationError
from veilflow.tasks.privacy.detection import detect_spans
from veilflow.tasks.privacy.known_values import ValueIndex, as_str, known_value_index
from veilflow.tasks.privacy.policy import (
    LANGUAGE,
    ColumnRule,
    FrozenModel,
    PiiPolicy,
    TextRule,
    validate_policy_against,
)
from veilflow.tasks.privacy.pseudonyms import check_key, encrypt_values, pseudonym

if TYPE_CHECKING:  # Presidio is imported lazily: tldextract must not be imported before it is told to stay offline.
    from presidio_analyzer import AnalyzerEngine

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- audit


class ColumnAudit(FrozenModel):
    """What was done to one column: counts only, never values."""

    kind: Literal["structured", "text"]
    operator: str
    entities: dict[str, int] = Field(description="entity type -> number found (structured: non-null values)")
    output_column: str | None = Field(description="where the result went; None when the column was dropped")
    unparsed: int = Field(
        default=0, description="values the operator could not parse or place, e.g. a future birth date (written as missing)"
    )
    known_value_spans: int = Field(default=0, description="text spans matched from the structured columns' raw values")
    texts_analyzed: int = Field(default=0, description="distinct texts sent to the analyzer")
    values_changed: int = Field(default=0, description="distinct texts with at least one span replaced")

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property; pydantic documents this ignore for computed_field
    @property
    def changed_share(self) -> float:
        """Share of the distinct texts analyzed that were changed (over-masking shows up here); 0 without texts."""
        return round(self.values_changed / self.texts_analyzed, 4) if self.texts_analyzed else 0.0


class PiiAudit(FrozenModel):
    """The anonymization audit logged with every run."""

    policy: str
    engine: str
    rows: int
    seconds: float
    columns: dict[str, ColumnAudit]
    entities_not_detectable: list[str] = Field(
        default_factory=list, description="policy text entities the analyzer has no recognizer for"
    )

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property; pydantic documents this ignore for computed_field
    @property
    def total_found(self) -> int:
        return sum(sum(c.entities.values()) for c in self.columns.values())


def engine_label(analyzer: Any) -> str:
    """The model name behind an analyzer, or `"pattern-only"`."""
    engine = analyzer.nlp_engine
    label = getattr(engine, "label", "")
    if label:
        return str(label)
    models = getattr(engine, "models", None) or [{}]
    return str(models[0].get("model_name", type(engine).__name__))


# --------------------------------------------------------------------------- structured operators


def _map_unique(series: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """Apply `fn` once per distinct non-missing value (pseudonyms repeat, so this is most of the speed)."""
    s = as_str(series)
    uniques = pd.unique(s.dropna())
    mapping = {u: fn(u) for u in uniques}
    return s.map(mapping, na_action="ignore").astype("str")


def _age_bands(dates: pd.Series, reference: date, width: int, top: int) -> pd.Series:
    ref = pd.Timestamp(reference)
    before_birthday = (ref.month * 100 + ref.day) < (dates.dt.month * 100 + dates.dt.day)
    age = ref.year - dates.dt.year - before_birthday.astype("float64")
    age = age.where(age >= 0)  # a birth date after the reference date is not an age
    low = (age // width) * width
    labels = [
        (None if np.isnan(a) else (f"{top}+" if a >= top else f"{int(lo)}-{int(min(lo + width - 1, top - 1))}"))
        for a, lo in zip(age.to_numpy(dtype="float64"), low.to_numpy(dtype="float64"))
    ]
    return pd.Series(labels, index=dates.index, dtype="str")


def parse_dates(series: pd.Series, formats: list[str]) -> pd.Series:
    """Dates from a column: each value by the first of `formats` (strptime) that reads it; no formats: ISO 8601.

    Values no format reads become NaT (counted by the caller, never shown). Native datetimes pass through.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series)
    if not formats:
        return pd.to_datetime(series, errors="coerce", format="ISO8601")
    text = series.where(series.isna(), series.astype("str").str.strip())
    parsed = pd.to_datetime(text, errors="coerce", format=formats[0])
    for fmt in formats[1:]:
        todo = parsed.isna() & text.notna()
        if not todo.any():
            break
        parsed = parsed.where(~todo, pd.to_datetime(text.where(todo), errors="coerce", format=fmt))
    return parsed


def format_label(formats: list[str]) -> str:
    """How a date column's formats are named in messages."""
    return " or ".join(f"'{f}'" for f in formats) if formats else "ISO 8601"


def check_unparsed(column: str, unparsed: int, non_null: int, formats: list[str], limit: float) -> None:
    """Fail when a date operator left more than `limit` of a column's non-null values unparsed.

    A broken date column must never become a silent all-null feature (and then a promoted model).

    Raises:
        DataValidationError: one line naming the column, the share, the limit and the format(s), never a value.
    """
    if non_null == 0 or unparsed == 0:
        return
    share = unparsed / non_null
    if share > limit:
        raise DataValidationError(
            f"date column '{column}': {unparsed} of {non_null} non-null value(s) ({share:.1%}) do not parse as "
            f"{format_label(formats)}, over the max_unparsed_share of {limit:.1%} (set date_format / date_formats "
            "in the PII policy's column entry)"
        )


def _apply_column_rule(
    name: str, series: pd.Series, rule: ColumnRule, policy: PiiPolicy, key: bytes | None, unparsed_limit: bool = True
) -> tuple[str | None, pd.Series | None, ColumnAudit]:
    """Transform one structured column; returns (output name or None when dropped, values, audit)."""
    params = rule.parsed_params()
    found = int(series.notna().sum())
    unparsed = 0
    out_name: str | None = name
    op = rule.operator
    if op == "drop":
        out_name, values = None, None
    elif op == "replace":
        tag = params.new_value if params.new_value is not None else f"<{rule.entity}>"
        values = as_str(series).where(series.isna(), tag)
    elif op == "mask":
        s = as_str(series)
        values = s.str.replace(rf"(?s).(?=.{{{params.keep_last}}})", params.char, regex=True)
    elif op == "hash":
        assert key is not None  # checked before any data is touched
        values = _map_unique(series, lambda v: pseudonym(key, v))
    elif op == "encrypt":
        assert key is not None
        values = encrypt_values(series, key)
    elif op == "generalize":
        parsed = parse_dates(series, rule.formats)
        unparsed = int((parsed.isna() & series.notna()).sum())
        if unparsed_limit:
            check_unparsed(name, unparsed, int(series.notna().sum()), rule.formats, policy.unparsed_limit(name))
        if params.granularity == "year":
            years = parsed.dt.year.to_numpy(dtype="float64")
            values = pd.Series([None if np.isnan(y) else str(int(y)) for y in years], index=series.index, dtype="str")
        else:
            assert policy.reference_date is not None  # enforced by the policy model
            values = _age_bands(parsed, policy.reference_date, params.band_width, params.top_age)
            unparsed += int((values.isna() & parsed.notna()).sum())
        out_name = params.output_column or name
    elif op == "truncate":
        values = as_str(series).str.slice(0, params.keep_first)
    else:  # pragma: no cover - the policy model rejects unknown operators
        raise ConfigError(f"unknown operator '{op}' for column '{name}'")
    audit = ColumnAudit(kind="structured", operator=op, entities={rule.entity: found}, output_column=out_name, unparsed=unparsed)
    return out_name, values, audit


# --------------------------------------------------------------------------- free text

_Span = tuple[int, int, str, float]


def _resolve_spans(text: str, spans: list[_Span]) -> list[tuple[int, int, str]]:
    """Merge overlapping spans into one (labelled by the most confident, then longest), then join
    same-label neighbours separated only by whitespace, so no part of a detected value survives."""
    if not spans:
        return []
    ordered = sorted(spans, key=lambda s: (s[0], -s[1]))
    merged: list[list[Any]] = []
    for start, end, label, score in ordered:
        if merged and start < merged[-1][1]:
            cur = merged[-1]
            cur[1] = max(cur[1], end)
            if (score, end - start) > (cur[3], cur[4]):
                cur[2], cur[3], cur[4] = label, score, end - start
        else:
            merged.append([start, end, label, score, end - start])
    joined: list[tuple[int, int, str]] = []
    for start, end, label, _, _ in merged:
        if joined and joined[-1][2] == label and not text[joined[-1][1] : start].strip():
            joined[-1] = (joined[-1][0], end, label)
        else:
            joined.append((start, end, label))
    return joined


def _replace_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    pieces, pos = [], 0
    for start, end, label in spans:
        pieces.append(text[pos:start])
        pieces.append(f"<{label}>")
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def _redact_text_column(
    series: pd.Series,
    rule: TextRule,
    analyzer: Any,
    entities: list[str],
    known: ValueIndex | None,
    column_entity: dict[str, str],
    batch_size: int,
    n_process: int,
) -> tuple[pd.Series, ColumnAudit]:
    s = as_str(series)
    occurrences = s.dropna().value_counts(sort=False)
    distinct = occurrences.index.tolist()
    texts = [t for t in distinct if t.strip()]
    if entities:
        # The same detection `veilflow.detect` runs; the column's repeats are its category evidence.
        found = detect_spans(
            texts,
            analyzer,
            entities,
            rule.score_threshold,
            batch_size,
            n_process,
            repeats=[int(occurrences[t]) for t in texts],
            category_min_rows=rule.category_min_rows,
        )
        detected: list[list[_Span]] = [[(x.start, x.end, x.entity, x.score) for x in spans] for spans in found]
    else:
        detected = [[] for _ in texts]
    counts: Counter[str] = Counter()
    known_spans = 0
    changed = 0
    mapping: dict[str, str] = {t: t for t in distinct}  # blank texts stay as they are
    for text, spans in zip(texts, detected):
        if known is not None and rule.redact_known_values:
            extra = [(a, b, column_entity[sorted(src)[0]], 1.0) for a, b, src in known.find(text)]
            known_spans += len(extra) * int(occurrences[text])
            spans = spans + extra
        final = _resolve_spans(text, spans)
        mapping[text] = _replace_spans(text, final) if final else text
        changed += bool(final)
        weight = int(occurrences[text])
        for _, _, label in final:
            counts[label] += weight
    values = s.map(mapping, na_action="ignore").astype("str")
    audit = ColumnAudit(
        kind="text",
        operator=rule.operator,
        entities=dict(sorted(counts.items())),
        output_column=str(series.name),
        known_value_spans=known_spans,
        texts_analyzed=len(texts),
        values_changed=changed,
    )
    if texts and audit.changed_share > rule.warn_changed_share:
        log.warning(
            "text column %s: %d of %d distinct values changed (share %.2f > %.2f): possible over-masking",
            series.name,
            changed,
            len(texts),
            audit.changed_share,
            rule.warn_changed_share,
        )
    return values, audit


# --------------------------------------------------------------------------- the engine


def anonymize_frame(
    df: pd.DataFrame,
    policy: PiiPolicy,
    analyzer: AnalyzerEngine | None,
    key: bytes | str | None,
    batch_size: int = 256,
    n_process: int = 1,
    unparsed_limit: bool = True,
) -> tuple[pd.DataFrame, PiiAudit]:
    """Apply a PII policy: structured columns by vectorized operators, free text through Presidio.

    Args:
        df: the raw frame (never mutated).
        policy: the dataset's PII policy.
        analyzer: from `build_analyzer`; needed only when the policy has text columns.
        key: the pseudonymization/encryption key (>= 16 bytes); needed for `hash`/`encrypt`.
        batch_size: texts per spaCy `nlp.pipe` batch.
        n_process: worker processes for free-text analysis (forked; 1 = in process).
        unparsed_limit: enforce the policy's `max_unparsed_share` on date columns (training data). Scoring
            and serving pass False: a record's unparsable date becomes a null output (imputed by the model, as
            a missing date was in training) and is counted in the audit, instead of failing the batch.

    Returns:
        The anonymized frame (same row index; dropped columns gone, generalized ones renamed) and
        the audit (counts per column and entity type, operators, engine, rows, seconds).

    Raises:
        MissingKeyError: the policy needs a key and none was given (before any data is read).
        ConfigError: a weak key, a policy column missing from the frame, or no analyzer for text columns.
    """
    started = time.perf_counter()
    raw_key = check_key(key, policy)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"anonymize_frame expects a pandas DataFrame, got {type(df).__name__}")
    if batch_size < 1 or n_process < 1:
        raise ValueError(f"batch_size and n_process must be >= 1, got {batch_size} and {n_process}")
    validate_policy_against(policy, df.columns)
    if policy.text_columns and analyzer is None:
        raise ConfigError(f"PII policy '{policy.dataset}' has text columns but no analyzer was given")

    engine = engine_label(analyzer) if analyzer is not None else "none"
    not_detectable: list[str] = []
    text_entities: dict[str, list[str]] = {}
    if policy.text_columns:
        assert analyzer is not None
        supported = set(analyzer.get_supported_entities(LANGUAGE))
        for column, rule in policy.text_columns.items():
            text_entities[column] = [e for e in rule.entities if e in supported]
            not_detectable += [e for e in rule.entities if e not in supported and e not in not_detectable]
        if not_detectable:
            log.warning("the analyzer cannot detect %s in free text (engine: %s)", ", ".join(not_detectable), engine)

    known = None
    if any(r.redact_known_values for r in policy.text_columns.values()):
        known = known_value_index(df, policy)
    column_entity = {c: r.entity for c, r in policy.columns.items()}

    out: dict[str, pd.Series] = {}
    audits: dict[str, ColumnAudit] = {}
    for column in df.columns:
        if column in policy.columns:
            name, values, column_audit = _apply_column_rule(
                column, df[column], policy.columns[column], policy, raw_key, unparsed_limit
            )
            audits[column] = column_audit
            if name is not None and values is not None:
                out[name] = values
        elif column in policy.text_columns:
            rule = policy.text_columns[column]
            values, column_audit = _redact_text_column(
                df[column], rule, analyzer, text_entities[column], known, column_entity, batch_size, n_process
            )
            out[column] = values
            audits[column] = column_audit
        else:
            out[column] = df[column].copy()
    result = pd.DataFrame(out, index=df.index.copy())
    audit = PiiAudit(
        policy=policy.dataset,
        engine=engine,
        rows=len(df),
        seconds=round(time.perf_counter() - started, 4),
        columns=audits,
        entities_not_detectable=not_detectable,
    )
    log.info(
        "anonymized %d rows: %d columns transformed, %d entities, engine %s, %.2f s",
        audit.rows,
        len(audits),
        audit.total_found,
        engine,
        audit.seconds,
    )
    return result, audit
