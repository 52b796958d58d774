"""Benchmark what differential privacy costs and buys: test ROC AUC and membership-inference figures of the DP
MLP and DP logistic regression for ε in {0.5, 1, 3, 8, ∞} (∞ = the same model without DP) on the demo data and on
breast cancer, a memorising model's attack AUC in the same run, and DP-SGD vs plain fit time of the same MLP.

How the attack figures are measured (and why): the flow's own audit (`audit_membership`) with K = 8 reference
models (`--reference-models`; offline LiRA needs several to be a strong attack), and the flow's default K = 2
alongside (what `make run` reports). On small data one split says little: breast cancer's 114 test rows make
114 attacked rows per side, whose AUC spreads by ~0.04 from sampling alone, so the whole split -> fit -> audit
is repeated over R seeded splits (`--cancer-repeats`, default 5; `--demo-repeats`, default 1 for the 3,000-row
demo data) and the mean attack AUC is reported with its spread across repetitions and two intervals."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _bench import (
    BENCH_KEY,
    CUSTOMERS_CONFIG,
    RESULTS,
    add_path_argument,
    command_line,
    header,
    md_table,
    parser,
    require_file,
    write_report,
)
from scipy import stats
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from veilflow.core.config import AuditConfig, PipelineConfig, load_config, parse_config, resolve_path
from veilflow.engines.presidio import build_analyzer
from veilflow.tasks.data.io import generate_customers, load_breast_cancer_frame
from veilflow.tasks.modeling.candidates import predict_positive, train_candidate
from veilflow.tasks.modeling.preprocessing import build_preprocessor, split_frame
from veilflow.tasks.ops.model_audit import attacked_rows, audit_membership
from veilflow.tasks.privacy.membership_inference import loss_threshold_attack, reference_model_attack
from veilflow.tasks.privacy.policy import load_policy
from veilflow.tasks.privacy.redaction import anonymize_frame

EPSILONS = (0.5, 1.0, 3.0, 8.0, math.inf)
# The same MLP with and without DP-SGD: same layers, epochs, batch size and learning rate, no early stopping
# (DP-SGD runs every epoch), so the fit-time ratio compares like with like.
MLP = {"hidden": [64, 32], "epochs": 15, "batch_size": 128, "lr": 0.01}
LOGREG_DP = {"epochs": 15, "batch_size": 128, "lr": 0.1}
# Targets from the issue.
TARGET_UTILITY_GAP = 0.03  # ε = 8 DP MLP within this ROC AUC of the plain MLP, demo data
TARGET_DP_ATTACK_AUC = 0.55  # reference-attack AUC of every DP model at ε <= 3
TARGET_MEMORISER_AUC = 0.8
TARGET_FIT_RATIO = 3.0
# Attack strength of the benchmark: reference models K (offline LiRA); the flow's default K is reported too.
BENCH_K = 8
FLOW_K = AuditConfig().reference_models
# Repetitions (seeded splits) per data set: breast cancer is small, the demo data is not.
REPEATS = {"demo": 1, "breast_cancer": 5}
# The memorising model (the target of "the attack works"): a forest of fully grown trees, each fitted on every
# training row (no bootstrap), so every tree puts every training row in a pure leaf: the model interpolates its
# training set, a 1-nearest-neighbour-like model (each tree is a nearest-neighbour rule under its own adaptive
# metric). That is what memorising means; it is not tuned on the attack.
FOREST = {"n_estimators": 32, "max_depth": None, "min_samples_leaf": 1, "bootstrap": False, "n_jobs": 1}
# Reported beside it: the audit unit test's forest (scikit-learn's default bagging, fully grown trees; LiRA AUC
# 0.878 on digits with 8 reference models). Bagging leaves each training row out of ~37% of the trees, which then
# predict it as they would a stranger: that forest memorises only partly.
FOREST_BAGGED = {"n_estimators": 32, "max_depth": None, "min_samples_leaf": 1, "bootstrap": True, "n_jobs": 1}
# The flow's own most overfit kind, for comparison: unregularised boosting (every training row ends in a leaf of
# its own), attacked by `audit_membership` itself.
HGB_OVERFIT = {
    "max_iter": 200,
    "learning_rate": 0.5,
    "max_leaf_nodes": None,
    "max_depth": None,
    "min_samples_leaf": 1,
    "l2_regularization": 0.0,
    "early_stopping": False,
}


def _model(family: str, eps: float) -> tuple[str, dict[str, Any]]:
    """(kind, params) of a family at ε; ∞ is the non-DP kind with the same settings."""
    if family == "mlp":
        if math.isinf(eps):
            return "torch_mlp", {**MLP, "patience": 0, "validation_fraction": 0.0, "verbose": False, "device": "cpu"}
        return "torch_mlp_dp", {**MLP, "target_epsilon": eps}
    if math.isinf(eps):
        return "logistic_regression", {"C": 1.0}
    return "dp_logistic_regression", {**LOGREG_DP, "target_epsilon": eps}


def demo_data(config_path: Path, rows: int, mia: dict[str, Any]) -> tuple[PipelineConfig, pd.DataFrame]:
    """The customers config's generated data, anonymized by its PII policy with the pattern-only analyzer."""
    config = load_config(config_path, {"dataset.n_rows": rows, **{f"privacy.mia.{k}": v for k, v in mia.items()}})
    raw = generate_customers(rows, seed=config.seed, defect_rate=0.0)
    assert config.dataset.pii_policy is not None
    policy = load_policy(resolve_path(config.dataset.pii_policy))
    anonymized, _ = anonymize_frame(raw, policy, build_analyzer("none"), BENCH_KEY.encode())
    return config, anonymized


