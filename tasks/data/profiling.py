"""Profiling a sample of a new dataset for `veilflow init`: each column's role, with the reasons and the guesses to review.

Pure functions over a bounded sample. Nothing here returns or logs a raw cell value, except the value sets of
categorical columns that are not PII and whose every value occurs in at least `min_category_rows` rows.
PII evidence from Presidio is computed by the caller (the analyzer lives behind `veilflow.engines`) and handed
in as counts per column and entity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from veilflow.core.errors import DataLoadError
from veilflow.tasks.data.column_signals import (
    _BIRTH_NAME,
    _ID_NAME,
    _SEX_VALUES,
    DATE_MIN_SHARE,
    ISO_FORMATS,
    Task,
    _kind,
    _tokens,
    detect_date_format,
    find_label,
    infer_task,
    is_sensitive_name,
    nice_bounds,
    pii_name_hint,
)

Role = Literal["identifier", "subject", "label", "numeric", "categorical", "date", "text", "pii", "sensitive", "ignored"]

MIN_CATEGORY_ROWS = 5  # a value set is written only when every value occurs in at least this many rows
MAX_CATEGORIES = 50


# What each structured PII entity becomes (the operator and why).
PII_OPERATORS: dict[str, tuple[str, str]] = {
    "PERSON": ("drop", "a name identifies a person directly and is no model feature"),
    "EMAIL_ADDRESS": ("hash", "keyed pseudonym: rows of one person stay linkable, the address is gone"),
    "PHONE_NUMBER": ("hash", "keyed pseudonym: rows of one person stay linkable, the number is gone"),
    "US_SSN": ("drop", "a national id number is never needed downstream"),
    "CREDIT_CARD": ("drop", "a card number is never needed downstream"),
    "IBAN_CODE": ("drop", "an account number is never needed downstream"),
    "IP_ADDRESS": ("hash", "keyed pseudonym: sessions stay linkable, the address is gone"),
    "STREET_ADDRESS": ("drop", "a street address identifies a household directly"),
    "ZIP_CODE": ("truncate", "the 3-character prefix keeps the region, not the neighbourhood"),
    "LOCATION": ("drop", "a precise place is a quasi-identifier"),
    "USERNAME": ("hash", "keyed pseudonym: the handle is gone, its rows stay linkable"),
}


@dataclass(frozen=True)
class ColumnProfile:
    """One column's inferred role, with derived facts that are safe to write (counts, bounds, safe value sets)."""

    name: str
    role: Role
    kind: Literal["numeric", "integer", "boolean", "string", "datetime", "empty"]
    non_null: int
    nulls: int
    distinct: int
    reasons: tuple[str, ...] = ()
    review: tuple[str, ...] = ()
    entity: str | None = None
    operator: str | None = None
    date_format: str | None = None  # the strptime format that parsed most values; None for ISO / native dates
    birth_date: bool = False
    output_column: str | None = None  # where a generalised date goes (age band / year)
    bounds: tuple[float, float] | None = None  # rounded outward beyond the observed min and max
    value_set: tuple[Any, ...] | None = None  # only for non-PII categories whose every value occurs >= k rows
    sensitive: bool = False
    feature: bool = False


@dataclass(frozen=True)
class DatasetProfile:
    """The whole sample's profile: one `ColumnProfile` per column, the label, the task and the key columns."""

    rows: int
    columns: tuple[ColumnProfile, ...]
    label: str
    task: Task
    task_reason: str
    id_column: str
    subject_column: str | None
    encoding: str
    classes: int | None
    quasi_identifiers: tuple[str, ...] = ()
    share_below_k: float | None = None
    notes: tuple[str, ...] = field(default=())

    def by_role(self, *roles: str) -> list[ColumnProfile]:
        return [c for c in self.columns if c.role in roles]

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- roles


def _value_set(s: pd.Series, k: int) -> tuple[Any, ...] | None:
    counts = s.dropna().value_counts()
    if counts.empty or len(counts) > MAX_CATEGORIES or int(counts.min()) < k:
        return None
    values = [v.item() if hasattr(v, "item") else v for v in counts.index]
    return tuple(sorted(values, key=str))


