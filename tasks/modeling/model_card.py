"""Model card: one Markdown and one standalone HTML page per model version, built from aggregates only."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from veilflow.tasks.modeling.evaluation import SliceReport
from veilflow.tasks.modeling.gates import GateDecision

_SCALARS = (str, int, float, bool, np.integer, np.floating, np.bool_, type(None))
# Free text in a card is a label or a short note; a long string is more likely a pasted value.
_MAX_TEXT = 300
_MAX_LIST = 50


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class _Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[_Table] = field(default_factory=list)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        return f"{v:.4f}"
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _check_value(value: Any, where: str) -> None:
    """Only scalars and short lists of scalars may enter a card: frames, arrays and series could be rows."""
    if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
        raise ValueError(f"{where} holds a {type(value).__name__}; the model card takes counts and summaries only")
    if isinstance(value, (list, tuple, set)):
        for item in value:
            if not isinstance(item, _SCALARS):
                raise ValueError(f"{where} holds a nested {type(item).__name__}; only scalars are allowed in lists")
        return
    if not isinstance(value, _SCALARS):
        raise ValueError(f"{where} holds a {type(value).__name__}; only scalars, lists of scalars and dicts are allowed")


def _flatten(mapping: Mapping[str, Any], name: str, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{name} must be a mapping, got {type(mapping).__name__}")
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in mapping.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            out.extend(_flatten(value, name, path))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
            # A list of records (e.g. per-column audit entries): each is flattened under its position.
            for i, item in enumerate(value):
                out.extend(_flatten(item, name, (*path, str(i))))
        else:
            _check_value(value, f"{name}[{'.'.join(path)}]")
            out.append((path, value))
    return out


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple, set)):
        items = list(value)
        more = f", ... ({len(items) - _MAX_LIST} more)" if len(items) > _MAX_LIST else ""
        return ", ".join(_fmt(v) for v in items[:_MAX_LIST]) + more
    return _fmt(value)


def _kv_table(mapping: Mapping[str, Any], name: str) -> _Table:
    return _Table(["item", "value"], [[".".join(path), _cell(v)] for path, v in _flatten(mapping, name)])


def _metrics_section(metrics: Mapping[str, Any], intervals: Mapping[str, Any]) -> _Section:
    rows = []
    for metric, value in _flatten(metrics, "metrics"):
        key = ".".join(metric)
        interval = intervals.get(key)
        if interval is None:
            ci = "-"
        else:
            if not isinstance(interval, (tuple, list)) or len(interval) != 2:
                raise ValueError(f"intervals[{key}] must be a (low, high) pair")
            ci = f"[{_fmt(interval[0])}, {_fmt(interval[1])}]"
        rows.append([key, _cell(value), ci])
    unknown = sorted(set(intervals) - {".".join(p) for p, _ in _flatten(metrics, "metrics")})
    paragraphs = ["Held-out test set; intervals are bootstrap percentile intervals where given."]
    if unknown:
        paragraphs.append("Intervals without a point estimate were left out: " + ", ".join(unknown) + ".")
    return _Section("Metrics", paragraphs, [_Table(["metric", "value", "interval"], rows)])


def _gates_section(gates: GateDecision) -> _Section:
    rows = [
        [
            r.name,
            "skipped" if r.skipped else ("pass" if r.passed else "FAIL"),
            _fmt(r.value),
            f"{r.op}{_fmt(r.threshold)}" if r.threshold is not None else "-",
            r.detail,
        ]
        for r in gates.results
    ]
    verdict = "PASSED" if gates.passed else "REJECTED"
    return _Section(
        "Promotion gates",
        [f"Decision: {verdict}. {gates.summary}"],
        [_Table(["gate", "result", "value", "required", "detail"], rows)],
    )


_SLICE_COLUMNS = [
    ("attribute", "attribute"),  # several sensitive attributes: one block of groups each
    ("n", "n"),
    ("n_positive", "positives"),
    ("positive_rate", "positive rate"),
    ("selection_rate", "selection rate"),
    ("tpr", "TPR"),
    ("fpr", "FPR"),
    ("roc_auc", "ROC AUC"),
    ("accuracy", "accuracy"),  # multiclass: the gap is max - min accuracy
    ("mae", "MAE"),  # regression: the gap is (max - min MAE) / overall MAE
    ("included", "in gaps"),
]


def _slices_section(slices: SliceReport | pd.DataFrame | None) -> _Section:
    section = _Section("Fairness slices")
    if slices is None or (isinstance(slices, pd.DataFrame) and slices.empty):
        section.paragraphs.append("Not computed: the dataset has no sensitive attribute configured.")
        return section
    table = slices.table if isinstance(slices, SliceReport) else slices
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"slices must be a SliceReport or a DataFrame, got {type(slices).__name__}")
    if "group" in table.columns:  # records form, e.g. SliceReport.table.reset_index(names="group")
        table = table.set_index("group")
    cols = [(c, label) for c, label in _SLICE_COLUMNS if c in table.columns]
    if not cols:
        raise ValueError("slices table has none of the per-group metric columns (n, selection_rate, tpr, ...)")
    rows = [[_fmt(group), *(_fmt(row[c]) for c, _ in cols)] for group, row in table.iterrows()]
    section.tables.append(_Table(["group", *(label for _, label in cols)], rows))
    if isinstance(slices, SliceReport):
        section.paragraphs.append(
            f"Demographic parity difference (max - min selection rate): {_fmt(slices.demographic_parity_difference)}; "
            f"equal opportunity difference (max - min TPR): {_fmt(slices.equal_opportunity_difference)}; "
            f"groups under {slices.min_group_size} rows are excluded from the gaps."
        )
        section.paragraphs.extend(slices.notes)
    return section


def _features_section(top_features: pd.DataFrame | None, max_features: int) -> _Section | None:
    if top_features is None:
        return None
    if not isinstance(top_features, pd.DataFrame):
        raise ValueError(f"top_features must be a DataFrame, got {type(top_features).__name__}")
    if top_features.empty:
        return _Section("Top features", ["Not computed (explanations disabled or unavailable)."])
    frame = top_features.head(max_features)
    name_col = "feature" if "feature" in frame.columns else None
    numeric = [c for c in frame.columns if c != name_col and pd.api.types.is_numeric_dtype(frame[c])]
    names = frame[name_col] if name_col else pd.Series(frame.index, index=frame.index)
    rows = [[_fmt(names.loc[i]), *(_fmt(frame.at[i, c]) for c in numeric)] for i in frame.index]
    paragraphs = [f"Top {len(frame)} of {len(top_features)} features by global importance."]
    return _Section("Top features", paragraphs, [_Table(["feature", *map(str, numeric)], rows)])


def _audit_section(pii_audit: Mapping[str, Any]) -> _Section:
    flat = _flatten(pii_audit, "pii_audit")
    rows = []
    for path, value in flat:
        column, rest = path[0], ".".join(path[1:]) or "-"
        rows.append([column, rest, _cell(value)])
    paragraphs = ["Entities found and transformed during anonymization (counts only)."]
    if not rows:
        paragraphs.append("No audit entries.")
    return _Section("PII audit", paragraphs, [_Table(["column", "entity / item", "count / value"], rows)])


def _ci(figures: Mapping[str, Any], name: str) -> str:
    ci = figures.get(f"{name}_ci")
    value = _fmt(figures.get(name))
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return f"{value} [{_fmt(ci[0])}, {_fmt(ci[1])}]"
    return value


_DP_ROWS = (
    ("epsilon", "ε (privacy budget spent)"),
    ("delta", "δ"),
    ("accountant", "accountant"),
    ("noise_multiplier", "noise multiplier σ"),
    ("max_grad_norm", "per-row gradient clipping norm"),
    ("epochs", "epochs"),
    ("poisson_sampling", "Poisson-sampled batches"),
    ("secure_mode", "cryptographic RNG (secure mode)"),
)
_EPSILON_GAPS = (
    "What ε does not cover: preprocessing fitted on the private training rows (the scaler's means and variances, "
    "the TF-IDF vocabulary and its idf weights, the category levels of the one-hot encoder) reaches the model "
    "without noise; model selection (hyper-parameters, early choices and the pick of this candidate among others "
    "on the validation split); the per-epoch loss curves; the membership audit itself; and people with several "
    "rows: ε holds per row, so a person with k rows is protected at about k times ε."
)


def _privacy_sections(privacy: Mapping[str, Any]) -> list[_Section]:
    """Membership-inference figures with intervals and what they mean; then the DP accounting and its limits."""
    if not isinstance(privacy, Mapping):
        raise ValueError(f"privacy must be a mapping, got {type(privacy).__name__}")
    section = _Section("Privacy of the model")
    dp_section = _Section("Privacy of the model: differential privacy")
    mia, dp = privacy.get("mia"), privacy.get("dp")
    if isinstance(mia, Mapping) and mia.get("error"):
        section.paragraphs.append(f"Membership-inference audit: could not run ({_fmt(mia['error'])}).")
    elif isinstance(mia, Mapping) and mia.get("enabled"):
        attacks = mia.get("attacks") or {}
        if not isinstance(attacks, Mapping):
            raise ValueError("privacy['mia']['attacks'] must be a mapping")
        rows = []
        for attack, figures in attacks.items():
            for key_parts, value in _flatten(figures, f"privacy.mia.{attack}"):
                _check_value(value, f"privacy.mia.{attack}.{'.'.join(key_parts)}")
            rows.append(
                [
                    _fmt(attack),
                    _ci(figures, "auc"),
                    _ci(figures, "tpr_at_1pct_fpr"),
                    _ci(figures, "tpr_at_0_1pct_fpr"),
                    _fmt(figures.get("n_members")),
                    _fmt(figures.get("n_non_members")),
                    _fmt(figures.get("n_reference")),
                ]
            )
        section.paragraphs.append(
            "Could someone tell, from this model's answers alone, whether a given person's row was in its training "
            f"data? Two membership-inference attacks tried, on {_fmt(mia.get('n_members'))} rows the model was trained "
            f"on and {_fmt(mia.get('n_non_members'))} rows it never saw: a loss threshold (rows the model fits "
            "unusually well are called members) and offline LiRA (the model's confidence on a row is compared with "
            "that of reference models trained the same way without the row). An AUC of 0.5 means the attacker does "
            "no better than a coin toss and 1.0 that it always tells them apart; the TPR at 1% FPR is the share of "
            "training rows it finds while wrongly naming only 1 in 100 of the others (about 0.01 by chance). "
            "Intervals in brackets are bootstrap intervals. Low figures are evidence against a leak for these two "
            "attacks, not a proof: a stronger attack may do better."
        )
        section.tables.append(
            _Table(["attack", "AUC", "TPR at 1% FPR", "TPR at 0.1% FPR", "members", "non-members", "reference models"], rows)
        )
        if any(not f.get("low_fpr_resolved", True) for f in attacks.values() if isinstance(f, Mapping)):
            section.paragraphs.append("Fewer than 1000 non-members were attacked: the 0.1% figure is the TPR at an FPR of 0.")
    else:
        section.paragraphs.append("Membership-inference audit: not run (privacy.mia.enabled is false).")
    if isinstance(dp, Mapping) and dp:
        delta = dp.get("delta")
        delta_text = f"{float(delta):.3g}" if isinstance(delta, (int, float)) else _fmt(delta)
        dp_rows = []
        for key, label in _DP_ROWS:
            if key in dp:
                _check_value(dp[key], f"privacy.dp.{key}")
                dp_rows.append([label, delta_text if key == "delta" else _cell(dp[key])])
        dp_section.paragraphs.append(
            f"Trained with differential privacy (DP-SGD, Opacus): ε = {_fmt(dp.get('epsilon'))} at δ = {delta_text}. "
            "In plain words: for any one training row, the trained weights (and so every prediction) are at most "
            "e^ε times more or less likely with that row than without it, except with probability δ; the smaller "
            "ε, the less any single row can show through."
        )
        dp_section.tables.append(_Table(["item", "value"], dp_rows))
        if dp.get("secure_mode"):
            dp_section.paragraphs.append("Secure mode: the noise came from a cryptographic RNG, so a replay is not bit-exact.")
        dp_section.paragraphs.append(_EPSILON_GAPS)
    else:
        dp_section.paragraphs.append(
            "Trained without differential privacy: there is no formal bound on what the model reveals about any one "
            "row; the audit above is the only evidence."
        )
    return [section, dp_section]


def _sections(
    model_name: str,
    version: str | int,
    data_summary: Mapping[str, Any],
    metrics: Mapping[str, Any],
    intervals: Mapping[str, Any],
    slices: SliceReport | pd.DataFrame | None,
    top_features: pd.DataFrame | None,
    gates: GateDecision,
    pii_audit: Mapping[str, Any],
    extra: Mapping[str, Any] | None,
    max_features: int,
    privacy: Mapping[str, Any] | None = None,
) -> list[_Section]:
    if not isinstance(gates, GateDecision):
        raise ValueError(f"gates must be a GateDecision, got {type(gates).__name__}")
    if not isinstance(intervals, Mapping):
        raise ValueError(f"intervals must be a mapping, got {type(intervals).__name__}")
    sections = [
        _Section(
            "Overview",
            [
                f"Model {_fmt(model_name)}, version {_fmt(version)}.",
                "This card holds aggregate counts and metrics only: no data rows or values.",
            ],
        ),
        _Section("Data", tables=[_kv_table(data_summary, "data_summary")]),
        _metrics_section(metrics, intervals),
        _gates_section(gates),
    ]
    if privacy is not None:
        sections.extend(_privacy_sections(privacy))
    sections.append(_slices_section(slices))
    features = _features_section(top_features, max_features)
    if features is not None:
        sections.append(features)
    sections.append(_audit_section(pii_audit))
    if extra:
        sections.append(_Section("Additional information", tables=[_kv_table(extra, "extra")]))
    return sections


# Inline syntax (emphasis, code, links, tables); with brackets escaped no link or image can form.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
# Block syntax only matters at the start of a line: headings, lists, quotes, rules.
_MD_BLOCK_START = re.compile(r"^([#+\-=]+|\d+[.)])(?=\s|$)")


def _md(text: str, paragraph: bool = True) -> str:
    """Escape for a Markdown paragraph or table cell: HTML entities first, then Markdown syntax."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_INLINE.sub(r"\\\1", text)
    if not paragraph:  # inside a table row no block syntax can start
        return text
    # Backslash goes before the punctuation ("1\\." not "\\1."): CommonMark escapes punctuation only.
    return _MD_BLOCK_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)


