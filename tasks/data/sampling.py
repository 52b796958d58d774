"""Reading a bounded sample of a CSV or Parquet file for `veilflow init`: encoding, duplicate headers, column types."""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from pathlib import Path

import pandas as pd

from veilflow.core.errors import DataLoadError

DEFAULT_SAMPLE_ROWS = 5000
ENCODINGS = ("utf-8", "cp1252")  # tried in order; latin-1 is not: it decodes any bytes, binary garbage included


def _duplicate_headers(header: list[str]) -> list[str]:
    counts = Counter(h.strip() for h in header)
    return sorted(h for h, n in counts.items() if n > 1)


def detect_encoding(path: Path, chunk: int = 1 << 20) -> str:
    """The first of `ENCODINGS` that decodes the whole file.

    Raises:
        DataLoadError: the file holds NUL bytes (binary) or decodes in none of them.
    """
    with path.open("rb") as fh:
        if b"\x00" in fh.read(65536):
            raise DataLoadError(f"input file looks binary (NUL bytes), not a CSV: {path}")
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while block := fh.read(chunk):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise DataLoadError(f"input file decodes as none of {', '.join(ENCODINGS)}: {path}")


def read_sample(path: str | Path, max_rows: int = DEFAULT_SAMPLE_ROWS) -> tuple[pd.DataFrame, str]:
    """Read at most `max_rows` rows of a CSV or Parquet file.

    Returns:
        (the sample, the text encoding that decoded the file: "utf-8", "cp1252", or "binary" for Parquet).

    Raises:
        DataLoadError: missing, empty, undecodable or unparsable file, duplicate headers, or no rows.
    """
    p = Path(path)
    if not p.exists():
        raise DataLoadError(f"input file not found: {p}")
    if not p.is_file():
        raise DataLoadError(f"input path is not a file: {p}")
    if p.stat().st_size == 0:
        raise DataLoadError(f"input file is empty: {p}")
    suffix = p.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        try:
            import pyarrow.parquet as pq

            table = pq.ParquetFile(p)
            frame = next(table.iter_batches(batch_size=max_rows)).to_pandas() if table.metadata.num_rows else pd.DataFrame()
            names = list(table.schema_arrow.names)
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise DataLoadError(f"input file could not be read as Parquet ({type(exc).__name__}): {p}") from None
        encoding = "binary"
    elif suffix in {".csv", ".txt"}:
        encoding = detect_encoding(p)
        with p.open(encoding=encoding, newline="") as fh:
            names = next(csv.reader(fh), [])
        if len(names) <= 1 and names and any(sep in names[0] for sep in (";", "\t", "|")):
            raise DataLoadError(f"input file's header is not comma-delimited: {p}")
        try:
            frame = pd.read_csv(p, nrows=max_rows, encoding=encoding, dtype=str, keep_default_na=True)
        except pd.errors.EmptyDataError:
            raise DataLoadError(f"input file has no columns: {p}") from None
        except pd.errors.ParserError:
            raise DataLoadError(f"input file could not be parsed as CSV: {p}") from None
        frame = _typed(frame)
    else:
        raise DataLoadError(f"unsupported input format '{suffix}' (use .csv or .parquet): {p}")
    duplicates = _duplicate_headers([str(n) for n in names])
    if duplicates:
        raise DataLoadError(f"input file has duplicate column names: {', '.join(duplicates)}: {p}")
    if frame.shape[1] == 0:
        raise DataLoadError(f"input file has no columns: {p}")
    if len(frame) == 0:
        raise DataLoadError(f"input file has a header but no rows: {p}")
    return frame, encoding


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns read as text become numbers where every non-null value is one (as `pd.read_csv` would type them)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        numbers = pd.to_numeric(s, errors="coerce")
        if s.notna().any() and numbers.notna().sum() == s.notna().sum() and not _leading_zero_codes(s):
            out[col] = numbers
        else:
            out[col] = s
    return pd.DataFrame(out)


def _leading_zero_codes(s: pd.Series) -> bool:
    """Codes such as zip codes "02134" lose their zeros as numbers: keep them as text."""
    text = s.dropna().astype(str)
    return bool(len(text)) and bool(text.str.match(r"^0\d").any())
