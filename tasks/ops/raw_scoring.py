"""Scoring raw records: the one code path of `veilflow score` (whole batches and partitions) and of the
raw-record serving model (`veilflow serve-model`).

A raw frame in the user's own schema goes through, in this order:

1. veilflow's column checks: absent optional columns are added as nulls (records: every absent column);
   a row whose required column (the id, a model feature) is null fails `required(<column>)`;
2. veilflow's type checks: a cell of a numeric column that is not a finite number, or of a text column
   that is not text, fails `type(<column>)=number|text` (and is treated as null downstream);
3. the training run's raw GX suite: every expectation for a batch, the row-level ones for records; the
   row-level expectations are evaluated as compiled pandas predicates with GX's semantics
   (`veilflow.tasks.data.row_checks`, the same in both modes), the rest by GX;
4. the training run's PII policy, recognizers and key;
5. the model, for every row that failed no check.

A failed row check never fails records: the row comes back with an `error` naming the column and the
check, never a value. Batch scoring (`raise_on_critical=True`) keeps its rule: a failed critical
expectation fails the batch.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig, resolve_path
from veilflow.tasks.ops.scoring import ChampionModel, load_batch_suite, score_frame

if TYPE_CHECKING:
    from veilflow.tasks.data.row_checks import CompiledSuite
    from veilflow.tasks.data.validation import ExpectationOutcome, ExpectationSpec, LoadedSuite, ValidationReport
    from veilflow.tasks.privacy.policy import PiiPolicy

log = logging.getLogger("veilflow")

Mode = Literal["batch", "records"]
NUMBER, TEXT, ANY = "number", "text", "any"
REQUIRED_CHECK = "veilflow_required_value"
TYPE_CHECK = "veilflow_value_type"
# GX expectation types that judge single rows (GX lists their failing rows); the others judge the table.
_ROW_LEVEL_PREFIXES = (
    "expect_column_values_",
    "expect_column_value_",
    "expect_column_pair_values_",
    "expect_multicolumn_",
    "expect_compound_columns_",
    "expect_select_column_values_",
)


def is_row_level(expectation_type: str) -> bool:
    """Whether a GX expectation type judges single rows (and so can fail a row rather than a table)."""
    return expectation_type.startswith(_ROW_LEVEL_PREFIXES)


# --------------------------------------------------------------------------- the raw contract


@dataclass(frozen=True)
class RawContract:
    """The raw columns a version scores: names, kinds and which are required (never a value)."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    kinds: Mapping[str, str]  # column -> "number" | "text" | "any"
    label: str | None = None
    # The model's raw feature columns: a batch must hold each of them as a column (its cells may be empty where
    # `required` allows); a served record may leave any out.
    features: tuple[str, ...] = ()

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.required)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "columns": [
                {"name": c, "kind": self.kinds[c], "required": c in self.required, "feature": c in self.features}
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RawContract:
        cols = list(data["columns"])
        return cls(
            columns=tuple(c["name"] for c in cols),
            required=tuple(c["name"] for c in cols if c["required"]),
            kinds={c["name"]: c["kind"] for c in cols},
            label=data.get("label"),
            features=tuple(c["name"] for c in cols if c.get("feature", c["required"])),
        )


def raw_contract(config: PipelineConfig, policy: PiiPolicy | None, suite_data: Mapping[str, Any] | None = None) -> RawContract:
    """The raw contract of a training config: the suite's, the policy's and the config's columns.

    Required: the id column, and each model feature the raw suite requires in every row (a not-null
    expectation without `mostly`); the other features may be missing or null, as they may in training, where
    the model's imputers fill them. A column the policy creates, such as an age band, is not a raw column.
    Numeric features hold numbers, free text (the text feature and the policy's text columns) holds text,
    every other column (ids, categories, the label, structured PII) any value, as training accepted it.
    """
    ds = config.dataset
    created = set(policy.new_columns()) if policy is not None else set()
    names: list[str] = []
    for entry in (suite_data or {}).get("expectations", []):
        kwargs = entry.get("kwargs") or {}
        if entry.get("type") == "expect_column_to_exist" and isinstance(kwargs.get("column"), str):
            names.append(kwargs["column"])
        for key in ("column_set", "column_list"):
            if isinstance(kwargs.get(key), list):
                names.extend(str(c) for c in kwargs[key])
    if policy is not None:
        names += [*policy.columns, *policy.text_columns]
    names += [
        ds.id_column,
        *ds.feature_columns,
        ds.label,
        *ds.sensitive_columns,
        *([ds.subject_column] if ds.subject_column else []),
    ]
    columns = tuple(c for c in dict.fromkeys(names) if c not in created)
    strict = _strictly_not_null(suite_data)
    required = tuple(c for c in dict.fromkeys([ds.id_column, *(f for f in ds.feature_columns if f in strict)]) if c in columns)
    texts = {*([ds.text_feature] if ds.text_feature else []), *(policy.text_columns if policy is not None else [])}
    kinds = {c: NUMBER if c in ds.numeric_features else TEXT if c in texts else ANY for c in columns}
    features = tuple(c for c in ds.feature_columns if c in columns)
    return RawContract(columns=columns, required=required, kinds=kinds, label=ds.label, features=features)


def _strictly_not_null(suite_data: Mapping[str, Any] | None) -> set[str]:
    """Columns the suite requires in every row: `expect_column_values_to_not_be_null` without a `mostly` below 1."""
    out: set[str] = set()
    for entry in (suite_data or {}).get("expectations", []):
        kwargs = entry.get("kwargs") or {}
        mostly, column = kwargs.get("mostly"), kwargs.get("column")
        strict = entry.get("type") == "expect_column_values_to_not_be_null" and (mostly is None or float(mostly) >= 1.0)
        if strict and isinstance(column, str):
            out.add(column)
    return out


def veilflow_specs(contract: RawContract) -> tuple[ExpectationSpec, ...]:
    """veilflow's own row checks for a contract, in the order their outcomes appear in a report."""
    from veilflow.tasks.data.validation import ExpectationSpec

    specs = [
        ExpectationSpec(
            key=f"required({c})",
            type=REQUIRED_CHECK,
            column=c,
            critical=False,
            mostly=None,
            why=f"'{c}' is the id or a model feature: every row needs a value",
        )
        for c in contract.required
    ]
    specs += [
        ExpectationSpec(
            key=f"type({c})={kind}",
            type=TYPE_CHECK,
            column=c,
            critical=False,
            mostly=None,
            why=f"'{c}' holds {'finite numbers' if kind == NUMBER else 'text'}",
        )
        for c, kind in ((c, contract.kinds[c]) for c in contract.columns)
        if kind in (NUMBER, TEXT)
    ]
    return tuple(specs)


def _bad_numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(the column as numbers, with bad cells null; mask of cells that are set but not a finite number)."""
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index, dtype="float64"), values.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        as_float = values.to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isinf(as_float)
        return (values.where(~bad) if bad.any() else values), bad
    objects = values.astype(object)
    is_bool = objects.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    coerced = pd.to_numeric(objects.where(~is_bool), errors="coerce").astype("float64")
    as_float = coerced.to_numpy(dtype="float64", na_value=np.nan)
    bad = (objects.notna().to_numpy() & np.isnan(as_float)) | np.isinf(as_float) | is_bool
    return coerced.where(~bad), bad


def _bad_texts(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(the column with non-text cells null; mask of cells that are set but not text)."""
    if isinstance(values.dtype, pd.StringDtype):
        return values, np.zeros(len(values), dtype=bool)
    objects = values.astype(object)
    bad = (objects.notna() & ~objects.map(lambda v: isinstance(v, str))).to_numpy(dtype=bool)
    return (objects.where(~bad) if bad.any() else values), bad


def check_records(
    frame: pd.DataFrame, contract: RawContract, fill: tuple[str, ...]
) -> tuple[pd.DataFrame, list[ExpectationOutcome], dict[str, list[int]]]:
    """veilflow's column and type checks on a frame with a 0..n-1 index (it is not modified).

    Args:
        fill: columns added as nulls when the frame lacks them.

    Returns:
        (the frame to validate and anonymize: filled columns added, badly typed cells null; one outcome
        per `veilflow_specs` entry; failing row positions per check key).
    """
    from veilflow.tasks.data.validation import ExpectationOutcome

    out = frame.copy()
    for column in fill:
        if column not in out.columns:
            out[column] = pd.Series([None] * len(out), index=out.index, dtype=object)
    n = len(out)
    outcomes: list[ExpectationOutcome] = []
    failing: dict[str, list[int]] = {}
    for spec in veilflow_specs(contract):
        column = str(spec.column)
        if column not in out.columns:  # a required column a batch lacks: the suite's column checks fail the batch
            bad, missing = np.zeros(n, dtype=bool), 0
        elif spec.type == REQUIRED_CHECK:
            bad, missing = out[column].isna().to_numpy(), 0
        else:
            values = out[column]
            missing = int(values.isna().sum())
            fixed, bad = _bad_numbers(values) if contract.kinds[column] == NUMBER else _bad_texts(values)
            if bad.any() or fixed.dtype != values.dtype:
                out[column] = fixed
        unexpected = int(bad.sum())
        if unexpected:
            failing[spec.key] = np.flatnonzero(bad).tolist()
        denominator = n - missing
        outcomes.append(
            ExpectationOutcome.of(
                spec,  # `veilflow_specs` sets no `mostly`
                unexpected == 0,
                element_count=n,
                unexpected_count=unexpected,
                missing_count=missing,
                unexpected_percent=round(100.0 * unexpected / denominator, 6) if denominator else 0.0,
            )
        )
    return out, outcomes, failing


def combine_reports(
    gx_report: ValidationReport | None,
    outcomes: list[ExpectationOutcome],
    failing: dict[str, list[int]],
    rows: int,
    columns: int,
    suite_name: str,
) -> ValidationReport:
    """One report: veilflow's checks first, then the suite's; counts and keys only (rows in memory)."""
    from veilflow.tasks.data.validation import ValidationReport

    expectations = [*outcomes, *(gx_report.expectations if gx_report is not None else [])]
    failing_rows = {**failing, **(gx_report.failing_rows if gx_report is not None else {})}
    return ValidationReport.from_outcomes(
        gx_report.suite_name if gx_report is not None else suite_name,
        expectations,
        failing_rows,
        rows=rows,
        columns=columns,
        seconds=gx_report.seconds if gx_report is not None else 0.0,
    )


# --------------------------------------------------------------------------- the scorer


def _row_level_suite(path: Path, label: str | None) -> LoadedSuite | None:
    """The suite's row-level expectations, without the label's (a served record's label is ignored)."""
    from veilflow.tasks.data.validation import load_suite

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data["expectations"] = [
        e for e in data["expectations"] if is_row_level(e.get("type", "")) and (e.get("kwargs") or {}).get("column") != label
    ]
    if not data["expectations"]:
        return None
    data["name"] = f"{data['name']}.rows"
    with tempfile.TemporaryDirectory(prefix="veilflow-suite-") as tmp:
        out = Path(tmp) / f"{Path(path).stem}.rows.json"
        out.write_text(json.dumps(data), encoding="utf-8")
        return load_suite(out)


@dataclass
class RawScorer:
    """A version ready to score raw frames: its model and config, contract, suite, policy, engines and key.

    Built once (`prepare_scorer`) and reused; `mode` says whose rules apply: "batch" (`veilflow score`: the
    whole suite, optional columns filled) or "records" (the serving model: the suite's row-level checks,
    every absent column filled, the label ignored).
    """

    champion: ChampionModel
    contract: RawContract
    suite_path: Path
    policy: PiiPolicy | None = field(repr=False)
    gx_context: Any = field(repr=False)
    analyzer: Any = field(repr=False)
    key: bytes | None = field(repr=False)
    mode: Mode = "batch"
    top_k: int = 3
    _suites: dict[bool, LoadedSuite | None] = field(default_factory=dict, repr=False)
    _compiled: dict[str, CompiledSuite] = field(default_factory=dict, repr=False)

    @property
    def fill(self) -> tuple[str, ...]:
        if self.mode == "records":  # a record may leave out any column
            wanted = self.contract.columns
        else:  # a batch must hold the id and every feature as a column (the suite says so); the rest may be absent
            wanted = tuple(c for c in self.contract.optional if c not in self.contract.features)
        return tuple(c for c in wanted if c != self.contract.label)

    def gx_suite(self, columns: Any) -> LoadedSuite | None:
        """The GX suite for a frame with these columns (loaded once per label presence)."""
        label = self.contract.label
        has_label = self.mode == "batch" and label is not None and label in columns
        if has_label not in self._suites:
            if self.mode == "records":
                self._suites[has_label] = _row_level_suite(self.suite_path, label)
            else:
                self._suites[has_label] = load_batch_suite(self.suite_path, label, columns)
        return self._suites[has_label]

    def row_checks(self, suite: LoadedSuite) -> CompiledSuite:
        """The suite's row-level expectations compiled (once per suite, by name)."""
        from veilflow.tasks.data.row_checks import compile_row_checks

        cached = self._compiled.get(suite.name)
        if cached is None or cached.suite is not suite:
            self._compiled[suite.name] = compile_row_checks(suite)
        return self._compiled[suite.name]

    def report_suite(self, columns: Any) -> LoadedSuite:
        """veilflow's checks and the GX suite as one spec list: what `merge_validation` merges partitions with."""
        from veilflow.tasks.data.validation import LoadedSuite

        suite = self.gx_suite(columns)
        if suite is None:
            return LoadedSuite(name="veilflow-checks", path=self.suite_path, suite=None, specs=veilflow_specs(self.contract))
        return LoadedSuite(
            name=suite.name, path=suite.path, suite=suite.suite, specs=(*veilflow_specs(self.contract), *suite.specs)
        )


def prepare_scorer(
    champion: ChampionModel,
    key: bytes | None,
    gx_context: Any,
    analyzer: Any,
    *,
    mode: Mode = "batch",
    top_k: int = 3,
    policy_path: Path | None = None,
    suite_path: Path | None = None,
    require_key: bool = True,
) -> RawScorer:
    """Build the scorer of a version.

    Args:
        key: the pseudonymization key the version was trained with (None without a keyed policy).
        policy_path, suite_path: the policy and raw suite to apply (default: the training config's, from
            the project root; the serving model passes the copies it carries).
        require_key: check the key now (off only for a scorer that merely describes its checks).

    Raises:
        MissingKeyError: the policy needs a key and none was given.
        ConfigError: the policy or the suite cannot be read.
    """
    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.pseudonyms import check_key

    ds = champion.pipeline_config.dataset
    policy_file = policy_path or (resolve_path(ds.pii_policy) if ds.pii_policy is not None else None)
    policy = load_policy(policy_file) if policy_file is not None else None
    if policy is not None and require_key:
        key = check_key(key, policy)
    suite_file = Path(suite_path or resolve_path(ds.raw_suite))
    contract = raw_contract(champion.pipeline_config, policy, json.loads(suite_file.read_text(encoding="utf-8")))
    return RawScorer(
        champion=champion,
        contract=contract,
        suite_path=suite_file,
        policy=policy,
        gx_context=gx_context,
        analyzer=analyzer,
        key=key,
        mode=mode,
        top_k=top_k,
    )


# --------------------------------------------------------------------------- scoring


@dataclass
class ScoredRecords:
    """A raw frame scored: predictions for the rows that passed, an error for each row that did not."""

    rows: int
    predictions: pd.DataFrame = field(repr=False)  # `score_frame` columns; index: positions 0..n-1 in the frame
    errors: pd.Series = field(repr=False)  # position -> "; "-joined check keys, for the rows not scored
    report: ValidationReport = field(repr=False)
    anonymized: pd.DataFrame = field(repr=False)  # every row, anonymized; index: positions
    pii_audit: Any = None  # the `PiiAudit` of the anonymization (None without a policy): counts only
    id_column: str | None = None
    model_name: str = ""
    model_version: str = ""
    top_k: int = 3
    seconds: dict[str, float] = field(default_factory=dict)  # per step: validate (checks + suite), anonymize, score

    @property
    def audit(self) -> dict[str, Any]:
        """The PII audit as recorded with a run (counts per column and entity type)."""
        if self.pii_audit is None:
            return {"policy": None, "rows": self.rows, "columns": {}, "total_found": 0}
        return dict(self.pii_audit.model_dump(mode="json"))

    def error_counts(self) -> dict[str, int]:
        """Rows per failed check (a row failing two checks counts for both)."""
        return _count_reasons(self.errors)

    def records(self) -> pd.DataFrame:
        """One row per input row, in input order: `row`, the pseudonymized id, probability, prediction, reason
        codes, model name and version, and `error` (None when scored). Missing values are None (JSON null)."""
        index = pd.RangeIndex(self.rows)

        def objects(values: pd.Series) -> np.ndarray:  # object first: ints stay ints beside missing rows
            cells = values.astype(object).reindex(index).to_numpy(dtype=object, copy=True)
            cells[pd.isna(cells)] = None
            return cells

        # Built as object arrays and framed once (a served request pays this per call).
        out: dict[str, np.ndarray] = {"row": np.arange(self.rows, dtype="int64").astype(object)}
        if self.id_column and self.id_column in self.anonymized.columns:
            out[self.id_column] = objects(self.anonymized[self.id_column])
        reasons = [f"reason_{i}" for i in range(1, self.top_k + 1)]
        extra = [c for c in self.predictions.columns if c.startswith("probability_") or c == "predicted_label"]
        for column in ["probability", "prediction", *extra, *reasons]:
            values = (
                self.predictions[column]
                if column in self.predictions.columns
                else pd.Series(index=self.predictions.index, dtype=object)
            )
            out[column] = objects(values)
        out["model_name"] = np.full(self.rows, self.model_name, dtype=object)
        out["model_version"] = np.full(self.rows, self.model_version, dtype=object)
        out["error"] = objects(self.errors)
        return pd.DataFrame(out, index=index, dtype=object)


def _count_reasons(reasons: Any) -> dict[str, int]:
    counts: Counter[str] = Counter(part for reason in reasons for part in str(reason).split("; ") if part)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def reason_counts(quarantined: pd.DataFrame) -> dict[str, int]:
    """Rows per failed check in a quarantine frame (its `quarantine_reason` column), most frequent first."""
    if "quarantine_reason" not in quarantined.columns:
        return {}
    return _count_reasons(quarantined["quarantine_reason"].dropna())


def _anonymize(frame: pd.DataFrame, scorer: RawScorer) -> tuple[pd.DataFrame, Any]:
    from veilflow.tasks.privacy.policy import validate_policy_against
    from veilflow.tasks.privacy.redaction import anonymize_frame

    if scorer.policy is None:
        return frame.copy(), None
    validate_policy_against(scorer.policy, list(frame.columns))
    batch_size = scorer.champion.pipeline_config.privacy.batch_size
    # A record's unparsable date is that record's null (counted in the audit), never a failed batch.
    anonymized, audit = anonymize_frame(
        frame, scorer.policy, scorer.analyzer, scorer.key, batch_size=batch_size, unparsed_limit=False
    )
    anonymized.index = frame.index
    return anonymized, audit


def score_raw_records(frame: pd.DataFrame, scorer: RawScorer, *, raise_on_critical: bool = False) -> ScoredRecords:
    """Check, validate, anonymize and score a raw frame (not modified); every row gets a prediction or an error.

    Args:
        frame: raw rows in the user's own schema (a batch file, a partition, or a request's records).
        scorer: from `prepare_scorer`.
        raise_on_critical: batch rule: a failed critical expectation fails the whole frame, before it is
            anonymized. Otherwise a failed row check is that row's error, and a critical failure with no
            failing rows (a table-level check, a check GX could not compute) is every row's error.

    Raises:
        DataValidationError: with `raise_on_critical`, one line naming the failed critical expectations.
    """
    from veilflow.tasks.data.row_checks import validate_suite
    from veilflow.tasks.data.validation import quarantine_rows

    started = time.perf_counter()
    seconds: dict[str, float] = {}
    champion = scorer.champion
    ds = champion.pipeline_config.dataset
    local = frame.reset_index(drop=True)
    if scorer.mode == "records" and ds.label in local.columns:
        local = local.drop(columns=[ds.label])  # never an input of a served prediction
    typed, outcomes, failing = check_records(local, scorer.contract, scorer.fill)
    suite = scorer.gx_suite(typed.columns)
    # The suite's row checks as compiled predicates (GX's semantics, no per-call graph), the rest by GX.
    gx_report = validate_suite(typed, scorer.row_checks(suite), scorer.gx_context) if suite is not None else None
    report = combine_reports(gx_report, outcomes, failing, len(typed), typed.shape[1], "veilflow-checks")
    log.info("raw records: %d rows, %d checks, %d rows flagged", report.row_count, report.evaluated, report.rows_flagged)
    if raise_on_critical:
        report.raise_if_critical("batch")
    seconds["validate"], started = time.perf_counter() - started, time.perf_counter()
    anonymized, audit = _anonymize(typed, scorer)
    seconds["anonymize"], started = time.perf_counter() - started, time.perf_counter()

    _, flagged = quarantine_rows(pd.DataFrame(index=typed.index), report)  # the quarantine rule, reasons in suite order
    errors = flagged["quarantine_reason"].astype(object)
    whole = [o.key for o in report.expectations if o.critical and not o.success and not report.failing_rows.get(o.key)]
    if whole:  # nothing can be scored; each row says why
        reasons = "; ".join(whole)
        errors = pd.Series(
            [f"{errors[i]}; {reasons}" if i in errors.index else reasons for i in typed.index], index=typed.index, dtype=object
        )
    clean = typed.index.difference(errors.index)
    if len(clean) and set(ds.feature_columns) <= set(anonymized.columns):
        rows = anonymized if len(clean) == len(anonymized) else anonymized.loc[clean]  # (no copy when every row is clean)
        predictions = score_frame(champion, rows, top_k=scorer.top_k)
        predictions.index = clean
    else:
        predictions = pd.DataFrame(index=pd.Index([], dtype="int64"))
    seconds["score"] = time.perf_counter() - started
    return ScoredRecords(
        rows=len(typed),
        predictions=predictions,
        errors=errors.sort_index(),
        report=report,
        anonymized=anonymized,
        pii_audit=audit,
        id_column=ds.id_column,
        model_name=champion.model_name,
        model_version=champion.version,
        top_k=scorer.top_k,
        seconds=seconds,
    )
