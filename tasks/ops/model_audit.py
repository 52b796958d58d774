"""Does the model itself leak? A membership-inference audit of every trained candidate, and what it records.

Which rows are attacked, and what the reference models are fitted on (seeded by the pipeline seed, so the same
config and data give the same figures):

- members: `n` rows drawn at random from the candidate's training split (the anonymized rows it was fitted on);
- non-members: `n` rows drawn at random from the held-out test split, which no fit reads (no fitting, early
  stopping or model selection); `n = min(len(test), privacy.mia.max_rows, len(train) // 2)`, the same on both
  sides, so an AUC of 0.5 and a TPR equal to the FPR are what no leak looks like;
- the reference pool: every row that is neither attacked nor in the test split, i.e. the training rows not drawn
  as members plus the validation split (sampled down to `privacy.mia.max_pool_rows` on large data). Each of the K reference models (`privacy.mia.reference_models`) is
  fitted like the candidate (same kind, params and preprocessing: a fresh `train_candidate`) on a random
  `reference_fraction` share of the pool, with the rest of the pool as its validation set (torch's early
  stopping reads it, as the candidate's read the validation split), and a seed of its own (`seed + 1 + k`, so
  the audit does not assume the attacker knows the candidate's random draws). The pool is disjoint from every
  attacked row, so every reference model is OUT for every member and non-member, which is what offline LiRA
  needs. Unattacked training rows belong in the pool: they are OUT for the attacked rows all the same, and they
  keep the reference models' training sets near the candidate's size (a pool of only validation and test rows
  would be a third of it).

Attacks (`veilflow.tasks.privacy.membership_inference`): the loss threshold (one forward pass) and offline LiRA
against the K reference models. Both report AUC and TPR at 1% and 0.1% FPR with bootstrap intervals; the gates
read the stronger of the two. What the figures do not show: an attack stronger than these two (more reference
models, online LiRA) may do better, so a pass is evidence, not proof; the DP candidates' ε is the proof, within
what it covers (see `veilflow.tasks.modeling.dp_models`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veilflow.core.config import PipelineConfig
from veilflow.engines import tracking
from veilflow.tasks.modeling.candidates import TORCH_KINDS, predict_output, train_candidate
from veilflow.tasks.privacy.membership_inference import (
    MIAReport,
    loss_threshold_attack,
    plot_attack_roc,
    reference_model_attack,
)

log = logging.getLogger("veilflow")

ATTACKS = ("loss", "lira_offline")
# Fewer attacked rows per side than this and the figures are noise (AUC's null spread at 20 vs 20 is ~0.09).
MIN_ROWS = 20
# The figures of a report the gates, the version tags and the model card read (intervals alongside).
_FIGURES = ("auc", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr")


@dataclass(frozen=True)
class MembershipAudit:
    """The two attack reports on one candidate and the sizes behind them."""

    loss: MIAReport
    lira: MIAReport
    n_members: int
    n_non_members: int
    pool_rows: int
    reference_rows: int
    seconds: float

    @property
    def reports(self) -> tuple[MIAReport, MIAReport]:
        return self.loss, self.lira

    def metrics(self, prefix: str = "mia") -> dict[str, float]:
        """`<prefix>.<attack>.auc`, `.tpr_at_1pct_fpr`, `.tpr_at_0_1pct_fpr` with `_ci_low` / `_ci_high`, both attacks."""
        return {**self.loss.metrics(prefix), **self.lira.metrics(prefix)}

    def summary(self) -> dict[str, Any]:
        """JSON-ready aggregates (figures, intervals, sizes; the thinned ROC curves): what the step logs and returns."""
        attacks: dict[str, Any] = {}
        for r in self.reports:
            entry: dict[str, Any] = {}
            for name in _FIGURES:
                entry[name] = float(getattr(r, name))
                ci = getattr(r, f"{name}_ci")
                entry[f"{name}_ci"] = [float(ci[0]), float(ci[1])] if ci is not None else None
            entry.update(
                n_members=r.n_members,
                n_non_members=r.n_non_members,
                n_reference=r.n_reference,
                low_fpr_resolved=r.low_fpr_resolved,
                fpr_at_1pct=r.fpr_at_1pct,
                confidence=r.confidence,
            )
            attacks[r.attack] = entry
        strongest = max(self.reports, key=lambda r: (r.auc, r.tpr_at_1pct_fpr))
        return {
            "enabled": True,
            "attacks": attacks,
            "strongest_attack": strongest.attack,
            "max_auc": max(r.auc for r in self.reports),
            "max_tpr_at_1pct_fpr": max(r.tpr_at_1pct_fpr for r in self.reports),
            "n_members": self.n_members,
            "n_non_members": self.n_non_members,
            "n_reference": self.lira.n_reference,
            "pool_rows": self.pool_rows,
            "reference_rows": self.reference_rows,
            "seconds": self.seconds,
        }


def attacked_rows(
    train: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame, max_rows: int, seed: int, max_pool_rows: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(members, non-members, reference pool) as described in the module docstring; inputs are not modified.

    The pool is sampled down to `max_pool_rows` (privacy.mia.max_pool_rows) when it is larger.

    Raises:
        ValueError: fewer than MIN_ROWS rows per side are possible (test split or training split too small).
    """
    n = min(len(test), int(max_rows), len(train) // 2)
    if n < MIN_ROWS:
        raise ValueError(
            f"membership audit: {n} row(s) per side (train {len(train)}, test {len(test)}); it needs at least {MIN_ROWS}"
        )
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x4D4941]))  # "MIA": apart from other draws
    member_pos = np.sort(rng.choice(len(train), size=n, replace=False))
    non_member_pos = np.sort(rng.choice(len(test), size=n, replace=False))
    rest = np.setdiff1d(np.arange(len(train)), member_pos)
    pool = pd.concat([train.iloc[rest], val], ignore_index=True)
    if max_pool_rows is not None and len(pool) > max_pool_rows:
        pool = pool.iloc[np.sort(rng.choice(len(pool), size=int(max_pool_rows), replace=False))].reset_index(drop=True)
    return train.iloc[member_pos], test.iloc[non_member_pos], pool


