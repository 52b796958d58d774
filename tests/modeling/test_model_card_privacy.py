"""The model card's "Privacy of the model" section: attack figures with intervals, their meaning, ε and its limits."""

from __future__ import annotations

import pandas as pd
import pytest

from veilflow.core.config import GateConfig
from veilflow.tasks.modeling.gates import SmokeResult, evaluate_gates
from veilflow.tasks.modeling.model_card import render_model_card

MIA = {
    "enabled": True,
    "n_members": 600,
    "n_non_members": 600,
    "attacks": {
        "loss": {
            "auc": 0.5123,
            "auc_ci": [0.48, 0.545],
            "tpr_at_1pct_fpr": 0.0117,
            "tpr_at_1pct_fpr_ci": [0.003, 0.025],
            "tpr_at_0_1pct_fpr": 0.0,
            "tpr_at_0_1pct_fpr_ci": [0.0, 0.005],
            "n_members": 600,
            "n_non_members": 600,
            "n_reference": None,
            "low_fpr_resolved": False,
        },
        "lira_offline": {
            "auc": 0.5371,
            "auc_ci": [0.505, 0.569],
            "tpr_at_1pct_fpr": 0.02,
            "tpr_at_1pct_fpr_ci": [0.008, 0.035],
            "tpr_at_0_1pct_fpr": 0.0033,
            "tpr_at_0_1pct_fpr_ci": [0.0, 0.01],
            "n_members": 600,
            "n_non_members": 600,
            "n_reference": 2,
            "low_fpr_resolved": False,
        },
    },
}
DP = {
    "epsilon": 2.9962,
    "delta": 4.76e-05,
    "accountant": "rdp",
    "noise_multiplier": 1.21,
    "max_grad_norm": 1.0,
    "epochs": 10,
    "poisson_sampling": True,
    "secure_mode": False,
    "epsilon_history": [1.1, 2.0, 2.9962],
}


def _card(privacy):
    metrics = {"roc_auc": 0.84, "ece": 0.04}
    decision = evaluate_gates(
        metrics,
        None,
        GateConfig(),
        "roc_auc",
        fairness_gap=None,
        robustness_drop=None,
        leak_passed=True,
        smoke=SmokeResult(passed=True, latency_ms=8.0, n_rows=5),
        mia=MIA["attacks"],
        dp=DP if privacy.get("dp") else None,
    )
    return render_model_card(
        "veilflow-customers", "4", {"test_rows": 600}, metrics, {}, None, pd.DataFrame(), decision, {}, privacy=privacy
    )


def test_privacy_section_of_a_dp_model() -> None:
    md, html = _card({"mia": MIA, "dp": DP})
    section = md.split("## Privacy of the model\n", 1)[1].split("\n## Fairness", 1)[0]
    # After the gates, before the rest: the version description (cut at 4,900 characters) keeps it.
    assert md.index("## Promotion gates") < md.index("## Privacy of the model") < md.index("## Fairness slices")
    row = "| lira\\_offline | 0.5371 \\[0.5050, 0.5690\\] | 0.0200 \\[0.0080, 0.0350\\] | 0.0033 \\[0.0000, 0.0100\\] | 600 | 600 | 2 |"
    assert row in section  # Markdown-escaped brackets: rendered as [0.5050, 0.5690]
    assert "## Privacy of the model: differential privacy" in section
    assert "coin toss" in section and "1 in 100" in section  # what the figures mean, in plain words
    assert "TPR at an FPR of 0" in section  # 600 non-members: the 0.1% figure is not resolved
    assert "ε = 2.9962 at δ = 4.76e-05" in section
    assert "| accountant | rdp |" in section and "| δ | 4.76e-05 |" in section
    for gap in ("scaler", "TF-IDF vocabulary", "category levels", "model selection", "several rows"):
        assert gap in section, gap
    assert "Privacy of the model" in html and "ε = 2.9962" in html
    assert "| dp.max\\_epsilon | pass |" in md and "| membership\\_inference | pass |" in md  # in the gate table


def test_privacy_section_of_a_model_without_dp_or_audit() -> None:
    md, _ = _card({"mia": MIA, "dp": None})
    assert "Trained without differential privacy" in md and "What ε does not cover" not in md
    md, _ = _card({"mia": {"enabled": False}, "dp": None})
    assert "not run (privacy.mia.enabled is false)" in md
    md, _ = _card({"mia": {"enabled": True, "error": "membership audit: 5 row(s) per side"}, "dp": None})
    assert "could not run (membership audit: 5 row(s) per side)" in md


def test_privacy_section_refuses_frames() -> None:
    bad = {**MIA, "attacks": {"loss": {"auc": 0.5, "scores": pd.Series([0.1, 0.9])}}}
    with pytest.raises(ValueError, match="counts and summaries only"):
        _card({"mia": bad, "dp": None})
