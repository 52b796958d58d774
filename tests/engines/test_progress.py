"""Progress lines of long steps: only after the interval, counts only, shown by the quiet console."""

from __future__ import annotations

import logging

from veilflow.core.progress import LOGGER, Progress
from veilflow.engines.console import ConsoleFilter


def test_progress_when_step_is_long_then_counts_and_rate_and_console_shows_it(caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        Progress("PII detection in free text", 1000, unit="texts", interval=3600.0).update(500)  # a short step
        assert caplog.records == []
        long = Progress("PII detection in free text", 1000, unit="texts", interval=0.0)
        long.update(0)  # nothing done yet: nothing to say
        long.update(400)
    assert long.lines == 1 and len(caplog.records) == 1
    record = caplog.records[0]
    assert record.getMessage().startswith("PII detection in free text: 400 of 1000 texts (")
    quiet = ConsoleFilter(verbose=False)
    assert quiet.filter(record)
    detail = logging.LogRecord("veilflow.tasks.privacy.redaction", logging.INFO, __file__, 1, "a detail", None, None)
    assert not quiet.filter(detail)  # veilflow's other INFO details stay behind --verbose


def test_console_when_verbose_then_library_chatter_and_details_shown_and_quiet_hides_them():
    detail = logging.LogRecord("veilflow.tasks.privacy.redaction", logging.INFO, __file__, 1, "a detail", None, None)
    mlflow_info = logging.LogRecord("mlflow.store.db.utils", logging.INFO, __file__, 1, "Creating tables", None, None)
    pickle_note = logging.LogRecord(
        "mlflow.sklearn",
        logging.WARNING,
        __file__,
        1,
        "Saving scikit-learn models in the pickle or cloudpickle format ...",
        None,
        None,
    )
    real_warning = logging.LogRecord("veilflow.tasks.privacy.redaction", logging.WARNING, __file__, 1, "over-masking", None, None)
    quiet, verbose = ConsoleFilter(verbose=False), ConsoleFilter(verbose=True)
    assert [quiet.filter(r) for r in (detail, mlflow_info, pickle_note, real_warning)] == [False, False, False, True]
    assert all(verbose.filter(r) for r in (detail, mlflow_info, pickle_note, real_warning))


def test_install_console_filter_when_log_is_captured_then_capture_handler_left_unfiltered():
    """A test's log capture (a StringIO stream) is not the console: veilflow's INFO details must reach it."""
    import io

    from veilflow.engines.console import install_console_filter

    capture = logging.StreamHandler(io.StringIO())
    console = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(capture)
    root.addHandler(console)
    try:
        install_console_filter()
        assert not any(isinstance(f, ConsoleFilter) for f in capture.filters)
        assert any(isinstance(f, ConsoleFilter) for f in console.filters)
    finally:
        root.removeHandler(capture)
        root.removeHandler(console)
