"""The policy's `risk:` section, the before/after assessment, the flow step's guard and the re-identification gate."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
from _configs import DEFAULTS

from veilflow.core.config import GateConfig, load_config
from veilflow.core.errors import ConfigError
from veilflow.core.paths import project_root
from veilflow.tasks.modeling.gates import SmokeResult, evaluate_gates
from veilflow.tasks.privacy.policy import load_policy
from veilflow.tasks.privacy.risk import RiskPolicy, assess_risk

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT

BASE_POLICY = """
version: 1
dataset: t
columns:
  email: {entity: EMAIL_ADDRESS, operator: drop}
"""


def _policy_file(tmp_path, risk_yaml: str):
    path = tmp_path / "p.pii.yaml"
    path.write_text(BASE_POLICY + textwrap.dedent(risk_yaml))
    return path


def _frame() -> pd.DataFrame:
    # zip x age: (94107, 30-39) x4, (94108, 30-39) x1, (94109, 40-49) x5 -> k=1, 1 of 10 rows below k=4.
    # Truncated to 4 digits: (9410, 30-39) x5, (9410, 40-49) x5 -> k=5.
    return pd.DataFrame(
        {
            "zip_code": ["94107"] * 4 + ["94108"] + ["94109"] * 5,
            "age_band": ["30-39"] * 5 + ["40-49"] * 5,
            "churned": [0, 1, 0, 1, 0, 1, 0, 1, 1, 1],
        }
    )


def test_load_policy_when_customers_then_risk_section_parsed_with_steps():
    policy = load_policy(PROJECT_ROOT / "expectations/policies/customers.pii.yaml")
    assert policy.risk is not None
    assert policy.risk.quasi_identifiers == ["zip_code", "age_band"]
    assert [len(v) for v in policy.risk.steps().values()] == [2]


@pytest.mark.parametrize(
    ("risk_yaml", "message"),
    [
        # a helper veilflow does not have
        ("risk: {quasi_identifiers: [zip_code], generalise: {zip_code: [{hash_it: {}}]}}", "unknown helper 'hash_it'"),
        # a parameter the helper does not take
        ("risk: {quasi_identifiers: [zip_code], generalise: {zip_code: [{truncate_zip: {width: 2}}]}}", "bad parameters"),
        # generalising a column that is not a quasi-identifier
        (
            "risk: {quasi_identifiers: [zip_code], generalise: {age_band: [{coarsen_age_band: {width: 20}}]}}",
            "not one of the quasi_identifiers",
        ),
        # no quasi-identifiers at all
        ("risk: {quasi_identifiers: []}", "risk.quasi_identifiers"),
        # a typo in a key is an error, not a default
        ("risk: {quasi_identifiers: [zip_code], kk: 5}", "unknown key"),
    ],
)
def test_load_policy_when_risk_section_bad_then_one_line_config_error(tmp_path, risk_yaml, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_policy(_policy_file(tmp_path, risk_yaml))
    assert "\n" not in str(err.value)


def test_assess_risk_when_generalisation_reaches_k_then_before_after_and_gate_pass():
    policy = RiskPolicy(
        quasi_identifiers=["zip_code", "age_band"],
        k=4,
        max_share_below_k=0.0,
        generalise={"zip_code": [{"truncate_zip": {"digits": 4}}, {"truncate_zip": {"digits": 1}}]},
    )
    frame = _frame()
    out, assessment = assess_risk(frame, policy, "churned")
    assert (assessment.before.k, assessment.before.records_below_k) == (1, 1)
    assert assessment.after.k == 5 and assessment.after.share_below_k == 0.0
    assert assessment.applied_steps == ["zip_code:truncate_zip(digits=4)"]  # stops once k is reached
    assert assessment.passed and assessment.reason.startswith("pass")
    assert set(out["zip_code"]) == {"9410"} and frame["zip_code"].iloc[0] == "94107"  # input untouched
    metrics = assessment.as_metrics()
    assert metrics["risk.before.k"] == 1 and metrics["risk.after.k"] == 5 and metrics["risk.passed"] == 1.0
    assert metrics["risk.after.l_diversity"] == 2


def test_assess_risk_when_no_steps_and_share_over_limit_then_gate_fails():
    policy = RiskPolicy(quasi_identifiers=["zip_code", "age_band"], k=4, max_share_below_k=0.05)
    _, assessment = assess_risk(_frame(), policy, "churned")
    assert not assessment.passed and "share below k too high" in assessment.reason
    assert assessment.after == assessment.before and assessment.applied_steps == []


def test_assess_risk_when_quasi_identifier_missing_then_value_error():
    with pytest.raises(ValueError, match="'gender' is not in the frame"):
        assess_risk(_frame(), RiskPolicy(quasi_identifiers=["gender"]), "churned")


def test_assess_reidentification_risk_when_policy_generalises_a_feature_then_config_error(tmp_path):
    from veilflow.tasks.ops.lifecycle import assess_reidentification_risk

    path = _policy_file(
        tmp_path, "risk: {quasi_identifiers: [age_band], generalise: {age_band: [{coarsen_age_band: {width: 20}}]}}\n"
    )
    config = load_config(DEFAULTS, {"dataset.pii_policy": str(path)})
    with pytest.raises(ConfigError, match="model feature"):
        assess_reidentification_risk(_frame(), config, {}, client=None, run_id="unused")  # type: ignore[arg-type]


def _gates(risk):
    return evaluate_gates(
        {"roc_auc": 0.8, "ece": 0.05},
        None,
        GateConfig(floors={"roc_auc": 0.6}),
        "roc_auc",
        fairness_gap=None,
        robustness_drop=None,
        leak_passed=True,
        smoke=SmokeResult(passed=True, latency_ms=5.0, n_rows=5),
        risk=risk,
    )


def test_evaluate_gates_when_risk_fails_then_reidentification_gate_blocks_with_numbers():
    decision = _gates((False, "fail (share below k too high): k=1 (target 5), 8.50% of 800 rows in classes below k (max 5.00%)"))
    assert not decision.passed
    assert [g.name for g in decision.failed] == ["reidentification"]
    assert "8.50%" in decision.summary and "reidentification" in decision.summary


def test_evaluate_gates_when_risk_passes_or_absent_then_gate_present_only_when_measured():
    assert "reidentification" in [g.name for g in _gates((True, "pass: k=16")).results]
    assert "reidentification" not in [g.name for g in _gates(None).results]
    assert _gates((True, "pass: k=16")).passed
