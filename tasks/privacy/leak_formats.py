"""What of a logged file the leak scan reads, by format: the searchable pieces of an artifact, each with its rule.

A piece is `(rule, text)`; the text is then matched by `veilflow.tasks.privacy.leak_scan` at token boundaries.
The rule names where the text came from, so a hit says why it was a hit:

- `json-value` / `yaml-value`: JSON and YAML files (`.json`, `.yaml`, `.yml`, `MLmodel`) are parsed and only their
  scalar *values* are read: strings, and numbers as written. Booleans and null are structure, never values. A key
  is structure when it looks like an identifier (`register`, `roc_auc`, `dataset.n_rows`); any other key (with
  spaces, `@`, or starting with a digit, e.g. a dict keyed by e-mail or id) is read like a value. A file that does
  not parse is read as text.
- `csv-value` / `parquet-value`: tables are decoded; the header, every string cell and every integer cell is a
  piece; Parquet key-value metadata is read as text. Float cells are skipped (a float is not an id).
- `png-text`: a PNG is read chunk by chunk; only its text chunks (`tEXt`, `zTXt`, `iTXt`: keyword and text) are
  pieces. Pixel data (`IDAT`, compressed) and other binary chunks are not text and are never matched.
- `pickle-string`: pickles (and cloudpickles; `.pkl`, `.pickle`, or a protocol-2+ header) are walked opcode by
  opcode with `pickletools.genops` — never unpickled — and every pickled string is a piece (attribute names,
  categories a `OneHotEncoder` learned, constants of cloudpickled code, UTF-32 string buffers of numpy `<U`
  arrays). Pickled integers and raw numeric buffers are not read: they are binary numbers, not text.
- `npy-string`: `.npy` arrays: string arrays are decoded, object arrays walked as pickles, numeric ones skipped.
- zip archives (`.zip`, skops `.skops`, torch `.pt`/`.pt2`): every member by these same rules.
- `token`: any other file that decodes as UTF-8 (no NUL byte): the whole text (and zip member names).
- `strings-run`: any other binary: its printable ASCII runs of 4 or more characters, as `strings` prints them.
"""

from __future__ import annotations

import io
import json
import logging
import pickletools
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("veilflow")

Piece = tuple[str, str]

_PNG = b"\x89PNG\r\n\x1a\n"
_IDENT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/:]*$")
_STRINGS_RUN = re.compile(rb"[\x20-\x7e\t]{4,}")
_JSON = {".json"}
_YAML = {".yaml", ".yml"}
_YAML_NAMES = {"MLmodel"}
_PICKLE = {".pkl", ".pickle", ".cloudpickle", ".pck"}
_ZIP = {".zip", ".skops", ".pt", ".pt2", ".pth", ".mar"}
_STRING_OPS = {
    "UNICODE",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
}
_BYTES_OPS = {"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"}
_U_DTYPE = re.compile(r"^[<>|=]?U(\d+)$")
_MAX_DEPTH = 3  # archives inside archives


def file_pieces(name: str, data: bytes, depth: int = 0) -> Iterator[Piece]:
    """The searchable pieces of one file (its name decides the format, its first bytes confirm it)."""
    base = name.rsplit("/", 1)[-1]
    suffix = ("." + base.rsplit(".", 1)[-1].lower()) if "." in base else ""
    try:
        if data.startswith(_PNG):
            yield from png_pieces(data)
            return
        if suffix == ".parquet" or data[:4] == b"PAR1":
            yield from _table_pieces(data, parquet=True)
            return
        if suffix == ".csv":
            yield from _table_pieces(data, parquet=False)
            return
        if (suffix in _ZIP or data[:4] == b"PK\x03\x04") and depth < _MAX_DEPTH and zipfile.is_zipfile(io.BytesIO(data)):
            yield from _zip_pieces(data, depth)
            return
        if suffix == ".npy" or data[:6] == b"\x93NUMPY":
            yield from _npy_pieces(data)
            return
        if suffix in _PICKLE or (len(data) > 2 and data[0] == 0x80 and 2 <= data[1] <= 5):
            yield from pickle_pieces(data)
            return
    except Exception as exc:  # a damaged or unexpected file: fall back to its printable runs, never skip it
        log.info("leak scan: %s not readable as its format (%s); scanning its printable runs", base, type(exc).__name__)
        yield from strings_pieces(data)
        return
    if b"\x00" in data[:4096]:
        yield from strings_pieces(data)
        return
    text = data.decode("utf-8", errors="replace")
    if suffix in _JSON or (suffix in _YAML or base in _YAML_NAMES):
        parsed = _parse(text, yaml_file=suffix not in _JSON)
        if parsed is not _UNPARSED:
            rule = "json-value" if suffix in _JSON else "yaml-value"
            yield from ((rule, t) for t in structured_values(parsed))
            return
    yield ("token", text)


_UNPARSED = object()


def _parse(text: str, yaml_file: bool) -> Any:
    try:
        if not yaml_file:
            return json.loads(text)
        import yaml

        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when built with it
    except Exception:  # not valid JSON/YAML after all: read it as text
        return _UNPARSED


def is_structure_key(key: str) -> bool:
    """A key that names structure (an identifier such as `register`, `roc_auc`, `dataset.n_rows`), not data."""
    return bool(_IDENT_KEY.match(key))