def cancer_data(seed: int, mia: dict[str, Any]) -> tuple[PipelineConfig, pd.DataFrame]:
    frame = load_breast_cancer_frame()
    numeric = [c for c in frame.columns if c not in ("sample_id", "malignant")]
    config = parse_config(
        {
            "seed": seed,
            "dataset": {
                "name": "breast_cancer",
                "source": "breast_cancer",
                "id_column": "sample_id",
                "label": "malignant",
                "numeric_features": numeric,
                "raw_suite": "expectations/customers.raw.json",
            },
            "privacy": {"mia": mia},
        }
    )
    return config, frame


def _configured(config: PipelineConfig, seed: int, k: int) -> PipelineConfig:
    """`config` with another seed (split, fits, attacked rows, reference subsets) and K reference models."""
    mia = config.privacy.mia.model_copy(update={"reference_models": k})
    return config.model_copy(update={"seed": seed, "privacy": config.privacy.model_copy(update={"mia": mia})})


def _lira(prefix: str, report: Any) -> dict[str, Any]:
    return {
        f"{prefix}_auc": report.auc,
        f"{prefix}_auc_ci": report.auc_ci,
        f"{prefix}_tpr_1pct": report.tpr_at_1pct_fpr,
    }


def fit_and_audit(
    config: PipelineConfig, splits: tuple[pd.DataFrame, ...], kind: str, params: dict[str, Any], flow_k: int | None
) -> dict[str, Any]:
    """Fit one model on the training split, score the test split, attack it with the flow's own audit
    (`audit_membership`) at the config's K, and at `flow_k` reference models too unless None."""
    train, val, test = splits
    ds = config.dataset
    started = time.perf_counter()
    cand = train_candidate(
        kind,
        params,
        train,
        val,
        ds.numeric_features,
        ds.categorical_features,
        ds.text_feature,
        ds.label,
        seed=config.seed,
        text_max_features=config.training.text_max_features,
    )
    wall = time.perf_counter() - started
    auc = float(roc_auc_score(test[ds.label], predict_positive(cand.model, test)))
    audit = audit_membership(kind, params, cand.model, train, val, test, config)
    row = {
        "kind": kind,
        "test_roc_auc": auc,
        "epsilon_spent": cand.dp["epsilon"] if cand.dp else math.inf,
        "fit_seconds": cand.fit_seconds,
        "fit_wall_seconds": wall,
        "loss_auc": audit.loss.auc,
        "loss_tpr_1pct": audit.loss.tpr_at_1pct_fpr,
        **_lira("lira", audit.lira),
        "n_attacked": audit.n_members,
        "reference_rows": audit.reference_rows,
        "audit_seconds": audit.seconds,
    }
    if flow_k is not None and flow_k != config.privacy.mia.reference_models:
        flow = audit_membership(kind, params, cand.model, train, val, test, _configured(config, config.seed, flow_k))
        row.update(_lira("lira_flow", flow.lira))
    return row


