"""Typed errors that flows raise when a gate or an input fails; messages are one line and never carry data values."""


class VeilflowError(Exception):
    """Base class: every message is one line naming the problem and where, never a data value."""


class ConfigError(VeilflowError):
    """A config or policy file is missing, malformed, or names something that does not exist."""


class DataLoadError(VeilflowError):
    """The input file is missing, unreadable, empty, or has the wrong schema."""


class DataValidationError(VeilflowError):
    """A critical expectation failed on the raw or anonymized data."""


class PiiLeakError(VeilflowError):
    """A raw PII value or pattern survived anonymization, or reached something logged."""


class MissingKeyError(ConfigError):
    """A policy needs a secret key and none is configured."""


class PromotionRejected(VeilflowError):
    """A candidate failed one or more promotion gates (not a crash: the run is rejected)."""


class LabelError(DataLoadError):
    """The label column does not fit the task (missing values, one class, too many classes, text for regression)."""
