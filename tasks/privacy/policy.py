"""The PII policy schema: operator parameters, column and text rules, `PiiPolicy`, and loading and checking a policy file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from veilflow.core.errors import ConfigError
from veilflow.tasks.privacy.risk import RiskPolicy

LANGUAGE = "en"  # the language of the policies' free-text columns (Presidio's language code)

# What a free-text column is searched for when a policy does not say (and what `veilflow.detect` reports
# without a policy): people (names and user names / social handles), contact details, payment and
# identity numbers, addresses and places.
DEFAULT_TEXT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "USERNAME",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "STREET_ADDRESS",
    "LOCATION",
    "IBAN_CODE",
    "IP_ADDRESS",
)
# A cell repeated verbatim in this many rows of a text column is a category, not a person (TextRule).
DEFAULT_CATEGORY_MIN_ROWS = 5
# A text column with a larger share of its distinct values changed is logged as possible over-masking.
DEFAULT_WARN_CHANGED_SHARE = 0.5


class FrozenModel(BaseModel):
    """An immutable model that rejects unknown keys: the base of the policy, audit and leak-report models."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DropParams(FrozenModel):
    """`drop`: the column is removed."""


class ReplaceParams(FrozenModel):
    """`replace`: every value becomes the entity tag (e.g. `<PERSON>`) or `new_value`."""

    new_value: str | None = None


class MaskParams(FrozenModel):
    """`mask`: every character but the last `keep_last` becomes `char`."""

    char: str = Field(default="*", min_length=1, max_length=1)
    keep_last: int = Field(default=4, ge=0)


class HashParams(FrozenModel):
    """`hash`: keyed HMAC-SHA256 pseudonym, 32 lowercase hex characters."""


class EncryptParams(FrozenModel):
    """`encrypt`: Presidio's AES-CBC `encrypt` operator (reversible with the key, random IV)."""


class GeneralizeParams(FrozenModel):
    """`generalize` a date: to its year, or to an age band against the policy's reference date."""

    granularity: Literal["age_band", "year"] = "age_band"
    output_column: str | None = Field(default=None, description="write here and drop the source column")
    band_width: int = Field(default=10, ge=1, le=50)
    top_age: int = Field(default=80, ge=1, le=130, description="ages from here up share one band, e.g. '80+'")


class TruncateParams(FrozenModel):
    """`truncate`: keep the first `keep_first` characters (zip codes: the 3-digit prefix)."""

    keep_first: int = Field(default=3, ge=1)


OPERATOR_PARAMS: dict[str, type[FrozenModel]] = {
    "drop": DropParams,
    "replace": ReplaceParams,
    "mask": MaskParams,
    "hash": HashParams,
    "encrypt": EncryptParams,
    "generalize": GeneralizeParams,
    "truncate": TruncateParams,
}
KEYED_OPERATORS = frozenset({"hash", "encrypt"})
TEXT_OPERATORS = ("replace",)
_ENTITY_NAME = r"^[A-Z][A-Z0-9_]*$"


class ColumnRule(FrozenModel):
    """How one structured column is transformed: the entity it holds, the operator and its parameters.

    A date column read by `generalize` may name how its values are written: `date_format` (a strptime format,
    e.g. ``%m/%d/%Y``) and/or `date_formats` (tried in order after it); with neither, ISO 8601 is expected.
    More than `max_unparsed_share` (default: the policy's) of non-null values left unparsed fails the run.
    """

    entity: str = Field(pattern=_ENTITY_NAME)
    operator: str
    params: dict[str, Any] = Field(default_factory=dict)
    date_format: str | None = Field(default=None, description="strptime format of a date column, e.g. '%m/%d/%Y'")
    date_formats: list[str] | None = Field(
        default=None, min_length=1, description="strptime formats tried in order (after date_format) for each value"
    )
    max_unparsed_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="share of non-null values a date operator may leave unparsed (None: the policy's)",
    )

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is not None:
            _check_strptime(value)
        return value

    @field_validator("date_formats")
    @classmethod
    def _strptime_formats(cls, value: list[str] | None) -> list[str] | None:
        for fmt in value or []:
            _check_strptime(fmt)
        return value

    @property
    def formats(self) -> list[str]:
        """The strptime formats a date operator tries, in order; empty: ISO 8601."""
        return list(dict.fromkeys([*([self.date_format] if self.date_format else []), *(self.date_formats or [])]))

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, value: str) -> str:
        if value not in OPERATOR_PARAMS:
            raise ValueError(f"unknown operator '{value}' (known: {', '.join(OPERATOR_PARAMS)})")
        return value

    @model_validator(mode="after")
    def _check_params(self) -> ColumnRule:
        self.parsed_params()
        return self

    def parsed_params(self) -> Any:
        """The params validated against the operator's parameter model."""
        try:
            return OPERATOR_PARAMS[self.operator].model_validate(self.params)
        except ValidationError as err:
            raise ValueError(f"params for operator '{self.operator}': {_describe(err)}") from None


