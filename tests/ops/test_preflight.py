"""`preflight(config)`: every bad input refused in about a second with one line and no value; good inputs pass.

The function alone (no Prefect, no MLflow); tests/ops/test_bad_input.py runs the same corpus through the command line.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from bad_inputs import base_frame
from preflight_cases import CASES, DEMO_CONFIG, PreflightCase, policy_with, us_dates, write_csv

from veilflow.core.config import PipelineConfig, load_config
from veilflow.core.errors import DataLoadError, DataValidationError
from veilflow.tasks.data.files import load_frame
from veilflow.tasks.ops.preflight import preflight
from veilflow.tasks.privacy.policy import load_policy
from veilflow.tasks.privacy.redaction import anonymize_frame

PII_COLUMNS = ("full_name", "email", "ssn", "phone", "date_of_birth")


def _config(overrides: dict) -> PipelineConfig:
    return load_config(DEMO_CONFIG, overrides)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_preflight_when_bad_input_then_one_line_error_without_values(
    case: PreflightCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    config = _config(case.write(tmp_path))
    started = time.perf_counter()
    with pytest.raises(case.error) as info:
        preflight(config)
    seconds = time.perf_counter() - started
    print(f"{case.id}: refused in {seconds:.3f} s")
    message = str(info.value)
    assert "\n" not in message and case.fragment in message, message
    frame = base_frame()
    values = [str(v) for c in PII_COLUMNS for v in frame[c].head(50)]
    assert not any(v in message for v in values), "a raw value reached the message"
    assert seconds < 5.0, f"{case.id}: pre-flight took {seconds:.1f} s"


def test_preflight_when_good_csv_then_passes_on_the_whole_file(tmp_path: Path) -> None:
    report = preflight(_config(write_csv(tmp_path, base_frame())))
    assert report.whole_file and report.rows_sampled == len(base_frame()) and report.columns == base_frame().shape[1]


def test_preflight_when_file_sorted_by_label_then_sample_does_not_judge_classes(tmp_path: Path) -> None:
    """A sample of a label-sorted file holds one class: that is not an error (the load step judges the whole file)."""
    df = base_frame().sort_values("churned", kind="stable")
    report = preflight(_config(write_csv(tmp_path, df)), rows=50)
    assert not report.whole_file and report.rows_sampled == 50


def test_preflight_when_date_format_declared_then_us_dates_pass_and_become_age_bands(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, date_format="%m/%d/%Y")
    overrides = {**write_csv(tmp_path, us_dates(base_frame())), "dataset.pii_policy": policy}
    preflight(_config(overrides))
    raw = load_frame(overrides["dataset.path"])
    out, audit = anonymize_frame(raw, load_policy(policy_with(tmp_path, text=False, date_format="%m/%d/%Y")), None, b"k" * 32)
    assert audit.columns["date_of_birth"].unparsed == 0
    assert out["age_band"].notna().all()


def test_anonymize_when_date_formats_list_then_each_value_by_first_format_that_reads_it(tmp_path: Path) -> None:
    df = base_frame()
    mixed = us_dates(df)["date_of_birth"].where(df.index % 2 == 0, df["date_of_birth"])  # half US, half ISO
    policy = load_policy(policy_with(tmp_path, text=False, date_formats=["%m/%d/%Y", "%Y-%m-%d"]))
    _, audit = anonymize_frame(df.assign(date_of_birth=mixed), policy, None, b"k" * 32)
    assert audit.columns["date_of_birth"].unparsed == 0


@pytest.mark.parametrize(
    ("broken", "limit", "fails"),
    [
        (2, None, False),  # 2 of 300 (0.7%) under the policy default of 1%
        (6, None, True),  # 6 of 300 (2%) over it
        (6, 0.05, False),  # the column allows 5%
        (1, 0.0, True),  # the column allows none
    ],
)
def test_anonymize_when_some_dates_unparsed_then_max_unparsed_share_decides(
    tmp_path: Path, broken: int, limit: float | None, fails: bool
) -> None:
    df = base_frame()
    df.loc[df.index[:broken], "date_of_birth"] = "unknown"
    extra = {} if limit is None else {"max_unparsed_share": limit}
    policy = load_policy(policy_with(tmp_path, text=False, **extra))
    if fails:
        with pytest.raises(DataValidationError, match=r"date column 'date_of_birth': \d+ of 300 non-null"):
            anonymize_frame(df, policy, None, b"k" * 32)
    else:
        _, audit = anonymize_frame(df, policy, None, b"k" * 32)
        assert audit.columns["date_of_birth"].unparsed == broken


def test_policy_when_date_format_has_no_directive_then_config_error(tmp_path: Path) -> None:
    from veilflow.core.errors import ConfigError

    with pytest.raises(ConfigError, match="has no strptime directive"):
        load_policy(policy_with(tmp_path, date_format="MM/DD/YYYY"))


def test_load_when_cp1252_declared_then_read_and_names_survive(tmp_path: Path) -> None:
    df = base_frame()
    df.loc[df.index[0], "notes"] = "Caf\u00e9 \u2013 na\u00efve r\u00e9sum\u00e9"  # cp1252-encodable, not ASCII
    p = tmp_path / "customers.csv"
    p.write_bytes(df.to_csv(index=False).encode("cp1252"))
    overrides = {"dataset.source": "file", "dataset.path": str(p)}
    with pytest.raises(DataLoadError, match="not valid UTF-8"):
        preflight(_config(overrides))
    preflight(_config({**overrides, "dataset.encoding": "cp1252"}))
    assert load_frame(p, encoding="cp1252")["notes"].iloc[0] == df["notes"].iloc[0]


def test_config_when_unknown_encoding_then_config_error() -> None:
    from veilflow.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown encoding 'utf-9'"):
        _config({"dataset.encoding": "utf-9"})


def test_load_frame_when_duplicate_headers_then_error_not_renamed(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("a,b,a,c,b\n1,2,3,4,5\n")
    with pytest.raises(DataLoadError, match=r"duplicate column name\(s\) 'a' \(2x\), 'b' \(2x\)"):
        load_frame(p)
    assert list(pd.read_csv(p).columns) == ["a", "b", "a.1", "c", "b.1"]  # what pandas alone would have done


def test_preflight_when_partitioned_folder_of_shards_then_sampled_and_each_header_checked(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "shards"
    folder.mkdir()
    df = base_frame()
    df.iloc[:150].to_parquet(folder / "part-0.parquet", index=False)
    df.iloc[150:].to_parquet(folder / "part-1.parquet", index=False)
    overrides = {"dataset.source": "file", "dataset.path": str(folder), "execution.partition_rows": 100}
    report = preflight(_config(overrides))
    assert report.rows_sampled == 150 and not report.whole_file
    table = pa.Table.from_pandas(df.iloc[150:], preserve_index=False)
    pq.write_table(
        pa.Table.from_arrays([*table.columns, table.column("plan")], names=[*table.column_names, "plan"]),
        folder / "part-1.parquet",
    )
    with pytest.raises(DataLoadError, match=r"duplicate column name\(s\) 'plan' \(2x\): .*part-1.parquet"):
        preflight(_config(overrides))
    with pytest.raises(DataLoadError, match="input path is not a file"):  # a folder is an input only for partitioned runs
        preflight(_config({"dataset.source": "file", "dataset.path": str(folder)}))