def _render_markdown(title: str, sections: list[_Section]) -> str:
    lines = [f"# {_md(title)}", ""]
    for s in sections:
        lines += [f"## {_md(s.title)}", ""]
        for p in s.paragraphs:
            lines += [_md(p), ""]
        for t in s.tables:
            lines.append("| " + " | ".join(_md(h, paragraph=False) for h in t.headers) + " |")
            lines.append("|" + "|".join(" --- " for _ in t.headers) + "|")
            lines += ["| " + " | ".join(_md(c, paragraph=False) for c in row) + " |" for row in t.rows]
            lines.append("")
    return "\n".join(lines)


_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
td.FAIL { color: #b00020; font-weight: bold; }
td.pass { color: #1b5e20; }
td.skipped { color: #666; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
{% for s in sections %}
<section>
<h2>{{ s.title }}</h2>
{% for p in s.paragraphs %}<p>{{ p }}</p>
{% endfor %}
{% for t in s.tables %}<table>
<thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.rows %}<tr>{% for c in row %}<td{% if c in ('pass', 'FAIL', 'skipped') %} class="{{ c }}"{% endif %}>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% endfor %}
</section>
{% endfor %}
</body>
</html>
"""


def _render_html(title: str, sections: list[_Section]) -> str:
    import jinja2

    # autoescape=True: every value, label and note is escaped; the template holds the only markup.
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_HTML_TEMPLATE).render(title=title, sections=sections)


def render_model_card(
    model_name: str,
    version: str | int,
    data_summary: Mapping[str, Any],
    metrics: Mapping[str, Any],
    intervals: Mapping[str, Any],
    slices: SliceReport | pd.DataFrame | None,
    top_features: pd.DataFrame | None,
    gates: GateDecision,
    pii_audit: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    max_features: int = 15,
    privacy: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """Render a model card as Markdown and as a standalone HTML page (no external resources).

    Only aggregates enter the card: every mapping is flattened (lists of mappings too) and its leaves must
    be scalars or lists of scalars (shown up to 50 items), so a DataFrame, Series or array, which could
    carry rows, is refused. All text is escaped for Markdown and HTML.

    Args:
        model_name: registered model name.
        version: model version.
        data_summary: counts and identifiers, e.g. {"n_rows": 2000, "fingerprint": "..."}.
        metrics: metric name -> value (test set).
        intervals: metric name -> (low, high) bootstrap interval; metrics without one show "-".
        slices: a `SliceReport`, its per-group table (group labels as index or a `group` column), or
            None / an empty frame when no sensitive attribute was configured.
        top_features: frame with a `feature` column (or feature names as index) and numeric importance
            columns, sorted most important first; None leaves the section out, an empty frame says
            "not computed".
        gates: the promotion decision; every gate appears in the gate table.
        pii_audit: counts per column and entity, e.g. {"notes": {"PERSON": 12, "EMAIL_ADDRESS": 3}}.
        extra: anything else worth stating (run id, config hash, code version, intended use).
        max_features: at most this many features are listed.
        privacy: the privacy of the model itself, {"mia": the membership audit's summary
            (`veilflow.tasks.ops.model_audit`: per-attack figures with intervals and sizes) or None, "dp": the DP
            accounting (`candidates.dp_summary`: ε, δ, accountant, ...) or None}; adds the section "Privacy of the
            model" after the gates. None leaves it out.

    Returns:
        (markdown, html).

    Raises:
        ValueError: a non-mapping where a mapping is expected, a frame/array/nested object inside one,
            a malformed interval, or inputs of the wrong type.
    """
    if max_features < 1:
        raise ValueError(f"max_features must be >= 1, got {max_features}")
    title = f"Model card: {_fmt(model_name)} v{_fmt(version)}"
    sections = _sections(
        model_name,
        version,
        data_summary,
        metrics,
        intervals,
        slices,
        top_features,
        gates,
        pii_audit,
        extra,
        max_features,
        privacy,
    )
    return _render_markdown(title, sections), _render_html(title, sections)
