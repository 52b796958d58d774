"""Benchmark what differential privacy costs and buys: test ROC AUC and membership-inference figures of the DP
MLP and DP logistic regression for ε in {0.5, 1, 3, 8, ∞} (∞ = the same model without DP) on the demo data and on
breast cancer, a memorising model's attack AUC in the same run, and DP-SGD vs plain fit time of the same MLP."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from sklearn.metrics import roc_auc_score

from veilflow.core.config import PipelineConfig, load_config, parse_config, resolve_path
from veilflow.engines.presidio import build_analyzer
from veilflow.tasks.data.io import generate_customers, load_breast_cancer_frame
from veilflow.tasks.modeling.candidates import predict_positive, train_candidate
from veilflow.tasks.modeling.preprocessing import split_frame
from veilflow.tasks.ops.model_audit import audit_membership
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
# The memorising model is also attacked on a sample of this many demo rows: few rows are where memorising shows
# most (the flow test of the membership gate uses this size).
MEMORISER_FEW_ROWS = 600
# Unregularised boosting: every training row ends in a leaf of its own.
MEMORISER = {
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


def fit_and_audit(config: PipelineConfig, splits: tuple[pd.DataFrame, ...], kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Fit one model on the training split, score the test split, attack it; figures and timings."""
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
    return {
        "kind": kind,
        "test_roc_auc": auc,
        "epsilon_spent": cand.dp["epsilon"] if cand.dp else math.inf,
        "fit_seconds": cand.fit_seconds,
        "fit_wall_seconds": wall,
        "loss_auc": audit.loss.auc,
        "lira_auc": audit.lira.auc,
        "lira_auc_ci": audit.lira.auc_ci,
        "lira_tpr_1pct": audit.lira.tpr_at_1pct_fpr,
        "loss_tpr_1pct": audit.loss.tpr_at_1pct_fpr,
        "n_attacked": audit.n_members,
        "audit_seconds": audit.seconds,
    }


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


