"""Models-from-code script of the raw-record serving model (`veilflow.flows.serving.RawRecordModel`).

MLflow copies this file into the model and runs it, under a module name of its own, to build the pyfunc;
imported as part of veilflow it does nothing.
"""

from __future__ import annotations

from mlflow.models import set_model

from veilflow.flows.serving import RawRecordModel

if not __name__.startswith("veilflow."):
    set_model(RawRecordModel())
