"""What one column's name and values suggest, for `veilflow init`: kind, date format, label, task, PII and
sensitive-attribute hints. Pure functions over a sample; nothing returns a cell value.
"""

from __future__ import annotations

import math
import re
from typing import Literal

import numpy as np
import pandas as pd

from veilflow.core.errors import DataLoadError

Task = Literal["binary", "multiclass", "regression"]
MAX_CLASSES = 30


# Formats tried on string columns, in order of preference when several parse equally well.
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%m/%d/%y",
    "%d/%m/%y",
)


ISO_FORMATS = frozenset({"%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"})


DATE_MIN_SHARE = 0.8  # a column is a date when this share of its non-null values parses


LABEL_NAMES = ("label", "target", "outcome", "class", "y", "response", "is_target")


_ID_NAME = re.compile(r"(?:^|_)(?:id|uuid|guid|key|pk|record|recid|rownum|row_?number|index|rownames)$|^id_|^idx$", re.I)


_BIRTH_NAME = re.compile(r"birth|dob|born", re.I)


# Column-name hints for structured PII: token pattern -> Presidio entity.
PII_NAME_HINTS: tuple[tuple[str, str], ...] = (
    (r"e_?mail", "EMAIL_ADDRESS"),
    (r"phone|phone_?(?:number|no)|mobile|cell_?phone|tel|telephone|fax", "PHONE_NUMBER"),
    (r"ssn|social_security|sozialversicherung", "US_SSN"),
    (r"credit_?card|card_?(?:number|no|num)|cc_?(?:number|num)", "CREDIT_CARD"),
    (r"iban", "IBAN_CODE"),
    (r"ip|ip_?address|ipv4|ipv6", "IP_ADDRESS"),
    (r"(?:street|home|postal|mailing)?_?address|street|addr", "STREET_ADDRESS"),
    (r"zip|zip_?code|postcode|postal_?code", "ZIP_CODE"),
    (r"(?:first|last|given|family|full|middle|maiden|person|patient|customer|contact)?_?name|surname|forename", "PERSON"),
    (r"username|user_?name|login|handle", "USERNAME"),
)


# Names a person's name column uses; "name" alone counts only when the whole column name is about a person.
_NON_PERSON_NAME = re.compile(
    r"(?:clinic|company|org|organisation|organization|product|file|host|brand|hospital|"
    r"school|city|country|street|store|shop|team|group|dept|department|plan|item|site|model)_?name",
    re.I,
)


SENSITIVE_NAME = re.compile(
    r"(?:^|_)(?:sex|gender|race|racial|ethnic|ethnicity|age|religion|religious|nationality|citizenship|disability|"
    r"disabled|marital|marital_status|pregnan\w*|sexual_orientation|orientation|caste|tribe|native_language)(?:_|$)",
    re.I,
)


_SEX_VALUES = frozenset({"m", "f", "male", "female", "man", "woman", "men", "women", "nonbinary", "non-binary", "x"})


def nice_bounds(low: float, high: float) -> tuple[float, float]:
    """Bounds rounded outward to a round number beyond the observed min and max (a bound never equals a value,
    except 0 for non-negative data)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("bounds need finite numbers")
    magnitude = max(abs(low), abs(high), high - low)
    if magnitude == 0:
        return (0.0, 1.0)
    step = 10.0 ** math.floor(math.log10(magnitude))
    lo = math.floor(low / step) * step
    hi = math.ceil(high / step) * step
    if lo == low and low != 0:
        lo -= step
    if hi == high:
        hi += step
    if low >= 0 > lo:
        lo = 0.0
    return (float(round(lo, 10)), float(round(hi, 10)))


def _tokens(name: str) -> str:
    """snake_case of a column name (camelCase and spaces become underscores) for the name hints."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()


