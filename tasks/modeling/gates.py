"""Promotion gates: every check a candidate must pass before it may become champion, with the numbers recorded."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from veilflow.core.config import GateConfig
from veilflow.tasks.modeling.evaluation import METRIC_DIRECTION, metric_direction

# MLflow caps tag values (5000 chars on some stores); the summary is cut well below that.
_MAX_TAG_CHARS = 1000


class SmokeResult(BaseModel):
    """Outcome of loading the registered model in a fresh process and predicting on its input example."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    latency_ms: float | None = None
    n_rows: int | None = None
    error: str | None = None


class GateResult(BaseModel):
    """One gate: what was measured, the bound it was held to, and whether it passed.

    `op` is the relation that must hold between value and threshold (">=", "<="); `skipped` marks a
    gate that passed only because there was nothing to compare (no champion, gate disabled, not measured).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    value: float | None = None
    threshold: float | None = None
    detail: str = ""
    op: str = ""
    skipped: bool = False

    def expression(self) -> str:
        """The checked relation with its numbers, e.g. "0.8100>=0.6000", or the detail when not numeric."""
        if self.value is None or self.threshold is None or not self.op:
            return self.detail
        return f"{_fmt(self.value)}{self.op}{_fmt(self.threshold)}"


class GateDecision(BaseModel):
    """All gate results and the overall verdict; `summary` is one line naming every failed gate with its numbers."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    results: list[GateResult]
    summary: str

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def as_tags(self) -> dict[str, str]:
        """MLflow model-version tags: `gate.<name>` = "pass 0.8100>=0.6000", plus `gate.decision` and `gate.summary`."""
        tags = {f"gate.{r.name}": f"{'pass' if r.passed else 'fail'} {r.expression()}".strip() for r in self.results}
        tags["gate.decision"] = "pass" if self.passed else "fail"
        tags["gate.summary"] = self.summary[:_MAX_TAG_CHARS]
        return tags


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.4f}"


def _holds(value: float, op: str, bound: float) -> bool:
    if math.isnan(value) or math.isnan(bound):
        return False
    if op == ">":
        return value > bound
    return value >= bound if op == ">=" else value <= bound


def _bound_gate(name: str, value: float | None, op: Literal[">=", "<=", ">"], bound: float, what: str) -> GateResult:
    if value is None:
        return GateResult(name=name, passed=False, threshold=bound, op=op, detail=f"{what} missing")
    value = float(value)
    ok = _holds(value, op, bound)
    return GateResult(
        name=name,
        passed=ok,
        value=value,
        threshold=bound,
        op=op,
        detail=f"{what} {_fmt(value)} {'meets' if ok else 'fails'} {op}{_fmt(bound)}",
    )


def _skip(name: str, reason: str, threshold: float | None = None) -> GateResult:
    return GateResult(name=name, passed=True, threshold=threshold, skipped=True, detail=f"skipped: {reason}")


