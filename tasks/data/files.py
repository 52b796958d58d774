"""Reading input files: existence, size, encoding, header and duplicate-name checks, bounded samples, and whole frames.

Every error is one line naming the file and what is wrong with it (an encoding error names the byte offset and
line, a header error the column names), never a cell value.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from veilflow.core.errors import DataLoadError


def load_frame(path: str | Path, max_bytes: int = 2 * 1024**3, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a CSV or Parquet file into a frame, with one-line errors for every bad input.

    Args:
        path: a `.csv`/`.txt` or `.parquet`/`.pq` file.
        max_bytes: refuse larger files before reading them.
        encoding: the text encoding of a CSV file (`dataset.encoding`).

    Raises:
        DataLoadError: missing file, unsupported suffix, empty file, a file that does not decode with
            `encoding` (naming the byte offset and line, never the content), duplicate column names, or
            a file larger than `max_bytes`.
    """
    p = check_file(path, max_bytes)
    suffix = p.suffix.lower()
    if suffix in CSV_SUFFIXES:
        check_columns_unique(csv_header(p, encoding), p)
    elif suffix in PARQUET_SUFFIXES:
        check_columns_unique(parquet_columns(p), p)
    with _read_errors(p, encoding):
        if suffix in PARQUET_SUFFIXES:
            df = pd.read_parquet(p)
        elif suffix in CSV_SUFFIXES:
            df = pd.read_csv(p, encoding=encoding, encoding_errors="strict", dtype={"zip_code": str})
        else:
            raise DataLoadError(f"unsupported input format '{suffix}' (use .csv or .parquet): {p}")
    _check_rows(df, p)
    return df


@contextlib.contextmanager
def _read_errors(p: Path, encoding: str) -> Iterator[None]:
    """What pandas and pyarrow raise on a bad file, as one-line DataLoadErrors that never quote its content."""
    try:
        yield
    except UnicodeDecodeError:
        raise _decode_error(p, encoding) from None
    except pd.errors.EmptyDataError:
        raise DataLoadError(f"input file has no columns: {p}") from None
    except pd.errors.ParserError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataLoadError(f"input file could not be parsed ({first}): {p}") from None
    except DataLoadError:
        raise
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise DataLoadError(f"input file could not be read ({type(exc).__name__}): {p}") from None


def _check_rows(df: pd.DataFrame, p: Path) -> None:
    if len(df) == 0:
        raise DataLoadError(f"input file has a header but no rows: {p}")


CSV_SUFFIXES = frozenset({".csv", ".txt"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})


def check_file(path: str | Path, max_bytes: int) -> Path:
    """The file as a Path once it exists, is a readable regular file, is not empty and is within `max_bytes`.

    Raises:
        DataLoadError: naming what is wrong and the path.
    """
    p = Path(path)
    if not p.exists():
        raise DataLoadError(f"input file not found: {p}")
    if not p.is_file():
        raise DataLoadError(f"input path is not a file: {p}")
    try:
        with p.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataLoadError(f"input file is not readable ({type(exc).__name__}): {p}") from None
    size = p.stat().st_size
    if size == 0:
        raise DataLoadError(f"input file is empty: {p}")
    if size > max_bytes:
        raise DataLoadError(f"input file is {size} bytes, over the {max_bytes}-byte limit (dataset.max_bytes): {p}")
    if p.suffix.lower() not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise DataLoadError(f"unsupported input format '{p.suffix.lower()}' (use .csv or .parquet): {p}")
    return p


def _encoding_label(encoding: str) -> str:
    return "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding


def _decode_error(p: Path, encoding: str, limit: int | None = None) -> DataLoadError:
    found = first_undecodable(p, encoding, limit)
    where = f"first bad byte at offset {found[0]}, line {found[1]}" if found else "decoding failed"
    return DataLoadError(f"input file is not valid {_encoding_label(encoding)} ({where}; see dataset.encoding): {p}")


