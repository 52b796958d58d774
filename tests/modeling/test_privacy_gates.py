"""The privacy-of-the-model gates: membership_inference (AUC, TPR at 1% FPR), dp.required and dp.max_epsilon."""

from __future__ import annotations

import pytest

from veilflow.core.config import GateConfig
from veilflow.tasks.modeling.gates import MIA_TPR_MIN_NON_MEMBERS, SmokeResult, evaluate_gates

GATES = GateConfig(floors={"roc_auc": 0.6}, max_mia_auc=0.6, max_mia_tpr_at_1pct_fpr=0.05, max_epsilon=8.0)
METRICS = {"roc_auc": 0.85, "ece": 0.05}
N = MIA_TPR_MIN_NON_MEMBERS  # enough non-members for the TPR figure to be judged


def _mia(loss_auc: float = 0.51, lira_auc: float = 0.53, lira_tpr: float = 0.01, n: int = N) -> dict:
    return {
        "loss": {"auc": loss_auc, "tpr_at_1pct_fpr": 0.01, "n_members": n, "n_non_members": n},
        "lira_offline": {"auc": lira_auc, "tpr_at_1pct_fpr": lira_tpr, "n_members": n, "n_non_members": n},
    }


def _decide(gates: GateConfig = GATES, **kwargs):
    return evaluate_gates(
        METRICS,
        None,
        gates,
        "roc_auc",
        fairness_gap=None,
        robustness_drop=None,
        leak_passed=True,
        smoke=SmokeResult(passed=True, latency_ms=10.0, n_rows=5),
        **kwargs,
    )


def _gate(decision, name: str):
    return next(g for g in decision.results if g.name == name)


def test_membership_gate_passes_on_a_model_that_does_not_leak() -> None:
    decision = _decide(mia=_mia(), require_mia=True)
    gate = _gate(decision, "membership_inference")
    assert decision.passed, decision.summary
    assert (gate.value, gate.op, gate.threshold) == (0.53, "<=", 0.6)  # the stronger of the two attacks
    assert "lira_offline" in gate.detail
    assert _gate(decision, "membership_inference.tpr_at_1pct_fpr").value == 0.01
    assert decision.as_tags()["gate.membership_inference"] == "pass 0.5300<=0.6000"


@pytest.mark.parametrize(
    ("mia", "failed"),
    [
        (_mia(loss_auc=0.91), "membership_inference"),  # the loss attack alone is strong enough to fail it
        (_mia(lira_auc=0.61), "membership_inference"),
        (_mia(lira_tpr=0.2), "membership_inference.tpr_at_1pct_fpr"),
    ],
    ids=["loss-auc", "lira-auc", "lira-tpr"],
)
def test_membership_gate_fails_on_a_leaking_model_and_records_the_numbers(mia: dict, failed: str) -> None:
    decision = _decide(mia=mia, require_mia=True)
    assert not decision.passed
    assert [g.name for g in decision.failed] == [failed]
    gate = _gate(decision, failed)
    assert gate.value is not None and gate.threshold is not None and gate.op == "<="
    assert failed in decision.summary
    # Every gate is still recorded after the failure (dp gates are absent: no DP evidence, none required).
    assert [g.name for g in decision.results][-4:] == [
        "membership_inference",
        "membership_inference.tpr_at_1pct_fpr",
        "smoke",
        "smoke.latency",
    ]


def test_membership_gate_when_evidence_absent() -> None:
    # Audit enabled but no evidence: both figures fail, with the reason.
    decision = _decide(mia=None, require_mia=True)
    assert {g.name for g in decision.failed} == {"membership_inference", "membership_inference.tpr_at_1pct_fpr"}
    assert "audit not run" in _gate(decision, "membership_inference").detail
    # Audit disabled (privacy.mia.enabled: false): no gate at all.
    names = [g.name for g in _decide(mia=None, require_mia=False).results]
    assert not [n for n in names if n.startswith(("membership_inference", "dp."))]
    # A figure missing from the evidence fails rather than passes.
    broken = {"loss": {"tpr_at_1pct_fpr": 0.0, "n_non_members": N}}
    assert "membership_inference" in [g.name for g in _decide(mia=broken).failed]


def test_membership_tpr_gate_is_skipped_on_small_audits_and_disabled_by_none() -> None:
    small = _decide(mia=_mia(lira_tpr=0.2, n=120))
    tpr = _gate(small, "membership_inference.tpr_at_1pct_fpr")
    assert small.passed and tpr.skipped and "120 non-members" in tpr.detail
    off = _decide(GATES.model_copy(update={"max_mia_auc": None}), mia=_mia(lira_auc=0.99))
    assert off.passed and _gate(off, "membership_inference").skipped


DP = {"epsilon": 2.97, "delta": 1e-4, "accountant": "rdp"}


def test_dp_gates_pass_for_a_dp_model_within_budget() -> None:
    decision = _decide(dp=DP, require_dp=True)
    assert decision.passed, decision.summary
    assert _gate(decision, "dp.required").passed
    eps = _gate(decision, "dp.max_epsilon")
    assert (eps.value, eps.op, eps.threshold) == (2.97, "<=", 8.0)
    assert "δ=0.0001" in eps.detail


def test_dp_gates_fail_when_budget_exceeded_or_model_not_private() -> None:
    over = _decide(GATES.model_copy(update={"max_epsilon": 1.0}), dp=DP)
    assert [g.name for g in over.failed] == ["dp.max_epsilon"]
    assert "dp.required" not in [g.name for g in over.results]  # not required: only the budget is checked
    plain = _decide(dp=None, require_dp=True)
    assert [g.name for g in plain.failed] == ["dp.required", "dp.max_epsilon"]
    assert "without differential privacy" in _gate(plain, "dp.required").detail
    # Neither DP nor required: no dp gate (a plain run's gate list is unchanged).
    assert not [g.name for g in _decide().results if g.name.startswith("dp.")]
