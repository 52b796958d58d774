"""`veilflow.detect`: the public detection API, lazy at import, the same detection as the flow's redaction."""

from __future__ import annotations

import subprocess
import sys

import _helpers  # noqa: F401  # offline tldextract before Presidio is imported
import pandas as pd
import pytest
import regex

import veilflow
from veilflow.core.errors import ConfigError
from veilflow.engines.presidio import build_analyzer
from veilflow.tasks.privacy.policy import DEFAULT_TEXT_ENTITIES, PiiPolicy, TextRule
from veilflow.tasks.privacy.redaction import anonymize_frame


@pytest.fixture(scope="module")
def analyzer():
    return build_analyzer()


def test_import_veilflow_when_imported_then_no_presidio_or_spacy() -> None:
    code = "import sys, veilflow; print(any(m.split('.')[0] in ('presidio_analyzer', 'spacy') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_detect_when_called_then_spans_with_recognizer(analyzer) -> None:
    text = "Call Jane Doe at (555) 867–5309 or write jane dot doe at gmail dot com, @janed"
    spans = veilflow.detect(text, analyzer=analyzer)[0]
    assert [s.entity for s in spans] == ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "USERNAME"]
    assert all(isinstance(s, veilflow.Span) and s.recognizer and 0 < s.score <= 1 for s in spans)
    assert text[spans[1].start : spans[1].end] == "(555) 867–5309"


def test_detect_when_none_or_blank_then_empty_lists(analyzer) -> None:
    assert veilflow.detect([None, "", float("nan"), "  "], analyzer=analyzer) == [[], [], [], []]


def test_detect_when_policy_column_then_its_entities_only(analyzer) -> None:
    policy = PiiPolicy(dataset="t", text_columns={"notes": TextRule(entities=["PHONE_NUMBER"])})
    spans = veilflow.detect(["Jane Doe, 555-867-5309"], policy=policy, column="notes", analyzer=analyzer)[0]
    assert [s.entity for s in spans] == ["PHONE_NUMBER"]
    with pytest.raises(ConfigError, match="no text column 'other'"):
        veilflow.detect(["x"], policy=policy, column="other", analyzer=analyzer)


def test_default_text_entities_when_listed_then_include_username() -> None:
    assert "USERNAME" in DEFAULT_TEXT_ENTITIES and TextRule().entities == list(DEFAULT_TEXT_ENTITIES)


def test_detect_when_compared_with_redaction_then_same_spans_replaced(analyzer) -> None:
    notes = ["Spoke with Priya Raghunathan, @priya_r, 1-800-FLOWERS.", "Possession of Morphine", "card 4111.1111.1111.1111"]
    policy = PiiPolicy(dataset="t", text_columns={"notes": TextRule(redact_known_values=False)})
    out, audit = anonymize_frame(pd.DataFrame({"notes": notes}), policy, analyzer, None)
    spans = veilflow.detect(notes, policy=policy, column="notes", analyzer=analyzer)
    for text, redacted, found in zip(notes, out["notes"], spans):
        assert (redacted != text) == bool(found)
        assert all(text[s.start : s.end] not in redacted for s in found)  # every detected value is gone
        assert set(regex.findall(r"<([A-Z_]+)>", redacted)) <= {s.entity for s in found}
    assert audit.columns["notes"].values_changed == 2 and audit.columns["notes"].changed_share == round(2 / 3, 4)
