"""Markdown summaries that flows publish as Prefect artifacts: counts, metrics and decisions only, never data values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def mlflow_run_url(tracking_uri: str | None, experiment_id: str, run_id: str) -> str:
    """A browser link to a run: the tracking server itself, or the local `make mlflow-ui` address for a SQLite store."""
    base = tracking_uri.rstrip("/") if tracking_uri and tracking_uri.startswith("http") else "http://127.0.0.1:5000"
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.4f}"
    # A pipe would split the cell; a newline would end the table.
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; floats get 4 decimals, None a dash.

    Raises:
        ValueError: no headers, or a row whose length differs from the headers'.
    """
    if not headers:
        raise ValueError("markdown_table needs at least one header")
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells for {len(headers)} headers")
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def validation_rows(metrics: Mapping[str, float], stages: Sequence[str] = ("raw", "anonymized")) -> list[list[Any]]:
    """Rows (stage, evaluated, failed, critical failed) from a run's `validation.<stage>.*` metrics."""
    rows = []
    for stage in stages:
        if f"validation.{stage}.evaluated" in metrics:
            rows.append(
                [
                    stage,
                    int(metrics[f"validation.{stage}.evaluated"]),
                    int(metrics.get(f"validation.{stage}.failed", 0)),
                    int(metrics.get(f"validation.{stage}.critical_failed", 0)),
                ]
            )
    return rows


def pii_rows(audit: Mapping[str, Any]) -> list[list[Any]]:
    """Rows (column, operator, entities found) from a PII audit dict; counts only."""
    rows = []
    for column, entry in sorted((audit.get("columns") or {}).items()):
        entities = entry.get("entities") or {}
        found = ", ".join(f"{k} {v}" for k, v in sorted(entities.items())) or "none"
        rows.append([column, entry.get("operator", ""), found])
    return rows


def training_summary(
    result: Mapping[str, Any],
    run_url: str,
    metrics: Mapping[str, float],
    audit: Mapping[str, Any] | None,
    gates: Sequence[Mapping[str, Any]],
) -> str:
    """The training run's Markdown summary: decision, validation counts, PII audit, test metrics, gate table."""
    decision = result.get("decision", "unknown")
    lines = [
        f"# Training run: **{decision}**",
        "",
        markdown_table(
            ["field", "value"],
            [
                ["model", f"`{result.get('model_name')}` version {result.get('version')}"],
                ["champion after this run", f"version {result.get('champion_version')}"],
                ["promotion decision", decision],
                ["failed gates", ", ".join(result.get("failed_gates") or []) or "none"],
                ["data fingerprint", str(result.get("data_fingerprint", ""))[:16]],
                ["MLflow run", f"[{result.get('run_id')}]({run_url})"],
            ],
        ),
    ]
    val = validation_rows(metrics)
    if val:
        lines += ["", "## Validation", "", markdown_table(["stage", "expectations", "failed", "critical failed"], val)]
    if audit is not None:
        total = audit.get(
            "total_found", sum(sum((c.get("entities") or {}).values()) for c in (audit.get("columns") or {}).values())
        )
        lines += ["", f"## PII audit ({total} entities replaced, {audit.get('rows', '–')} rows)", ""]
        rows = pii_rows(audit)
        lines.append(markdown_table(["column", "operator", "entities found"], rows) if rows else "no PII policy")
    test = sorted((k[len("test.") :], v) for k, v in metrics.items() if k.startswith("test.") and k.count(".") == 1)
    if test:
        lines += ["", "## Held-out test metrics", "", markdown_table(["metric", "value"], [list(t) for t in test])]
    if gates:
        rows = [
            [
                g.get("name"),
                "pass" if g.get("passed") else "FAIL",
                g.get("value"),
                f"{g.get('op', '')} {g.get('threshold')}" if g.get("threshold") is not None else "–",
                g.get("detail", ""),
            ]
            for g in gates
        ]
        lines += ["", "## Promotion gates", "", markdown_table(["gate", "result", "value", "bound", "detail"], rows)]
    return "\n".join(lines)


def scoring_summary(
    model_name: str,
    version: str,
    counts: Mapping[str, Any],
    validation: Mapping[str, Any],
    audit: Mapping[str, Any],
    run_url: str,
) -> str:
    """The scoring run's Markdown summary: rows scored / quarantined, validation and PII counts, output files."""
    failed = [e for e in validation.get("expectations", []) if not e.get("success")]
    lines = [
        f"# Scoring with `{model_name}` version {version}",
        "",
        markdown_table(
            ["rows in", "scored", "quarantined", "positive rate", "mean probability"],
            [
                [
                    counts["rows_in"],
                    counts["rows_scored"],
                    counts["rows_quarantined"],
                    counts.get("positive_rate", "-"),  # absent for regression (and positive rate for multiclass)
                    counts.get("mean_probability", counts.get("mean_prediction", "-")),
                ]
            ],
        ),
        "",
        f"## Validation ({validation.get('evaluated', 0)} expectations, {len(failed)} failed, {validation.get('rows_flagged', 0)} rows flagged)",
    ]
    if failed:
        lines += [
            "",
            markdown_table(
                ["expectation", "critical", "unexpected"],
                [[e["key"], e.get("critical"), e.get("unexpected_count")] for e in failed],
            ),
        ]
    rows = pii_rows(audit)
    lines += ["", f"## PII audit ({audit.get('total_found', 0)} entities replaced)", ""]
    lines.append(markdown_table(["column", "operator", "entities found"], rows) if rows else "no PII policy")
    lines += [
        "",
        f"Predictions: `{counts['output_path']}`"
        + (f"; quarantine: `{counts['quarantine_path']}`" if counts.get("quarantine_path") else ""),
        "",
        f"[MLflow run]({run_url})",
    ]
    return "\n".join(lines)
