"""Right to be forgotten: keyed subject pseudonyms, membership indexes of training sets, a suppression list and an erasure log."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import struct
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeGuard

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from veilflow.core.errors import ConfigError, MissingKeyError
from veilflow.tasks.privacy.pseudonyms import MIN_KEY_BYTES, PSEUDONYM_HEX_CHARS, pseudonymize_values

_TOKEN = re.compile(rf"^[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}$")
_TOKEN_BYTES = PSEUDONYM_HEX_CHARS // 2
_INDEX_DTYPE = np.dtype(f"S{_TOKEN_BYTES}")
# Notes are free text typed by an operator; these catch the raw identifiers most likely pasted into them:
# e-mail addresses, ids or card numbers written as 7+ contiguous digits, and phone/SSN/card numbers
# written with separators (9+ digits). A date ("2026-11-01", 8 digits) is still allowed.
_NOTE_EMAIL = re.compile(r"@")
_NOTE_DIGITS = re.compile(r"\d{7,}")
_NOTE_SEPARATED = re.compile(r"\d[\d\s().+/-]*\d")
_NOTE_MAX = 500


def _key_bytes(key: bytes | str | None) -> bytes:
    """The same key rules as the anonymization module, so a key it accepts gives the same pseudonyms here."""
    if key is None:
        raise MissingKeyError("a pseudonymization key is needed (set VEILFLOW_PII_KEY or a Prefect Secret block)")
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigError(f"the PII key is shorter than {MIN_KEY_BYTES} bytes")
    return raw


def is_pseudonym(token: object) -> TypeGuard[str]:
    """True for a well-formed pseudonym: a str of 32 lowercase hex characters."""
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


def _check_token(token: object, where: str) -> str:
    if not is_pseudonym(token):
        # Never echo the value: a raw identifier passed here by mistake must not reach a log.
        raise ValueError(f"{where}: not a pseudonym (expected {PSEUDONYM_HEX_CHARS} lowercase hex characters)")
    return token


def _check_note(note: str, where: str) -> str:
    if not isinstance(note, str):
        raise ValueError(f"{where}: the operator note must be a string")
    if "\n" in note or "\r" in note or len(note) > _NOTE_MAX:
        raise ValueError(f"{where}: the operator note must be one line of at most {_NOTE_MAX} characters")
    if (
        _NOTE_EMAIL.search(note)
        or _NOTE_DIGITS.search(note)
        or any(sum(c.isdigit() for c in m.group()) >= 9 for m in _NOTE_SEPARATED.finditer(note))
    ):
        raise ValueError(
            f"{where}: the operator note looks like it holds an e-mail address or a phone/ID/card number; "
            "refer to the request by ticket id instead"
        )
    return note


def pseudonymize_subject(value: str, key: bytes | str) -> str:
    """The keyed pseudonym of one subject identifier, identical to the anonymization `hash` operator's token.

    Construction (it is `veilflow.tasks.privacy.pseudonyms.pseudonymize_values`, called here so joins always match):
    `HMAC-SHA256(key, b"veilflow-pseudonym\\x00" + value.encode("utf-8")).hexdigest()[:32]`, i.e. 32
    lowercase hex characters. The value is NOT normalized (no strip, no case-folding), because the
    anonymization module hashes the raw cell text as it is: the value must be given exactly as it
    appears in the raw data ("CUST-0001641", not "cust-0001641 ").

    Args:
        value: the raw identifier (e.g. customer_id or e-mail), held in memory only.
        key: the pseudonymization key (str keys are UTF-8 encoded, as in the anonymization module).

    Raises:
        ValueError: value is not a non-empty string.
        MissingKeyError: key is None.
        ConfigError: key shorter than 16 bytes.
    """
    if not isinstance(value, str) or value == "":
        raise ValueError("the subject value must be a non-empty string")
    return pseudonymize_values([value], _key_bytes(key))[0]


# --------------------------------------------------------------------------- exact membership index


class MembershipIndex:
    """Exact set of the pseudonyms in a training set: a sorted, de-duplicated array of 16-byte tokens.

    This is veilflow's default index: no false positives, 16 bytes per subject (16 MB per million),
    O(log n) lookups by binary search, and a standard `.npy` serialization that a person can load with
    `numpy.load(path, allow_pickle=False)`. Use `BloomMembership` instead when the index must be much
    smaller than 16 bytes per subject (about 1.2 bytes at a 1% false-positive rate) and a false
    "member" answer is acceptable, e.g. as a cheap first filter before the exact index of each run.
    """

    __slots__ = ("_tokens",)

    def __init__(self, tokens: np.ndarray) -> None:
        """Wrap an already sorted, unique `S16` array; use `build_membership_index` or `from_bytes` instead."""
        if tokens.dtype != _INDEX_DTYPE or tokens.ndim != 1:
            raise ValueError(f"a membership index is a 1-D array of dtype {_INDEX_DTYPE}")
        if len(tokens) > 1 and not bool(np.all(tokens[1:] > tokens[:-1])):
            raise ValueError("a membership index must be sorted and free of duplicates")
        self._tokens = tokens

    @property
    def size(self) -> int:
        """Number of distinct subjects."""
        return len(self._tokens)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, token: object) -> bool:
        return self.contains(_check_token(token, "membership lookup"))

    def contains(self, token: str) -> bool:
        """Exact membership of one pseudonym.

        Raises:
            ValueError: `token` is not a pseudonym (e.g. a raw value passed by mistake).
        """
        probe = np.array([bytes.fromhex(_check_token(token, "membership lookup"))], dtype=_INDEX_DTYPE)
        i = int(np.searchsorted(self._tokens, probe[0]))
        return i < len(self._tokens) and self._tokens[i] == probe[0]

    def contains_many(self, tokens: Iterable[str]) -> np.ndarray:
        """Vectorized `contains`: a boolean array, one entry per token in order."""
        probe = _encode_tokens(tokens, "membership lookup")
        if len(self._tokens) == 0:
            return np.zeros(len(probe), dtype=bool)
        i = np.minimum(np.searchsorted(self._tokens, probe), len(self._tokens) - 1)
        return self._tokens[i] == probe

    def tokens(self) -> list[str]:
        """The pseudonyms, sorted."""
        return [t.hex() for t in self._tokens.tolist()]

    def digest(self) -> str:
        """SHA-256 of the serialized index: names this exact set in provenance tags."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def to_bytes(self) -> bytes:
        """The index in `.npy` format (no pickle)."""
        buf = io.BytesIO()
        np.save(buf, self._tokens, allow_pickle=False)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> MembershipIndex:
        """Read `to_bytes` output.

        Raises:
            ValueError: not an `.npy` payload of sorted unique 16-byte tokens.
        """
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"membership index bytes are not a valid .npy array ({type(exc).__name__})") from None
        return cls(arr)

    def save(self, path: str | Path) -> Path:
        """Write the index to `path` (conventionally `membership.npy`) and return the path."""
        p = Path(path)
        p.write_bytes(self.to_bytes())
        return p

    @classmethod
    def load(cls, path: str | Path) -> MembershipIndex:
        """Read an index written by `save`.

        Raises:
            FileNotFoundError: no file at `path`.
            ValueError: the file is not a membership index.
        """
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"membership index file not found: {p}")
        try:
            return cls.from_bytes(p.read_bytes())
        except ValueError as exc:
            raise ValueError(f"{p}: {exc}") from None