def _check_strptime(fmt: str) -> None:
    if "%" not in fmt:
        raise ValueError(f"date format '{fmt}' has no strptime directive (e.g. '%Y-%m-%d', '%m/%d/%Y')")
    try:
        datetime(2000, 1, 31).strftime(fmt)
    except ValueError:
        raise ValueError(f"date format '{fmt}' is not a valid strptime format") from None


class TextRule(FrozenModel):
    """How one free-text column is redacted: which entities, at what confidence, with which operator."""

    entities: list[str] = Field(default_factory=lambda: list(DEFAULT_TEXT_ENTITIES), min_length=1)
    score_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    operator: str = "replace"
    redact_known_values: bool = Field(
        default=True, description="also redact any raw value of the policy's structured columns found in the text"
    )
    category_min_rows: int | None = Field(
        default=DEFAULT_CATEGORY_MIN_ROWS,
        ge=2,
        description="a cell repeated verbatim in this many rows is a category: a PERSON/LOCATION hit covering it "
        "whole needs strong name evidence (null: never)",
    )
    warn_changed_share: float = Field(
        default=DEFAULT_WARN_CHANGED_SHARE,
        ge=0.0,
        le=1.0,
        description="log a warning when a larger share of the column's distinct values is changed (over-masking)",
    )

    @field_validator("entities")
    @classmethod
    def _entity_names(cls, value: list[str]) -> list[str]:
        bad = [e for e in value if not re.match(_ENTITY_NAME, e)]
        if bad:
            raise ValueError(f"entity names must be upper-case identifiers, got {bad}")
        return value

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, value: str) -> str:
        if value not in TEXT_OPERATORS:
            raise ValueError(f"unknown text operator '{value}' (known: {', '.join(TEXT_OPERATORS)})")
        return value


# A `leak_scan.allow` entry: the full keyed HMAC-SHA256 of the value, as `veilflow audit --explain` prints it.
LEAK_ALLOW_HEX_CHARS = 64
_LEAK_ALLOW = re.compile(rf"^[0-9a-f]{{{LEAK_ALLOW_HEX_CHARS}}}$")


class LeakScanPolicy(FrozenModel):
    """How the leak scan of everything a run logged treats this dataset's raw values (veilflow.tasks.privacy.leak_scan)."""

    allow: list[str] = Field(
        default_factory=list,
        description="deliberate exceptions: keyed hashes (64 lowercase hex, from `veilflow audit RUN --explain`) of raw "
        "values whose hits are recorded with the run instead of failing it; never raw values",
    )
    min_number_digits: int = Field(
        default=5, ge=1, le=30, description="an all-digit value with fewer digits is not searchable (counts, ids 7, 42, 1234)"
    )
    common_words: bool = Field(
        default=True, description="a one-word value that is an ordinary English word (True, Register, May) is not searchable"
    )

    @field_validator("allow")
    @classmethod
    def _hashes(cls, value: list[str]) -> list[str]:
        bad = [i for i, entry in enumerate(value) if not isinstance(entry, str) or not _LEAK_ALLOW.match(entry)]
        if bad:
            # Never echo the entry: a user may have pasted a raw value by mistake.
            raise ValueError(
                f"entr{'y' if len(bad) == 1 else 'ies'} {', '.join(map(str, bad))} not a keyed hash "
                f"({LEAK_ALLOW_HEX_CHARS} lowercase hex characters, as `veilflow audit RUN --explain` prints)"
            )
        return sorted(set(value))


