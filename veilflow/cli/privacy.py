"""The `veilflow forget`, `veilflow audit` and `veilflow anonymize` commands (privacy lifecycle, leak scan, sharing a file)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from prefect.states import State

EXIT_LEAK = 6


def _read_subject(value: str) -> str:
    # "-" keeps the raw value out of argv (process lists, shell history): it is read from stdin instead.
    text = sys.stdin.readline().rstrip("\r\n") if value == "-" else value
    if not text:
        raise SystemExit("veilflow: forget: --subject is empty")
    return text


def cmd_forget(args: argparse.Namespace) -> int:
    from veilflow.core.config import PrivacyConfig
    from veilflow.core.errors import MissingKeyError
    from veilflow.core.state import forget_log_path, suppression_list_path
    from veilflow.engines import tracking
    from veilflow.engines.secrets import resolve_key
    from veilflow.tasks.ops.forget import apply_forget, find_subject, write_erasure_record
    from veilflow.tasks.privacy.membership import _check_note, pseudonymize_subject

    try:
        _check_note(args.note, "--note")  # refused before anything is looked up or written
    except ValueError as exc:
        print(f"veilflow: forget: {exc}", file=sys.stderr)
        return 2
    privacy = PrivacyConfig()
    key = resolve_key(args.key_env or privacy.key_env, args.key_block or privacy.key_block)
    if key is None:
        raise MissingKeyError(f"forget needs the pseudonymization key used in training (set {args.key_env or privacy.key_env})")
    pseudonym = pseudonymize_subject(_read_subject(args.subject), key)
    client = tracking.make_client()
    report = find_subject(client, pseudonym)
    mode = "applied" if args.apply else "report-only"
    record = write_erasure_record(forget_log_path(), report, f"{mode}: {args.note}" if args.note else mode)
    print(
        f"subject pseudonym {pseudonym}: {len(report.affected)} of {report.runs_checked} training run(s) held it "
        f"({report.runs_without_index} run(s) without a membership index)"
    )
    for a in report.affected:
        versions = ", ".join(f"{a.model_name}/{v}" for v in a.versions) or "no registered version"
        print(f"  run {a.run_id} ({a.experiment})  data {str(a.fingerprint)[:12]}  {versions}")
    print(f"erasure record written to {forget_log_path()} at {record.recorded_at.isoformat(timespec='seconds')}")
    if not args.apply:
        if args.rollback_now:
            print("veilflow: --rollback-now needs --apply", file=sys.stderr)
            return 2
        return 0

    def retrain(config):
        from veilflow.flows.training import training

        # `training` is a sync flow: with return_state=True it returns its final State, not an Awaitable (its `Any` return type makes mypy pick the async overload).
        state = cast("State[Any]", training(config, return_state=True))
        if state.is_failed():
            raise RuntimeError(f"retraining failed: {state.message}")
        result = state.result()
        return getattr(result, "data", result)

    for line in apply_forget(
        client, report, suppression_list_path(), args.note or "", args.rollback_now, None if args.no_retrain else retrain
    ):
        print(f"  {line}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from veilflow.tasks.ops.audit import audit_run

    report = audit_run(args.run_id)
    if args.json:
        print(json.dumps({**report.model_dump(mode="json"), "passed": report.passed, "total": report.total}, indent=2))
    elif args.explain:
        # Per hit: place, rule, column and the keyed hash a `leak_scan.allow` entry takes; never the value.
        print("\n".join(report.explain()))
        print(
            f"  run {report.run_id}; Prefect flow run {report.flow_run_id or '-'} "
            f"({'scanned' if report.prefect_checked else 'not reachable'}); {report.seconds:.2f} s"
        )
        if not report.passed:
            print("  a deliberate exception: add its value_hash to the PII policy's leak_scan.allow list")
    else:
        print(report.summary())
        print(
            f"  run {report.run_id}; Prefect flow run {report.flow_run_id or '-'} "
            f"({'scanned' if report.prefect_checked else 'not reachable'}); {report.seconds:.2f} s"
        )
    return 0 if report.passed else EXIT_LEAK


OUTPUT_SUFFIXES = (".csv", ".parquet", ".pq")


def audit_path_for(output: Path) -> Path:
    """The audit written next to an anonymized file: `shared.csv` -> `shared.audit.json`."""
    return output.with_name(f"{output.stem}.audit.json")


def _write_frame(frame: Any, path: Path) -> None:
    """CSV or Parquet by extension, written to a temporary name first so a failed write leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def anonymize_file(config_path: Path, input_path: Path, output_path: Path) -> dict[str, Any]:
    """Load -> raw validation -> anonymize -> leak guard -> anonymized validation, as training runs them, on one file.

    Rows failing a row-level raw expectation are quarantined (left out of the output, counted per check); a critical
    failure, a leak or a missing key stops before anything is written. Returns the audit: counts, never values.

    Raises:
        ConfigError, DataLoadError, DataValidationError, MissingKeyError, PiiLeakError: one line each.
    """
    from veilflow.core.config import load_config, resolve_path
    from veilflow.core.errors import ConfigError
    from veilflow.core.state import suppression_list_path
    from veilflow.engines.gx import build_gx_context
    from veilflow.engines.secrets import resolve_key
    from veilflow.tasks.data.validation import load_suite, quarantine_rows, validate_frame
    from veilflow.tasks.ops.steps import load_data
    from veilflow.tasks.privacy.leak_guard import check_leaks, enforce_no_leaks
    from veilflow.tasks.privacy.policy import load_policy
    from veilflow.tasks.privacy.redaction import anonymize_frame

    started = time.perf_counter()
    if output_path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(f"--output must end in .csv or .parquet: {output_path}")
    if output_path.resolve() == input_path.resolve():
        raise ConfigError(f"--output would overwrite the raw input: {output_path}")
    config = load_config(config_path, {"dataset.source": "file", "dataset.path": str(input_path.resolve())})
    from veilflow.tasks.ops.preflight import preflight

    preflight(config)  # the file, its encoding and headers, the columns, the label and the key: in a second, one line
    ds = config.dataset
    policy = load_policy(resolve_path(ds.pii_policy)) if ds.pii_policy is not None else None
    key = resolve_key(config.privacy.key_env, config.privacy.key_block) if policy is not None or ds.subject_column else None
    if policy is not None and policy.requires_key and key is None:
        from veilflow.core.errors import MissingKeyError

        raise MissingKeyError(f"PII policy '{policy.dataset}' hashes or encrypts columns: set {config.privacy.key_env}")
    loaded = load_data(config, key, suppression_list_path())
    raw, rows_in, suppressed = loaded.frame, loaded.rows + loaded.suppressed, loaded.suppressed
    context = build_gx_context()
    report = validate_frame(raw, load_suite(resolve_path(ds.raw_suite)), context, id_column=None)
    report.raise_if_critical("raw")
    if policy is not None:
        analyzer = None
        if policy.text_columns:
            from veilflow.engines.presidio import build_analyzer

            analyzer = build_analyzer(config.privacy.nlp_model)
        anonymized, pii_audit = anonymize_frame(raw, policy, analyzer, key, batch_size=config.privacy.batch_size)
        leaks = check_leaks(raw, anonymized, policy)
        enforce_no_leaks(leaks, policy.leak_tolerance)
        pii: dict[str, Any] = pii_audit.model_dump(mode="json")
        leak: dict[str, Any] = {**leaks.model_dump(mode="json"), "passed": True}
    else:
        anonymized = raw.copy()
        pii = {"policy": None, "note": "the config declares no PII policy: the file is copied as validated"}
        leak = {"checked": False, "passed": True}
    clean, quarantined = quarantine_rows(anonymized, report)
    per_check: dict[str, int] = {}
    for reasons in quarantined["quarantine_reason"]:
        for check in str(reasons).split("; "):
            per_check[check] = per_check.get(check, 0) + 1
    del raw, loaded  # raw rows end here
    anonymized_report = None
    if ds.anonymized_suite is not None:
        anonymized_report = validate_frame(clean, load_suite(resolve_path(ds.anonymized_suite)), context, id_column=None)
        anonymized_report.raise_if_critical("anonymized")
    _write_frame(clean, output_path)
    audit = {
        "config": str(config_path),
        "input": input_path.name,
        "output": output_path.name,
        "rows_in": rows_in,
        "rows_suppressed": suppressed,
        "rows_quarantined": len(quarantined),
        "quarantined_per_check": per_check,
        "rows_out": len(clean),
        "columns_out": list(clean.columns),
        "validation": {
            "raw": report.to_summary_dict(),
            "anonymized": anonymized_report.to_summary_dict() if anonymized_report is not None else None,
        },
        "pii": pii,
        "leak_guard": leak,
        "seconds": round(time.perf_counter() - started, 3),
    }
    audit_path = audit_path_for(output_path)
    audit_path.write_text(json.dumps(audit, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return audit


def cmd_anonymize(args: argparse.Namespace) -> int:
    audit = anonymize_file(args.config, args.input, args.output)
    entities = sum(sum((c.get("entities") or {}).values()) for c in (audit["pii"].get("columns") or {}).values())
    print(
        f"anonymized {audit['rows_out']} of {audit['rows_in']} rows -> {args.output} "
        f"({audit['rows_quarantined']} quarantined, {entities} PII values transformed, leak guard passed)"
    )
    for check, rows in sorted(audit["quarantined_per_check"].items()):  # names of checks and columns, never values
        print(f"  {rows:>6}  {check}")
    print(f"audit -> {audit_path_for(args.output)}")
    return 0


def add_anonymize_command(sub: argparse._SubParsersAction) -> None:
    """Register `anonymize` on the `veilflow` parser."""
    p = sub.add_parser(
        "anonymize",
        help="validate and anonymize a file with a config's policy, for sharing",
        description="Load FILE as training does (config, suppression list), validate it with the raw suite (rows failing "
        "a check are quarantined, a critical failure stops), apply the PII policy, run the leak guard, validate the "
        "anonymized suite, then write the anonymized file (CSV or Parquet by extension) and OUTPUT.audit.json next to it "
        "(counts per check, column and entity; never values). No Prefect run, nothing sent to MLflow.",
    )
    p.add_argument("--config", type=Path, required=True, help="the dataset's YAML config (as for train)")
    p.add_argument("--input", type=Path, required=True, help="raw file, CSV or Parquet, with the config's columns")
    p.add_argument("--output", type=Path, required=True, help="anonymized file to write (.csv or .parquet)")
    p.set_defaults(func=cmd_anonymize)


def add_privacy_commands(sub: argparse._SubParsersAction) -> None:
    """Register `forget`, `audit` and `anonymize` on the `veilflow` parser."""
    add_anonymize_command(sub)
    p = sub.add_parser(
        "forget",
        help="find (and with --apply, remove) a person's data from runs and models",
        description="Hash SUBJECT (a value of the dataset's subject column, e.g. a customer id) in memory with the PII key, "
        "list every training run, data fingerprint and model version whose membership index holds it, and append an "
        "erasure record to the forget log (VEILFLOW_FORGET_LOG). The raw value is never written anywhere.",
    )
    p.add_argument("--subject", required=True, help="the raw subject value, or '-' to read it from stdin")
    p.add_argument("--note", default="", help="one line for the log, e.g. a ticket id (e-mails and long numbers are refused)")
    p.add_argument(
        "--apply",
        action="store_true",
        help="tag affected versions, suppress the subject in every later load, retrain, move champion to a clean version that passes the gates",
    )
    p.add_argument(
        "--rollback-now", action="store_true", help="with --apply: move champion to the newest unaffected version immediately"
    )
    p.add_argument("--no-retrain", action="store_true", help="with --apply: do not start the retraining run")
    p.add_argument("--key-env", default=None, help="environment variable with the PII key (default VEILFLOW_PII_KEY)")
    p.add_argument("--key-block", default=None, help="Prefect Secret block with the PII key")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser(
        "audit",
        help="scan everything a run logged for raw PII and the key",
        description="Reload the run's data from its logged config (the data fingerprint must match), then search its MLflow "
        "params, tags, metric names, artifacts, datasets, models and its Prefect logs, parameters and artifacts for any raw "
        f"value of the policy's PII columns or the PII key (as values: word tokens in text, values of JSON/YAML, text chunks "
        "of PNGs, strings of pickles; values too short or too common to search are counted). "
        f"Exit {EXIT_LEAK} on a leak; --explain shows each hit's place, rule, column and keyed hash (for leak_scan.allow).",
    )
    p.add_argument("run_id", help="MLflow run id of a training run")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument(
        "--explain",
        action="store_true",
        help="per hit: the place, the rule that matched, the column and the keyed hash of the value (for leak_scan.allow)",
    )
    p.set_defaults(func=cmd_audit)