def forest_audit(config: PipelineConfig, splits: tuple[pd.DataFrame, ...], forest: dict[str, Any], flow_k: int) -> dict[str, Any]:
    """A memorising model: a random forest of fully grown trees (`forest`: its params), attacked exactly as `audit_membership` attacks a
    candidate (same attacked rows and reference pool from `attacked_rows`, same preprocessing, reference models
    fitted like the target with seeds seed + 1 + k, the same two attack functions), at K and at `flow_k`."""
    train, val, test = splits
    ds, mia, seed = config.dataset, config.privacy.mia, config.seed
    features = ds.feature_columns
    started = time.perf_counter()

    def fit(frame: pd.DataFrame, fit_seed: int) -> Pipeline:
        pre = build_preprocessor(ds.numeric_features, ds.categorical_features, ds.text_feature, config.training.text_max_features)
        model = Pipeline([("preprocess", pre), ("forest", RandomForestClassifier(**forest, random_state=fit_seed))])
        return model.fit(frame[features], frame[ds.label].to_numpy())

    target = fit(train, seed)
    auc = float(roc_auc_score(test[ds.label], target.predict_proba(test[features])[:, 1]))
    members, non_members, pool = attacked_rows(train, val, test, mia.max_rows, seed, mia.max_pool_rows)
    frame = pd.concat([members, non_members, pool], ignore_index=True)
    n = len(members)
    positions = np.arange(len(frame))
    classes = target.classes_
    p_in, p_out = target.predict_proba(members[features]), target.predict_proba(non_members[features])
    loss = loss_threshold_attack(
        p_in,
        members[ds.label].to_numpy(),
        p_out,
        non_members[ds.label].to_numpy(),
        classes=classes,
        n_boot=mia.n_boot,
        confidence=mia.confidence,
        seed=seed,
    )
    row: dict[str, Any] = {
        "kind": "random_forest",
        "test_roc_auc": auc,
        "loss_auc": loss.auc,
        "loss_tpr_1pct": loss.tpr_at_1pct_fpr,
        "n_attacked": n,
    }
    for prefix, k in (("lira", mia.reference_models), ("lira_flow", flow_k)):

        def fit_predict(ref_train: pd.DataFrame, _y: np.ndarray, query: pd.DataFrame, fits: Any = iter(range(k))) -> np.ndarray:
            return fit(ref_train, seed + 1 + next(fits)).predict_proba(query[features])

        lira = reference_model_attack(
            fit_predict,
            frame,
            frame[ds.label].to_numpy(),
            members=positions[:n],
            non_members=positions[n : 2 * n],
            population=positions[2 * n :],
            member_proba=p_in,
            non_member_proba=p_out,
            n_reference=k,
            reference_fraction=mia.reference_fraction,
            classes=classes,
            n_boot=mia.n_boot,
            confidence=mia.confidence,
            seed=seed,
        )
        row.update(_lira(prefix, lira))
    row["audit_seconds"] = time.perf_counter() - started
    return row


def fit_times(config: PipelineConfig, splits: tuple[pd.DataFrame, ...]) -> dict[str, float]:
    """DP-SGD vs plain fit of the same MLP (ε = 8), each fitted twice: the DP one's second fit reuses its σ."""
    train, val, _ = splits
    ds = config.dataset
    out: dict[str, float] = {}
    for label, eps in (("dp", 8.0), ("plain", math.inf)):
        kind, params = _model("mlp", eps)
        times = []
        for _ in range(2):
            cand = train_candidate(
                kind,
                params,
                train,
                val,
                ds.numeric_features,
                ds.categorical_features,
                ds.text_feature,
                ds.label,
                seed=config.seed,
                text_max_features=config.training.text_max_features,
            )
            times.append(cand.fit_seconds)
        out[f"{label}_first"], out[label] = times[0], min(times)
    out["ratio"] = out["dp"] / out["plain"]
    out["ratio_first"] = out["dp_first"] / out["plain"]
    return out


