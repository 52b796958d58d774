"""The `veilflow forget` and `veilflow audit` commands (privacy lifecycle and leak scan)."""

from __future__ import annotations

import argparse
import json
import sys
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
    else:
        print(report.summary())
        print(
            f"  run {report.run_id}; Prefect flow run {report.flow_run_id or '-'} "
            f"({'scanned' if report.prefect_checked else 'not reachable'}); {report.seconds:.2f} s"
        )
    return 0 if report.passed else EXIT_LEAK


def add_privacy_commands(sub: argparse._SubParsersAction) -> None:
    """Register `forget` and `audit` on the `veilflow` parser."""
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
        f"value of the policy's PII columns or the PII key. Exit {EXIT_LEAK} on a leak.",
    )
    p.add_argument("run_id", help="MLflow run id of a training run")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=cmd_audit)