def _bounds(s: pd.Series) -> tuple[float, float] | None:
    values = s.dropna().to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    return nice_bounds(float(values.min()), float(values.max())) if len(values) else None


def _looks_like_row_number(s: pd.Series) -> bool:
    values = np.sort(s.dropna().to_numpy(dtype="float64"))
    return len(values) > 1 and bool(np.all(np.diff(values) == 1))


def _pii_from_evidence(evidence: dict[str, int], sampled: int) -> tuple[str | None, int]:
    if not evidence or not sampled:
        return None, 0
    entity, hits = max(evidence.items(), key=lambda kv: kv[1])
    return entity, hits


def profile_column(
    s: pd.Series,
    rows: int,
    evidence: dict[str, int] | None = None,
    sampled: int = 0,
    k: int = MIN_CATEGORY_ROWS,
) -> ColumnProfile:
    """The role of one non-label column, from its values (counts only kept), its name and Presidio's evidence.

    Args:
        s: the column (sample).
        rows: rows in the sample.
        evidence: distinct sampled values per entity that Presidio found covering (most of) the value.
        sampled: distinct values that were analysed.
        k: minimum rows per value for a value set.
    """
    name = str(s.name)
    kind = _kind(s)
    non_null = int(s.notna().sum())
    nulls = rows - non_null
    distinct = int(s.nunique(dropna=True))
    base: dict[str, Any] = {"name": name, "kind": kind, "non_null": non_null, "nulls": nulls, "distinct": distinct}
    unique = non_null == rows and distinct == rows and rows > 1
    id_name = _ID_NAME.search(_tokens(name)) is not None
    hint = pii_name_hint(name)
    entity, hits = _pii_from_evidence(evidence or {}, sampled)
    share = hits / sampled if sampled else 0.0

    if kind == "empty" or distinct <= 1:
        why = "every sampled value is missing" if kind == "empty" else "one value in every sampled row"
        return ColumnProfile(**base, role="ignored", reasons=(f"{why}: carries no signal, dropped at load",))

    # Identifiers: unique per row with an id-like name or a row-number shape; a person id that repeats is a subject.
    if unique and kind not in {"numeric", "datetime"} and (id_name or (kind == "integer" and _looks_like_row_number(s))):
        why = "unique in every sampled row" + (" and named like an id" if id_name else ", consecutive integers (a row number)")
        id_review: tuple[str, ...] = () if id_name else ("a row-number-like column was taken as the record id",)
        return ColumnProfile(**base, role="identifier", entity="RECORD_ID", operator="hash", reasons=(why,), review=id_review)
    if id_name and kind in {"integer", "string"} and distinct >= 0.5 * non_null and hint is None:
        return ColumnProfile(
            **base,
            role="subject",
            entity="PERSON_ID",
            operator="hash",
            reasons=(f"named like an id, {distinct} distinct values in {non_null} rows: the same person or entity recurs",),
            review=("taken as the subject column (whose rows `veilflow forget` finds); check it names a person",),
        )

    # Dates (text that parses as dates, or native datetimes).
    if kind in {"string", "datetime"} and (hint is None or _BIRTH_NAME.search(name)):
        fmt, parsed_share, ambiguous = (None, 1.0, False) if kind == "datetime" else detect_date_format(s)
        if kind == "datetime" or (fmt is not None and parsed_share >= DATE_MIN_SHARE):
            birth = _BIRTH_NAME.search(_tokens(name)) is not None
            review: list[str] = []
            if ambiguous:
                review.append(f"several date formats parse as many values; {fmt} was picked")
            if not birth:
                review.append("an event date: generalised to its year (a quasi-identifier); drop it if it means nothing")
            reasons = [
                "native datetime column"
                if kind == "datetime"
                else f"{parsed_share:.0%} of non-null values parse as dates with format {fmt}"
            ]
            reasons.append("named like a date of birth: becomes an age band" if birth else "kept as a year")
            return ColumnProfile(
                **base,
                role="date",
                entity="DATE_OF_BIRTH" if birth else "DATE_TIME",
                operator="generalize",
                date_format=None if fmt is None or fmt in ISO_FORMATS else fmt,
                birth_date=birth,
                reasons=tuple(reasons),
                review=tuple(review),
            )

    if kind == "string":
        text = s.dropna().astype(str)
        mean_len = float(text.str.len().mean())
        mean_spaces = float(text.str.count(" ").mean())
        repeated = _value_set(s, k) is not None
        # Structured PII: by Presidio over sampled values, and/or by the column name.
        value_pii = entity is not None and share >= 0.5 and not (entity in {"PERSON", "LOCATION"} and repeated)
        if hint is not None or value_pii:
            ent = hint if hint is not None else entity
            assert ent is not None
            operator, why = PII_OPERATORS.get(ent, ("drop", "personal data with no safer transform"))
            reasons = [f"{why}"]
            review_pii: list[str] = []
            evidence_txt = f"Presidio found {entity} in {hits} of {sampled} sampled distinct values" if entity else ""
            if hint is not None:
                reasons.insert(0, f"the column name suggests {ent}" + (f"; {evidence_txt}" if evidence_txt else ""))
                if not entity or share < 0.5:
                    review_pii.append(f"{ent} guessed from the column name (Presidio confirmed {hits} of {sampled} values)")
            else:
                reasons.insert(0, evidence_txt)
                review_pii.append(f"{ent} found by Presidio in the values, not the name")
            return ColumnProfile(
                **base, role="pii", entity=ent, operator=operator, reasons=tuple(reasons), review=tuple(review_pii)
            )
        if mean_len >= 30 or (mean_spaces >= 3 and distinct >= 0.5 * non_null):
            return ColumnProfile(
                **base,
                role="text",
                reasons=(
                    f"free text: {distinct} distinct values in {non_null} rows, about {mean_len:.0f} characters and "
                    f"{mean_spaces:.1f} spaces each; PII spans are replaced by entity tags",
                ),
            )
        if distinct > MAX_CATEGORIES and distinct >= 0.9 * non_null:
            return ColumnProfile(
                **base,
                role="identifier",
                entity="RECORD_ID",
                operator="hash",
                reasons=(f"short text, {distinct} distinct values in {non_null} rows: a code or key, not a category",),
                review=("taken as a key and hashed (not a feature)",),
            )

    sensitive_by_name = is_sensitive_name(name)
    sensitive_by_values = (
        kind == "string" and distinct <= 5 and {str(v).strip().lower() for v in s.dropna().unique()} <= _SEX_VALUES
    )
    if (sensitive_by_name or sensitive_by_values) and (kind in {"string", "boolean"} or distinct <= 20):
        why = "named like a protected attribute" if sensitive_by_name else "values look like sex / gender codes"
        return ColumnProfile(
            **base,
            role="sensitive",
            sensitive=True,
            value_set=_value_set(s, k),
            reasons=(f"{why}: kept for fairness slices, never a feature",),
            review=() if sensitive_by_name else ("a sensitive attribute guessed from the values",),
        )

    if kind == "integer" and hint is not None and hint not in {"PERSON", "USERNAME"}:
        # Phone numbers, SSNs, card numbers and zip codes exported as numbers are still personal data.
        operator, why = PII_OPERATORS.get(hint, ("drop", "personal data with no safer transform"))
        return ColumnProfile(
            **base,
            role="pii",
            entity=hint,
            operator=operator,
            reasons=(f"the column name suggests {hint} (stored as numbers)", why),
            review=(f"{hint} guessed from the name of a numeric column",),
        )

    if kind in {"numeric", "integer"}:
        review_num = []
        reasons_num = [f"{'integer' if kind == 'integer' else 'numeric'}, {distinct} distinct values"]
        if sensitive_by_name:
            review_num.append("named like a protected attribute but numeric: used as a feature, not sliced")
        if id_name:
            review_num.append("named like an id but neither unique nor a person key: used as a numeric feature")
        return ColumnProfile(
            **base, role="numeric", feature=True, bounds=_bounds(s), reasons=tuple(reasons_num), review=tuple(review_num)
        )

    value_set = _value_set(s, k)
    reasons_cat = [f"{distinct} distinct values"]
    review_cat: list[str] = []
    if value_set is None:
        reasons_cat.append(f"some values occur in fewer than {k} sampled rows (or over {MAX_CATEGORIES} values): no value set")
    if entity is not None and hits:
        # Possibly personal (e.g. a doctor's name on many rows): its values are never written as a value set.
        review_cat.append(
            f"Presidio tagged {hits} of {sampled} sampled values as {entity}; kept as a category with no value set "
            "(add it to the PII policy if it names people or places)"
        )
        value_set = None
    if id_name:
        review_cat.append("named like an id but few distinct values: used as a category")
    return ColumnProfile(
        **base, role="categorical", feature=True, value_set=value_set, reasons=tuple(reasons_cat), review=tuple(review_cat)
    )


