"""`veilflow init` and `veilflow anonymize` through the command line: no raw value in any generated file or output,
the generated files load and pass on the data they came from, overwrite refusal, bad inputs -> exit 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from veilflow.cli.main import main
from veilflow.core.config import load_config
from veilflow.tasks.privacy.policy import load_policy

GENERATED = (
    "deploy/configs/planted.yaml",
    "expectations/planted.raw.json",
    "expectations/planted.anonymized.json",
    "expectations/policies/planted.pii.yaml",
)
ROWS = 200

# Values that must never appear in any generated file or printed line.
PLANTED = {
    "rare_first": "Zebulon",
    "rare_last": "Quixwarthy",
    "email": "zq.planted@nowhere-example.org",
    "unique_category": "UNIQUECAT9931",
    "max_extreme": "123456.789",
    "min_extreme": "98765.4321",  # the value is negative; its digits must not appear either
    "birth": "07/23/1911",
    "birth_iso": "1911-07-23",
    "phone": "212-555-0199",
    "note_name": "Ottoline Brackenridge",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project folder as the working directory and the project root."""
    monkeypatch.setenv("VEILFLOW_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _planted_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    first = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas"]
    last = ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Johnson", "Roberts"]
    frame = pd.DataFrame(
        {
            "record_id": [f"R{i:05d}" for i in range(ROWS)],
            "first_name": [first[i % 10] for i in range(ROWS)],
            "last_name": [last[(i * 3) % 10] for i in range(ROWS)],
            "email": [f"{first[i % 10].lower()}.{i}@example.com" for i in range(ROWS)],
            "phone": [f"212-555-{1000 + i:04d}" for i in range(ROWS)],
            "date_of_birth": [f"{1 + i % 12:02d}/{13 + i % 15:02d}/{1950 + i % 40}" for i in range(ROWS)],
            "gender": ["female", "male"] * (ROWS // 2),
            "plan": ["standard", "premium", "basic", "standard"] * (ROWS // 4),
            "region": [f"region{i % 8}" for i in range(ROWS)],
            "balance": rng.normal(500.0, 50.0, ROWS).round(2),
            "visits": rng.integers(0, 20, ROWS),
            "notes": [
                f"Customer called on a weekday about invoice number {i} and asked for a callback next week" for i in range(ROWS)
            ],
            "churned": [0, 1] * (ROWS // 2),
        }
    )
    frame.loc[5, ["first_name", "last_name"]] = [PLANTED["rare_first"], PLANTED["rare_last"]]
    frame.loc[6, "email"] = PLANTED["email"]
    frame.loc[7, "region"] = PLANTED["unique_category"]
    frame.loc[8, "balance"] = float(PLANTED["max_extreme"])
    frame.loc[9, "balance"] = -float(PLANTED["min_extreme"])
    frame.loc[10, "date_of_birth"] = PLANTED["birth"]
    frame.loc[11, "phone"] = PLANTED["phone"]
    frame.loc[12, "notes"] = f"{PLANTED['note_name']} asked for a refund of the last invoice"
    return frame


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("veilflow: ") and "Traceback" not in err[0]
    return err[0]


def test_init_when_planted_values_then_no_raw_value_in_any_file_or_output(project, capsys):
    _planted_frame().to_csv(project / "planted.csv", index=False)
    assert main(["init", "--data", "planted.csv", "--label", "churned"]) == 0
    out = capsys.readouterr()
    texts = {rel: (project / rel).read_text(encoding="utf-8") for rel in GENERATED}
    for rel, text in {**texts, "stdout": out.out, "stderr": out.err}.items():
        for what, value in PLANTED.items():
            assert value.lower() not in text.lower(), f"{what} found in {rel}"
    # The test can fail: a common category's value set IS written, and the rounded bounds are there.
    raw = json.loads(texts["expectations/planted.raw.json"])
    sets = {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in raw["expectations"] if "value_set" in e["kwargs"]}
    assert sets["plan"] == ["basic", "premium", "standard"]
    assert sets["gender"] == ["female", "male"]
    assert "region" not in sets  # one value on a single row: no value set
    bounds = [e["kwargs"] for e in raw["expectations"] if e["type"] == "expect_column_values_to_be_between"]
    assert {(b["column"], b["min_value"], b["max_value"]) for b in bounds} >= {("balance", -100000.0, 200000.0)}


def test_init_when_planted_then_roles_and_operators_as_expected_and_files_load(project, capsys):
    _planted_frame().to_csv(project / "planted.csv", index=False)
    assert main(["init", "--data", "planted.csv", "--label", "churned"]) == 0
    config = load_config(project / GENERATED[0])
    ds = config.dataset
    assert (ds.id_column, ds.label, ds.task, ds.path) == ("record_id", "churned", "binary", Path("planted.csv"))
    assert ds.sensitive_attributes == ["gender"] and ds.text_feature == "notes"
    assert set(ds.numeric_features) == {"balance", "visits"}
    assert set(ds.categorical_features) == {"plan", "region", "age_band"}
    policy = load_policy(project / GENERATED[3])
    ops = {c: (r.entity, r.operator) for c, r in policy.columns.items()}
    assert ops == {
        "record_id": ("RECORD_ID", "hash"),
        "first_name": ("PERSON", "drop"),
        "last_name": ("PERSON", "drop"),
        "email": ("EMAIL_ADDRESS", "hash"),
        "phone": ("PHONE_NUMBER", "hash"),
        "date_of_birth": ("DATE_OF_BIRTH", "generalize"),
    }
    dob = policy.columns["date_of_birth"]
    assert dob.date_format == "%m/%d/%Y" and dob.params["output_column"] == "age_band"
    assert list(policy.text_columns) == ["notes"] and policy.risk is not None
    assert "# review:" in (project / GENERATED[0]).read_text() and "# review:" in (project / GENERATED[3]).read_text()
    summary = capsys.readouterr().out
    assert "first_name" in summary and "drop (PERSON)" in summary


def test_anonymize_when_generated_contracts_then_output_and_audit_hold_no_raw_pii(project, capsys):
    frame = _planted_frame()
    frame.to_csv(project / "planted.csv", index=False)
    assert main(["init", "--data", "planted.csv", "--label", "churned", "--nlp-model", "none"]) == 0
    capsys.readouterr()
    code = main(["anonymize", "--config", GENERATED[0], "--input", "planted.csv", "--output", "share/planted.parquet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    shared = pd.read_parquet(project / "share/planted.parquet")
    audit_text = (project / "share/planted.audit.json").read_text()
    audit = json.loads(audit_text)
    assert audit["rows_in"] == ROWS and audit["rows_out"] + audit["rows_quarantined"] == ROWS
    assert audit["leak_guard"]["passed"] and audit["validation"]["anonymized"]["critical_success"]
    assert {"first_name", "last_name", "date_of_birth"}.isdisjoint(shared.columns) and "age_band" in shared.columns
    assert shared["email"].str.fullmatch(r"[0-9a-f]{32}").all()
    blob = shared.to_csv(index=False) + audit_text + out.out + out.err
    for what in ("rare_first", "rare_last", "email", "phone", "note_name", "birth"):
        assert PLANTED[what] not in blob, what


def test_anonymized_suite_when_given_the_raw_frame_then_fails(project, capsys):
    """Each generated suite fails a bad fixture: the raw frame does not pass the anonymized contract."""
    from veilflow.engines.gx import build_gx_context
    from veilflow.tasks.data.validation import load_suite, validate_frame

    frame = _planted_frame()
    frame.to_csv(project / "planted.csv", index=False)
    assert main(["init", "--data", "planted.csv", "--label", "churned", "--nlp-model", "none"]) == 0
    report = validate_frame(frame, load_suite(project / GENERATED[2]), build_gx_context())
    assert not report.critical_success
    assert any("first_name" in k for k in report.critical_failures)


def test_init_when_files_exist_then_refused_without_force_and_replaced_with_it(project, capsys):
    _planted_frame().to_csv(project / "planted.csv", index=False)
    args = ["init", "--data", "planted.csv", "--label", "churned", "--nlp-model", "none"]
    assert main(args) == 0
    (project / GENERATED[0]).write_text("# edited by hand\n")
    capsys.readouterr()
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "--force" in line and "deploy/configs/planted.yaml" in line
    assert (project / GENERATED[0]).read_text() == "# edited by hand\n"
    assert main([*args, "--force"]) == 0
    assert (project / GENERATED[0]).read_text().startswith("# veilflow config")


def _write_bad(kind: str, path: Path) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "header_only":
        path.write_text("id,target\n")
    elif kind == "no_label":
        path.write_text("id,x\n1,2\n2,3\n")
    elif kind == "undecodable":
        path.write_bytes(b"id,target,name\n1,0,\x81\x8d\x8f\x90\x9d\n2,1,x\n")  # bytes neither UTF-8 nor cp1252
    elif kind == "binary":
        path.write_bytes(b"PK\x03\x04\x00\x00binary\x00")
    elif kind == "duplicate_header":
        path.write_text("id,target,score,score\n1,0,2,3\n2,1,4,5\n")
    elif kind == "one_class_label":
        path.write_text("id,target\n1,0\n2,0\n")
    elif kind == "no_id":
        path.write_text("x,target\n1.5,0\n1.5,1\n2.5,0\n")


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("missing", "not found"),
        ("empty", "empty"),
        ("header_only", "no rows"),
        ("no_label", "--label"),
        ("undecodable", "decodes as none"),
        ("binary", "binary"),
        ("duplicate_header", "duplicate column names: score"),
        ("one_class_label", "1 distinct"),
        ("no_id", "--id"),
    ],
)
def test_init_when_bad_input_then_exit_2_one_line_and_nothing_written(project, capsys, kind, fragment):
    path = project / "bad.csv"
    if kind != "missing":
        _write_bad(kind, path)
    assert main(["init", "--data", "bad.csv", "--nlp-model", "none"]) == 2
    line = _one_error_line(capsys)
    assert fragment in line
    assert not (project / "deploy").exists() and not (project / "expectations").exists()


def test_init_when_cp1252_file_then_config_records_encoding(project, capsys):
    rows = "".join(f"{i},{'Zürich' if i % 2 else 'Köln'},{i % 2}\n" for i in range(40))
    (project / "w.csv").write_bytes(("row_id,city,target\n" + rows).encode("cp1252"))
    assert main(["init", "--data", "w.csv", "--nlp-model", "none"]) == 0
    config = yaml.safe_load((project / "deploy/configs/w.yaml").read_text())
    assert config["dataset"]["encoding"] == "cp1252"
    assert load_config(project / "deploy/configs/w.yaml").dataset.encoding == "cp1252"