class PiiPolicy(FrozenModel):
    """A dataset's PII policy: the contract a privacy officer reviews (see `expectations/policies/`)."""

    version: Literal[1] = 1
    dataset: str
    description: str = ""
    reference_date: date | None = Field(default=None, description="ages are computed on this date (reproducible)")
    leak_tolerance: int = Field(default=0, ge=0)
    min_leak_value_length: int = Field(default=4, ge=1, description="raw values shorter than this are not leak-checked")
    max_unparsed_share: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="a date operator leaving more than this share of a column's non-null values unparsed fails the run "
        "(a column may set its own)",
    )
    leak_scan: LeakScanPolicy = Field(default_factory=LeakScanPolicy, description="rules of the scan of everything logged")
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    text_columns: dict[str, TextRule] = Field(default_factory=dict)
    risk: RiskPolicy | None = Field(
        default=None, description="quasi-identifiers, k and generalisation (veilflow.tasks.privacy.risk)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PiiPolicy:
        both = sorted(set(self.columns) & set(self.text_columns))
        if both:
            raise ValueError(f"columns listed both as structured and as text: {both}")
        outputs: dict[str, str] = {}
        for name, rule in self.columns.items():
            if rule.operator != "generalize":
                continue
            params = rule.parsed_params()
            if params.granularity == "age_band" and self.reference_date is None:
                raise ValueError(f"column '{name}': an age band needs the policy's reference_date")
            out = params.output_column
            if out and out != name:
                if out in self.columns or out in self.text_columns:
                    raise ValueError(f"column '{name}': output_column '{out}' is itself a policy column")
                if out in outputs:
                    raise ValueError(f"columns '{outputs[out]}' and '{name}' both write output_column '{out}'")
                outputs[out] = name
        return self

    def unparsed_limit(self, column: str) -> float:
        """The share of `column`'s non-null values its date operator may leave unparsed."""
        own = self.columns[column].max_unparsed_share
        return self.max_unparsed_share if own is None else own

    @property
    def keyed_columns(self) -> list[str]:
        """Structured columns whose operator needs the secret key."""
        return [c for c, r in self.columns.items() if r.operator in KEYED_OPERATORS]

    @property
    def requires_key(self) -> bool:
        return bool(self.keyed_columns)

    def new_columns(self) -> dict[str, str]:
        """Output columns the policy creates, mapped to their source column."""
        out: dict[str, str] = {}
        for name, rule in self.columns.items():
            if rule.operator == "generalize":
                target = rule.parsed_params().output_column
                if target and target != name:
                    out[target] = name
        return out


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            kind = "unknown key"
        elif e["type"] == "missing":
            kind = "missing required field"
        else:
            kind = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {kind}")
    return "; ".join(parts)


def load_policy(path: str | Path) -> PiiPolicy:
    """Read a PII policy YAML file into a frozen, validated `PiiPolicy`.

    Raises:
        ConfigError: missing file, invalid YAML, unknown key, unknown operator or bad parameters
            (one line naming the file and the offending key).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"PII policy file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"PII policy file is not valid YAML ({type(exc).__name__}): {p}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"PII policy file must hold a mapping at the top level: {p}")
    try:
        return PiiPolicy.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"invalid PII policy {p}: {_describe(err)}") from None


def validate_policy_against(policy: PiiPolicy, columns: Iterable[str]) -> None:
    """Check that every column the policy names exists, and that its new columns do not clash.

    Raises:
        ConfigError: naming the missing (or clashing) column.
    """
    present = set(columns)
    named = [*policy.columns, *policy.text_columns]
    missing = [c for c in named if c not in present]
    if missing:
        raise ConfigError(f"PII policy '{policy.dataset}' names column(s) not in the data: {', '.join(missing)}")
    for target in policy.new_columns():
        if target in present:
            raise ConfigError(f"PII policy '{policy.dataset}' would write column '{target}', which the data already has")