def audit_membership(
    kind: str,
    params: Mapping[str, Any],
    model: Any,
    train: pd.DataFrame,
    val: pd.DataFrame,
    test: pd.DataFrame,
    config: PipelineConfig,
) -> MembershipAudit:
    """Attack one fitted candidate: loss threshold and offline LiRA with K reference models of the same kind.

    Args:
        kind: the candidate's kind (the reference models are fitted with it).
        params: its params (the reference models get the same).
        model: the fitted pipeline (`TrainedCandidate.model`), scored on the attacked rows.
        train: the anonymized training split it was fitted on.
        val: the validation split.
        test: the held-out test split.
        config: `privacy.mia` sizes, the seed, the feature columns and the label.

    Returns:
        A `MembershipAudit`.

    Raises:
        ValueError: splits too small for an audit, or a reference fit that fails (e.g. a single class).
    """
    ds, mia, seed = config.dataset, config.privacy.mia, config.seed
    started = time.perf_counter()
    members, non_members, pool = attacked_rows(train, val, test, mia.max_rows, seed, mia.max_pool_rows)
    frame = pd.concat([members, non_members, pool], ignore_index=True)
    n = len(members)
    positions = np.arange(len(frame))
    y = frame[ds.label].to_numpy()
    task = config.task
    regression = task == "regression"
    # Classification: codes 0..k-1 in probability-column order (every class is in train: the split is stratified).
    classes = None if regression else np.unique(train[ds.label].to_numpy())
    p_in = predict_output(model, members, task)
    p_out = predict_output(model, non_members, task)
    ref_params = dict(params)
    if kind in TORCH_KINDS:
        ref_params.setdefault("verbose", False)  # logging only: the fit is the same
    pool_frame = frame.iloc[2 * n :]
    fits = 0
    sizes: list[int] = []

    def fit_predict(ref_train: pd.DataFrame, _y: np.ndarray, query: pd.DataFrame) -> np.ndarray:
        nonlocal fits
        # `frame` has a RangeIndex, so the index of a subset says which pool rows it holds.
        ref_val = pool_frame.drop(index=ref_train.index)
        fitted = train_candidate(
            kind,
            ref_params,
            ref_train,
            ref_val,
            numeric=ds.numeric_features,
            categorical=ds.categorical_features,
            text=ds.text_feature,
            label=ds.label,
            seed=seed + 1 + fits,
            text_max_features=config.training.text_max_features,
            task=task,
        )
        fits += 1
        sizes.append(len(ref_train))
        return predict_output(fitted.model, query, task)

    loss = loss_threshold_attack(
        p_in,
        members[ds.label].to_numpy(),
        p_out,
        non_members[ds.label].to_numpy(),
        classes=classes,
        n_boot=mia.n_boot,
        confidence=mia.confidence,
        seed=seed,
        regression=regression,
    )
    lira = reference_model_attack(
        fit_predict,
        frame,
        y,
        members=positions[:n],
        non_members=positions[n : 2 * n],
        population=positions[2 * n :],
        member_proba=p_in,
        non_member_proba=p_out,
        n_reference=mia.reference_models,
        reference_fraction=mia.reference_fraction,
        classes=classes,
        n_boot=mia.n_boot,
        confidence=mia.confidence,
        seed=seed,
        regression=regression,
    )
    return MembershipAudit(
        loss=loss,
        lira=lira,
        n_members=n,
        n_non_members=len(non_members),
        pool_rows=len(pool),
        reference_rows=sizes[0] if sizes else 0,
        seconds=time.perf_counter() - started,
    )


