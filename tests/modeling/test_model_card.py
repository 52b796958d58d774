"""Tests for veilflow.tasks.modeling.model_card: sections present, gate table complete, everything escaped, no data values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from veilflow.core.config import GateConfig
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.modeling.evaluation import bootstrap_ci, compute_metrics, slice_metrics
from veilflow.tasks.modeling.gates import SmokeResult, evaluate_gates
from veilflow.tasks.modeling.model_card import render_model_card

PII_COLUMNS = ["customer_id", "full_name", "email", "phone", "street_address", "ssn", "date_of_birth", "notes"]


@pytest.fixture(scope="module")
def card_inputs() -> dict:
    """Everything a training run would hand the card, derived from a generated frame that holds PII."""
    frame = generate_customers(n_rows=300, seed=7)
    rng = np.random.default_rng(0)
    y = frame["churned"].to_numpy()
    probs = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, len(y)), 0.01, 0.99)
    metrics = compute_metrics(y, probs)
    slices = slice_metrics(y, probs, frame["gender"])
    decision = evaluate_gates(
        metrics,
        None,
        GateConfig(),
        "roc_auc",
        fairness_gap=slices.max_gap,
        robustness_drop=0.02,
        leak_passed=True,
        smoke=SmokeResult(passed=True, latency_ms=8.0, n_rows=5),
    )
    return {
        "frame": frame,
        "kwargs": {
            "model_name": "veilflow-customers",
            "version": "3",
            "data_summary": {"fingerprint": "ab" * 32, "test_rows": len(frame), "label": "churned"},
            "metrics": metrics,
            "intervals": {"roc_auc": bootstrap_ci(y, probs, "roc_auc", n_boot=200, seed=0)},
            "slices": slices,
            "top_features": pd.DataFrame(
                {"feature": ["tenure_months", "contract_type", "notes"], "importance": [0.31, 0.22, 0.05]}
            ),
            "gates": decision,
            "pii_audit": {"notes": {"PERSON": 120, "EMAIL_ADDRESS": 40}, "email": {"EMAIL_ADDRESS": 300}},
            "extra": {"candidate": "logreg", "run_id": "0123abcd"},
        },
    }


def test_render_model_card_when_run_outputs_then_gate_table_has_every_gate(card_inputs):
    md, html = render_model_card(**card_inputs["kwargs"])
    decision = card_inputs["kwargs"]["gates"]
    assert "## Promotion gates" in md
    assert "| gate | result | value | required | detail |" in md
    for gate in decision.results:
        escaped = gate.name.replace("_", "\\_")
        assert f"| {escaped} | " in md
        assert f"<td>{gate.name}</td>" in html
    # First run: the regression gate says why it was skipped.
    assert "skipped: no champion" in md and "skipped: no champion" in html
    assert "Decision: PASSED" in md


def test_render_model_card_when_gate_failed_then_rejected_and_marked(card_inputs):
    kwargs = card_inputs["kwargs"]
    failed = evaluate_gates(
        {**kwargs["metrics"], "roc_auc": 0.55},
        None,
        GateConfig(),
        "roc_auc",
        fairness_gap=None,
        robustness_drop=None,
        leak_passed=False,
        smoke=None,
    )
    md, html = render_model_card(**{**kwargs, "gates": failed})
    assert "Decision: REJECTED" in md
    assert "| floor.roc\\_auc | FAIL | 0.5500 | &gt;=0.6000 |" in md
    assert html.count('<td class="FAIL">FAIL</td>') == len(failed.failed) == 4


def test_render_model_card_when_run_outputs_then_no_raw_values_from_the_frame(card_inputs):
    md, html = render_model_card(**card_inputs["kwargs"])
    frame = card_inputs["frame"]
    for column in PII_COLUMNS:
        for value in frame[column].astype(str).head(100):
            assert value not in md, column
            assert value not in html, column


def test_render_model_card_when_rendered_then_sections_intervals_and_slices_present(card_inputs):
    md, html = render_model_card(**card_inputs["kwargs"])
    low, high = card_inputs["kwargs"]["intervals"]["roc_auc"]
    for title in ["Data", "Metrics", "Promotion gates", "Fairness slices", "Top features", "PII audit"]:
        assert f"## {title}" in md
        assert f"<h2>{title}</h2>" in html
    assert f"[{low:.4f}, {high:.4f}]" in html
    assert "| notes | PERSON | 120 |" in md
    for group in ["female", "male", "nonbinary"]:
        assert f"<td>{group}</td>" in html
    # The Markdown is well-formed enough that a renderer finds one table per tabular section.
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert rendered.count("<table>") == 7


def test_render_model_card_when_text_holds_markup_then_escaped(card_inputs):
    kwargs = {**card_inputs["kwargs"], "extra": {"note": "<script>alert(1)</script> | *bold* [x](http://evil)"}}
    md, html = render_model_card(**kwargs)
    assert "<script>" not in md and "<script>" not in html
    assert "&lt;script&gt;" in html
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    # Escaped in Markdown too: no script, no link, no emphasis, and the pipe did not split the cell.
    assert "<script>" not in rendered and "<a href" not in rendered and "<em>" not in rendered
    assert "| note | &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*bold\\* \\[x\\](http://evil) |" in md


def test_render_model_card_when_html_then_standalone_without_external_resources(card_inputs):
    _, html = render_model_card(**card_inputs["kwargs"])
    assert html.startswith("<!DOCTYPE html>")
    assert "<style>" in html
    for marker in ("src=", "href=", "http://", "https://", "@import"):
        assert marker not in html


def test_render_model_card_when_slices_given_as_records_or_empty_then_rendered(card_inputs):
    records = card_inputs["kwargs"]["slices"].table.reset_index(names="group")
    md, _ = render_model_card(**{**card_inputs["kwargs"], "slices": records, "top_features": pd.DataFrame()})
    assert "| female | " in md
    assert "Not computed (explanations disabled" in md
    md_empty, _ = render_model_card(**{**card_inputs["kwargs"], "slices": pd.DataFrame()})
    assert "no sensitive attribute configured" in md_empty


@pytest.mark.parametrize(
    ("override", "message"),
    [
        # a frame in the summary could carry rows
        ({"data_summary": {"sample": pd.DataFrame({"email": ["a@b.c"]})}}, "DataFrame"),
        # a series in the audit could carry values
        ({"pii_audit": {"email": pd.Series(["a@b.c"])}}, "Series"),
        # an array in extra
        ({"extra": {"rows": np.array([1, 2, 3])}}, "ndarray"),
        # a malformed interval
        ({"intervals": {"roc_auc": 0.8}}, "low, high"),
        # gates must be the decision, not a dict
        ({"gates": {"passed": True}}, "GateDecision"),
        # summary must be a mapping
        ({"data_summary": [1, 2]}, "must be a mapping"),
    ],
)
def test_render_model_card_when_bad_input_then_error(card_inputs, override, message):
    with pytest.raises(ValueError, match=message) as info:
        render_model_card(**{**card_inputs["kwargs"], **override})
    assert "a@b.c" not in str(info.value)