def _encode_tokens(tokens: Iterable[str], where: str) -> np.ndarray:
    toks = list(tokens)
    bad = sum(1 for t in toks if not is_pseudonym(t))
    if bad:
        raise ValueError(
            f"{where}: {bad} of {len(toks)} value(s) are not pseudonyms (expected {PSEUDONYM_HEX_CHARS} lowercase hex characters)"
        )
    if not toks:
        return np.empty(0, dtype=_INDEX_DTYPE)
    return np.frombuffer(bytes.fromhex("".join(toks)), dtype=_INDEX_DTYPE)


def build_membership_index(pseudonyms: Iterable[str]) -> MembershipIndex:
    """Exact membership index of the subjects in a training set, from their pseudonyms (duplicates allowed).

    Missing values (None/NaN) are skipped: a row without a subject id names nobody.

    Raises:
        ValueError: a value is not a 32-lowercase-hex pseudonym (the count is reported, never the value).
    """
    toks = [t for t in pseudonyms if not (t is None or (isinstance(t, float) and math.isnan(t)) or t is pd.NA)]
    return MembershipIndex(np.unique(_encode_tokens(toks, "build_membership_index")))


# --------------------------------------------------------------------------- bloom filter


class BloomMembership:
    """A Bloom filter over pseudonyms: no false negatives, false positives at about `fp_rate`.

    With n = capacity and p = fp_rate it uses m = ceil(-n ln p / (ln 2)^2) bits and
    h = round(m/n ln 2) hash positions (double hashing over SHA-256 of the token), so 1% costs
    about 9.6 bits per subject. The rate holds while at most `capacity` tokens are added; past
    that it rises (see `estimated_fp_rate`). A positive answer means "maybe a member": confirm
    with the exact `MembershipIndex` before acting on it.
    """

    _MAGIC = b"VFBLOOM1"
    _HEADER = struct.Struct("<8sQQdQ")  # magic, capacity, bits, fp_rate, count; hash count is derived

    def __init__(self, capacity: int, fp_rate: float = 0.01) -> None:
        """Size an empty filter.

        Raises:
            ValueError: capacity < 1 or fp_rate not in (0, 0.5].
        """
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError("capacity must be a positive integer")
        if not 0.0 < fp_rate <= 0.5:
            raise ValueError("fp_rate must be in (0, 0.5]")
        self.capacity = capacity
        self.fp_rate = float(fp_rate)
        self.n_bits = max(8, math.ceil(-capacity * math.log(fp_rate) / (math.log(2) ** 2)))
        self.n_hashes = max(1, round(self.n_bits / capacity * math.log(2)))
        self._bits = bytearray((self.n_bits + 7) // 8)
        self.count = 0

    def _positions(self, token: str) -> list[int]:
        d = hashlib.sha256(_check_token(token, "bloom filter").encode("ascii")).digest()
        h1 = int.from_bytes(d[:8], "little")
        h2 = int.from_bytes(d[8:16], "little") | 1  # odd, so the probe sequence never collapses
        return [(h1 + i * h2) % self.n_bits for i in range(self.n_hashes)]

    def add(self, token: str) -> None:
        """Add one pseudonym (raises ValueError for anything else)."""
        for pos in self._positions(token):
            self._bits[pos >> 3] |= 1 << (pos & 7)
        self.count += 1

    def update(self, tokens: Iterable[str]) -> None:
        """Add many pseudonyms."""
        for t in tokens:
            self.add(t)

    def contains(self, token: str) -> bool:
        """False: certainly not added. True: added, or a false positive (about `fp_rate` of the time)."""
        return all(self._bits[pos >> 3] & (1 << (pos & 7)) for pos in self._positions(token))

    def __contains__(self, token: object) -> bool:
        return self.contains(_check_token(token, "bloom filter"))

    def __len__(self) -> int:
        return self.count

    def estimated_fp_rate(self) -> float:
        """Expected false-positive rate at the current fill: (1 - e^(-h n / m))^h."""
        return (1.0 - math.exp(-self.n_hashes * self.count / self.n_bits)) ** self.n_hashes

    def to_bytes(self) -> bytes:
        """A small binary header (magic, capacity, bits, fp_rate, count) followed by the bit array."""
        return self._HEADER.pack(self._MAGIC, self.capacity, self.n_bits, self.fp_rate, self.count) + bytes(self._bits)

    @classmethod
    def from_bytes(cls, data: bytes) -> BloomMembership:
        """Read `to_bytes` output.

        Raises:
            ValueError: wrong magic, or a size that does not match the header.
        """
        size = cls._HEADER.size
        if len(data) < size:
            raise ValueError("bloom filter bytes are truncated")
        magic, capacity, n_bits, fp_rate, count = cls._HEADER.unpack(data[:size])
        if magic != cls._MAGIC:
            raise ValueError("bytes are not a veilflow bloom filter")
        bloom = cls(int(capacity), float(fp_rate))
        if bloom.n_bits != n_bits or len(data) - size != len(bloom._bits):
            raise ValueError("bloom filter bytes do not match their header")
        bloom._bits = bytearray(data[size:])
        bloom.count = int(count)
        return bloom

    def save(self, path: str | Path) -> Path:
        """Write `to_bytes` to `path` and return it."""
        p = Path(path)
        p.write_bytes(self.to_bytes())
        return p

    @classmethod
    def load(cls, path: str | Path) -> BloomMembership:
        """Read a filter written by `save` (FileNotFoundError / ValueError as for `MembershipIndex.load`)."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"bloom filter file not found: {p}")
        try:
            return cls.from_bytes(p.read_bytes())
        except ValueError as exc:
            raise ValueError(f"{p}: {exc}") from None


# --------------------------------------------------------------------------- suppression list


class SuppressionEntry(BaseModel):
    """One forgotten subject: its pseudonym, when it was added, and why (never a raw value)."""

    # Validation errors would otherwise quote the rejected input, which may be a raw identifier.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    token: str
    added_at: datetime
    note: str = ""

    @field_validator("token")
    @classmethod
    def _token(cls, v: str) -> str:
        return _check_token(v, "suppression entry")

    @field_validator("note")
    @classmethod
    def _note(cls, v: str) -> str:
        return _check_note(v, "suppression entry")

    @field_validator("added_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("added_at must be timezone-aware")
        return v.astimezone(UTC)


class SuppressionList:
    """Pseudonyms of subjects who asked to be forgotten, kept in a JSON file; the load step drops their rows.

    File format: `{"version": 1, "entries": [{"token": "<32 hex>", "added_at": "<UTC ISO>", "note": "..."}]}`.
    """

    VERSION = 1

    def __init__(self, path: str | Path, entries: Iterable[SuppressionEntry] = ()) -> None:
        """An in-memory list bound to `path`; use `SuppressionList.load(path)` to read an existing file."""
        self.path = Path(path)
        self._entries: dict[str, SuppressionEntry] = {}
        for e in entries:
            self._entries.setdefault(e.token, e)

    @classmethod
    def load(cls, path: str | Path) -> SuppressionList:
        """Read the list at `path`; a missing file is an empty list (nobody has been forgotten yet).

        Raises:
            ConfigError: the file exists but is not a valid suppression list.
        """
        p = Path(path)
        if not p.exists():
            return cls(p)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("version") != cls.VERSION or not isinstance(doc.get("entries"), list):
                raise ValueError("wrong layout")
            entries = [SuppressionEntry.model_validate(e) for e in doc["entries"]]
        except (ValueError, TypeError) as exc:
            kind = "not valid JSON" if isinstance(exc, json.JSONDecodeError) else "not a version-1 suppression list"
            raise ConfigError(f"suppression list '{p}' is {kind}") from None
        return cls(p, entries)

    @property
    def tokens(self) -> frozenset[str]:
        """The suppressed pseudonyms."""
        return frozenset(self._entries)

    @property
    def entries(self) -> list[SuppressionEntry]:
        """Entries in the order they were added."""
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        return token in self._entries

    def add(self, token: str, note: str = "", now: datetime | None = None) -> bool:
        """Suppress a pseudonym (call `save()` to persist).

        Args:
            token: the subject's pseudonym (see `pseudonymize_subject`), never the raw value.
            note: one line for the operator, e.g. a ticket id; e-mail-like or long digit runs are refused.
            now: the time to record (UTC); defaults to the current time.

        Returns:
            True when newly added; False when already listed (its first time and note are kept).

        Raises:
            ValueError: token is not a pseudonym, or the note is multi-line, too long or looks like PII.
        """
        # Checked here first so the error is one line (a pydantic error would span several).
        _check_token(token, "suppression list add")
        _check_note(note, "suppression list add")
        entry = SuppressionEntry(token=token, added_at=now or datetime.now(UTC), note=note)
        if entry.token in self._entries:
            return False
        self._entries[entry.token] = entry
        return True

    def save(self) -> Path:
        """Write the list to its path atomically (a crash leaves the old file or the new one, never half)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": self.VERSION, "entries": [e.model_dump(mode="json") for e in self._entries.values()]}
        fd, tmp = tempfile.mkstemp(prefix=".suppression-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
                fh.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path

    def apply(self, frame: pd.DataFrame, subject_column_pseudonyms: pd.Series | str) -> tuple[pd.DataFrame, int]:
        """Drop the rows of suppressed subjects from an already pseudonymized frame.

        Args:
            frame: the frame (never changed).
            subject_column_pseudonyms: the subject pseudonym of each row, aligned with `frame`'s index,
                or the name of the frame's pseudonym column (e.g. "customer_id" after anonymization).

        Returns:
            (a new frame without those rows, number of rows dropped).

        Raises:
            ValueError: the column is not in the frame, or the series is not aligned with the frame.
        """
        if isinstance(subject_column_pseudonyms, str):
            if subject_column_pseudonyms not in frame.columns:
                raise ValueError(f"subject column '{subject_column_pseudonyms}' is not in the frame")
            subjects = frame[subject_column_pseudonyms]
        else:
            subjects = subject_column_pseudonyms
            if len(subjects) != len(frame) or not subjects.index.equals(frame.index):
                raise ValueError("the subject pseudonym series must have the same length and index as the frame")
        drop = subjects.isin(self.tokens).to_numpy(dtype=bool)
        return frame.loc[~drop].copy(), int(drop.sum())

    def apply_raw(self, frame: pd.DataFrame, subject_column: str, key: bytes | str | None) -> tuple[pd.DataFrame, int]:
        """Drop the rows of suppressed subjects from a RAW frame, before anonymization.

        The raw subject column is pseudonymized in memory exactly as the anonymization `hash` operator
        does (cell text as is; each distinct value hashed once) and matched against the list; nothing
        is stored or logged.

        Returns:
            (a new frame without those rows, number of rows dropped).

        Raises:
            ValueError: `subject_column` is not in the frame.
            MissingKeyError / ConfigError: no key, or a key shorter than 16 bytes.
        """
        if subject_column not in frame.columns:
            raise ValueError(f"subject column '{subject_column}' is not in the frame")
        raw_key = _key_bytes(key)
        if not self._entries or frame.empty:
            return frame.copy(), 0
        values = frame[subject_column].astype("str")
        uniques = pd.unique(values.dropna())
        suppressed = self.tokens
        hit = {u for u, t in zip(uniques, pseudonymize_values(uniques, raw_key), strict=True) if t in suppressed}
        drop = values.isin(hit).to_numpy(dtype=bool)
        return frame.loc[~drop].copy(), int(drop.sum())


# --------------------------------------------------------------------------- erasure log


class ErasureRecord(BaseModel):
    """One executed forget request: what was affected, by pseudonym only."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    pseudonym: str
    affected_runs: list[str] = Field(default_factory=list, description="MLflow run ids whose training set held the subject")
    model_versions: list[str] = Field(default_factory=list, description='registered versions, as "name/version"')
    dataset_fingerprints: list[str] = Field(default_factory=list, description="fingerprints of the affected data")
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    note: str = ""

    @field_validator("pseudonym")
    @classmethod
    def _token(cls, v: str) -> str:
        return _check_token(v, "erasure record")

    @field_validator("note")
    @classmethod
    def _note(cls, v: str) -> str:
        return _check_note(v, "erasure record")

    @field_validator("recorded_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("recorded_at must be timezone-aware")
        return v.astimezone(UTC)


def append_erasure_record(log_path: str | Path, record: ErasureRecord) -> Path:
    """Append one record as a JSON line to the forget log (created with its folder if missing; never rewritten).

    Returns:
        The log path.

    Raises:
        ValueError: `record` is not an ErasureRecord.
    """
    if not isinstance(record, ErasureRecord):
        raise ValueError("append_erasure_record needs an ErasureRecord")
    p = Path(log_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    line = record.model_dump_json() + "\n"
    with p.open("ab") as fh:
        # A torn last line (crash mid-write) must not swallow this record into it.
        if fh.tell() > 0:
            with p.open("rb") as rd:
                rd.seek(-1, os.SEEK_END)
                if rd.read(1) != b"\n":
                    line = "\n" + line
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    return p


def read_erasure_log(log_path: str | Path) -> list[ErasureRecord]:
    """All records of a forget log, oldest first; a missing log is empty.

    Raises:
        ConfigError: a line is not a valid record (its line number is named, not its content).
    """
    p = Path(log_path)
    if not p.exists():
        return []
    records = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(ErasureRecord.model_validate_json(line))
        except ValueError:
            raise ConfigError(f"forget log '{p}' line {i} is not a valid erasure record") from None
    return records
