"""Membership-inference audit: attack figures against sklearn, a memorising vs a regularised model, determinism."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from veilflow.tasks.privacy.membership_inference import (
    MIAReport,
    audit_scores,
    logit_confidence,
    loss_threshold_attack,
    plot_attack_roc,
    reference_model_attack,
)

N_TARGET = 600  # members and non-members each; the remaining 597 digits rows are the reference population
CLASSES = np.arange(10)


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    """scikit-learn's bundled digits (1797 rows, 10 classes); pixels scaled by their public maximum 16."""
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))
    return {
        "X": X / 16.0,
        "y": y,
        "members": perm[:N_TARGET],
        "non_members": perm[N_TARGET : 2 * N_TARGET],
        "population": perm[2 * N_TARGET :],
    }


def _forest() -> RandomForestClassifier:
    # Fully grown trees: the textbook memoriser (every member sits in a leaf of its own in most trees).
    return RandomForestClassifier(n_estimators=32, random_state=0, n_jobs=1)


def _logreg() -> LogisticRegression:
    return LogisticRegression(C=5e-3, max_iter=200)


def _audit(
    make: Callable[[], Any], d: dict[str, np.ndarray], *, n_reference: int, seed: int = 0, n_boot: int = 100
) -> tuple[MIAReport, MIAReport, float]:
    X, y, mem, non = d["X"], d["y"], d["members"], d["non_members"]
    model = make().fit(X[mem], y[mem])
    p_in, p_out = model.predict_proba(X[mem]), model.predict_proba(X[non])

    def fit_predict(train: np.ndarray, train_y: np.ndarray, query: np.ndarray) -> np.ndarray:
        return make().fit(train, train_y).predict_proba(query)

    loss = loss_threshold_attack(p_in, y[mem], p_out, y[non], classes=CLASSES, n_boot=n_boot, seed=seed)
    lira = reference_model_attack(
        fit_predict,
        X,
        y,
        members=mem,
        non_members=non,
        population=d["population"],
        member_proba=p_in,
        non_member_proba=p_out,
        n_reference=n_reference,
        classes=CLASSES,
        n_boot=n_boot,
        seed=seed,
    )
    return loss, lira, float(model.score(X[non], y[non]))


# ------------------------------------------------------------------------------ the figures themselves


@pytest.mark.parametrize("n_out", [300, 2500])
def test_figures_match_sklearn_roc(n_out: int) -> None:
    rng = np.random.default_rng(1)
    s_in = np.round(rng.normal(0.6, 1.0, 400), 1)  # rounded: plenty of ties
    s_out = np.round(rng.normal(0.0, 1.0, n_out), 1)
    report = audit_scores(s_in, s_out, attack="toy", n_boot=50, seed=3)
    truth = np.r_[np.ones(len(s_in)), np.zeros(len(s_out))]
    scores = np.r_[s_in, s_out]
    fpr, tpr, _ = skm.roc_curve(truth, scores, drop_intermediate=False)
    assert report.auc == pytest.approx(skm.roc_auc_score(truth, scores), abs=1e-12)
    assert report.tpr_at_1pct_fpr == pytest.approx(tpr[fpr <= 0.01].max())
    assert report.tpr_at_0_1pct_fpr == pytest.approx(tpr[fpr <= 0.001].max())
    assert report.fpr_at_1pct <= 0.01
    assert report.fpr_at_0_1pct <= 0.001
    # Below 1000 non-members the 0.1% figure is the TPR at FPR = 0, and the report says so.
    assert report.low_fpr_resolved is (n_out >= 1000)
    if n_out < 1000:
        assert report.fpr_at_0_1pct == 0.0
        assert report.tpr_at_0_1pct_fpr == pytest.approx(np.mean(s_in > s_out.max()))
    for value, ci in ((report.auc, report.auc_ci), (report.tpr_at_1pct_fpr, report.tpr_at_1pct_fpr_ci)):
        assert ci is not None
        assert ci[0] <= value <= ci[1]
    assert report.roc_fpr[0] == 0.0
    assert report.roc_fpr[-1] == 1.0
    assert len(report.roc_fpr) <= 200
    assert np.all(np.diff(report.roc_fpr) >= 0)
    assert np.all(np.diff(report.roc_tpr) >= 0)


def test_binary_vector_and_matrix_agree_and_inputs_are_untouched() -> None:
    rng = np.random.default_rng(2)
    p_in, p_out = rng.beta(5, 2, 200), rng.beta(4, 3, 300)
    y_in, y_out = (rng.random(200) < p_in).astype(int), (rng.random(300) < p_out).astype(int)
    kept = (p_in.copy(), p_out.copy(), y_in.copy(), y_out.copy())
    vector = loss_threshold_attack(p_in, y_in, p_out, y_out, n_boot=20, seed=5)
    matrix = loss_threshold_attack(
        np.column_stack([1 - p_in, p_in]),
        pd.Series(y_in),
        np.column_stack([1 - p_out, p_out]),
        y_out,
        n_boot=20,
        seed=5,
    )
    assert vector.model_dump() == matrix.model_dump()
    for before, after in zip(kept, (p_in, p_out, y_in, y_out), strict=True):
        np.testing.assert_array_equal(before, after)
    # The score ranks rows exactly as the negative cross-entropy loss does.
    phi = logit_confidence(p_in, y_in)
    loss = -np.log(np.where(y_in == 1, p_in, 1 - p_in))
    assert np.array_equal(np.argsort(phi, kind="stable"), np.argsort(-loss, kind="stable"))


