"""The pre-flight corpus: inputs `veilflow train` must refuse with exit 2 and one line, before Prefect or MLflow start.

A case is `PreflightCase(id, write, error, fragment, env)`: `write(tmp_path)` writes the bad file(s) and returns the
config overrides pointing the demo config at them; `error` is the `VeilflowError` subclass `preflight` raises, and
`fragment` must appear in its one-line message. `env` removes (None) or sets environment variables for the case.
Run by tests/ops/test_preflight.py (the function, fast) and tests/ops/test_bad_input.py (the command line, slow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from bad_inputs import base_frame

from veilflow.core.errors import DataLoadError, DataValidationError, MissingKeyError, VeilflowError
from veilflow.core.paths import project_root

PROJECT_ROOT = project_root()
DEMO_CONFIG = PROJECT_ROOT / "deploy/configs/customers.yaml"
DEMO_POLICY = PROJECT_ROOT / "expectations/policies/customers.pii.yaml"


def file_overrides(p: Path, **extra: Any) -> dict[str, Any]:
    return {"dataset.source": "file", "dataset.path": str(p), **extra}


def write_csv(tmp: Path, df: pd.DataFrame, name: str = "customers.csv") -> dict[str, Any]:
    p = tmp / name
    df.to_csv(p, index=False)
    return file_overrides(p)


def us_dates(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with dates of birth written MM/DD/YYYY (as the criminal-justice table had them)."""
    out = df.copy()
    out["date_of_birth"] = pd.to_datetime(out["date_of_birth"]).dt.strftime("%m/%d/%Y")
    return out


def policy_with(tmp: Path, *, text: bool = True, **dob: Any) -> str:
    """A copy of the demo policy whose date_of_birth entry gets `dob` (e.g. date_format=...); returns its path.

    `text=False` leaves out the free-text rules (for tests that anonymize without a Presidio analyzer).
    """
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy["columns"]["date_of_birth"].update(dob)
    if not text:
        policy.pop("text_columns", None)
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return str(path)


def missing_file(tmp: Path) -> dict[str, Any]:
    return file_overrides(tmp / "does-not-exist.csv")


def unreadable(tmp: Path) -> dict[str, Any]:
    # The tests run as root in CI, where a mode-000 file stays readable: a directory is what cannot be read as a file.
    (tmp / "customers.csv").mkdir()
    return file_overrides(tmp / "customers.csv")


def too_large(tmp: Path) -> dict[str, Any]:
    return {**write_csv(tmp, base_frame()), "dataset.max_bytes": 10_000}


