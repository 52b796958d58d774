"""Over-masking in the audit: changed-value share per text column, a one-line warning above the policy's threshold."""

from __future__ import annotations

import logging

import _helpers  # noqa: F401  # offline tldextract before Presidio is imported
import pandas as pd
import pytest

from veilflow.engines.presidio import build_analyzer
from veilflow.tasks.ops.partition_merge import merge_audits
from veilflow.tasks.privacy.policy import PiiPolicy, TextRule
from veilflow.tasks.privacy.redaction import anonymize_frame


@pytest.fixture(scope="module")
def analyzer():
    return build_analyzer()


def _policy(**rule) -> PiiPolicy:
    return PiiPolicy(dataset="t", text_columns={"notes": TextRule(redact_known_values=False, **rule)})


def test_audit_when_most_values_changed_then_share_and_one_warning(analyzer, caplog: pytest.LogCaptureFixture) -> None:
    df = pd.DataFrame({"notes": ["call 555-867-5309", "mail jane.doe@example.com", "fine, thanks", "call 212-555-0187"]})
    with caplog.at_level(logging.WARNING, logger="veilflow.tasks.privacy.redaction"):
        _, audit = anonymize_frame(df, _policy(warn_changed_share=0.5), analyzer, None)
    col = audit.columns["notes"]
    assert (col.values_changed, col.texts_analyzed, col.changed_share) == (3, 4, 0.75)
    warnings = [r for r in caplog.records if "over-masking" in r.getMessage()]
    assert len(warnings) == 1 and "555" not in warnings[0].getMessage() and "jane" not in warnings[0].getMessage()
    assert "3 of 4" in warnings[0].getMessage()


def test_audit_when_share_below_threshold_then_no_warning(analyzer, caplog: pytest.LogCaptureFixture) -> None:
    df = pd.DataFrame({"notes": ["Felony Battery", "Disorderly Conduct", "call 555-867-5309", "Possession of Morphine"]})
    with caplog.at_level(logging.WARNING, logger="veilflow.tasks.privacy.redaction"):
        _, audit = anonymize_frame(df, _policy(), analyzer, None)
    assert audit.columns["notes"].changed_share == 0.25
    assert not [r for r in caplog.records if "over-masking" in r.getMessage()]


def test_merge_audits_when_partitions_then_changed_values_summed(analyzer) -> None:
    parts = [anonymize_frame(pd.DataFrame({"notes": [t]}), _policy(), analyzer, None)[1] for t in ("call 555-867-5309", "fine")]
    merged = merge_audits(parts)
    assert merged.columns["notes"].values_changed == 1 and merged.columns["notes"].changed_share == 0.5
