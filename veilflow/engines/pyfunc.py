"""MLflow pyfunc flavor wrapper for veilflow pipelines that MLflow has no native flavor for (the PyTorch candidate)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class ProbabilityModel(PythonModel):
    """MLflow pyfunc wrapper whose `predict` returns (n, 2) class probabilities of a fitted pipeline.

    Same contract as `mlflow.sklearn.log_model(..., pyfunc_predict_fn="predict_proba")`; used for the
    PyTorch candidate. `pipeline` is kept as an attribute so callers can unwrap it.
    """

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    # A pd.DataFrame hint tells MLflow to take the signature from the input example (no hint: a warning).
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        """Class probabilities for a frame of anonymized rows, shape (n, k); a regressor's predictions, shape (n,)."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if not hasattr(self.pipeline, "predict_proba"):
            return np.asarray(self.pipeline.predict(frame), dtype=np.float64)
        return np.asarray(self.pipeline.predict_proba(frame), dtype=np.float64)
