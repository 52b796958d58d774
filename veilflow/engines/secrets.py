"""Resolve the PII pseudonymization key from an environment variable or a Prefect Secret block, never logging it."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, cast

from veilflow.core.errors import ConfigError, MissingKeyError

if TYPE_CHECKING:
    from prefect.blocks.system import Secret

log = logging.getLogger(__name__)

MIN_KEY_BYTES = 16


def _to_key(value: object, source: str) -> bytes:
    if isinstance(value, bytes):
        key = value.strip()
    elif isinstance(value, str):
        key = value.strip().encode("utf-8")
    else:
        raise ConfigError(f"PII key from {source} must be a string, got {type(value).__name__}")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"PII key from {source} is shorter than {MIN_KEY_BYTES} bytes; use a longer random key")
    return key


def resolve_key(env_var: str, block_name: str | None = None) -> bytes | None:
    """Return the pseudonymization key, or None when none is configured.

    A Prefect Secret block, when named, takes precedence over the environment variable. The key
    is the UTF-8 bytes of the stored string (surrounding whitespace removed); it is never logged,
    only where it came from.

    Args:
        env_var: environment variable holding the key (e.g. `VEILFLOW_PII_KEY`).
        block_name: name of a Prefect `Secret` block holding the key, or None.

    Returns:
        The key bytes, or None when `block_name` is None and the variable is unset or empty
        (a policy that needs a key then fails with `MissingKeyError` before touching data).

    Raises:
        MissingKeyError: the named Secret block cannot be loaded or is empty.
        ConfigError: the key is shorter than 16 bytes or not a string.
    """
    if block_name:
        source = f"Prefect Secret block '{block_name}'"
        try:
            from prefect.blocks.system import Secret

            # Called from sync code (flows, CLI): Prefect's async_dispatch returns the block itself, not a coroutine.
            value = cast("Secret[Any]", Secret.load(block_name)).get()
        except Exception as exc:  # a missing block raises ValueError; an unreachable API, httpx errors
            raise MissingKeyError(f"{source} could not be loaded ({type(exc).__name__})") from None
        if value is None or (isinstance(value, (str, bytes)) and not value.strip()):
            raise MissingKeyError(f"{source} is empty")
    else:
        if not env_var:
            raise ConfigError("resolve_key needs the name of an environment variable")
        source = f"environment variable {env_var}"
        value = os.environ.get(env_var)
        if value is None or not value.strip():
            log.info("no PII key in %s", source)
            return None
    key = _to_key(value, source)
    log.info("PII key resolved from %s", source)
    return key
