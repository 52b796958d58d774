"""deploy/prefect.yaml against the flows' pydantic signatures, the served deployments, and the report helpers."""

from __future__ import annotations

import pandas as pd
import pytest

from veilflow.core.errors import ConfigError
from veilflow.core.paths import project_root
from veilflow.deployments import PREFECT_YAML, build_runner_deployments, load_entrypoint, read_deployments, validated_parameters
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.ops.monitoring import apply_drift
from veilflow.tasks.ops.reporting import markdown_table, training_summary


@pytest.mark.parametrize("entry", read_deployments(), ids=lambda e: e["name"])
def test_prefect_yaml_when_loaded_then_parameters_validate_against_flow_signature(entry):
    flow = load_entrypoint(entry["entrypoint"])
    params = flow.validate_parameters(dict(entry["parameters"]))
    assert type(params["config"]).__name__.endswith("Config")  # coerced into the flow's pydantic model


def test_training_parameters_when_schema_built_then_config_is_a_typed_form():
    from prefect.utilities.callables import parameter_schema

    from veilflow.flows.training import training

    schema = parameter_schema(training).model_dump_for_openapi()
    assert schema["properties"]["config"]["$ref"].endswith("/PipelineConfig")
    assert {"PipelineConfig", "DatasetConfig", "TrainingConfig", "GateConfig"} <= set(schema["definitions"])
    assert schema["definitions"]["DatasetConfig"]["properties"]["n_rows"]["type"] == "integer"


def test_parameters_when_unknown_key_then_one_line_config_error():
    from veilflow.flows.monitoring import monitoring

    with pytest.raises(ConfigError, match=r"monitoring/x do not fit") as err:
        validated_parameters(monitoring, {"config": {"psi_treshold": 0.2}}, "monitoring/x")
    assert "\n" not in str(err.value)


def test_serve_when_deployments_built_then_match_prefect_yaml_names_and_schedules():
    built = {f"{d.flow_name}/{d.name}": d for d in build_runner_deployments()}
    assert set(built) == {"training/nightly", "scoring/hourly", "monitoring/daily"}
    for entry in read_deployments():
        d = built[f"{load_entrypoint(entry['entrypoint']).name}/{entry['name']}"]
        assert [s.schedule.cron for s in d.schedules] == [s["cron"] for s in entry["schedules"]]
        assert d.parameters == entry["parameters"] and set(entry["tags"]) <= set(d.tags)


def test_read_deployments_when_file_missing_then_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_deployments(tmp_path / "prefect.yaml")
    assert PREFECT_YAML.is_file()


def test_apply_drift_when_strength_one_then_charges_up_tenure_down_and_input_untouched():
    frame = generate_customers(200, seed=1)
    before = frame.copy()
    drifted = apply_drift(frame, 1.0, seed=1)
    pd.testing.assert_frame_equal(frame, before)
    assert drifted["monthly_charges"].mean() > 1.5 * frame["monthly_charges"].mean()
    assert drifted["tenure_months"].mean() < 0.5 * frame["tenure_months"].mean()
    assert (drifted["contract_type"] == "month-to-month").mean() > 0.8
    pd.testing.assert_frame_equal(apply_drift(frame, 0.0), frame)


@pytest.mark.parametrize(
    ("strength", "frame"),
    [
        (1.5, generate_customers(5, seed=1)),  # strength out of range
        (0.5, pd.DataFrame({"x": [1, 2]})),  # not a customers frame
    ],
)
def test_apply_drift_when_bad_input_then_value_error(strength, frame):
    with pytest.raises(ValueError):
        apply_drift(frame, strength)


def test_markdown_table_when_cells_hold_pipes_floats_none_then_escaped_and_formatted():
    md = markdown_table(["a", "b"], [["x|y", 0.123456], [None, True]])
    assert md.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 0.1235 |", "| – | yes |"]
    with pytest.raises(ValueError, match="row 0"):
        markdown_table(["a"], [[1, 2]])


def test_training_summary_when_rejected_then_lists_failed_gate_and_counts():
    md = training_summary(
        {"decision": "rejected", "model_name": "m", "version": "2", "failed_gates": ["floor.roc_auc"], "run_id": "r1"},
        "http://x/#/runs/r1",
        {"validation.raw.evaluated": 41, "validation.raw.failed": 2, "validation.raw.critical_failed": 0, "test.roc_auc": 0.55},
        {"rows": 10, "total_found": 3, "columns": {"notes": {"operator": "replace", "entities": {"PERSON": 3}}}},
        [{"name": "floor.roc_auc", "passed": False, "value": 0.55, "op": ">=", "threshold": 0.6, "detail": ""}],
    )
    assert "**rejected**" in md and "| raw | 41 | 2 | 0 |" in md and "| notes | replace | PERSON 3 |" in md
    assert "| floor.roc_auc | FAIL | 0.5500 | >= 0.6 |" in md


def test_seams_when_sources_scanned_then_task_wrappers_only_in_prefect_tasks():
    import ast

    offenders = []
    for path in [*(project_root() / "flows").rglob("*.py"), *(project_root() / "tasks").rglob("*.py")]:
        if path.name == "prefect_tasks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "prefect" and any(a.name == "task" for a in node.names):
                offenders.append(path.name)
    assert offenders == [], f"@task declared outside flows/prefect_tasks.py: {offenders}"