def evaluate_gates(
    candidate_metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    gates: GateConfig,
    primary_metric: str,
    fairness_gap: float | None,
    robustness_drop: float | None,
    leak_passed: bool,
    smoke: SmokeResult | None,
    require_smoke: bool = True,
    risk: tuple[bool, str] | None = None,
    mia: Mapping[str, Mapping[str, float]] | None = None,
    require_mia: bool = False,
    dp: Mapping[str, Any] | None = None,
    require_dp: bool = False,
    task: str = "binary",
    floors: Mapping[str, float] | None = None,
    fairness_gaps: Mapping[str, float | None] | None = None,
    baseline_accuracy: float | None = None,
) -> GateDecision:
    """Evaluate every promotion gate; all are recorded even after one fails.

    Per task (`task`): the floors and the primary metric are the task's (`floors` overrides `gates.floors`, e.g.
    the task's defaults from `PipelineConfig.floors`); `baseline.accuracy` (multiclass, when `baseline_accuracy`
    is given) requires accuracy above the majority-class rate of the held-out set; `calibration` reads the
    binary ECE or the multiclass top-label ECE, and is recorded as not applicable for regression. With
    `fairness_gaps` (attribute -> gap), one `fairness.<attribute>` gate per sensitive attribute replaces the
    single `fairness` gate.

    Gates: `floor.<metric>` for each configured floor (a ceiling for lower-is-better metrics such as
    log_loss, brier, ece); `regression.<primary>` (the candidate may be worse than the champion, re-scored
    on the same data, by at most `max_regression`; skipped and passed on a first run without champion);
    `fairness` (gap <= max_fairness_gap); `robustness` (metric drop <= max_robustness_drop);
    `calibration` (ece <= max_calibration_error); `leak` (the PII leak scan passed); `reidentification`;
    the privacy of the model itself: `membership_inference`, `membership_inference.tpr_at_1pct_fpr`,
    `dp.required`, `dp.max_epsilon` (see `mia`, `dp`); `smoke` (the model loaded and predicted in a fresh
    process) and `smoke.latency` (<= smoke_latency_ms).
    A gate whose limit is None in the config is skipped; fairness and robustness are skipped when not
    measured (None), e.g. a dataset without a sensitive attribute. A missing smoke result fails unless
    `require_smoke` is False.

    Args:
        candidate_metrics: the candidate's metrics on the held-out set (see `compute_metrics`).
        champion_metrics: the current champion's metrics on the same held-out set, or None.
        gates: thresholds.
        primary_metric: the metric compared against the champion.
        fairness_gap: e.g. `SliceReport.max_gap`.
        robustness_drop: e.g. `robustness_report(...)["max_drop"]`.
        leak_passed: whether the leak scan found no PII.
        smoke: result of `run_smoke_test`.
        require_smoke: fail when `smoke` is None (True) or skip the smoke gates (False).
        risk: `(passed, reason)` from `veilflow.tasks.privacy.risk.risk_gate` on the generalised training data; adds a
            `reidentification` gate after `leak`. None (no policy `risk:` section) adds no gate.
        mia: the membership-inference audit of the candidate, attack name -> {"auc", "tpr_at_1pct_fpr",
            "n_non_members", ...}; adds `membership_inference` (the strongest attack's AUC <= max_mia_auc) and
            `membership_inference.tpr_at_1pct_fpr` (its TPR at 1% FPR <= max_mia_tpr_at_1pct_fpr; skipped
            below MIA_TPR_MIN_NON_MEMBERS non-members, where that operating point rests on one or two rows).
            None adds no gate, unless `require_mia`, when both fail ("audit not run").
        require_mia: the audit was enabled, so missing evidence fails.
        dp: the candidate's DP accounting (`candidates.dp_summary`: epsilon, delta, accountant), None when it was
            trained without DP; with it, or with `require_dp`, adds `dp.max_epsilon` (ε <= max_epsilon).
        require_dp: `privacy.require_dp`: adds `dp.required`, which fails for a model trained without DP.

    Returns:
        A `GateDecision`.

    Raises:
        ValueError: an unknown primary metric or floor metric.
    """
    primary_dir = metric_direction(primary_metric)
    results: list[GateResult] = []

    floor_map = dict(floors) if floors is not None else dict(gates.floors if gates.floors is not None else {"roc_auc": 0.6})
    for metric, floor in floor_map.items():
        op: Literal[">=", "<="] = ">=" if metric_direction(metric) == "higher" else "<="
        results.append(_bound_gate(f"floor.{metric}", candidate_metrics.get(metric), op, float(floor), metric))
    if baseline_accuracy is not None:
        gate = _bound_gate("baseline.accuracy", candidate_metrics.get("accuracy"), ">", float(baseline_accuracy), "accuracy")
        results.append(gate.model_copy(update={"detail": f"{gate.detail} (majority-class rate)"}))

    reg_name = f"regression.{primary_metric}"
    cand = candidate_metrics.get(primary_metric)
    if champion_metrics is None:
        results.append(_skip(reg_name, "no champion"))
    elif champion_metrics.get(primary_metric) is None:
        # A champion without the metric cannot be compared: refuse rather than promote blindly.
        results.append(GateResult(name=reg_name, passed=False, detail=f"champion {primary_metric} missing"))
    else:
        champ = float(champion_metrics[primary_metric])
        if primary_dir == "higher":
            bound, op = champ - gates.max_regression, ">="
        else:
            bound, op = champ + gates.max_regression, "<="
        gate = _bound_gate(reg_name, cand, op, bound, primary_metric)
        detail = f"{gate.detail} (champion {_fmt(champ)}, allowed regression {_fmt(gates.max_regression)})"
        results.append(gate.model_copy(update={"detail": detail}))

    fairness = dict(fairness_gaps) if fairness_gaps else {"": fairness_gap}
    for attribute, gap in fairness.items():
        fname = f"fairness.{attribute}" if attribute else "fairness"
        what = f"{attribute} fairness gap" if attribute else "fairness gap"
        if gates.max_fairness_gap is None:
            results.append(_skip(fname, "disabled"))
        elif gap is None:
            results.append(_skip(fname, "not measured", gates.max_fairness_gap))
        else:
            results.append(_bound_gate(fname, gap, "<=", gates.max_fairness_gap, what))

    if gates.max_robustness_drop is None:
        results.append(_skip("robustness", "disabled"))
    elif robustness_drop is None:
        results.append(_skip("robustness", "not measured", gates.max_robustness_drop))
    else:
        results.append(_bound_gate("robustness", robustness_drop, "<=", gates.max_robustness_drop, "robustness drop"))

    if gates.max_calibration_error is None:
        results.append(_skip("calibration", "disabled"))
    elif task == "regression":
        results.append(_skip("calibration", "not applicable for regression"))
    else:
        results.append(_bound_gate("calibration", candidate_metrics.get("ece"), "<=", gates.max_calibration_error, "ece"))

    results.append(
        GateResult(
            name="leak",
            passed=bool(leak_passed),
            detail="leak scan clean" if leak_passed else "leak scan found PII",
        )
    )

    if risk is not None:
        risk_passed, risk_reason = risk
        results.append(
            GateResult(name="reidentification", passed=bool(risk_passed), detail=f"re-identification risk {risk_reason}")
        )

    results.extend(_privacy_gates(gates, mia, require_mia, dp, require_dp))

    if smoke is None:
        if require_smoke:
            results.append(GateResult(name="smoke", passed=False, detail="smoke test not run"))
            results.append(
                GateResult(name="smoke.latency", passed=False, threshold=gates.smoke_latency_ms, detail="not measured")
            )
        else:
            results.append(_skip("smoke", "not required"))
            results.append(_skip("smoke.latency", "not required"))
    else:
        detail = f"predicted {smoke.n_rows} rows" if smoke.passed else f"failed: {smoke.error or 'unknown error'}"
        results.append(GateResult(name="smoke", passed=smoke.passed, detail=detail))
        if smoke.latency_ms is None:
            results.append(
                GateResult(name="smoke.latency", passed=False, threshold=gates.smoke_latency_ms, detail="not measured")
            )
        else:
            results.append(_bound_gate("smoke.latency", smoke.latency_ms, "<=", gates.smoke_latency_ms, "latency ms"))

    failed = [r for r in results if not r.passed]
    if failed:
        summary = f"rejected, {len(failed)} gate(s) failed: " + "; ".join(f"{r.name} {r.detail}" for r in failed)
    else:
        skipped = [r.name for r in results if r.skipped]
        summary = f"passed all {len(results)} gates" + (f" ({', '.join(skipped)} skipped)" if skipped else "")
    return GateDecision(passed=not failed, results=results, summary=" ".join(summary.split()))


