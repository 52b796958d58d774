"""Smoke-test entry point: load an MLflow model in a fresh process, predict on an input example, print one JSON line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# The parent (veilflow.tasks.modeling.gates.run_smoke_test) finds our result line by this key.
MARKER = "veilflow_smoke"


def read_example(path: Path) -> pd.DataFrame:  # pandas is imported lazily: importing this module does nothing
    """Read an input example: Parquet, CSV, or JSON (MLflow's split / dataframe_split / records layouts)."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "dataframe_split" in data:
            data = data["dataframe_split"]
        if isinstance(data, dict) and "dataframe_records" in data:
            data = data["dataframe_records"]
        if isinstance(data, dict) and "columns" in data and "data" in data:
            return pd.DataFrame(data["data"], columns=data["columns"])
        if isinstance(data, list):
            return pd.DataFrame(data)
        raise ValueError("JSON input example must be records or a columns/data mapping")
    raise ValueError(f"unsupported input example format '{suffix}' (use .parquet, .json or .csv)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def smoke(model_uri: str, input_path: Path) -> dict:
    """Load, read, predict; a dict with ok, latency_ms (prediction only), load_ms, n_rows or error.

    Errors from the prediction step report only the exception type: their messages can quote input
    values, and the record ends up in logs and tags.
    """
    record: dict = {MARKER: True, "ok": False}
    started = time.perf_counter()
    try:
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:  # any loader failure is a smoke failure, reported, not raised
        record["error"] = f"load failed ({_first_line(exc)})"
        return record
    record["load_ms"] = round((time.perf_counter() - started) * 1000, 3)
    try:
        frame = read_example(input_path)
    except Exception as exc:
        record["error"] = f"input example unreadable ({type(exc).__name__}): {input_path}"
        return record
    if len(frame) == 0:
        record["error"] = f"input example has no rows: {input_path}"
        return record
    try:
        t0 = time.perf_counter()
        preds = model.predict(frame)
        latency_ms = (time.perf_counter() - t0) * 1000
    except Exception as exc:
        record["error"] = f"predict failed ({type(exc).__name__})"
        return record
    n_out = len(preds)
    record.update(latency_ms=round(latency_ms, 3), n_rows=len(frame))
    if n_out != len(frame):
        record["error"] = f"model returned {n_out} predictions for {len(frame)} rows"
        return record
    try:
        import numpy as np

        values = np.asarray(preds, dtype="float64")
        if not np.isfinite(values).all():
            record["error"] = f"{int((~np.isfinite(values)).sum())} prediction(s) are NaN or infinite"
            return record
    except (TypeError, ValueError):
        pass  # non-numeric outputs (labels as text) are legitimate
    record["ok"] = True
    return record


def main(argv: list[str] | None = None) -> int:
    """CLI: `python -m veilflow.engines.smoke --model-uri URI --input PATH`; exit 0 when the smoke test passed."""
    parser = argparse.ArgumentParser(prog="python -m veilflow.engines.smoke", description=__doc__)
    parser.add_argument("--model-uri", required=True, help='e.g. "models:/veilflow-customers@challenger"')
    parser.add_argument("--input", required=True, type=Path, help="input example (.parquet, .json, .csv)")
    args = parser.parse_args(argv)
    record = smoke(args.model_uri, args.input)
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
