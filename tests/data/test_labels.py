"""The label check at load (`veilflow.tasks.data.labels.check_label`) and the label mapping (`LabelSpec`)."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from veilflow.core.errors import DataLoadError, LabelError, VeilflowError
from veilflow.core.labels import LabelSpec, is_binary_identity
from veilflow.tasks.data.labels import check_label


@pytest.mark.parametrize(
    ("values", "classes"),
    [
        ([0, 1, 1, 0], (0, 1)),  # 0/1: 1 is positive (the demo's labels, unchanged)
        ([True, False, False], (False, True)),  # booleans: True
        (["yes", "no", "no", "no"], ("no", "yes")),  # yes/no strings: yes, though it is the minority
        (["No", "Yes", "Yes"], ("No", "Yes")),  # any case
        (["negative", "positive"], ("negative", "positive")),
        (["b", "a", "b"], ("a", "b")),  # no positive-like value: the second in sorted order
        ([2, 1, 1], (1, 2)),  # numbers other than 0/1: the larger, as scikit-learn orders classes
        ([1.0, 0.0], (0.0, 1.0)),  # floats 0.0/1.0 read as 0/1
    ],
)
def test_check_label_when_two_values_then_binary_with_positive_second(values, classes):
    spec = check_label(pd.Series(values, name="y"), "auto")
    assert spec.task == "binary"
    assert spec.classes == classes
    assert spec.positive == classes[1]


def test_check_label_when_positive_label_given_then_it_is_encoded_one():
    spec = check_label(pd.Series(["yes", "no"], name="y"), "binary", positive_label="no")
    assert spec.classes == ("yes", "no")
    assert spec.encode(pd.Series(["no", "yes", "no"])).tolist() == [1, 0, 1]


def test_check_label_when_positive_label_not_a_value_then_error_without_values():
    with pytest.raises(LabelError) as err:
        check_label(pd.Series(["yes", "no"], name="y"), "binary", positive_label="maybe")
    assert "positive_label" in str(err.value)
    assert "yes" not in str(err.value) and "maybe" not in str(err.value)


def test_check_label_when_three_classes_then_multiclass_in_sorted_order():
    spec = check_label(pd.Series(["c", "a", "b", "a", "b", "c"], name="y"))
    assert spec.task == "multiclass"
    assert spec.classes == ("a", "b", "c")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (np.linspace(0, 1, 80), "auto"),  # non-integer numbers: regression
        (np.arange(200) % 120, "auto"),  # more whole numbers than max_classes: regression
        ([1, 2, 3, 4, 5], "regression"),  # asked for, even with few values
    ],
)
def test_check_label_when_numbers_then_regression(values, task):
    spec = check_label(pd.Series(values, name="y"), task)
    assert spec.task == "regression"
    assert spec.classes == ()
    assert spec.encode(pd.Series(values)).dtype == np.float64


@pytest.mark.parametrize(
    ("values", "task", "fragment"),
    [
        (["a", "b", "c", "a", "b", "c"], "binary", "3 distinct values; task binary needs exactly 2"),
        (["secret-a", "secret-b", "secret-a"], "regression", "not numeric; task regression"),
        (["only", "only", "only"], "auto", "single class"),
        ([1, 1, 1], "regression", "single class"),
        (["a", None, "b"], "auto", "1 missing value"),
        (np.linspace(0, 1, 90), "multiclass", "non-integer values; set dataset.task: regression"),
        (np.linspace(0, 1, 90), "binary", "non-integer values"),
        (["a", "a", "b", "b", "c"], "multiclass", "fewer than 2 rows"),
        (["a", "b", "a"], "multiclass", "use dataset.task: binary"),
        ([f"v{i}" for i in range(60)] * 2, "auto", "more than max_classes 50"),
        ([0.0, np.inf, 1.0, 2.0], "regression", "infinite"),
    ],
)
def test_check_label_when_label_does_not_fit_task_then_one_line_naming_column_never_a_value(values, task, fragment):
    with pytest.raises(LabelError) as err:
        check_label(pd.Series(values, name="outcome"), task)
    message = str(err.value)
    assert fragment in message
    assert "'outcome'" in message and "\n" not in message
    assert "secret" not in message and "only" not in message
    assert isinstance(err.value, DataLoadError) and isinstance(err.value, VeilflowError)  # the CLI's exit 2


def test_check_label_when_unknown_task_then_error():
    with pytest.raises(LabelError, match="unknown task"):
        check_label(pd.Series([0, 1]), "ordinal")


@pytest.mark.parametrize(
    "values",
    [["no", "yes", "yes"], [True, False], ["x", "y", "z", "x", "y", "z"], [0, 1, 1], [3, 1, 2, 1, 2, 3]],
)
def test_label_spec_when_encoded_then_decoded_and_json_round_trip_give_originals(values):
    series = pd.Series(values, name="y")
    spec = check_label(series)
    codes = spec.encode(series)
    assert codes.dtype == np.int64 and set(codes) == set(range(spec.n_classes))
    again = LabelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.decode(codes.to_numpy()).tolist() == list(values)


def test_label_spec_when_value_unknown_then_encode_raises_without_value():
    spec = check_label(pd.Series(["no", "yes"], name="y"))
    with pytest.raises(ValueError) as err:
        spec.encode(pd.Series(["no", "perhaps"]))
    assert "perhaps" not in str(err.value)


def test_is_binary_identity_when_zero_one_then_true_else_false():
    assert is_binary_identity(check_label(pd.Series([0, 1])))
    assert not is_binary_identity(check_label(pd.Series(["no", "yes"])))


def test_load_data_when_three_class_label_under_binary_then_label_error_before_any_fit(tmp_path):
    """The check runs inside `load_data` (via `check_input`): a 3-class label fails in well under a second."""
    from veilflow.core.config import parse_config
    from veilflow.tasks.ops.steps import load_data

    frame = pd.DataFrame({"row_id": range(30), "x": np.arange(30.0), "y": ["a", "b", "c"] * 10})
    csv = tmp_path / "three.csv"
    frame.to_csv(csv, index=False)
    config = parse_config(
        {
            "dataset": {
                "name": "three",
                "path": str(csv),
                "id_column": "row_id",
                "label": "y",
                "task": "binary",
                "numeric_features": ["x"],
                "raw_suite": str(tmp_path / "unused.json"),
            }
        }
    )
    started = time.perf_counter()
    with pytest.raises(LabelError, match="task binary needs exactly 2"):
        load_data(config)
    assert time.perf_counter() - started < 5.0
