"""The `veilflow` command line: train, replay, status, promote, rollback."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from veilflow.runtime import configure_environment


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


def cmd_train(args: argparse.Namespace) -> int:
    from flows.training import TrainingResult, training
    from veilflow.config import load_config

    config = load_config(args.config, _overrides(args.set))
    state = training(config, return_state=True)
    if state.is_failed():
        message = state.message or "training failed"
        print(f"veilflow: training failed: {message}", file=sys.stderr)
        return 1
    result = state.result()
    assert isinstance(result, TrainingResult)
    _print_result(result, state.name)
    return 0 if result.decision == "promoted" or not args.strict else 3


def _print_result(result: Any, state_name: str) -> None:
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
    from tasks.replay import replay_run

    report = replay_run(args.run_id)
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0 if report["identical"] else 4


def cmd_status(args: argparse.Namespace) -> int:
    from tasks import registry

    print(registry.format_status(args.model))
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from tasks import registry

    outcome = registry.promote_version(args.model, str(args.version), force_reason=args.force)
    print(outcome)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from tasks import registry

    outcome = registry.rollback(args.model, reason=args.reason)
    print(outcome)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veilflow",
        description="Train models on data that contains personal information, safely and reproducibly. "
        "Runs on an ephemeral Prefect API and MLflow in mlruns/ unless PREFECT_API_URL / MLFLOW_TRACKING_URI are set.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="run the training flow", description="Run the training flow from a YAML config.")
    p.add_argument("--config", type=Path, default=None, help="YAML config (default: built-in defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. dataset.n_rows=500")
    p.add_argument("--strict", action="store_true", help="exit 3 when the model is rejected by a gate")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("replay", help="re-run a past run and compare its metrics", description="Re-run training from the config and data fingerprint logged with an MLflow run, and report metric differences (zero expected).")
    p.add_argument("run_id", help="MLflow run id of a training run")
    p.set_defaults(func=cmd_replay)

    default_model = "veilflow-customers"
    p = sub.add_parser("status", help="show registered versions, aliases and gate summaries", description="Show the registered model's versions, aliases and each version's gate summary.")
    p.add_argument("--model", default=default_model, help=f"registered model name (default {default_model})")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("promote", help="move champion to a version (gates re-checked)", description="Promote a version to champion. Its recorded gates must all have passed unless --force REASON is given (the reason is recorded).")
    p.add_argument("version", help="model version number")
    p.add_argument("--model", default=default_model)
    p.add_argument("--force", metavar="REASON", default=None, help="promote despite failed gates, recording REASON")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("rollback", help="move champion back to the previous champion", description="Move champion back to the version that held it before, recording the reason as a tag.")
    p.add_argument("--model", default=default_model)
    p.add_argument("--reason", required=True, help="why (recorded on the model version)")
    p.set_defaults(func=cmd_rollback)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_environment()
    from veilflow.errors import VeilflowError

    try:
        return int(args.func(args) or 0)
    except VeilflowError as exc:
        print(f"veilflow: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
