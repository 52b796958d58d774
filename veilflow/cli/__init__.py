"""The `veilflow` command line."""

from veilflow.cli.main import main

__all__ = ["main"]