_PERSON_KEY = re.compile(
    r"(?:^|_)(?:subject|patient|person|customer|client|user|member|employee|student|participant|individual|citizen|"
    r"passenger|applicant|account|contact|people)(?:_|$)",
    re.I,
)


def _age_band_values(parsed: pd.Series, reference: date, width: int = 10, top: int = 80) -> pd.Series:
    age = reference.year - parsed.dt.year - ((reference.month * 100 + reference.day) < (parsed.dt.month * 100 + parsed.dt.day))
    age = age.where(age >= 0)
    band = (age // width) * width
    return band.where(band < top, top)


def share_below_k(frame: pd.DataFrame, columns: list[str], k: int) -> float:
    """Share of rows whose combination of `columns` (missing values count as a value) occurs in fewer than k rows."""
    if not columns or frame.empty:
        return 0.0
    sizes = frame[columns].astype(str).groupby(columns, dropna=False)[columns[0]].transform("size")
    return float((sizes < k).mean())


def _derived_qi(frame: pd.DataFrame, col: ColumnProfile, reference: date) -> pd.Series:
    """The values a generalised column takes after anonymization (age band, year, zip prefix), for the risk estimate."""
    s = frame[col.name]
    if col.role == "date":
        if pd.api.types.is_datetime64_any_dtype(s):
            parsed = s
        elif col.date_format:
            parsed = pd.to_datetime(s, format=col.date_format, errors="coerce")
        else:
            parsed = pd.to_datetime(s, format="ISO8601", errors="coerce")
        return _age_band_values(parsed, reference) if col.birth_date else parsed.dt.year
    if col.entity == "ZIP_CODE":
        return s.astype(str).str.slice(0, 3)
    return s


def profile_frame(
    frame: pd.DataFrame,
    label: str | None = None,
    task: str = "auto",
    id_column: str | None = None,
    evidence: dict[str, dict[str, int]] | None = None,
    sampled: dict[str, int] | None = None,
    encoding: str = "utf-8",
    reference: date | None = None,
    k: int = MIN_CATEGORY_ROWS,
) -> DatasetProfile:
    """Infer every column's role in a sample, the label's task, the row id, the subject and the quasi-identifiers.

    Args:
        frame: the sample (never mutated).
        label: the label column, or None to find the one named like a label.
        task: "auto", "binary", "multiclass" or "regression".
        id_column: the row id, or None to infer it.
        evidence: per column, Presidio's hits per entity over the sampled distinct values (from the caller).
        sampled: per column, how many distinct values were analysed.
        encoding: the file's text encoding (recorded in the profile).
        reference: the date ages are computed on (the policy's reference_date); default today.
        k: rows each value must reach for a value set, and the k of the re-identification estimate.

    Raises:
        DataLoadError: no label, a label unfit for the task, or no row id.
    """
    if frame.empty or frame.shape[1] == 0:
        raise DataLoadError("the sample has no rows or no columns")
    reference = reference or date.today()
    rows = len(frame)
    columns = [str(c) for c in frame.columns]
    label_name = find_label(columns, label)
    inferred_task, task_reason, classes = infer_task(frame[label_name], task)
    if id_column is not None and id_column not in columns:
        raise DataLoadError(f"--id '{id_column}' is not a column of the file")
    evidence, sampled = evidence or {}, sampled or {}

    profiles: list[ColumnProfile] = []
    for col in columns:
        if col == label_name:
            s = frame[col]
            kind = _kind(s)
            is_class = inferred_task != "regression"
            profiles.append(
                ColumnProfile(
                    name=col,
                    role="label",
                    kind=kind,
                    non_null=int(s.notna().sum()),
                    nulls=int(s.isna().sum()),
                    distinct=int(s.nunique()),
                    value_set=_value_set(s, k) if is_class else None,
                    bounds=_bounds(s) if not is_class else None,
                    reasons=(("given with --label" if label else "named like a label") + f"; {task_reason}",),
                    review=() if label else ("the label was found by its name",),
                )
            )
            continue
        profiles.append(profile_column(frame[col], rows, evidence.get(col), sampled.get(col, 0), k))

    profiles, id_col = _choose_keys(frame, profiles, id_column)
    if id_col is None:
        raise DataLoadError(
            "no column is unique per row with an id-like name (or consecutive row numbers): add a row id column or pass --id"
        )
    subject = next((p.name for p in profiles if p.role == "subject"), None)
    people = any(p.role in {"pii", "sensitive"} or p.birth_date for p in profiles)
    notes: list[str] = []
    if subject is None and people:
        subject = id_col
        notes.append(f"no person key found: each row is taken to be one person ('{id_col}' is the subject column)")

    taken = set(columns)
    out: list[ColumnProfile] = []
    for p in profiles:
        if p.role == "date":
            target = "age_band" if p.birth_date else f"{p.name}_year"
            if target in taken:
                target = f"{p.name}_{'age_band' if p.birth_date else 'year'}"
            taken.add(target)
            p = _replace(p, output_column=target)
        out.append(p)

    qis = [p for p in out if (p.role == "sensitive") or (p.role == "date") or p.entity == "ZIP_CODE"]
    qis += [p for p in out if p.role == "numeric" and is_sensitive_name(p.name)]
    qi_names = tuple((p.output_column or p.name) for p in qis)
    share = None
    if qis:
        derived = pd.DataFrame({(p.output_column or p.name): _derived_qi(frame, p, reference) for p in qis})
        share = share_below_k(derived, list(derived.columns), k)
    return DatasetProfile(
        rows=rows,
        columns=tuple(out),
        label=label_name,
        task=inferred_task,
        task_reason=task_reason,
        id_column=id_col,
        subject_column=subject,
        encoding=encoding,
        classes=classes,
        quasi_identifiers=qi_names,
        share_below_k=share,
        notes=tuple(notes),
    )


def _replace(p: ColumnProfile, **changes: Any) -> ColumnProfile:
    from dataclasses import replace

    return replace(p, **changes)


def _choose_keys(frame: pd.DataFrame, profiles: list[ColumnProfile], given: str | None) -> tuple[list[ColumnProfile], str | None]:
    """One row id among the identifier candidates (returned with the profiles); a person-named key becomes the subject."""
    out = list(profiles)
    index = {p.name: i for i, p in enumerate(out)}
    if given is not None:
        p = out[index[given]]
        if frame[given].isna().any() or frame[given].nunique() != len(frame):
            raise DataLoadError(f"--id '{given}' is not unique and non-null in the sample")
        out[index[given]] = _replace(
            p,
            role="identifier",
            entity="RECORD_ID",
            operator="hash",
            feature=False,
            value_set=None,
            bounds=None,
            reasons=("given with --id: the row id (hashed)",),
            review=(),
        )
    # Id-named columns first, then row numbers, then other unique keys.
    candidates = sorted((p for p in out if p.role == "identifier"), key=lambda p: _ID_NAME.search(_tokens(p.name)) is None)
    row_id: str | None
    if given is not None:
        row_id = given
    else:
        plain = [p for p in candidates if not _PERSON_KEY.search(_tokens(p.name))]
        pool = plain or candidates
        row_id = pool[0].name if pool else None
    subjects = [p for p in out if p.role == "subject"]
    for p in candidates:
        if p.name == row_id:
            continue
        if not subjects and _PERSON_KEY.search(_tokens(p.name)):
            out[index[p.name]] = _replace(
                p,
                role="subject",
                entity="PERSON_ID",
                reasons=(*p.reasons, "named like a person key: the subject column"),
                review=("taken as the subject column (whose rows `veilflow forget` finds); check it names a person",),
            )
            subjects.append(out[index[p.name]])
    if row_id is not None:
        p = out[index[row_id]]
        out[index[row_id]] = _replace(
            p, reasons=(*p.reasons[:1], "the row id (hashed): quarantine and partition checks name rows by it")
        )
    return out, row_id
