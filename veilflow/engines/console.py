"""What the `veilflow` command prints while a flow runs: veilflow's step lines, warnings and summary, not library chatter.

By default (`install_console_filter(verbose=False, debug=False)`), the console shows the flows' own step lines
(INFO, logged with the flow run), every WARNING and ERROR that veilflow or a library raises, and the command's
summary. Hidden unless `--verbose`: Prefect's engine lines (each task's "Finished in state Completed()", the
temporary server's start and stop, "Still processing items"), libraries' deprecation notices about their own
dependencies, MLflow's INFO lines and its notes on pickled
models (veilflow logs its models with cloudpickle on purpose and checks the code version before loading one),
veilflow's per-step INFO details (not the progress lines of long steps, `veilflow.core.progress`), and the ERROR lines Prefect logs for a failed task or flow (the command prints
the reason on one line). Tracebacks are shown only with `--debug`. None of this changes what Prefect's API (the
UI) receives: the filter sits on the console handlers only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from veilflow.core.progress import LOGGER as PROGRESS_LOGGER

# Messages that mean nothing to the person at the console (shown with --verbose).
_NOISE = (
    "Still processing items",
    "Saving scikit-learn models in the pickle or cloudpickle format",
    "Passing a Python object as `python_model` causes it to be serialized using CloudPickle",
    "Inferring model signature from input example",
)

_LIBRARY_DEPRECATIONS = ("DeprecationWarning:", "PendingDeprecationWarning:", "FutureWarning:")


def _prefect_dir() -> str:
    import prefect

    return str(Path(prefect.__file__).resolve().parent)


class ConsoleFilter(logging.Filter):
    """Decides what reaches the console (see the module docstring); never drops anything the API handler sees."""

    def __init__(self, verbose: bool = False, debug: bool = False) -> None:
        super().__init__("veilflow-console")
        self.verbose = verbose or debug
        self.debug = debug
        self._prefect = _prefect_dir()

    def _from_prefect(self, record: logging.LogRecord) -> bool:
        return str(Path(record.pathname).resolve()).startswith(self._prefect)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.debug and record.exc_info:
            # The console is the last handler a record reaches; the API handler has already sent it.
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        if self.verbose:
            return True
        name = record.name
        if name.startswith("prefect") and self._from_prefect(record):
            if record.levelno < logging.WARNING:
                return False
            if record.levelno >= logging.ERROR and name.startswith(("prefect.flow_runs", "prefect.task_runs")):
                return False  # a failed task or flow: the command prints its reason on one line
        if name.startswith("mlflow") and record.levelno < logging.WARNING:
            return False
        if name == PROGRESS_LOGGER:
            return True  # progress of a long step: counts and rates
        if name.startswith("veilflow") and record.levelno < logging.WARNING:
            return False
        message = record.getMessage()
        if name == "py.warnings" and "site-packages" in message and any(c in message for c in _LIBRARY_DEPRECATIONS):
            return False  # a library's own deprecation notice about its dependencies: nothing the user can act on
        return not any(message.startswith(n) for n in _NOISE)


def _writes_to_console(handler: logging.Handler) -> bool:
    """A handler that writes to a stream (the terminal), not one that captures records in memory (a test's log
    capture writes to a StringIO): only what the person at the console reads is filtered."""
    import io

    if not isinstance(handler, logging.StreamHandler):
        return False
    stream = getattr(handler, "stream", None)
    return stream is not None and not isinstance(stream, io.StringIO)


def install_console_filter(verbose: bool = False, debug: bool = False) -> ConsoleFilter:
    """Put a `ConsoleFilter` on the console handlers of Prefect (root logger) and MLflow; idempotent.

    Call after Prefect and MLflow are imported (Prefect configures logging on import).
    """
    import mlflow  # noqa: F401  # MLflow installs its console handler on import
    import prefect  # noqa: F401  # Prefect configures logging (the root console handler) on import

    flt = ConsoleFilter(verbose=verbose, debug=debug)
    handlers = [*logging.getLogger().handlers, *logging.getLogger("mlflow").handlers]
    for handler in handlers:
        if not _writes_to_console(handler):
            continue
        for old in [f for f in handler.filters if isinstance(f, ConsoleFilter)]:
            handler.removeFilter(old)
        handler.addFilter(flt)
    if verbose or debug:
        logging.getLogger("veilflow").setLevel(logging.INFO)
    return flt