# Below this many non-members the 1%-FPR operating point admits at most four false positives: it is set by the
# one to four most confident non-members, and a blind attack reaches TPR 0.05 there by chance far too often
# (~6% of the time with 120 vs 120 rows). The AUC, which reads every row, still gates such small audits.
MIA_TPR_MIN_NON_MEMBERS = 500


def _privacy_gates(
    gates: GateConfig,
    mia: Mapping[str, Mapping[str, float]] | None,
    require_mia: bool,
    dp: Mapping[str, Any] | None,
    require_dp: bool,
) -> list[GateResult]:
    """membership_inference (+ .tpr_at_1pct_fpr), dp.required and dp.max_epsilon, in that order."""
    out: list[GateResult] = []
    tpr_name = "membership_inference.tpr_at_1pct_fpr"
    if mia is None:
        if require_mia:
            out.append(
                GateResult(
                    name="membership_inference",
                    passed=False,
                    threshold=gates.max_mia_auc,
                    op="<=",
                    detail="membership-inference audit not run",
                )
            )
            out.append(
                GateResult(
                    name=tpr_name,
                    passed=False,
                    threshold=gates.max_mia_tpr_at_1pct_fpr,
                    op="<=",
                    detail="membership-inference audit not run",
                )
            )
    elif not mia:
        out.append(GateResult(name="membership_inference", passed=False, detail="membership-inference audit holds no attack"))
    else:
        # The strongest attack decides: an auditor reports the best attack it ran, not the average one.
        aucs = {a: f.get("auc") for a, f in mia.items()}
        tprs = {a: f.get("tpr_at_1pct_fpr") for a, f in mia.items()}
        if gates.max_mia_auc is None:
            out.append(_skip("membership_inference", "disabled"))
        elif any(v is None for v in aucs.values()):
            out.append(
                GateResult(
                    name="membership_inference", passed=False, threshold=gates.max_mia_auc, op="<=", detail="attack AUC missing"
                )
            )
        else:
            auc = {a: float(v) for a, v in aucs.items() if v is not None}
            attack = max(auc, key=auc.__getitem__)
            out.append(_bound_gate("membership_inference", auc[attack], "<=", gates.max_mia_auc, f"{attack} attack AUC"))
        n_out = min(int(f.get("n_non_members", 0) or 0) for f in mia.values())
        if gates.max_mia_tpr_at_1pct_fpr is None:
            out.append(_skip(tpr_name, "disabled"))
        elif any(v is None for v in tprs.values()):
            out.append(
                GateResult(
                    name=tpr_name,
                    passed=False,
                    threshold=gates.max_mia_tpr_at_1pct_fpr,
                    op="<=",
                    detail="attack TPR at 1% FPR missing",
                )
            )
        elif n_out < MIA_TPR_MIN_NON_MEMBERS:
            out.append(
                _skip(tpr_name, f"{n_out} non-members, fewer than {MIA_TPR_MIN_NON_MEMBERS}", gates.max_mia_tpr_at_1pct_fpr)
            )
        else:
            tpr = {a: float(v) for a, v in tprs.items() if v is not None}
            attack = max(tpr, key=tpr.__getitem__)
            out.append(_bound_gate(tpr_name, tpr[attack], "<=", gates.max_mia_tpr_at_1pct_fpr, f"{attack} attack TPR at 1% FPR"))

    if require_dp:
        out.append(
            GateResult(
                name="dp.required",
                passed=dp is not None,
                detail=f"trained with DP-SGD ({dp.get('accountant', '?')} accountant)"
                if dp is not None
                else "privacy.require_dp: the model was trained without differential privacy",
            )
        )
    if dp is not None or require_dp:
        if gates.max_epsilon is None:
            out.append(_skip("dp.max_epsilon", "disabled"))
        elif dp is None:
            out.append(
                GateResult(
                    name="dp.max_epsilon",
                    passed=False,
                    threshold=gates.max_epsilon,
                    op="<=",
                    detail="no ε: the model was trained without differential privacy",
                )
            )
        else:
            gate = _bound_gate("dp.max_epsilon", dp.get("epsilon"), "<=", gates.max_epsilon, "ε")
            delta = dp.get("delta")
            out.append(
                gate.model_copy(update={"detail": f"{gate.detail} at δ={float(delta):.3g}" if delta is not None else gate.detail})
            )
    return out