def test_metrics_keys_and_plot(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    report = audit_scores(rng.normal(1, 1, 100), rng.normal(0, 1, 100), attack="loss", n_boot=10)
    metrics = report.metrics()
    for name in ("auc", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr"):
        assert f"mia.loss.{name}" in metrics
        assert metrics[f"mia.loss.{name}_ci_low"] <= metrics[f"mia.loss.{name}"] <= metrics[f"mia.loss.{name}_ci_high"]
    assert len(metrics) == 9
    assert set(audit_scores([1.0], [0.0], attack="loss", n_boot=0).metrics("audit")) == {
        "audit.loss.auc",
        "audit.loss.tpr_at_1pct_fpr",
        "audit.loss.tpr_at_0_1pct_fpr",
    }
    with pytest.raises(ValueError, match="frozen"):
        report.auc = 0.5
    path = plot_attack_roc([report], tmp_path / "roc" / "mia.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs_raise_one_line_errors(digits: dict[str, np.ndarray]) -> None:
    X, y, mem, non = digits["X"], digits["y"], digits["members"], digits["non_members"]
    p = np.full((len(mem), 10), 0.1)
    q = np.full((len(non), 10), 0.1)

    def never(train: Any, train_y: Any, query: Any) -> Any:  # pragma: no cover - must not be reached
        raise AssertionError("fit_predict called despite invalid inputs")

    cases: list[dict[str, Any]] = [
        {"population": np.r_[digits["population"], mem[:1]]},  # a reference model would be IN for a member
        {"population": digits["population"], "non_members": np.r_[non[:-1], mem[0]]},
        {"population": digits["population"], "n_reference": 1},
    ]
    for overrides in cases:
        kwargs: dict[str, Any] = {
            "members": mem,
            "non_members": non,
            "member_proba": p,
            "non_member_proba": q,
            "classes": CLASSES,
        }
        kwargs.update(overrides)
        with pytest.raises(ValueError) as info:
            reference_model_attack(never, X, y, **kwargs)
        assert "\n" not in str(info.value)

    def wrong_shape(train: Any, train_y: Any, query: Any) -> np.ndarray:
        return np.full((len(query), 3), 1 / 3)

    with pytest.raises(ValueError, match="fit_predict returned shape"):
        reference_model_attack(
            wrong_shape,
            X,
            y,
            members=mem,
            non_members=non,
            population=digits["population"],
            member_proba=p,
            non_member_proba=q,
            classes=CLASSES,
            n_boot=0,
        )
    with pytest.raises(ValueError, match="outside"):
        loss_threshold_attack(p + 1.0, y[mem], q, y[non])


# --------------------------------------------------------------------------- attacks on real models


def test_memorising_model_is_caught(digits: dict[str, np.ndarray]) -> None:
    loss, lira, accuracy = _audit(_forest, digits, n_reference=8)
    print(f"memorising forest (test acc {accuracy:.3f}): {loss.summary()} | {lira.summary()}")
    assert loss.auc >= 0.7  # measured 0.800
    assert lira.auc >= 0.8  # measured 0.878
    # The reference models are what finds members at low FPR: the loss attack cannot (0.000 measured).
    assert lira.tpr_at_1pct_fpr >= 0.05
    assert lira.tpr_at_1pct_fpr > loss.tpr_at_1pct_fpr
    assert lira.n_reference == 8
    assert lira.n_members == lira.n_non_members == N_TARGET
    assert not lira.low_fpr_resolved  # 600 non-members: the 0.1% figure is TPR at FPR = 0


def test_regularised_model_is_not(digits: dict[str, np.ndarray]) -> None:
    loss, lira, accuracy = _audit(_logreg, digits, n_reference=6)
    print(f"regularised logreg (test acc {accuracy:.3f}): {loss.summary()} | {lira.summary()}")
    assert accuracy >= 0.8  # still a useful model (measured 0.865), not a constant
    assert abs(loss.auc - 0.5) <= 0.06  # measured 0.513
    assert abs(lira.auc - 0.5) <= 0.06  # measured 0.530


def test_same_seed_same_report(digits: dict[str, np.ndarray]) -> None:
    first = _audit(_logreg, digits, n_reference=4, seed=11, n_boot=30)
    again = _audit(_logreg, digits, n_reference=4, seed=11, n_boot=30)
    other = _audit(_logreg, digits, n_reference=4, seed=12, n_boot=30)
    assert first[0] == again[0]
    assert first[1] == again[1]
    assert first[1].auc != other[1].auc  # another seed draws other reference subsets
    assert first[0].auc == other[0].auc
    assert first[0].auc_ci != other[0].auc_ci
