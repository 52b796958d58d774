"""The raw-record serving model's pyfunc: raw records in the user's own schema in, a prediction or a
per-row error out, through the one raw-record code path (`veilflow.tasks.ops.raw_scoring.score_raw_records`).

MLflow builds it from code (`serving_model.py`, logged as `python_model=<path>`): no Python object is
pickled. `load_context` reads the key from the environment and builds the analyzer and the GX context once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from veilflow.core.errors import VeilflowError

# The models-from-code script MLflow copies into the model and runs to build it.
SERVING_MODEL_CODE = Path(__file__).with_name("serving_model.py")


class RawRecordModel(PythonModel):
    """Raw records -> one row each: `row`, pseudonymized id, probability, prediction, reason codes, model, `error`.

    Requests are scored one at a time (the analyzer and the GX context are not shared between threads).
    Errors name a column and a check, never a value; an unexpected failure is one line naming its type.
    """

    def __init__(self) -> None:
        self._scorer: Any = None
        self._lock = threading.Lock()

    def load_context(self, context: Any) -> None:
        from veilflow.tasks.ops.serving import load_serving_scorer

        self._scorer = load_serving_scorer(context.artifacts, context.model_config or {})

    # A pd.DataFrame hint: MLflow keeps the logged signature (no type-hint signature of its own).
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from veilflow.tasks.ops.raw_scoring import score_raw_records

        if self._scorer is None:
            raise VeilflowError("the raw-record model was not loaded (load_context did not run)")
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        try:
            with self._lock:
                return score_raw_records(frame, self._scorer).records()
        except VeilflowError as exc:  # veilflow's messages are one line and never carry a value
            raise VeilflowError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except Exception as exc:  # a library's message may quote a cell: only its type leaves this process
            raise VeilflowError(f"scoring failed ({type(exc).__name__}); the request's values are not shown") from None
