"""The `veilflow` command line: train, replay, status, promote, rollback."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from veilflow.core.runtime import configure_environment

if TYPE_CHECKING:
    from prefect.states import State

DEMO_CONFIG = Path("deploy/configs/customers.yaml")


def _overrides(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"veilflow: --set expects KEY=VALUE, got '{pair}'")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _console(args: argparse.Namespace) -> None:
    """Quiet console for a flow run (see veilflow.engines.console); call once Prefect and MLflow are imported."""
    from veilflow.engines.console import install_console_filter

    install_console_filter(verbose=getattr(args, "verbose", False), debug=getattr(args, "debug", False))


def cmd_train(args: argparse.Namespace) -> int:
    import os

    from veilflow.core.config import load_config
    from veilflow.core.paths import resolve_path
    from veilflow.core.provenance import CONFIG_FILE_ENV
    from veilflow.tasks.ops.preflight import preflight

    config = load_config(args.config, _overrides(args.set))
    # The run records the config file's digest and git state (veilflow.core.provenance).
    os.environ[CONFIG_FILE_ENV] = str((args.config if args.config.is_file() else resolve_path(args.config)).resolve())
    # Bad input is refused here, in about a second, before Prefect (and its temporary server) or MLflow start.
    report = preflight(config)
    print(f"pre-flight passed: {report.source}, {_checked(report)} in {report.seconds:.2f} s", flush=True)
    from veilflow.flows.training import TrainingResult, training

    _console(args)
    # `training` is a sync flow: with return_state=True it returns its final State, not an Awaitable (its `Any` return type makes mypy pick the async overload).
    state = cast("State[Any]", training(config, return_state=True))
    if state.is_failed():
        message = state.message or "training failed"
        print(f"veilflow: training failed: {message}", file=sys.stderr)
        return 1
    result = state.result()
    assert isinstance(result, TrainingResult)
    _print_result(result, state.name)
    return 0 if result.decision == "promoted" or not args.strict else 3


def _checked(report: Any) -> str:
    if not report.rows_sampled:
        return "built-in data"
    return f"{report.rows_sampled} rows x {report.columns} columns checked" + (
        " (whole file)" if report.whole_file else " (sample)"
    )


def _print_result(result: Any, state_name: str | None) -> None:
    print(f"\nveilflow training: {state_name} — decision: {result.decision}")
    print(f"  model            {result.model_name} version {result.version}")
    print(f"  champion         version {result.champion_version}")
    if result.primary_value is not None:
        print(f"  {result.primary_metric:<16} {result.primary_value:.4f} (held-out test)")
    if result.failed_gates:
        print(f"  failed gates     {', '.join(result.failed_gates)}")
    print(f"  MLflow run       {result.run_id} (experiment {result.experiment_id})")
    print("  look around      make mlflow-ui   (MLflow UI on http://127.0.0.1:5000)")
    print("                   make prefect-ui  (Prefect UI on http://127.0.0.1:4200)")


def cmd_replay(args: argparse.Namespace) -> int:
    from veilflow.flows.replay import replay_run

    report = replay_run(args.run_id)
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0 if report.get("passed", report["identical"]) else 4  # "passed": within tolerance for secure-mode runs


def cmd_status(args: argparse.Namespace) -> int:
    from veilflow.tasks.ops import registry

    print(registry.format_status(args.model))
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from veilflow.tasks.ops import registry

    outcome = registry.promote_version(args.model, str(args.version), force_reason=args.force)
    print(outcome)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from veilflow.tasks.ops import registry

    outcome = registry.rollback(args.model, reason=args.reason)
    print(outcome)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from veilflow.core.paths import resolve_path
    from veilflow.tasks.ops.preflight import check_input_file

    check_input_file(resolve_path(args.input, Path.cwd()), max_bytes=2 * 1024**3)  # file-level checks, before Prefect
    from veilflow.flows.scoring import ScoringConfig, scoring

    _console(args)

    kwargs = {"model_name": args.model, "input_path": args.input}
    kwargs.update(require_same_code=args.require_same_code, allow_unverified_code=args.allow_unverified_code)
    if args.output:
        kwargs["output_path"] = args.output
    if args.partition_rows is not None:
        from veilflow.core.config import ExecutionConfig

        kwargs["execution"] = ExecutionConfig(
            runner=args.runner, address=args.address, workers=args.workers, partition_rows=args.partition_rows
        )
    state = scoring(ScoringConfig(**kwargs), return_state=True)
    if state.is_failed():
        print(f"veilflow: scoring failed: {state.message or 'unknown error'}", file=sys.stderr)
        return 1
    r = state.result()
    print(f"scored {r.rows_scored} of {r.rows_in} rows with {r.model_name} v{r.model_version} -> {r.output_path}")
    if r.quarantine_path:
        print(f"quarantined {r.rows_quarantined} rows with their reasons -> {r.quarantine_path}")
        for check, rows in r.quarantine_reasons.items():  # names of checks and columns, never values
            print(f"  {rows:>6}  {check}")
    print(f"MLflow run {r.run_id}")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from veilflow.flows.monitoring import MonitoringConfig, monitoring

    _console(args)

    config = MonitoringConfig(
        model_name=args.model,
        input_path=args.input,
        generate_rows=args.rows,
        drift=args.drift,
        psi_threshold=args.threshold,
        trigger_retraining=not args.no_retrain,
    )
    state = monitoring(config, return_state=True)
    if state.is_failed():
        print(f"veilflow: monitoring failed: {state.message or 'unknown error'}", file=sys.stderr)
        return 1
    r = state.result()
    print(
        f"drift {'DETECTED' if r.drift_detected else 'not detected'}: max feature PSI {r.max_psi:.3f}, prediction PSI "
        f"{r.prediction_psi if r.prediction_psi is None else round(r.prediction_psi, 3)} ({r.rows} rows vs {r.model_name} v{r.model_version})"
    )
    if r.drifted_features:
        print(f"  drifted features: {', '.join(r.drifted_features)}")
    for issue in r.quality_issues:
        print(f"  data quality: {issue}")
    print(f"  retraining: {r.retraining}")
    print(f"  MLflow run {r.run_id}")
    return 5 if r.drift_detected and args.strict else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from veilflow.deployments import PREFECT_YAML, build_runner_deployments

    deployments = build_runner_deployments(args.file or PREFECT_YAML)
    if args.check:
        for d in deployments:
            crons = ", ".join(s.schedule.cron for s in d.schedules or [] if getattr(s.schedule, "cron", None))
            print(f"{d.flow_name}/{d.name}  cron: {crons or '-'}  parameters: {', '.join(d.parameters) or '-'}")
        return 0
    from prefect import serve

    serve(*deployments)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veilflow",
        description="Train models on data that contains personal information, safely and reproducibly. "
        "Runs on an ephemeral Prefect API and MLflow in mlruns/ unless PREFECT_API_URL / MLFLOW_TRACKING_URI are set.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks (and everything --verbose shows)")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="show library log lines and veilflow's per-step details on the console"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="run the training flow", description="Run the training flow from a YAML config.")
    p.add_argument("--config", type=Path, default=DEMO_CONFIG, help=f"YAML config (default: the demo, {DEMO_CONFIG})")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. dataset.n_rows=500"
    )
    p.add_argument("--strict", action="store_true", help="exit 3 when the model is rejected by a gate")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "replay",
        help="re-run a past run and compare its metrics",
        description="Re-run training from the config and data fingerprint logged with an MLflow run, and report metric differences (zero expected).",
    )
    p.add_argument("run_id", help="MLflow run id of a training run")
    p.set_defaults(func=cmd_replay)

    default_model = "veilflow-customers"
    p = sub.add_parser(
        "status",
        help="show registered versions, aliases and gate summaries",
        description="Show the registered model's versions, aliases and each version's gate summary.",
    )
    p.add_argument("--model", default=default_model, help=f"registered model name (default {default_model})")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "promote",
        help="move champion to a version (gates re-checked)",
        description="Promote a version to champion. Its recorded gates must all have passed unless --force REASON is given (the reason is recorded).",
    )
    p.add_argument("version", help="model version number")
    p.add_argument("--model", default=default_model)
    p.add_argument("--force", metavar="REASON", default=None, help="promote despite failed gates, recording REASON")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser(
        "rollback",
        help="move champion back to the previous champion",
        description="Move champion back to the version that held it before, recording the reason as a tag.",
    )
    p.add_argument("--model", default=default_model)
    p.add_argument("--reason", required=True, help="why (recorded on the model version)")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser(
        "score",
        help="score a batch with the champion",
        description="Validate a raw batch (bad rows quarantined with reasons), anonymize it with the training policy and key, and write predictions, probabilities and top-3 reason codes to Parquet.",
    )
    p.add_argument("--input", type=Path, required=True, help="raw batch, CSV or Parquet")
    p.add_argument("--output", type=Path, default=None, help="predictions Parquet (default data/scored/predictions.parquet)")
    p.add_argument("--model", default=default_model)
    p.add_argument("--require-same-code", action="store_true", help="refuse a champion trained by any other commit")
    p.add_argument(
        "--allow-unverified-code",
        action="store_true",
        help="override: load a champion whose recorded code version is missing or not in this repository's history (its pickled code runs)",
    )
    p.add_argument(
        "--partition-rows",
        type=int,
        default=None,
        help="score per partition of about this many rows (Parquet row groups / shards), each read by its worker",
    )
    p.add_argument(
        "--runner",
        choices=["thread", "dask", "ray"],
        default="thread",
        help="task runner for the partitions (with --partition-rows)",
    )
    p.add_argument("--workers", type=int, default=2, help="threads, or local Dask workers / Ray CPUs (with --partition-rows)")
    p.add_argument("--address", default=None, help="existing Dask scheduler / Ray cluster address (default: start a local one)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "monitor",
        help="compare a batch with the champion's training profile",
        description="Drift of a batch (a file, or a generated one with --drift) against the champion's training profile; above the PSI threshold it starts the training/nightly deployment.",
    )
    p.add_argument("--input", type=Path, default=None, help="raw batch, CSV or Parquet (default: generate one)")
    p.add_argument("--rows", type=int, default=1000, help="rows of the generated batch")
    p.add_argument("--drift", type=float, default=0.0, help="shift of the generated batch, 0 (none) to 1 (strong)")
    p.add_argument("--threshold", type=float, default=0.2, help="PSI threshold (default 0.2)")
    p.add_argument("--no-retrain", action="store_true", help="do not start the training deployment on drift")
    p.add_argument("--strict", action="store_true", help="exit 5 when drift is detected")
    p.add_argument("--model", default=default_model)
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser(
        "serve",
        help="serve training/nightly, scoring/hourly and monitoring/daily with their schedules",
        description="One process serving every deployment of deploy/prefect.yaml with its schedule (Prefect serve); needs PREFECT_API_URL for the UI to see it.",
    )
    p.add_argument("--file", type=Path, default=None, help="prefect.yaml to read (default deploy/prefect.yaml)")
    p.add_argument("--check", action="store_true", help="build and list the deployments, then exit")
    p.set_defaults(func=cmd_serve)

    from veilflow.cli.init import add_init_commands
    from veilflow.cli.privacy import add_privacy_commands
    from veilflow.cli.serving import add_serving_commands

    add_init_commands(sub)
    add_privacy_commands(sub)
    add_serving_commands(sub)
    return parser


GLOBAL_FLAGS = ("--debug", "--verbose", "-v")


def _global_flags_first(argv: list[str]) -> list[str]:
    """`veilflow train --debug` works like `veilflow --debug train`: the global flags may follow the command."""
    cut = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:cut] if a in GLOBAL_FLAGS]
    return [*flags, *[a for a in argv[:cut] if a not in GLOBAL_FLAGS], *argv[cut:]]


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of the traceback (a place, never a value)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def _http_status(exc: BaseException) -> str:
    """' (HTTP 401 Unauthorized from host:port)' for an HTTP error from a server (httpx, requests), else ''.

    The status, its reason phrase and the server's address say what went wrong (a refused credential, a server
    down) without the response body or the request's path and query, which may carry values.
    """
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        return ""
    reason = getattr(response, "reason_phrase", None) or getattr(response, "reason", None) or ""
    request = getattr(response, "request", None)
    url = getattr(request, "url", None)
    host = getattr(url, "netloc", b"") or ""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not host and isinstance(url, str):
        from urllib.parse import urlsplit

        host = urlsplit(url).netloc
    where = f" from {host}" if host else ""
    return f" (HTTP {status}{' ' + str(reason) if reason else ''}{where})"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit codes: 0 done; 2 bad input, config or key (a `VeilflowError`, one `veilflow:` line on
    stderr, no traceback); 1 a failure later in a flow or any other error (one line: its type and where); 3-6 the
    commands' own verdicts. `--debug` prints the traceback too."""
    parser = build_parser()
    args = parser.parse_args(_global_flags_first(list(sys.argv[1:] if argv is None else argv)))
    configure_environment()
    from veilflow.core.errors import VeilflowError

    try:
        return int(args.func(args) or 0)
    except VeilflowError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"veilflow: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("veilflow: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        # Not a veilflow error: its message was not written to be shown (a library's may quote a data value).
        print(
            f"veilflow: unexpected {type(exc).__name__}{_http_status(exc)} at {_where(exc)} (--debug shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