def audit_candidate(
    result: Any,
    train: pd.DataFrame,
    val: pd.DataFrame,
    test: pd.DataFrame,
    config: PipelineConfig,
    client: tracking.TrackingClient,
    run_id: str,
    out_dir: Path,
    best: bool = False,
) -> dict[str, Any]:
    """Training-flow step: audit one candidate (a `CandidateResult`) and record the figures.

    In the candidate's nested run: metrics `mia.<attack>.<figure>` (and intervals), `mia.seconds`, the ROC plot
    `privacy/mia_roc.png` (log-scale FPR) and `privacy/mia.json`. For the best candidate (`best=True`) the same
    metrics and plot go to the parent run as well. Aggregates only: no row, no score of a row.

    Returns:
        `MembershipAudit.summary()` plus the candidate's name and kind; `{"enabled": False, ...}` when
        `privacy.mia.enabled` is false (nothing is recorded then).
    """
    if not config.privacy.mia.enabled:
        return {"enabled": False, "candidate": result.name, "kind": result.kind}
    child = getattr(result, "run_id", None)
    try:
        audit = audit_membership(result.kind, result.params, result.trained.model, train, val, test, config)
    except ValueError as exc:
        # Splits too small to attack (or a reference fit that cannot run): recorded, and the gate fails on it.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("membership audit of %s not possible: %s", result.name, reason)
        for target in [r for r in (child, run_id if best else None) if r]:
            tracking.set_tags(client, target, {"veilflow.mia": f"not run: {reason}"})
        return {"enabled": True, "candidate": result.name, "kind": result.kind, "error": reason}
    summary = {"candidate": result.name, "kind": result.kind, **audit.summary()}
    metrics = {**audit.metrics("mia"), "mia.seconds": audit.seconds}
    plot_dir = out_dir / "privacy" / result.name
    png = plot_attack_roc(
        list(audit.reports),
        plot_dir / "mia_roc.png",
        title=f"{result.name}: membership inference ({audit.n_members} vs {audit.n_non_members} rows)",
    )
    targets = [r for r in (child, run_id if best else None) if r]
    for target in targets:
        tracking.log_metrics(client, target, metrics)
        tracking.log_artifact(client, target, png, "privacy")
        tracking.log_dict(client, target, summary, "privacy/mia.json")
    tracking.log_metrics(client, run_id, {f"{result.name}.mia.seconds": audit.seconds})
    log.info("membership audit of %s: %s | %s (%.1f s)", result.name, audit.loss.summary(), audit.lira.summary(), audit.seconds)
    return summary