def summarise(results: list[dict[str, Any]], confidence: float) -> list[dict[str, Any]]:
    """One row per (data, model, ε): means over the repetitions, the spread of the attack AUC across them, and
    two intervals for its mean: `pooled_ci` (the repetitions' bootstrap standard errors pooled: the sampling
    error of the attacked rows) and `rep_ci` (Student t over the repetitions' AUCs: sampling plus everything
    that changes with the split and the seeds; None with one repetition)."""
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    out = []
    frame = pd.DataFrame(results)
    for (data, model, eps), part in frame.groupby(["data", "model", "epsilon"], sort=False):
        aucs = part["lira_auc"].to_numpy(dtype=float)
        r = len(aucs)
        mean = float(aucs.mean())
        cis = list(part["lira_auc_ci"])
        pooled = None
        if all(ci is not None for ci in cis):
            # Each repetition's bootstrap standard error from its interval; the mean's is √(Σ se²) / R.
            half = z * math.sqrt(sum(((hi - lo) / (2 * z)) ** 2 for lo, hi in cis)) / r
            pooled = (mean - half, mean + half)
        sd = float(aucs.std(ddof=1)) if r > 1 else None
        rep_ci = None
        if sd is not None:
            half = float(stats.t.ppf(0.5 + confidence / 2, r - 1)) * sd / math.sqrt(r)
            rep_ci = (mean - half, mean + half)
        row = {
            "data": data,
            "model": model,
            "epsilon": eps,
            "repeats": r,
            "test_roc_auc": float(part["test_roc_auc"].mean()),
            "epsilon_spent": float(part["epsilon_spent"].mean()),
            "fit_seconds": float(part["fit_seconds"].mean()),
            "loss_auc": float(part["loss_auc"].mean()),
            "lira_auc": mean,
            "lira_auc_sd": sd,
            "lira_auc_min": float(aucs.min()),
            "lira_auc_max": float(aucs.max()),
            "lira_pooled_ci": pooled,
            "lira_rep_ci": rep_ci,
            "lira_tpr_1pct": float(part["lira_tpr_1pct"].mean()),
            "lira_flow_auc": float(part["lira_flow_auc"].mean()) if "lira_flow_auc" in part else None,
        }
        out.append(row)
    return out


