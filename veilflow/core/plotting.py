"""One lock for every matplotlib drawing in the process.

Prefect runs tasks in threads (several candidates' audits, explanations and plots at once), and matplotlib is
not thread-safe: its mathtext parser (pyparsing, used for log-scale tick labels such as 10^-2) and pyplot's
global figure state fail or mix when two threads draw at once (seen: `ParseException` in a membership-audit
plot while another candidate's audit drew its own). Drawing is a few hundred milliseconds per run, so
serialising it costs nothing measurable.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_DRAWING = threading.RLock()


def serialized_drawing(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` (which draws with matplotlib) while holding the process-wide drawing lock."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _DRAWING:
            return fn(*args, **kwargs)

    return wrapper