def compare_for_promotion(
    candidate_value: float, champion_value: float | None, primary_metric: str, tolerance: float = 0.0
) -> bool:
    """Whether a candidate may replace the champion on the primary metric.

    Meant for the locked compare-and-promote step, with the champion's value read inside the lock:
    True when there is no champion, or the candidate is no worse than the champion by more than
    `tolerance` (direction from `METRIC_DIRECTION`). With tolerance 0, of two racing candidates the
    better one always ends as champion. NaN on either side gives False.

    Raises:
        ValueError: unknown metric or negative tolerance.
    """
    direction = metric_direction(primary_metric)
    if tolerance < 0 or math.isnan(tolerance):
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if candidate_value is None or math.isnan(float(candidate_value)):
        return False
    if champion_value is None:
        return True
    champ = float(champion_value)
    if math.isnan(champ):
        return False
    if direction == "higher":
        return float(candidate_value) >= champ - tolerance
    return float(candidate_value) <= champ + tolerance


SMOKE_MARKER = "veilflow_smoke"


def run_smoke_test(
    model_uri: str,
    example_path: Path,
    tracking_uri: str,
    latency_budget_ms: float,
    timeout_s: float = 180,
) -> SmokeResult:
    """Load a model in a fresh Python process and predict on its input example, as a server would.

    Runs `python -m veilflow.engines.smoke` with the same interpreter and MLFLOW_TRACKING_URI set to
    `tracking_uri`, so the check exercises the registry, the stored artifacts and the model's own
    loader, not objects still in this process's memory.

    Args:
        model_uri: any MLflow model URI, typically "models:/<name>@challenger".
        example_path: input example (.parquet, .json or .csv) of anonymized feature rows.
        tracking_uri: absolute MLflow tracking URI.
        latency_budget_ms: a prediction slower than this fails the test.
        timeout_s: the whole subprocess (start, load, predict) is killed after this long.

    Returns:
        A `SmokeResult`; every failure (load, read, predict, budget, timeout, crash) is passed=False with
        a one-line reason that carries no data values.
    """
    example_path = Path(example_path)
    if not example_path.is_file():
        return SmokeResult(passed=False, error=f"input example not found: {example_path}")
    # The child needs the parent's environment (PATH, venv, home); only the tracking URI is imposed.
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "1")
    cmd = [sys.executable, "-m", "veilflow.engines.smoke", "--model-uri", model_uri, "--input", str(example_path)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        return SmokeResult(passed=False, error=f"smoke process timed out after {timeout_s:g} s")
    wall = time.perf_counter() - started
    payload = _parse_smoke_output(proc.stdout)
    if payload is None:
        return SmokeResult(
            passed=False,
            error=f"smoke process exited with code {proc.returncode} after {wall:.1f} s without a result line",
        )
    if not payload.get("ok"):
        return SmokeResult(
            passed=False,
            latency_ms=payload.get("latency_ms"),
            n_rows=payload.get("n_rows"),
            error=str(payload.get("error") or f"exit code {proc.returncode}"),
        )
    latency = float(payload["latency_ms"])
    n_rows = int(payload["n_rows"])
    if latency > latency_budget_ms:
        return SmokeResult(
            passed=False,
            latency_ms=latency,
            n_rows=n_rows,
            error=f"latency {latency:.1f} ms over the {latency_budget_ms:g} ms budget",
        )
    return SmokeResult(passed=True, latency_ms=latency, n_rows=n_rows)


def _parse_smoke_output(stdout: str) -> dict | None:
    # Libraries may print to stdout too: take the last line that is our JSON record.
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get(SMOKE_MARKER) is True:
            return record
    return None


__all__ = [
    "METRIC_DIRECTION",
    "GateDecision",
    "GateResult",
    "SmokeResult",
    "compare_for_promotion",
    "evaluate_gates",
    "run_smoke_test",
]