def run(config_path: Path, rows: int, epsilons: Sequence[float], mia: dict[str, Any]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    memoriser: dict[str, Any] = {}
    memoriser_few: dict[str, Any] = {}
    timings: dict[str, float] = {}
    sizes: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    for name, (config, frame) in (("demo", demo_data(config_path, rows, mia)), ("breast_cancer", cancer_data(42, mia))):
        splits = split_frame(frame, config.dataset.label, config.split.test_size, config.split.val_size, seed=config.seed)
        sizes[name] = {"rows": len(frame), "train": len(splits[0]), "val": len(splits[1]), "test": len(splits[2])}
        for family in ("mlp", "logreg"):
            for eps in epsilons:
                kind, params = _model(family, eps)
                row = {"data": name, "model": family, "epsilon": eps, **fit_and_audit(config, splits, kind, params)}
                results.append(row)
                print(f"{name} {family} eps={eps}: AUC {row['test_roc_auc']:.3f}, attack AUC {row['lira_auc']:.3f}", flush=True)
        if name == "demo":
            memoriser = fit_and_audit(config, splits, "hist_gradient_boosting", MEMORISER)
            few = frame.sample(n=min(MEMORISER_FEW_ROWS, len(frame)), random_state=config.seed)
            few_splits = split_frame(few, config.dataset.label, config.split.test_size, config.split.val_size, seed=config.seed)
            memoriser_few = fit_and_audit(config, few_splits, "hist_gradient_boosting", MEMORISER)
            timings = fit_times(config, splits)
    return {
        "rows": rows,
        "epsilons": list(epsilons),
        "mia": mia,
        "sizes": sizes,
        "results": results,
        "memoriser": memoriser,
        "memoriser_few": memoriser_few,
        "timings": timings,
        "seconds": time.perf_counter() - started,
    }


def _eps(e: float) -> str:
    return "∞" if math.isinf(e) else f"{e:g}"


def plot(report: dict[str, Any], path: Path) -> Path:
    """Utility (test ROC AUC) and reference-attack AUC against ε, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    frame = pd.DataFrame(report["results"])
    finite = sorted(e for e in report["epsilons"] if not math.isinf(e))
    x_inf = (finite[-1] * 3) if finite else 1.0  # ∞ drawn one step right of the largest ε
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, data in zip(axes, ("demo", "breast_cancer")):
        part = frame[frame["data"] == data]
        for family, colour in (("mlp", "#3b6ea5"), ("logreg", "#c0504d")):
            rows = part[part["model"] == family].sort_values("epsilon")
            xs = [x_inf if math.isinf(e) else e for e in rows["epsilon"]]
            ax.plot(xs, rows["test_roc_auc"], "o-", color=colour, label=f"{family}: test ROC AUC")
            ax.plot(xs, rows["lira_auc"], "s--", color=colour, alpha=0.7, label=f"{family}: attack AUC (LiRA)")
        if data == "demo" and report["memoriser"]:
            ax.axhline(report["memoriser"]["lira_auc"], color="black", ls=":", lw=1, label="memorising model: attack AUC")
        ax.axhline(0.5, color="grey", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks([*finite, x_inf], [*(f"{e:g}" for e in finite), "∞"])
        ax.set_xlabel("ε (∞: trained without DP)")
        ax.set_title(data.replace("_", " "))
        ax.set_ylim(0.4, 1.02)
    axes[0].set_ylabel("ROC AUC")
    for ax in axes:
        ax.legend(loc="center right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def targets(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    frame = pd.DataFrame(report["results"])
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
        out.append(
            (
                f"reference-attack AUC <= {TARGET_DP_ATTACK_AUC} for every DP model at ε <= 3",
                f"worst {worst['lira_auc']:.4f} ({worst['data']} {worst['model']} ε={_eps(worst['epsilon'])})",
                bool(low["lira_auc"].max() <= TARGET_DP_ATTACK_AUC),
            )
        )
    for key, where in (("memoriser", f"{report['rows']} demo rows"), ("memoriser_few", f"{MEMORISER_FEW_ROWS} demo rows")):
        if report.get(key):
            m = report[key]["lira_auc"]
            out.append(
                (f"memorising model's attack AUC >= {TARGET_MEMORISER_AUC} ({where})", f"{m:.4f}", m >= TARGET_MEMORISER_AUC)
            )
    if report["timings"]:
        r = report["timings"]["ratio"]
        out.append((f"DP-SGD fit <= {TARGET_FIT_RATIO}x the plain fit of the same MLP", f"{r:.2f}x", r <= TARGET_FIT_RATIO))
    return out


def render(report: dict[str, Any], command: str) -> str:
    rows = []
    for r in report["results"]:
        ci = r["lira_auc_ci"]
        rows.append(
            {
                "data": r["data"],
                "model": r["model"],
                "ε": _eps(r["epsilon"]),
                "ε spent": "-" if math.isinf(r["epsilon_spent"]) else f"{r['epsilon_spent']:.3f}",
                "test ROC AUC": f"{r['test_roc_auc']:.4f}",
                "LiRA AUC [95% CI]": f"{r['lira_auc']:.4f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{r['lira_auc']:.4f}",
                "LiRA TPR@1%FPR": f"{r['lira_tpr_1pct']:.4f}",
                "loss AUC": f"{r['loss_auc']:.4f}",
                "fit s": f"{r['fit_seconds']:.2f}",
            }
        )
    columns = ["data", "model", "ε", "ε spent", "test ROC AUC", "LiRA AUC [95% CI]", "LiRA TPR@1%FPR", "loss AUC", "fit s"]
    m, few, t, mia = report["memoriser"], report.get("memoriser_few") or {}, report["timings"], report["mia"]
    sizes = "; ".join(
        f"{k}: {v['rows']} rows (train {v['train']}, val {v['val']}, test {v['test']})" for k, v in report["sizes"].items()
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
        "clipping norm 1. Attacks as in the flow's audit (`veilflow.tasks.ops.model_audit`): members are training "
        f"rows, non-members test rows, {mia.get('reference_models', 2)} reference models, {mia.get('n_boot', 200)} "
        "bootstrap resamples; the intervals are 95%.",
        "",
        md_table(rows, columns),
        "",
        f"Memorising model (unregularised gradient boosting {MEMORISER}, demo data): test ROC AUC "
        f"{m.get('test_roc_auc', float('nan')):.4f}, LiRA AUC {m.get('lira_auc', float('nan')):.4f}, "
        f"TPR@1%FPR {m.get('lira_tpr_1pct', float('nan')):.4f}, loss AUC {m.get('loss_auc', float('nan')):.4f}; "
        f"on a sample of {MEMORISER_FEW_ROWS} demo rows ({few.get('n_attacked', 0)} attacked per side): test ROC AUC "
        f"{few.get('test_roc_auc', float('nan')):.4f}, LiRA AUC {few.get('lira_auc', float('nan')):.4f}, "
        f"TPR@1%FPR {few.get('lira_tpr_1pct', float('nan')):.4f}, loss AUC {few.get('loss_auc', float('nan')):.4f}.",
        "",
        f"Fit time of the same MLP on the demo data (ε = 8, best of two fits): DP-SGD {t.get('dp', float('nan')):.2f} s, "
        f"plain {t.get('plain', float('nan')):.2f} s, ratio **{t.get('ratio', float('nan')):.2f}x** (first DP fit, "
        f"with the accountant's noise search: {t.get('dp_first', float('nan')):.2f} s, "
        f"{t.get('ratio_first', float('nan')):.2f}x).",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {name} | {value} | {'yes' if ok else 'NO'} |" for name, value, ok in targets(report)),
        "",
        f"Plot: `benchmarks/results/privacy_utility.png`. Whole run: {report['seconds']:.0f} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__file__, __doc__)
    add_path_argument(p, "--config", CUSTOMERS_CONFIG, "pipeline config (demo data, PII policy)")
    p.add_argument("--rows", type=int, default=3000, help="demo rows to generate (default 3000, as `make run`)")
    p.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS), help="ε values; 'inf' is the non-DP model")
    p.add_argument("--reference-models", type=int, default=4, help="reference models K of the LiRA attack (default 4)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples of the attack figures")
    p.add_argument("--plot", type=Path, default=RESULTS / "privacy_utility.png", help="PNG to write")
    args = p.parse_args(argv)
    if args.rows < 500:
        p.error("--rows must be at least 500")
    config = require_file(args.config, "--config")
    mia = {"reference_models": args.reference_models, "n_boot": args.n_boot}
    report = run(config, args.rows, args.epsilons, mia)
    plot(report, args.plot)
    write_report(args.out, render(report, command_line(__file__, argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
