"""The bad-input corpus: one line per case, run by `tests/test_bad_input.py` through the real training flow.

A data case is `BadInput(id, write, error, fragment, outcome, why)`: `write(tmp_path)` writes the bad
file(s) and returns the config overrides that point the flow at them; `fragment` must appear in the
one-line error. A config case is `BadConfig(id, edit, fragment)`: `edit` changes the parsed
`deploy/configs/customers.yaml` (or returns raw text) and `veilflow train --config` must exit 2.

Outcome "failed": the input is malformed, so the run must stop with a typed error before any model is
fitted (a gate judges a model; it should never see input that is not data). Outcome "rejected": the
input is well formed but useless, so training runs and the promotion gates are the right judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from veilflow.core.errors import ConfigError, DataLoadError, DataValidationError
from veilflow.core.paths import project_root
from veilflow.tasks.data.io import generate_customers

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


SEED = 11
ROWS = 300


def base_frame(seed: int = SEED) -> pd.DataFrame:
    """The good input every bad case starts from."""
    return generate_customers(n_rows=ROWS, seed=seed)


def _file(p: Path, **extra: Any) -> dict[str, Any]:
    return {"dataset.source": "file", "dataset.path": str(p), **extra}


def _csv(tmp: Path, df: pd.DataFrame, name: str = "customers.csv", **kw: Any) -> dict[str, Any]:
    p = tmp / name
    df.to_csv(p, index=False, **kw)
    return _file(p)


def _parquet(tmp: Path, df: pd.DataFrame, name: str = "customers.parquet") -> dict[str, Any]:
    p = tmp / name
    df.to_parquet(p, index=False)
    return _file(p)


def _set(column: str, values: Callable[[pd.DataFrame], Any]) -> Callable[[Path], dict[str, Any]]:
    """A CSV of the base frame with `column` replaced by `values(frame)`."""

    def write(tmp: Path) -> dict[str, Any]:
        df = base_frame()
        df[column] = values(df)
        return _csv(tmp, df)

    return write


def _first_rows(n: int, value: Any, rest: Callable[[pd.DataFrame], Any]) -> Callable[[pd.DataFrame], Any]:
    def values(df: pd.DataFrame) -> Any:
        out = pd.Series(rest(df), index=df.index, dtype=object)
        out.iloc[:n] = value
        return out

    return values


def missing_file(tmp: Path) -> dict[str, Any]:
    return _file(tmp / "does-not-exist.csv")


def empty_file(tmp: Path) -> dict[str, Any]:
    (tmp / "customers.csv").write_bytes(b"")
    return _file(tmp / "customers.csv")


def header_only(tmp: Path) -> dict[str, Any]:
    return _csv(tmp, base_frame().head(0))


def non_utf8(tmp: Path) -> dict[str, Any]:
    p = tmp / "customers.csv"
    base_frame().to_csv(p, index=False)
    data = p.read_bytes()
    cut = data.index(b"\n", len(data) // 2)
    p.write_bytes(data[:cut] + " caf\u00e9".encode("latin-1") + data[cut:])  # one Latin-1 byte mid-file
    return _file(p)


def one_mb_cell(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    df.loc[df.index[7], "notes"] = ("Customer called about the bill. " * 32768)[: 1024 * 1024]
    return _csv(tmp, df)


def ten_million_char_notes(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    per_row = -(-10_000_000 // len(df))  # every note ~33k characters: the column holds 10 million
    df["notes"] = [("Asked about the router. " * (per_row // 24 + 1))[:per_row]] * len(df)
    return _csv(tmp, df)


def parquet_renamed_column(tmp: Path) -> dict[str, Any]:
    return _parquet(tmp, base_frame().rename(columns={"tenure_months": "tenure"}))


def parquet_numbers_as_text(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    df["monthly_charges"] = df["monthly_charges"].map(lambda v: f"{v:.2f}")
    return _parquet(tmp, df)


def parquet_corrupt(tmp: Path) -> dict[str, Any]:
    p = tmp / "customers.parquet"
    base_frame().to_parquet(p, index=False)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])  # truncated: the footer is gone
    return _file(p)


def policy_unknown_column(tmp: Path) -> dict[str, Any]:
    policy = yaml.safe_load((PROJECT_ROOT / "expectations/policies/customers.pii.yaml").read_text())
    policy["columns"]["passport_number"] = {"entity": "US_PASSPORT", "operator": "drop"}
    (tmp / "policy.yaml").write_text(yaml.safe_dump(policy))
    return {**_csv(tmp, base_frame()), "dataset.pii_policy": str(tmp / "policy.yaml")}


def gates_for_small_data(tmp: Path) -> dict[str, Any]:
    """Overrides that let a good 300-row run promote: its policy has no `risk:` section (k=5 over zip x age band
    needs more rows than 300) and calibration is not gated (60 test rows). Used for the seed champion and for
    `shuffled_label`, so the only gates that can reject it there are the ones that judge signal."""
    policy = yaml.safe_load((PROJECT_ROOT / "expectations/policies/customers.pii.yaml").read_text())
    policy.pop("risk", None)
    (tmp / "policy-small.yaml").write_text(yaml.safe_dump(policy))
    return {"dataset.pii_policy": str(tmp / "policy-small.yaml"), "gates.max_calibration_error": None}


def shuffled_label(tmp: Path) -> dict[str, Any]:
    df = base_frame()
    df["churned"] = np.random.default_rng(5).permutation(df["churned"].to_numpy())
    return {**_csv(tmp, df), **gates_for_small_data(tmp)}


@dataclass(frozen=True)
class BadInput:
    id: str
    write: Callable[[Path], dict[str, Any]]
    error: type[Exception] | None  # None for outcome "rejected"
    fragment: str  # must appear in the one-line error (or the rejection message)
    outcome: str = "failed"  # "failed" | "rejected"
    why: str = ""


# fmt: off
CASES = [
    BadInput("missing_file", missing_file, DataLoadError, "input file not found", why="nothing to read"),
    BadInput("empty_file", empty_file, DataLoadError, "input file is empty", why="zero bytes"),
    BadInput("header_only", header_only, DataLoadError, "has a header but no rows", why="no rows to learn from"),
    BadInput("wrong_delimiter", lambda t: _csv(t, base_frame(), sep=";"), DataLoadError, "semicolon-delimited", why="parses as one column"),
    BadInput("missing_required_column", lambda t: _csv(t, base_frame().drop(columns="tenure_months")), DataLoadError, "lacks required column(s) 'tenure_months'", why="a configured feature is absent"),
    BadInput("extra_columns", _set("passport_number", lambda d: [f"P{i:08d}" for i in range(len(d))]), DataLoadError, "neither the config nor the PII policy names: 'passport_number'", why="an unclassified column may hold PII the policy never anonymizes"),
    BadInput("text_in_numeric", _set("monthly_charges", _first_rows(12, "sixty dollars", lambda d: d["monthly_charges"])), DataLoadError, "column 'monthly_charges' in file:customers.csv should be numeric but holds 12 non-numeric", why="mistyped column"),
    BadInput("all_null_column", _set("num_support_tickets", lambda d: np.nan), DataLoadError, "column 'num_support_tickets' in file:customers.csv is entirely null", why="the imputer would silently drop the feature"),
    BadInput("nan_and_inf", _set("monthly_charges", _first_rows(3, np.inf, lambda d: d["monthly_charges"].where(d.index % 50 != 1, -np.inf).where(d.index % 40 != 2))), DataLoadError, "column 'monthly_charges' in file:customers.csv holds 8 infinite value(s)", why="±inf breaks scaling; isolated NaN alone would be imputed"),
    BadInput("single_class_label", _set("churned", lambda d: 0), DataLoadError, "label column 'churned' in file:customers.csv has 1 class(es)", why="no classifier can be fitted"),
    BadInput("duplicate_ids", _set("customer_id", lambda d: d["customer_id"].where(d.index >= 20, d["customer_id"].iloc[20])), DataValidationError, "expect_column_values_to_be_unique(customer_id) [21 of 300 rows unexpected]", why="duplicated or merged records (critical GX expectation)"),
    BadInput("non_utf8", non_utf8, DataLoadError, "not valid UTF-8", why="wrong encoding"),
    BadInput("one_mb_text_cell", one_mb_cell, DataLoadError, "column 'notes' in file:customers.csv has 1 cell(s) over the 20000-character limit", why="would stall Presidio"),
    BadInput("ten_million_char_notes", ten_million_char_notes, DataLoadError, "column 'notes' in file:customers.csv has 300 cell(s) over the 20000-character limit", why="would stall Presidio"),
    BadInput("file_over_size_limit", lambda t: {**_csv(t, base_frame()), "dataset.max_bytes": 10_000}, DataLoadError, "over the 10000-byte limit", why="absurd size: refused before reading"),
    BadInput("parquet_renamed_column", parquet_renamed_column, DataLoadError, "file:customers.parquet lacks required column(s) 'tenure_months'", why="different schema"),
    BadInput("parquet_numbers_as_text", parquet_numbers_as_text, DataLoadError, "column 'monthly_charges' in file:customers.parquet should be numeric but is stored as", why="different schema (types)"),
    BadInput("parquet_corrupt", parquet_corrupt, DataLoadError, "could not be read", why="truncated file"),
    BadInput("policy_unknown_column", policy_unknown_column, ConfigError, "policy.yaml names column(s) not in file:customers.csv: passport_number", why="the policy and the data disagree"),
    BadInput("shuffled_label", shuffled_label, None, "roc_auc", outcome="rejected", why="well-formed but no signal: a gate, not a loader, should judge it"),
]
# fmt: on


def _yaml() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "deploy/configs/customers.yaml").read_text())


def _with(path: str, value: Any) -> Callable[[], dict[str, Any] | str]:
    def edit() -> dict[str, Any]:
        data = _yaml()
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
        return data

    return edit


@dataclass(frozen=True)
class BadConfig:
    id: str
    edit: Callable[[], dict[str, Any] | str]  # the config to write: a mapping, or raw text
    fragment: str


# fmt: off
CONFIG_CASES = [
    BadConfig("unknown_key", _with("dataset.nrows", 500), "dataset.nrows: unknown key"),
    BadConfig("wrong_type", _with("dataset.n_rows", "many"), "dataset.n_rows: Input should be a valid integer"),
    BadConfig("missing_required_field", _with("training.candidates", [{"kind": "logistic_regression"}]), "training.candidates.0.name: missing required field"),
    BadConfig("file_source_without_path", _with("dataset.source", "file"), "dataset.path is required when dataset.source is 'file'"),
    BadConfig("not_yaml", lambda: "dataset: [unclosed\n", "not valid YAML"),
    BadConfig("not_a_mapping", lambda: "- 1\n- 2\n", "must hold a mapping at the top level"),
]
# fmt: on