def structured_values(obj: Any) -> Iterator[str]:
    """The values of parsed JSON/YAML as texts: strings and numbers as written, data-like keys; no bools, no nulls."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str):
                    if not _IDENT_KEY.match(k):
                        yield k
                elif isinstance(k, int | float) and not isinstance(k, bool):
                    yield str(k)
                stack.append(v)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            if item[:1] in ("{", "[") and item[-1:] in ("}", "]"):  # JSON inside a value (MLmodel's signature)
                nested = _parse(item, yaml_file=False)
                if nested is not _UNPARSED:
                    stack.append(nested)
                    continue
            if item:
                yield item
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            yield repr(item)
        else:  # YAML dates and other scalars
            yield str(item)


def png_pieces(data: bytes) -> Iterator[Piece]:
    """Keyword and text of every tEXt, zTXt and iTXt chunk; nothing of the pixel data."""
    pos = len(_PNG)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if ctype == b"tEXt":
            key, _, text = body.partition(b"\x00")
            yield ("png-text", f"{key.decode('latin-1')}\n{text.decode('latin-1')}")
        elif ctype == b"zTXt":
            key, _, rest = body.partition(b"\x00")
            yield ("png-text", f"{key.decode('latin-1')}\n{zlib.decompress(rest[1:]).decode('latin-1')}")
        elif ctype == b"iTXt":
            key, _, rest = body.partition(b"\x00")
            compressed, rest = rest[0], rest[2:]
            lang, _, rest = rest.partition(b"\x00")
            translated, _, text = rest.partition(b"\x00")
            if compressed:
                text = zlib.decompress(text)
            parts = [key.decode("latin-1"), lang.decode("latin-1"), translated.decode("utf-8", "replace")]
            yield ("png-text", "\n".join([*parts, text.decode("utf-8", "replace")]))
        elif ctype == b"IEND":
            return


def pickle_pieces(data: bytes) -> Iterator[Piece]:
    """Every string of a pickle stream, read with `pickletools.genops` (the pickle is never loaded)."""
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        start = stream.tell()
        if data[start] != 0x80 and start:  # trailing non-pickle data (e.g. joblib's raw arrays)
            yield from strings_pieces(data[start:])
            return
        width = 0  # characters per item of the last numpy unicode dtype named ("U8"), to split its buffer
        for op, arg, _ in pickletools.genops(stream):
            if op.name in _STRING_OPS and arg:
                text = arg if isinstance(arg, str) else arg.decode("latin-1")
                m = _U_DTYPE.match(text)
                width = int(m.group(1)) if m else width
                yield ("pickle-string", text)
            elif op.name in _BYTES_OPS and arg:
                text = _utf32_text(bytes(arg), width)
                if text:
                    yield ("pickle-string", text)
        if stream.tell() == start:
            return


def _utf32_text(buf: bytes, width: int = 0) -> str | None:
    """A numpy `<U` string buffer (UTF-32-LE, code points below 65536) as one line per item (`width` characters
    each when known); None for any other byte buffer (numbers)."""
    if len(buf) < 4 or len(buf) % 4 or any(buf[2::4]) or any(buf[3::4]):
        return None
    text = buf.decode("utf-32-le", errors="replace")
    if not any(ch.isalnum() for ch in text):
        return None
    if width and len(text) % width == 0:
        text = "\n".join(text[i : i + width] for i in range(0, len(text), width))
    return text.replace("\x00", "\n")


def _npy_pieces(data: bytes) -> Iterator[Piece]:
    import numpy as np
    from numpy.lib import format as npformat

    stream = io.BytesIO(data)
    version = npformat.read_magic(stream)
    reader = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
    shape, _, dtype = reader(stream)
    rest = data[stream.tell() :]
    if dtype.kind == "O":
        for _, text in pickle_pieces(rest):
            yield ("npy-string", text)
    elif dtype.kind in "US":
        count = int(np.prod(shape)) if shape else 1
        values = np.frombuffer(rest, dtype=dtype, count=count)
        yield ("npy-string", "\n".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values.tolist()))


def _zip_pieces(data: bytes, depth: int) -> Iterator[Piece]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if not member.is_dir():
                yield ("token", member.filename)
                yield from file_pieces(member.filename, archive.read(member), depth + 1)


def _table_pieces(data: bytes, parquet: bool) -> Iterator[Piece]:
    import pandas as pd

    rule = "parquet-value" if parquet else "csv-value"
    if parquet:
        import pyarrow.parquet as pq

        meta = pq.read_schema(io.BytesIO(data)).metadata or {}
        for k, v in meta.items():  # key-value metadata (pandas' own is JSON: its values, not its structure)
            value = v.decode("utf-8", "replace")
            parsed = _parse(value, yaml_file=False)
            texts = [value] if parsed is _UNPARSED else list(structured_values(parsed))
            yield ("parquet-value", "\n".join([k.decode("utf-8", "replace"), *texts]))
        frame = pd.read_parquet(io.BytesIO(data))
    else:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    yield (rule, "\n".join(map(str, frame.columns)))
    for col in frame.columns:
        series = frame[col]
        if pd.api.types.is_float_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        yield (rule, "\n".join(series.dropna().astype("str").tolist()))


def strings_pieces(data: bytes) -> Iterator[Piece]:
    """Printable ASCII runs of 4+ characters (`strings`), one piece per run."""
    runs = _STRINGS_RUN.findall(data)
    if runs:
        yield ("strings-run", "\n".join(r.decode("ascii") for r in runs))