def record_dp(dp: dict[str, Any], client: tracking.TrackingClient, child: str, run_id: str, name: str) -> None:
    """A DP candidate's accounting in its nested run: ε per epoch (`dp.epsilon`, step = epoch; the last is the
    final ε), `dp.delta`, `dp.noise_multiplier`, tags `veilflow.dp`, `veilflow.dp.accountant`, `veilflow.dp.secure_mode`;
    and `<name>.dp.epsilon` in the parent run."""
    for epoch, eps in enumerate(dp["epsilon_history"], start=1):
        tracking.log_metrics(client, child, {"dp.epsilon": eps}, step=epoch)
    tracking.log_metrics(
        client,
        child,
        {"dp.delta": dp["delta"], "dp.noise_multiplier": dp["noise_multiplier"], "dp.sample_rate": dp["sample_rate"]},
    )
    tags = {
        "veilflow.dp": "true",
        "veilflow.dp.accountant": dp["accountant"],
        "veilflow.dp.secure_mode": str(dp["secure_mode"]).lower(),
    }
    tracking.set_tags(client, child, tags)
    tracking.log_metrics(client, run_id, {f"{name}.dp.epsilon": dp["epsilon"], f"{name}.dp.delta": dp["delta"]})
    log.info(
        "%s: DP-SGD spent ε=%.3f at δ=%.3g (%s accountant, σ=%.3f)",
        name,
        dp["epsilon"],
        dp["delta"],
        dp["accountant"],
        dp["noise_multiplier"],
    )


def gate_figures(summary: Mapping[str, Any] | None) -> dict[str, dict[str, float]] | None:
    """The per-attack figures `evaluate_gates(mia=...)` reads, from an audit summary; None when no audit ran."""
    if not summary or not summary.get("enabled") or "attacks" not in summary:
        return None
    keep = (*_FIGURES, "n_members", "n_non_members")
    return {name: {k: float(v) for k, v in figures.items() if k in keep} for name, figures in summary["attacks"].items()}


def privacy_version_tags(dp: Mapping[str, Any] | None, mia: Mapping[str, Any] | None) -> dict[str, str]:
    """Model-version tags on the privacy of the model: `veilflow.dp` and, for a DP model, ε, δ, accountant and
    secure mode; the strongest attack's AUC and TPR at 1% FPR when the audit ran."""
    tags = {"veilflow.dp": "true" if dp else "false"}
    if dp:
        tags.update(
            {
                "veilflow.dp.epsilon": f"{float(dp['epsilon']):.6g}",
                "veilflow.dp.delta": f"{float(dp['delta']):.6g}",
                "veilflow.dp.accountant": str(dp["accountant"]),
                "veilflow.dp.secure_mode": str(bool(dp["secure_mode"])).lower(),
            }
        )
    if mia and mia.get("enabled"):
        tags["veilflow.mia.max_auc"] = f"{float(mia['max_auc']):.4f}"
        tags["veilflow.mia.max_tpr_at_1pct_fpr"] = f"{float(mia['max_tpr_at_1pct_fpr']):.4f}"
    return tags


def check_dp_requirements(config: PipelineConfig) -> None:
    """Fail before any data is read when a DP candidate asks for what this environment lacks.

    Raises:
        ConfigError: `secure_mode: true` (a cryptographic RNG for DP-SGD's noise and sampling) without the
            `torchcsprng` package, which Opacus needs for it.
    """
    import importlib.util

    from veilflow.core.errors import ConfigError

    for cand in config.training.candidates:
        modes = [cand.params.get("secure_mode", False), *(cand.search or {}).get("secure_mode", [])]
        if cand.is_dp and any(modes) and importlib.util.find_spec("torchcsprng") is None:
            raise ConfigError(
                f"candidate '{cand.name}': secure_mode: true needs the package 'torchcsprng' (Opacus' secure RNG), "
                "which is not installed; install it or set secure_mode: false"
            )
