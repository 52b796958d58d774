"""`veilflow serve-model` (a registered version behind `mlflow models serve`) and `veilflow generate` (demo batches)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "veilflow-customers"


def _example_record(config: Any) -> dict[str, Any]:
    """A record to show in the example request: a generated customer for the demo data, else placeholders."""
    ds = config.dataset
    if ds.source == "generate":
        from veilflow.tasks.data.io import generate_customers

        frame = generate_customers(1, seed=20261201).drop(columns=[ds.label], errors="ignore")
        return dict(json.loads(frame.to_json(orient="records"))[0])
    return {c: 0 if c in ds.numeric_features else "..." for c in [ds.id_column, *ds.feature_columns]}


def cmd_serve_model(args: argparse.Namespace) -> int:
    from veilflow.engines import serving as engine
    from veilflow.engines import tracking
    from veilflow.tasks.ops.serving import NAME_ENV, VERSION_ENV, check_serving_key, resolve_serving

    target = resolve_serving(
        tracking.make_client(),
        args.model,
        args.alias,
        anonymized_input=args.anonymized_input,
        require_same_code=args.require_same_code,
        allow_unverified_code=args.allow_unverified_code,
    )
    check_serving_key(target)  # one line and exit 2 (MissingKeyError) before anything starts
    env = engine.serve_environment(
        os.environ, os.environ.get("MLFLOW_TRACKING_URI"), {NAME_ENV: target.model_name, VERSION_ENV: target.version}
    )
    command = engine.serve_command(target.uri, args.host, args.port)
    url = f"http://{args.host}:{args.port}/invocations"
    print(f"serving {target.model_name} v{target.version} (@{args.alias}): the {target.kind} model {target.uri}")
    if target.kind == "raw-record":
        print(
            "  takes RAW records in the training data's columns and anonymizes them inside (policy, recognizers, key as in training);"
        )
        print(f"  the key comes from ${target.key_env}" if target.key_env else "  (its policy needs no key)")
        print(f"  anonymized-input model of the same version: {target.anonymized_uri} (veilflow serve-model --anonymized-input)")
        payload = json.dumps({"dataframe_records": [_example_record(target.config)]})
    else:
        print(
            f"  takes ANONYMIZED rows with the columns {', '.join(target.config.dataset.feature_columns)}; "
            "the raw-record model of the same version: veilflow serve-model"
        )
        payload = json.dumps({"dataframe_split": {"columns": target.config.dataset.feature_columns, "data": [["..."]]}})
    print(f"  code check: {target.code_check}")
    print(f"  URL  {url}   (health: http://{args.host}:{args.port}/ping)")
    print(f"  try  curl -s {url} -H 'Content-Type: application/json' -d {shlex.quote(payload)}")
    sys.stdout.flush()
    os.execve(command[0], command, env)  # the server replaces this process (stop it with Ctrl-C)
    return 0  # pragma: no cover - execve does not return


def cmd_generate(args: argparse.Namespace) -> int:
    from veilflow.core.errors import ConfigError
    from veilflow.tasks.data.io import generate_customers

    suffix = args.output.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise ConfigError(f"--output must end in .csv or .parquet, got '{suffix or args.output.name}'")
    from veilflow.tasks.ops.monitoring import apply_drift

    try:
        frame = generate_customers(args.rows, seed=args.seed, defect_rate=args.defect_rate)
        frame = apply_drift(frame, args.drift, seed=args.seed) if args.drift else frame
    except ValueError as exc:  # sizes, rates and strengths out of range: one line, exit 2
        raise ConfigError(str(exc)) from None
    if args.no_label:
        frame = frame.drop(columns=["churned"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(args.output, index=False)
    else:
        frame.to_parquet(args.output, index=False)
    print(
        f"wrote {len(frame)} rows x {frame.shape[1]} columns (seed {args.seed}, drift {args.drift}, defects {args.defect_rate}) to {args.output}"
    )
    return 0


def add_serving_commands(sub: Any) -> None:
    p = sub.add_parser(
        "serve-model",
        help="serve a registered version over REST (raw records in, anonymized inside)",
        description="Start `mlflow models serve` (--env-manager local) for the version an alias names. By default it serves the "
        "version's raw-record model: it takes raw records, checks and anonymizes them inside exactly as training did (the key "
        "from the environment variable the training config names), and answers a prediction or a per-row error per record. "
        "--anonymized-input serves models:/<name>/<version> instead, which takes anonymized rows.",
    )
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"registered model name (default {DEFAULT_MODEL})")
    p.add_argument("--alias", default="champion", help="alias naming the version to serve (default champion)")
    p.add_argument("--port", type=int, default=5001, help="port (default 5001; the MLflow UI uses 5000)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--anonymized-input", action="store_true", help="serve the anonymized-input model models:/<name>/<version>")
    p.add_argument("--require-same-code", action="store_true", help="refuse a version trained by any other commit")
    p.add_argument(
        "--allow-unverified-code", action="store_true", help="override: serve a version whose code version cannot be verified"
    )
    p.set_defaults(func=cmd_serve_model)

    p = sub.add_parser(
        "generate",
        help="write a synthetic customers batch (CSV or Parquet) for demos",
        description="Write a seeded synthetic customers batch with PII (the demo's data), optionally drifted and without its label.",
    )
    p.add_argument("--rows", type=int, default=500, help="rows (default 500)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--output", type=Path, required=True, help="file to write: .csv or .parquet")
    p.add_argument("--drift", type=float, default=0.0, help="shift, 0 (none) to 1 (strong), as `veilflow monitor --drift`")
    p.add_argument("--defect-rate", type=float, default=0.0, help="share of rows with data-quality defects (default 0)")
    p.add_argument("--no-label", action="store_true", help="leave out the label column (churned), as a batch to score")
    p.set_defaults(func=cmd_generate)