def pii_name_hint(name: str) -> str | None:
    """The PII entity a column name suggests (e.g. `email` -> EMAIL_ADDRESS), or None."""
    tokens = _tokens(name)
    for pattern, entity in PII_NAME_HINTS:
        if re.search(rf"(?:^|_)(?:{pattern})(?:_|$)", tokens):
            if entity == "PERSON" and (_NON_PERSON_NAME.search(tokens) or tokens.endswith(("file_name", "filename"))):
                continue
            return entity
    return None


def is_sensitive_name(name: str) -> bool:
    return SENSITIVE_NAME.search(_tokens(name)) is not None


def _kind(s: pd.Series) -> Literal["numeric", "integer", "boolean", "string", "datetime", "empty"]:
    if s.notna().sum() == 0:
        return "empty"
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        values = s.dropna().to_numpy(dtype="float64")
        return "integer" if np.all(np.isfinite(values)) and np.all(values == np.round(values)) else "numeric"
    return "string"


def detect_date_format(values: pd.Series) -> tuple[str | None, float, bool]:
    """The format in `DATE_FORMATS` that parses the largest share of `values` (strings, non-null).

    Returns:
        (format or None, the share it parses, whether another format parsed as many: ambiguous).
    """
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty or not text.str.contains(r"\d").all():
        return None, 0.0, False
    shares: list[tuple[float, str]] = []
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        shares.append((float(parsed.notna().mean()), fmt))
    best = max(s for s, _ in shares)
    if best == 0.0:
        return None, 0.0, False
    winners = [f for s, f in shares if s == best]
    return winners[0], best, len(winners) > 1 and not set(winners) <= ISO_FORMATS


def find_label(columns: list[str], given: str | None) -> str:
    """The label column: `given`, else the one column named like a label.

    Raises:
        DataLoadError: `given` is not a column, or no / several columns are named like a label.
    """
    if given is not None:
        if given not in columns:
            raise DataLoadError(f"--label '{given}' is not a column of the file ({len(columns)} columns)")
        return given
    found = [c for c in columns if _tokens(c) in LABEL_NAMES]
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataLoadError("no column is named like a label (label, target, outcome, class, y): pass --label COLUMN")
    raise DataLoadError(f"several columns are named like a label ({', '.join(found)}): pass --label COLUMN")


def infer_task(s: pd.Series, requested: str = "auto") -> tuple[Task, str, int | None]:
    """The task a label column implies: 2 values binary, 3..30 integer or text classes multiclass, else regression.

    Returns:
        (task, the reason in words, the number of classes or None for regression).

    Raises:
        DataLoadError: the label cannot serve the requested (or any) task.
    """
    values = s.dropna()
    n = int(values.nunique())
    kind = _kind(s)
    numeric = kind in {"numeric", "integer"}
    if n < 2:
        raise DataLoadError(f"label column '{s.name}' has {n} distinct value(s) in the sample; training needs 2 or more")
    if requested == "binary":
        if n != 2:
            raise DataLoadError(f"--task binary but label column '{s.name}' has {n} distinct values")
        return "binary", "requested with --task binary", 2
    if requested == "multiclass":
        if n > MAX_CLASSES * 10:
            raise DataLoadError(f"--task multiclass but label column '{s.name}' has {n} distinct values")
        return "multiclass", "requested with --task multiclass", n
    if requested == "regression":
        if not numeric:
            raise DataLoadError(f"--task regression but label column '{s.name}' is not numeric")
        return "regression", "requested with --task regression", None
    if n == 2:
        return "binary", f"the label has 2 distinct values in {len(values)} sampled rows", 2
    if numeric and (kind == "numeric" or n > MAX_CLASSES):
        return "regression", f"the label is numeric with {n} distinct values", None
    if n <= MAX_CLASSES:
        return "multiclass", f"the label has {n} distinct {'integer' if numeric else 'text'} values", n
    raise DataLoadError(f"label column '{s.name}' is text with {n} distinct values: too many classes (pass --label)")
