"""Progress lines for long steps: counts and rates, never data.

A step that may run for minutes (free-text PII detection on a large column) reports how far it is, at most once
per `interval` seconds and only once it has run that long, so short runs print nothing. Lines go to the
`veilflow.progress` logger, which the console shows by default (`veilflow.engines.console`).
"""

from __future__ import annotations

import logging
import time

LOGGER = "veilflow.progress"
log = logging.getLogger(LOGGER)
log.setLevel(logging.INFO)


class Progress:
    """Counts done out of a total; `update(done)` logs `what: done of total unit (rate/s, ~left s left)`."""

    def __init__(self, what: str, total: int, unit: str = "rows", interval: float = 10.0) -> None:
        self.what, self.total, self.unit, self.interval = what, total, unit, interval
        self.started = self.last = time.perf_counter()
        self.lines = 0

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.interval or done <= 0:
            return
        self.last = now
        rate = done / (now - self.started)
        left = (self.total - done) / rate if rate > 0 else float("nan")
        self.lines += 1
        log.info("%s: %d of %d %s (%.0f %s/s, ~%.0f s left)", self.what, done, self.total, self.unit, rate, self.unit, left)
