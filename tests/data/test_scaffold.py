"""The files `veilflow init` writes (veilflow.tasks.data.scaffold), rendered from profiles built in code."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from veilflow.core.config import parse_config
from veilflow.tasks.data.profiling import profile_frame
from veilflow.tasks.data.scaffold import render_all, summary_lines
from veilflow.tasks.data.validation import load_suite
from veilflow.tasks.privacy.policy import PiiPolicy

TODAY = date(2026, 1, 15)
N = 40


def _frame(task: str) -> pd.DataFrame:
    label = {"binary": ["no", "yes"] * (N // 2), "multiclass": [0, 1, 2, 3] * (N // 4), "regression": [i * 1.5 for i in range(N)]}
    return pd.DataFrame(
        {
            "id": [f"A{i:03d}" for i in range(N)],
            "email": [f"x{i}@example.com" for i in range(N)],
            "birth_date": [f"{1 + i % 28:02d}.{1 + i % 12:02d}.{1960 + i}" for i in range(N)],
            "sex": ["F", "M"] * (N // 2),
            "score": [i * 2.5 for i in range(N)],
            "kind": ["a", "b"] * (N // 2),
            "y": label[task],
        }
    )


@pytest.fixture(params=["binary", "multiclass", "regression"])
def rendered(request, tmp_path):
    profile = profile_frame(_frame(request.param), label="y", reference=TODAY)
    files = render_all(profile, "demo", "demo.csv", TODAY)
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return request.param, profile, {rel.as_posix(): text for rel, text in files.items()}, tmp_path


def test_render_when_each_task_then_config_policy_and_suites_load(rendered):
    task, _, files, root = rendered
    config = parse_config(yaml.safe_load(files["deploy/configs/demo.yaml"]))
    assert config.dataset.task == task and config.dataset.sensitive_attributes == ["sex"]
    assert config.primary_metric == {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "rmse"}[task]
    policy = PiiPolicy.model_validate(yaml.safe_load(files["expectations/policies/demo.pii.yaml"]))
    assert policy.columns["birth_date"].date_format == "%d.%m.%Y"
    for suite in ("expectations/demo.raw.json", "expectations/demo.anonymized.json"):
        loaded = load_suite(root / suite)
        assert len(loaded.specs) == len(json.loads(files[suite])["expectations"])
        assert all(s.why for s in loaded.specs)


def test_render_when_pii_then_no_value_set_for_it_and_common_category_set_written(rendered):
    task, _, files, _ = rendered
    raw = json.loads(files["expectations/demo.raw.json"])
    sets = {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in raw["expectations"] if "value_set" in e["kwargs"]}
    assert sets["kind"] == ["a", "b"] and sets["sex"] == ["F", "M"]
    assert "email" not in sets and "id" not in sets and "birth_date" not in sets
    assert ("y" in sets) == (task != "regression")


def test_render_when_regression_then_label_bounds_rounded_outward(rendered):
    task, _, files, _ = rendered
    raw = json.loads(files["expectations/demo.raw.json"])
    between = {
        (e["kwargs"]["column"], e["kwargs"]["min_value"], e["kwargs"]["max_value"])
        for e in raw["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
    }
    assert ("score", 0.0, 100.0) in between  # 0..97.5 -> [0, 100]
    if task == "regression":
        assert ("y", 0.0, 60.0) in between  # 0..58.5


def test_render_comments_mark_guesses_for_review(rendered):
    _, _, files, _ = rendered
    assert "# review:" in files["deploy/configs/demo.yaml"]  # the subject column taken from the row id, the age band
    assert "# review:" in files["expectations/policies/demo.pii.yaml"]  # the risk ceiling


def test_summary_lines_name_columns_and_roles_only(rendered):
    _, profile, _, _ = rendered
    lines = summary_lines(profile)
    assert len(lines) == len(profile.columns) + 1
    text = "\n".join(lines)
    assert "hash (EMAIL_ADDRESS)" in text and "age_band" in text
    assert "x1@example.com" not in text and "1961" not in text


def test_render_anonymized_suite_when_dates_then_source_absent_and_band_shape_checked(rendered):
    _, _, files, root = rendered
    suite = json.loads(files["expectations/demo.anonymized.json"])
    kinds = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_to_not_exist", "birth_date") in kinds
    assert ("expect_column_values_to_match_regex", "age_band") in kinds
    assert ("expect_column_values_to_match_regex", "email") in kinds  # the pseudonym's shape
    assert Path(root / "expectations/demo.anonymized.json").is_file()