def run(
    config_path: Path,
    rows: int,
    epsilons: Sequence[float],
    mia: dict[str, Any],
    repeats: dict[str, int],
    flow_k: int,
    hgb_memoriser: bool = False,
    default_threads: int | None = None,
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    memoriser: dict[str, Any] = {}
    memoriser_bagged: dict[str, Any] = {}
    memoriser_hgb: dict[str, Any] = {}
    timings: dict[str, float] = {}
    timings_default: dict[str, float] = {}
    sizes: dict[str, dict[str, int]] = {}
    k = int(mia["reference_models"])
    started = time.perf_counter()
    for name, (base, frame) in (("demo", demo_data(config_path, rows, mia)), ("breast_cancer", cancer_data(42, mia))):
        label, split = base.dataset.label, base.split
        for rep in range(repeats[name]):
            # Repetition r: a fresh seeded split, fit and audit (seed + r: the split, the fits, the attacked rows
            # and the reference subsets all change); repetition 0 is the flow's own seed.
            seed = base.seed + rep
            config = _configured(base, seed, k)
            splits = split_frame(frame, label, split.test_size, split.val_size, seed=seed)
            sizes[name] = {"rows": len(frame), "train": len(splits[0]), "val": len(splits[1]), "test": len(splits[2])}
            for family in ("mlp", "logreg"):
                for eps in epsilons:
                    kind, params = _model(family, eps)
                    row = {
                        "data": name,
                        "model": family,
                        "epsilon": eps,
                        "repeat": rep,
                        "seed": seed,
                        **fit_and_audit(config, splits, kind, params, flow_k),
                    }
                    results.append(row)
                    print(
                        f"{name} #{rep} {family} eps={eps}: AUC {row['test_roc_auc']:.3f}, attack AUC K={k} "
                        f"{row['lira_auc']:.3f}, K={flow_k} {row.get('lira_flow_auc', float('nan')):.3f} "
                        f"({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
            if name == "demo" and rep == 0:
                memoriser = forest_audit(config, splits, FOREST, flow_k)
                memoriser_bagged = forest_audit(config, splits, FOREST_BAGGED, flow_k)
                print(
                    f"memorising forest: attack AUC K={k} {memoriser['lira_auc']:.3f} (bagged: "
                    f"{memoriser_bagged['lira_auc']:.3f})",
                    flush=True,
                )
                if hgb_memoriser:
                    memoriser_hgb = fit_and_audit(config, splits, "hist_gradient_boosting", HGB_OVERFIT, flow_k)
                    print(f"unregularised hgb: attack AUC K={k} {memoriser_hgb['lira_auc']:.3f}", flush=True)
                timings = fit_times(config, splits)
                if default_threads:
                    import torch

                    threads = torch.get_num_threads()
                    torch.set_num_threads(default_threads)
                    timings_default = {**fit_times(config, splits), "threads": default_threads}
                    torch.set_num_threads(threads)
    return {
        "rows": rows,
        "epsilons": list(epsilons),
        "mia": mia,
        "flow_k": flow_k,
        "repeats": repeats,
        "sizes": sizes,
        "results": results,
        "summary": summarise(results, float(base.privacy.mia.confidence)),
        "memoriser": memoriser,
        "memoriser_bagged": memoriser_bagged,
        "memoriser_hgb": memoriser_hgb,
        "timings": timings,
        "timings_default_threads": timings_default,
        "seconds": time.perf_counter() - started,
    }


def _eps(e: float) -> str:
    return "∞" if math.isinf(e) else f"{e:g}"


def _ci(ci: Sequence[float] | None) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-"


def plot(report: dict[str, Any], path: Path) -> Path:
    """Utility (test ROC AUC) and reference-attack AUC (mean over repetitions, pooled interval) against ε."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    frame = pd.DataFrame(report["summary"])
    finite = sorted(e for e in report["epsilons"] if not math.isinf(e))
    x_inf = (finite[-1] * 3) if finite else 1.0  # ∞ drawn one step right of the largest ε
    k = report["mia"]["reference_models"]
    fig = Figure(figsize=(11, 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, data in zip(axes, ("demo", "breast_cancer"), strict=True):
        part = frame[frame["data"] == data]
        reps = report["repeats"][data]
        for family, colour, shift in (("mlp", "#3b6ea5", 0.95), ("logreg", "#c0504d", 1.05)):
            rows = part[part["model"] == family].sort_values("epsilon")
            xs = np.array([x_inf if math.isinf(e) else e for e in rows["epsilon"]])
            ax.plot(xs, rows["test_roc_auc"], "o-", color=colour, label=f"{family}: test ROC AUC")
            cis = [c if c else (m, m) for c, m in zip(rows["lira_pooled_ci"], rows["lira_auc"], strict=True)]
            err = np.array(
                [
                    [m - c[0] for c, m in zip(cis, rows["lira_auc"], strict=True)],
                    [c[1] - m for c, m in zip(cis, rows["lira_auc"], strict=True)],
                ]
            )
            ax.errorbar(
                xs * shift,
                rows["lira_auc"],
                yerr=err,
                fmt="s--",
                color=colour,
                alpha=0.75,
                capsize=3,
                label=f"{family}: attack AUC (LiRA, K={k}, mean of {reps})",
            )
        if data == "demo" and report["memoriser"]:
            ax.axhline(
                report["memoriser"]["lira_auc"],
                color="black",
                ls=":",
                lw=1,
                label=f"memorising (interpolating) forest: attack AUC (K={k})",
            )
        ax.axhline(
            TARGET_DP_ATTACK_AUC, color="#7f7f7f", ls="--", lw=0.8, label=f"target for DP at ε <= 3: {TARGET_DP_ATTACK_AUC}"
        )
        ax.axhline(0.5, color="grey", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks([*finite, x_inf], [*(f"{e:g}" for e in finite), "∞"])
        ax.set_xlabel("ε (∞: trained without DP)")
        ax.set_title(f"{data.replace('_', ' ')} ({reps} split{'s' if reps > 1 else ''})")
        ax.set_ylim(0.4, 1.02)
    axes[0].set_ylabel("ROC AUC")
    for ax in axes:
        ax.legend(loc="center right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def targets(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    frame = pd.DataFrame(report["summary"])
    k, flow_k = report["mia"]["reference_models"], report["flow_k"]
    demo_mlp = frame[(frame["data"] == "demo") & (frame["model"] == "mlp")].set_index("epsilon")
    out: list[tuple[str, str, bool]] = []
    if 8.0 in demo_mlp.index and math.inf in demo_mlp.index:
        gap = demo_mlp.loc[math.inf, "test_roc_auc"] - demo_mlp.loc[8.0, "test_roc_auc"]
        out.append(
            (
                f"ε=8 DP MLP within {TARGET_UTILITY_GAP} ROC AUC of the plain MLP (demo)",
                f"gap {gap:+.4f}",
                gap <= TARGET_UTILITY_GAP,
            )
        )
    low = frame[frame["epsilon"] <= 3.0]
    if len(low):
        worst = low.loc[low["lira_auc"].idxmax()]
        reps = int(worst["repeats"])
        flow = low["lira_flow_auc"].max() if low["lira_flow_auc"].notna().any() else float("nan")
        out.append(
            (
                f"reference-attack AUC <= {TARGET_DP_ATTACK_AUC} for every DP model at ε <= 3 (K={k}; mean over the repetitions)",
                f"worst {worst['lira_auc']:.4f} ({worst['data']} {worst['model']} ε={_eps(worst['epsilon'])}, mean of "
                f"{reps}, pooled 95% CI {_ci(worst['lira_pooled_ci'])}); at the flow's K={flow_k} the worst is {flow:.4f}",
                bool(low["lira_auc"].max() <= TARGET_DP_ATTACK_AUC),
            )
        )
    m = report.get("memoriser")
    if m:
        out.append(
            (
                f"memorising model's attack AUC >= {TARGET_MEMORISER_AUC} (interpolating forest, {report['rows']} demo rows, "
                f"K={k})",
                f"{m['lira_auc']:.4f} {_ci(m['lira_auc_ci'])}; K={flow_k}: {m['lira_flow_auc']:.4f}",
                m["lira_auc"] >= TARGET_MEMORISER_AUC,
            )
        )
    if report["timings"]:
        r = report["timings"]["ratio"]
        td = report.get("timings_default_threads") or {}
        other = f"; torch's default {td['threads']} threads: {td['ratio']:.2f}x" if td else ""
        threads = report.get("torch_threads") or "default"
        out.append(
            (
                f"DP-SGD fit <= {TARGET_FIT_RATIO}x the plain fit of the same MLP (torch threads {threads})",
                f"{r:.2f}x{other}",
                r <= TARGET_FIT_RATIO,
            )
        )
    return out


def _memoriser_line(name: str, m: dict[str, Any], k: int, flow_k: int) -> str:
    if not m:
        return f"{name}: not run."
    return (
        f"{name}: test ROC AUC {m['test_roc_auc']:.4f}; LiRA AUC at K={k} **{m['lira_auc']:.4f}** "
        f"{_ci(m['lira_auc_ci'])}, TPR@1%FPR {m['lira_tpr_1pct']:.4f}; at the flow's K={flow_k}: "
        f"{m['lira_flow_auc']:.4f} {_ci(m['lira_flow_auc_ci'])}; loss AUC {m['loss_auc']:.4f} "
        f"({m['n_attacked']} attacked rows per side, audit {m['audit_seconds']:.0f} s)."
    )


def render(report: dict[str, Any], command: str) -> str:
    k, flow_k, reps = report["mia"]["reference_models"], report["flow_k"], report["repeats"]
    rows = []
    for r in report["summary"]:
        sd = r["lira_auc_sd"]
        spread = f" ± {sd:.3f} ({r['lira_auc_min']:.3f}–{r['lira_auc_max']:.3f})" if sd is not None else ""
        rows.append(
            {
                "data": r["data"],
                "model": r["model"],
                "ε": _eps(r["epsilon"]),
                "ε spent": "-" if math.isinf(r["epsilon_spent"]) else f"{r['epsilon_spent']:.3f}",
                "test ROC AUC": f"{r['test_roc_auc']:.4f}",
                f"LiRA AUC K={k}, mean ± sd (range)": f"{r['lira_auc']:.4f}{spread}",
                "pooled 95% CI": _ci(r["lira_pooled_ci"]),
                "across-split 95% CI": _ci(r["lira_rep_ci"]),
                f"LiRA AUC K={flow_k}": "-" if r["lira_flow_auc"] is None else f"{r['lira_flow_auc']:.4f}",
                "LiRA TPR@1%FPR": f"{r['lira_tpr_1pct']:.4f}",
                "loss AUC": f"{r['loss_auc']:.4f}",
                "fit s": f"{r['fit_seconds']:.2f}",
            }
        )
    columns = list(rows[0]) if rows else []
    per_rep = [
        {
            "data": r["data"],
            "model": r["model"],
            "ε": _eps(r["epsilon"]),
            "seed": r["seed"],
            "test ROC AUC": f"{r['test_roc_auc']:.4f}",
            f"LiRA AUC K={k} [bootstrap 95% CI]": f"{r['lira_auc']:.4f} {_ci(r['lira_auc_ci'])}",
            f"K={flow_k}": f"{r['lira_flow_auc']:.4f}" if "lira_flow_auc" in r else "-",
        }
        for r in report["results"]
        if reps[r["data"]] > 1 and r["epsilon"] <= 3.0
    ]
    t, td, mia = report["timings"], report.get("timings_default_threads") or {}, report["mia"]
    sizes = "; ".join(
        f"{name}: {v['rows']} rows (train {v['train']}, val {v['val']}, test {v['test']})" for name, v in report["sizes"].items()
    )
    lines = [
        "# Privacy of the model: utility and membership-inference figures against ε",
        "",
        header(command),
        f"Data: {sizes}. Demo data: `generate_customers` from `deploy/configs/customers.yaml`, anonymized by its PII "
        'policy with the **pattern-only** analyzer (`build_analyzer("none")`, no spaCy NER: faster, same structured '
        "operators); breast cancer: scikit-learn's bundled data, numeric features. Same split, preprocessing "
        "(`train_candidate`'s ColumnTransformer) and seed as the training flow.",
        "",
        f"Models: MLP {MLP} (ε = ∞: `torch_mlp` with the same settings, no early stopping) and logistic regression "
        f"(DP-SGD {LOGREG_DP}; ε = ∞: scikit-learn's, C = 1). DP-SGD: Opacus, RDP accountant, δ = 1/(10 n), "
        f"clipping norm 1. Torch intra-op threads: {report.get('torch_threads') or 'torch default'} "
        "(`--torch-threads`; both sides of the fit-time ratio run with the same setting).",
        "",
        "**How the attack is measured.** The flow's own audit (`veilflow.tasks.ops.model_audit.audit_membership`): "
        "members are training rows, non-members test rows (equal numbers), offline LiRA with "
        f"**K = {k} reference models** (the flow's default is K = {flow_k}, for cost; its figure is the column "
        f"'LiRA AUC K={flow_k}', measured on the same fitted model), {mia.get('n_boot', 200)} bootstrap resamples. "
        f"**Repetitions**: the whole split → fit → audit runs {reps['breast_cancer']} times on breast cancer and "
        f"{reps['demo']} time(s) on the demo data, repetition r with seed 42 + r (a fresh stratified split, fit "
        "seeds, attacked rows and reference subsets; r = 0 is the flow's seed). Breast cancer's test split has "
        "114 rows, so each side of the attack has 114 rows and one repetition's AUC spreads by ~0.04 from "
        "sampling alone; the table gives the **mean** over the repetitions, their standard deviation and range, "
        "the **pooled** 95% interval of the mean (mean ± 1.96·√(Σ seᵣ²)/R, seᵣ each repetition's bootstrap "
        "standard error: the attacked rows' sampling error) and the **across-split** 95% interval (Student t over "
        "the R AUCs: sampling plus everything that changes with the split and the seeds). The repetitions reuse "
        "the same 569 rows, so they are independent draws of the split, not of the population.",
        "",
        md_table(rows, columns),
        "",
        "**Memorising models**, demo data, seed 42 split, attacked with the same rows, pool and attack functions "
        f"as above (K = {k}, and the flow's K = {flow_k} on the same fitted model):",
        "",
        "- "
        + _memoriser_line(
            f"**the memorising model** (the target's): random forest {FOREST}, every tree fully grown on every "
            "training row, so the model interpolates its training set (1-nearest-neighbour-like)",
            report["memoriser"],
            k,
            flow_k,
        ),
        "- "
        + _memoriser_line(
            f"the audit unit test's forest {FOREST_BAGGED} (bagged: each row is out of ~37% of the trees, so it "
            "memorises only partly)",
            report["memoriser_bagged"],
            k,
            flow_k,
        ),
        "- "
        + _memoriser_line(
            f"unregularised gradient boosting {HGB_OVERFIT} (the flow's own most overfit kind, attacked by "
            "`audit_membership`; `--hgb-memoriser`)",
            report["memoriser_hgb"],
            k,
            flow_k,
        ),
        "",
        f"Fit time of the same MLP on the demo data (ε = 8, best of two fits), torch threads "
        f"{report.get('torch_threads') or 'default'}: DP-SGD {t.get('dp', float('nan')):.2f} s, "
        f"plain {t.get('plain', float('nan')):.2f} s, ratio **{t.get('ratio', float('nan')):.2f}x** (first DP fit, "
        f"with the accountant's noise search: {t.get('dp_first', float('nan')):.2f} s, "
        f"{t.get('ratio_first', float('nan')):.2f}x). With torch's default threads ({td.get('threads', '-')}, what "
        f"`make run` uses) on this shared machine: DP-SGD {td.get('dp', float('nan')):.2f} s, plain "
        f"{td.get('plain', float('nan')):.2f} s, ratio {td.get('ratio', float('nan')):.2f}x (intra-op threads "
        "spinning against other jobs slow the plain fit's many tiny steps most: that ratio measures contention, "
        "not DP-SGD).",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {name} | {value} | {'yes' if ok else 'NO'} |" for name, value, ok in targets(report)),
        "",
    ]
    if per_rep:
        lines += [
            "Every repetition of the DP models at ε <= 3 on the repeated data set(s):",
            "",
            md_table(per_rep, list(per_rep[0])),
            "",
        ]
    lines += [f"Plot: `benchmarks/results/privacy_utility.png`. Whole run: {report['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__file__, __doc__)
    add_path_argument(p, "--config", CUSTOMERS_CONFIG, "pipeline config (demo data, PII policy)")
    p.add_argument("--rows", type=int, default=3000, help="demo rows to generate (default 3000, as `make run`)")
    p.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS), help="ε values; 'inf' is the non-DP model")
    p.add_argument(
        "--reference-models", type=int, default=BENCH_K, help=f"reference models K of the LiRA attack (default {BENCH_K})"
    )
    p.add_argument("--flow-k", type=int, default=FLOW_K, help=f"also attack with this K, the flow's default (default {FLOW_K})")
    p.add_argument("--demo-repeats", type=int, default=REPEATS["demo"], help="seeded splits of the demo data (default 1)")
    p.add_argument(
        "--cancer-repeats",
        type=int,
        default=REPEATS["breast_cancer"],
        help=f"seeded splits of breast cancer (default {REPEATS['breast_cancer']})",
    )
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples of the attack figures")
    p.add_argument("--hgb-memoriser", action="store_true", help="also attack unregularised gradient boosting (slow: ~K minutes)")
    p.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: the MLPs are tiny, and on a shared machine more threads mostly "
        "spin; 0 leaves torch's default)",
    )
    p.add_argument("--plot", type=Path, default=RESULTS / "privacy_utility.png", help="PNG to write")
    args = p.parse_args(argv)
    if args.rows < 500:
        p.error("--rows must be at least 500")
    if args.reference_models < 2 or args.flow_k < 2:
        p.error("--reference-models and --flow-k must be at least 2")
    if args.demo_repeats < 1 or args.cancer_repeats < 1:
        p.error("--demo-repeats and --cancer-repeats must be at least 1")
    config = require_file(args.config, "--config")
    default_threads = None
    if args.torch_threads > 0:
        import torch

        default_threads = torch.get_num_threads()
        torch.set_num_threads(args.torch_threads)
    mia = {"reference_models": args.reference_models, "n_boot": args.n_boot}
    repeats = {"demo": args.demo_repeats, "breast_cancer": args.cancer_repeats}
    report = run(config, args.rows, args.epsilons, mia, repeats, args.flow_k, args.hgb_memoriser, default_threads)
    report["torch_threads"] = args.torch_threads
    plot(report, args.plot)
    write_report(args.out, render(report, command_line(__file__, argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
