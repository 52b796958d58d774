"""veilflow: train models on data that contains personal information, safely and reproducibly."""

__version__ = "0.1.0"
