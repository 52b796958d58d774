"""`veilflow generate` writes the demo batches the README's scoring and monitoring examples use; `veilflow
serve-model` refuses in one line (exit 2) before it starts anything."""

from __future__ import annotations

import pandas as pd

from veilflow.cli.main import main
from veilflow.tasks.data.io import generate_customers, load_frame
from veilflow.tasks.ops.monitoring import apply_drift


def test_generate_when_parquet_with_drift_and_no_label_then_same_frame_as_the_functions(tmp_path, capsys):
    out = tmp_path / "incoming" / "batch.parquet"
    assert main(["generate", "--rows", "50", "--seed", "3", "--output", str(out), "--drift", "0.5", "--no-label"]) == 0
    assert "wrote 50 rows x 16 columns" in capsys.readouterr().out
    expected = apply_drift(generate_customers(50, seed=3), 0.5, seed=3).drop(columns=["churned"])
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)


def test_generate_when_csv_then_loads_back_with_the_label(tmp_path):
    out = tmp_path / "batch.csv"
    assert main(["generate", "--rows", "20", "--seed", "9", "--defect-rate", "0.1", "--output", str(out)]) == 0
    frame = load_frame(out)
    assert len(frame) == 20 and "churned" in frame.columns
    assert frame["customer_id"].tolist() == generate_customers(20, seed=9, defect_rate=0.1)["customer_id"].tolist()


def test_generate_when_bad_suffix_or_drift_then_one_line_exit_2(tmp_path, capsys):
    assert main(["generate", "--output", str(tmp_path / "batch.json")]) == 2
    assert main(["generate", "--output", str(tmp_path / "batch.csv"), "--drift", "3"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "'.json'" in lines[0] and "drift strength" in lines[1]
    assert not (tmp_path / "batch.csv").exists()


def test_serve_model_when_no_champion_then_one_line_exit_2(tracking_uri, capsys):
    assert main(["serve-model", "--model", "never-trained"]) == 2
    # (MLflow itself logs the creation of a fresh store's tables on stderr.)
    ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("veilflow")]
    assert ours == [
        "veilflow: ConfigError: registered model 'never-trained' has no 'champion' alias: train and promote a model first"
    ]
