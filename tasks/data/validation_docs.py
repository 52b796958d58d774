"""Validation reports as pages: a self-contained HTML page, and GX's own Data Docs page, from a counts-only report.

Both are rebuilt from a `ValidationReport` (counts, flags, exception lines), never from GX's raw result, so no
page can show a data value.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from veilflow.tasks.data.validation import LoadedSuite, ValidationReport

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.4rem;margin-bottom:.2rem}.muted{color:#656d76}
.banner{padding:.6rem 1rem;border-radius:6px;margin:1rem 0;font-weight:600}
.ok{background:#dafbe1;color:#116329}.warn{background:#fff8c5;color:#7d4e00}.fail{background:#ffebe9;color:#a40e26}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.75rem;font-weight:600}
.p-ok{background:#dafbe1;color:#116329}.p-warn{background:#fff8c5;color:#7d4e00}.p-fail{background:#ffebe9;color:#a40e26}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}
"""


def _cell(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return html.escape(f"{value:.2f}")
    return html.escape(str(value))


def render_validation_html(report: ValidationReport, out_path: Path) -> Path:
    """Write a standalone, offline HTML page of a report: counts and flags only, every string escaped.

    GX Data Docs need a file context, fetch CSS/JS from CDNs and show sample failing values, so
    veilflow renders its own page from the counts-only report.

    Args:
        report: from `validate_frame`.
        out_path: the HTML file to write (parent folders are created).

    Returns:
        `out_path`.
    """
    if report.critical_success and report.success:
        banner = ("ok", "All expectations passed.")
    elif report.critical_success:
        banner = ("warn", f"No critical failure; {len(report.warnings)} warning(s).")
    else:
        banner = ("fail", f"{len(report.critical_failures)} critical expectation(s) failed: the flow stops here.")
    rows = []
    for o in report.expectations:
        if o.success:
            status = '<span class="pill p-ok">passed</span>'
        elif o.critical:
            status = '<span class="pill p-fail">FAILED</span>'
        else:
            status = '<span class="pill p-warn">warning</span>'
        rows.append(
            "<tr>"
            f"<td>{status}</td><td>{'critical' if o.critical else 'warning'}</td>"
            f"<td><code>{_cell(o.type)}</code></td><td>{_cell(o.column)}</td><td class=num>{_cell(o.mostly)}</td>"
            f"<td class=num>{_cell(o.element_count)}</td><td class=num>{_cell(o.unexpected_count)}</td>"
            f"<td class=num>{_cell(o.unexpected_percent)}</td><td class=num>{_cell(o.missing_count)}</td>"
            f"<td>{_cell(o.why)}</td><td>{_cell(o.exception)}</td>"
            "</tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Validation: {_cell(report.suite_name)}</title><style>{_CSS}</style></head>
<body>
<h1>Validation report: <code>{_cell(report.suite_name)}</code></h1>
<p class="muted">Counts only: this page never shows data values.</p>
<div class="banner {banner[0]}">{html.escape(banner[1])}</div>
<dl>
<dt>rows</dt><dd>{report.row_count}</dd>
<dt>columns</dt><dd>{report.column_count}</dd>
<dt>expectations passed</dt><dd>{report.successful} of {report.evaluated}</dd>
<dt>critical failures</dt><dd>{len(report.critical_failures)}</dd>
<dt>warnings</dt><dd>{len(report.warnings)}</dd>
<dt>rows failing any row check</dt><dd>{report.rows_flagged}</dd>
<dt>rows failing a critical row check</dt><dd>{report.rows_flagged_critical}</dd>
<dt>validation time</dt><dd>{report.seconds:.2f} s</dd>
</dl>
<table>
<thead><tr><th>status</th><th>level</th><th>expectation</th><th>column</th><th>mostly</th><th>rows</th>
<th>unexpected</th><th>unexpected %</th><th>missing</th><th>why</th><th>error</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path


def build_data_docs(report: ValidationReport, suite: LoadedSuite, out_dir: Path) -> Path:
    """Render GX's own Data Docs validation page from a counts-only report (no GX file context needed).

    The page is rebuilt from `report` (counts, flags, exception lines) and the suite's configurations,
    never from GX's raw result, so it cannot show the sample failing values GX Data Docs normally list.
    GX's page template links CSS/JS from public CDNs: offline it renders unstyled; online, opening it
    fetches those assets (no data is sent). `render_validation_html` is the self-contained alternative.

    Args:
        report: from `validate_frame`.
        suite: the suite that produced `report`.
        out_dir: folder for the page (created if needed), e.g. a temporary directory.

    Returns:
        The path of `<out_dir>/<suite name>.data-docs.html`.

    Raises:
        ValueError: the report was not produced by this suite.
    """
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    configurations = {e.id: e.configuration for e in suite.suite.expectations}
    if report.suite_name != suite.name or any(o.key not in configurations for o in report.expectations):
        raise ValueError(f"report of suite '{report.suite_name}' does not match suite '{suite.name}'")
    results = []
    for o in report.expectations:
        counts = {
            "element_count": o.element_count,
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "missing_count": o.missing_count,
        }
        results.append(
            ExpectationValidationResult(
                success=o.success,
                expectation_config=configurations[o.key],
                result={k: v for k, v in counts.items() if v is not None},
                # GX renders the traceback field as text; the sanitized one-line message stands in for it.
                exception_info={
                    "raised_exception": o.exception is not None,
                    "exception_message": o.exception,
                    "exception_traceback": o.exception,
                },
            )
        )
    validation = ExpectationSuiteValidationResult(
        success=report.success,
        results=results,
        suite_name=report.suite_name,
        statistics={
            "evaluated_expectations": report.evaluated,
            "successful_expectations": report.successful,
            "unsuccessful_expectations": report.evaluated - report.successful,
            "success_percent": 100.0 * report.successful / report.evaluated if report.evaluated else None,
        },
        meta={},
    )
    page = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(validation))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / f"{report.suite_name}.data-docs.html"
    out_path.write_text(page, encoding="utf-8")
    return out_path