def wrong_encoding(tmp: Path) -> dict[str, Any]:
    p = tmp / "customers.csv"
    base_frame().to_csv(p, index=False)
    data = p.read_bytes()
    cut = data.index(b"\n", len(data) // 2)
    p.write_bytes(data[:cut] + " caf\u00e9".encode("latin-1") + data[cut:])  # one Latin-1 byte mid-file
    return file_overrides(p)


def wrong_declared_encoding(tmp: Path) -> dict[str, Any]:
    p = tmp / "customers.csv"
    base_frame().to_csv(p, index=False)
    p.write_bytes(p.read_bytes().replace(b"Customer", b"Custo\x81er", 1))  # 0x81 is undefined in cp1252
    return file_overrides(p, **{"dataset.encoding": "cp1252"})


def duplicate_headers(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    p = tmp / "customers.csv"
    header = ",".join([*df.columns, "monthly_charges"])
    body = df.assign(extra=df["monthly_charges"]).to_csv(index=False, header=False)
    p.write_text(header + "\n" + body)
    return file_overrides(p)


def duplicate_parquet_columns(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = pa.Table.from_arrays([*table.columns, table.column("plan")], names=[*table.column_names, "plan"])
    p = tmp / "customers.parquet"
    pq.write_table(table, p)
    return file_overrides(p)


def missing_column(tmp: Path) -> dict[str, Any]:
    return write_csv(tmp, base_frame().drop(columns="tenure_months"))


def extra_column(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    df["passport_number"] = [f"P{i:08d}" for i in range(len(df))]
    return write_csv(tmp, df)


def wrong_types(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    df["monthly_charges"] = df["monthly_charges"].astype(object)
    df.loc[df.index[:12], "monthly_charges"] = "sixty dollars"
    return write_csv(tmp, df)


def empty_file(tmp: Path) -> dict[str, Any]:
    (tmp / "customers.csv").write_bytes(b"")
    return file_overrides(tmp / "customers.csv")


def header_only(tmp: Path) -> dict[str, Any]:
    return write_csv(tmp, base_frame().head(0))


def unparsable_dates(tmp: Path) -> dict[str, Any]:
    return write_csv(tmp, us_dates(base_frame()))  # the policy expects ISO 8601: 100% unparsed


def wrong_date_format(tmp: Path) -> dict[str, Any]:
    # Declared, but the wrong way round: day-first values above 12 do not parse month-first.
    return {**write_csv(tmp, us_dates(base_frame())), "dataset.pii_policy": policy_with(tmp, date_format="%d/%m/%Y")}


def label_does_not_fit_task(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    df["churned"] = [i % 3 for i in range(len(df))]  # three classes
    return {**write_csv(tmp, df), "dataset.task": "binary"}


def single_class_label(tmp: Path) -> dict[str, Any]:
    return write_csv(tmp, base_frame().assign(churned=0))


def missing_key(tmp: Path) -> dict[str, Any]:
    return write_csv(tmp, base_frame())


@dataclass(frozen=True)
class PreflightCase:
    id: str
    write: Callable[[Path], dict[str, Any]]
    error: type[VeilflowError]
    fragment: str
    env: dict[str, str | None] = field(default_factory=dict)


# fmt: off
CASES = [
    PreflightCase("missing_file", missing_file, DataLoadError, "input file not found"),
    PreflightCase("unreadable", unreadable, DataLoadError, "input path is not a file"),
    PreflightCase("too_large", too_large, DataLoadError, "over the 10000-byte limit (dataset.max_bytes)"),
    PreflightCase("wrong_encoding", wrong_encoding, DataLoadError, "is not valid UTF-8 (first bad byte at offset"),
    PreflightCase("wrong_declared_encoding", wrong_declared_encoding, DataLoadError, "is not valid cp1252 (first bad byte at offset"),
    PreflightCase("duplicate_headers", duplicate_headers, DataLoadError, "duplicate column name(s) 'monthly_charges' (2x)"),
    PreflightCase("duplicate_parquet_columns", duplicate_parquet_columns, DataLoadError, "duplicate column name(s) 'plan' (2x)"),
    PreflightCase("missing_column", missing_column, DataLoadError, "lacks required column(s) 'tenure_months'"),
    PreflightCase("extra_column", extra_column, DataLoadError, "neither the config nor the PII policy names: 'passport_number'"),
    PreflightCase("wrong_types", wrong_types, DataLoadError, "column 'monthly_charges' in file:customers.csv should be numeric but holds 12 non-numeric"),
    PreflightCase("empty_file", empty_file, DataLoadError, "input file is empty"),
    PreflightCase("header_only", header_only, DataLoadError, "has a header but no rows"),
    PreflightCase("unparsable_dates", unparsable_dates, DataValidationError, "date column 'date_of_birth': 300 of 300 non-null value(s) (100.0%) do not parse as ISO 8601"),
    PreflightCase("wrong_date_format", wrong_date_format, DataValidationError, "do not parse as '%d/%m/%Y', over the max_unparsed_share of 1.0%"),
    PreflightCase("label_does_not_fit_task", label_does_not_fit_task, DataLoadError, "label 'churned' has 3 distinct values; task binary needs exactly 2"),
    PreflightCase("single_class_label", single_class_label, DataLoadError, "label column 'churned' in file:customers.csv has 1 class(es)"),
    PreflightCase("missing_key", missing_key, MissingKeyError, "needs a secret key for column(s) customer_id, email, phone", env={"VEILFLOW_PII_KEY": None}),
]
# fmt: on
