"""Keys and keyed pseudonyms: key checks, HMAC-SHA256 pseudonyms, and Presidio's AES encryption of policy columns."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import pandas as pd

from veilflow.core.errors import ConfigError, MissingKeyError
from veilflow.tasks.privacy.policy import PiiPolicy

MIN_KEY_BYTES = 16
PSEUDONYM_HEX_CHARS = 32


def check_key(key: bytes | str | None, policy: PiiPolicy) -> bytes | None:
    """Fail before any data is touched when the policy needs a key and none (or a weak one) is given."""
    if key is None:
        if policy.requires_key:
            raise MissingKeyError(
                f"PII policy '{policy.dataset}' needs a secret key for column(s) {', '.join(policy.keyed_columns)} "
                "but none was given (set VEILFLOW_PII_KEY or a Prefect Secret block)"
            )
        return None
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigError(f"the PII key is shorter than {MIN_KEY_BYTES} bytes")
    return raw


def pseudonym(key: bytes, value: str) -> str:
    """The keyed HMAC-SHA256 pseudonym of one value: 32 lowercase hex characters."""
    # Domain-separated from the AES key derivation, so no data value can hash to key material.
    return hmac.new(key, b"veilflow-pseudonym\x00" + value.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]


def _aes_key(key: bytes) -> bytes:
    return hmac.new(key, b"veilflow-aes256-key\x00", hashlib.sha256).digest()


def pseudonymize_values(values: Iterable[str], key: bytes) -> list[str]:
    """Keyed HMAC-SHA256 pseudonyms (32 lowercase hex) for values; the same value and key give the same token."""
    return [pseudonym(key, str(v)) for v in values]


def encrypt_values(series: pd.Series, key: bytes) -> pd.Series:
    """Presidio's AES-CBC `encrypt` operator on every non-missing cell, with an AES key derived from `key`."""
    from presidio_anonymizer.operators import Encrypt

    encrypt, op_params = Encrypt(), {"key": _aes_key(key)}
    encrypt.validate(op_params)
    s = series.astype("str")
    # Each cell is encrypted on its own: a random IV per value is the point of this operator.
    return pd.Series([v if pd.isna(v) else encrypt.operate(v, op_params) for v in s], index=s.index, dtype="str")


def decrypt_frame(df: pd.DataFrame, policy: PiiPolicy, key: bytes | str | None) -> pd.DataFrame:
    """Reverse the policy's `encrypt` columns with Presidio's DeanonymizeEngine (returns a new frame).

    Raises:
        MissingKeyError: no key given.
        ConfigError: a column cannot be decrypted with this key (wrong key or corrupted data).
    """
    from presidio_anonymizer import DeanonymizeEngine
    from presidio_anonymizer.entities import OperatorConfig, OperatorResult

    columns = [c for c, r in policy.columns.items() if r.operator == "encrypt" and c in df.columns]
    if key is None:
        raise MissingKeyError(f"decrypting PII policy '{policy.dataset}' columns needs the secret key")
    raw_key = check_key(key, policy)
    assert raw_key is not None
    engine = DeanonymizeEngine()
    operators = {"DEFAULT": OperatorConfig("decrypt", {"key": _aes_key(raw_key)})}
    out = df.copy()
    for column in columns:
        entity = policy.columns[column].entity
        texts = df[column].astype("str")
        try:
            plain = [
                v if pd.isna(v) else engine.deanonymize(v, [OperatorResult(0, len(v), entity)], operators).text for v in texts
            ]
        except Exception as exc:  # cryptography raises ValueError for a wrong key / bad padding
            raise ConfigError(
                f"column '{column}' could not be decrypted ({type(exc).__name__}: wrong key or corrupted data)"
            ) from None
        out[column] = pd.Series(plain, index=df.index, dtype="str")
    return out