def csv_header(p: Path, encoding: str = "utf-8") -> list[str]:
    """The column names of a CSV file's header line, exactly as written (pandas would rename duplicates).

    Raises:
        DataLoadError: the header does not decode with `encoding`, or is split by another delimiter.
    """
    with p.open("rb") as fh:
        raw = fh.read(1 << 20)
    # The first record may hold quoted newlines: parse the whole block, keep its first row. A full block may
    # end inside a multi-byte character: it is decoded incrementally, keeping what is complete.
    try:
        text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(raw, final=len(raw) < (1 << 20))
    except UnicodeDecodeError:
        raise _decode_error(p, encoding, 1 << 20) from None
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), [])
    first_line = text.split("\n", 1)[0]
    if len(header) <= 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in first_line:
                raise DataLoadError(f"input file's header is {name}-delimited, expected commas: {p}")
    return [h.strip() for h in header]


def parquet_columns(p: Path) -> list[str]:
    """The column names stored in a Parquet file's schema (duplicates included).

    Raises:
        DataLoadError: the file is not a readable Parquet file.
    """
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(p).names)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for corrupt files
        raise DataLoadError(f"input file could not be read ({type(exc).__name__}): {p}") from None


def check_columns_unique(columns: list[str], p: Path) -> None:
    """Refuse duplicate column names (pandas renames them to `x.1` without a word).

    Raises:
        DataLoadError: naming each duplicated column and how often it occurs.
    """
    counts = Counter(columns)
    dupes = [f"'{c}' ({n}x)" for c, n in counts.items() if n > 1]
    if dupes:
        raise DataLoadError(f"input file has duplicate column name(s) {', '.join(dupes[:10])}: {p}")


def check_decodes(p: Path, encoding: str, limit: int | None = None) -> None:
    """Refuse a text file whose first `limit` bytes (None: all) do not decode with `encoding`.

    Raises:
        DataLoadError: naming the encoding, the byte offset and the line of the first bad byte (never content).
    """
    if first_undecodable(p, encoding, limit) is not None:
        raise _decode_error(p, encoding, limit)


def read_sample(p: Path, encoding: str = "utf-8", rows: int = 2000) -> tuple[pd.DataFrame, bool]:
    """The first `rows` rows of a CSV or Parquet file, and whether they are the whole file.

    Reads a bounded part of the file whatever its size (the header checks of `load_frame` first).

    Raises:
        DataLoadError: as `load_frame`, for the part read.
    """
    suffix = p.suffix.lower()
    with _read_errors(p, encoding):
        if suffix in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            check_columns_unique(parquet_columns(p), p)
            pf = pq.ParquetFile(p)
            total = pf.metadata.num_rows
            batch = next(pf.iter_batches(batch_size=rows), None)
            df = batch.to_pandas() if batch is not None else pf.schema_arrow.empty_table().to_pandas()
            complete = total <= rows
        else:
            check_columns_unique(csv_header(p, encoding), p)
            df = pd.read_csv(p, encoding=encoding, encoding_errors="strict", dtype={"zip_code": str}, nrows=rows + 1)
            complete = len(df) <= rows
            df = df.head(rows)
    _check_rows(df, p)
    return df, complete


def first_undecodable(p: Path, encoding: str = "utf-8", limit: int | None = None, chunk: int = 1 << 20) -> tuple[int, int] | None:
    """(byte offset, 1-based line) of the first byte that does not decode with `encoding`, or None.

    Reads at most `limit` bytes (None: the whole file); pandas reports chunk-relative offsets, so this re-reads.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, lines = 0, 0
    with p.open("rb") as fh:
        while block := fh.read(chunk if limit is None else min(chunk, limit - offset)):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # exc.start counts from the start of the decoder's buffer (pending bytes + block).
                pending = len(exc.object) - len(block)
                bad = offset - pending + exc.start
                lines += exc.object[: exc.start].count(b"\n")
                return bad, lines + 1
            lines += block.count(b"\n")
            offset += len(block)
            if limit is not None and offset >= limit:
                return None
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset, lines + 1  # the file ends inside a multi-byte character
    return None
