"""Role inference for `veilflow init` (veilflow.tasks.data.profiling): positive and negative cases per role."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from veilflow.core.errors import DataLoadError
from veilflow.tasks.data.column_signals import detect_date_format, find_label, infer_task, nice_bounds, pii_name_hint
from veilflow.tasks.data.profiling import profile_column, profile_frame, share_below_k
from veilflow.tasks.data.sampling import read_sample

N = 60
RNG = np.random.default_rng(0)


def _col(values, name="c"):
    return pd.Series(values, name=name)


def _role(values, name="c", evidence=None, sampled=0):
    s = _col(values, name)
    return profile_column(s, len(s), evidence, sampled)


# --------------------------------------------------------------------------- identifiers


def test_identifier_when_unique_and_id_named_then_identifier_hashed():
    p = _role([f"C{i:05d}" for i in range(N)], "customer_id")
    assert (p.role, p.operator, p.entity) == ("identifier", "hash", "RECORD_ID")


def test_identifier_when_consecutive_integers_without_id_name_then_row_number_with_review():
    p = _role(list(range(1, N + 1)), "rownumber_x")
    assert p.role == "identifier" and p.review


def test_identifier_when_unique_floats_then_numeric_feature_not_identifier():
    p = _role(RNG.normal(size=N).tolist(), "reading")  # every value distinct, but a measurement
    assert p.role == "numeric" and p.feature


def test_identifier_when_unique_non_consecutive_integers_without_id_name_then_numeric():
    p = _role([i * 7 + 3 for i in range(N)], "income")
    assert p.role == "numeric"


def test_subject_when_id_named_and_repeating_then_subject():
    p = _role([i // 2 for i in range(N)], "patient_id")  # each patient on two rows
    assert p.role == "subject" and p.operator == "hash"


def test_subject_when_id_named_with_few_values_then_category_not_subject():
    p = _role(["covid", "other"] * (N // 2), "test_id")
    assert p.role == "categorical" and p.review


# --------------------------------------------------------------------------- categorical vs free text


def test_categorical_when_few_repeated_strings_then_value_set_written():
    p = _role(["basic", "standard", "premium"] * (N // 3), "plan")
    assert p.role == "categorical" and p.value_set == ("basic", "premium", "standard")


def test_categorical_when_a_value_is_rare_then_no_value_set():
    values = ["basic"] * (N - 2) + ["rare-one", "rare-two"]
    p = _role(values, "plan")
    assert p.role == "categorical" and p.value_set is None


def test_text_when_long_distinct_sentences_then_free_text():
    words = ["service", "called", "about", "the", "invoice", "late", "again", "refund", "asked", "for"]
    notes = [" ".join(RNG.choice(words, size=8)) + f" ticket {i}" for i in range(N)]
    p = _role(notes, "notes")
    assert p.role == "text" and p.value_set is None


def test_text_when_short_codes_then_not_free_text():
    p = _role(["a b", "c d", "e f"] * (N // 3), "pair")
    assert p.role == "categorical"


# --------------------------------------------------------------------------- dates


def test_date_when_us_format_then_date_with_format_recorded():
    values = [
        f"{m:02d}/{d:02d}/19{y:02d}" for m, d, y in zip(RNG.integers(1, 13, N), RNG.integers(13, 29, N), RNG.integers(40, 99, N))
    ]
    p = _role(values, "date_of_birth")
    assert (p.role, p.entity, p.date_format, p.birth_date) == ("date", "DATE_OF_BIRTH", "%m/%d/%Y", True)
    assert not p.review  # days above 12 make the format unambiguous


def test_date_when_iso_then_no_date_format_needed():
    values = [f"2024-{m:02d}-{d:02d}" for m, d in zip(RNG.integers(1, 13, N), RNG.integers(1, 29, N))]
    p = _role(values, "visit")
    assert p.role == "date" and p.date_format is None and not p.birth_date and p.entity == "DATE_TIME"


def test_date_when_day_and_month_both_fit_then_ambiguous_marked_for_review():
    values = [f"{d:02d}/{m:02d}/2020" for d, m in zip(RNG.integers(1, 13, N), RNG.integers(1, 13, N))]
    fmt, share, ambiguous = detect_date_format(_col(values))
    assert fmt == "%m/%d/%Y" and share == 1.0 and ambiguous
    assert any("several date formats" in r for r in _role(values, "visit").review)


def test_date_when_plain_words_then_not_a_date():
    p = _role(["north", "south", "east", "west"] * (N // 4), "region")
    assert p.role == "categorical"


# --------------------------------------------------------------------------- PII


def test_pii_when_email_values_found_by_presidio_then_hashed_without_review():
    values = [f"user{i}@example.org" for i in range(N)]
    p = _role(values, "contact", evidence={"EMAIL_ADDRESS": 50}, sampled=50)
    assert (p.role, p.entity, p.operator) == ("pii", "EMAIL_ADDRESS", "hash")
    assert any("not the name" in r for r in p.review)  # found from values only: still marked for review


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("email", "EMAIL_ADDRESS"),  # plain
        ("full_name", "PERSON"),  # a person's name
        ("fake_first_name", "PERSON"),  # prefix before first_name
        ("phone_number", "PHONE_NUMBER"),
        ("ssn", "US_SSN"),
        ("street_address", "STREET_ADDRESS"),
        ("ip_address", "IP_ADDRESS"),
        ("zip_code", "ZIP_CODE"),
        ("clinic_name", None),  # a place's name, not a person's
        ("pan_day", None),  # 'pan' is not a card number here
        ("plan", None),
    ],
)
def test_pii_name_hint_table(name, entity):
    assert pii_name_hint(name) == entity


def test_pii_when_person_named_column_then_dropped_and_review_when_presidio_unsure():
    p = _role([f"name{i}" for i in range(N)], "last_name", evidence={"PERSON": 3}, sampled=50)
    assert (p.role, p.operator) == ("pii", "drop") and p.review


def test_pii_when_phone_numbers_stored_as_integers_then_pii_not_a_numeric_feature():
    p = _role([2125550100 + i for i in range(0, 3 * N, 3)], "phone")
    assert (p.role, p.entity, p.operator) == ("pii", "PHONE_NUMBER", "hash") and p.bounds is None


def test_pii_when_plain_string_without_evidence_then_not_pii():
    p = _role(["red", "green", "blue"] * (N // 3), "colour", evidence={}, sampled=3)
    assert p.role == "categorical"


def test_pii_when_presidio_tags_repeated_categories_as_person_then_kept_as_category():
    p = _role(["clinical lab", "ward a"] * (N // 2), "unit", evidence={"PERSON": 2}, sampled=2)
    assert p.role == "categorical" and any("Presidio tagged" in r for r in p.review)
    assert p.value_set is None  # possibly names: never written, though every value repeats


def test_categorical_when_presidio_found_nothing_then_value_set_written():
    p = _role(["clinical lab", "ward a"] * (N // 2), "unit", evidence={}, sampled=2)
    assert p.value_set == ("clinical lab", "ward a")


# --------------------------------------------------------------------------- sensitive attributes


def test_sensitive_when_named_gender_then_not_a_feature():
    p = _role(["female", "male"] * (N // 2), "gender")
    assert p.role == "sensitive" and p.sensitive and not p.feature


def test_sensitive_when_values_look_like_sex_codes_then_sensitive_with_review():
    p = _role(["F", "M"] * (N // 2), "col7")
    assert p.role == "sensitive" and p.review


def test_sensitive_when_numeric_age_then_feature_with_review():
    p = _role(RNG.integers(18, 90, N).tolist(), "age")
    assert p.role == "numeric" and p.feature and p.review


def test_sensitive_when_name_only_contains_age_inside_a_word_then_not_sensitive():
    p = _role(["a", "b", "c"] * (N // 3), "page_type")  # 'age' inside 'page' is no protected attribute
    assert p.role == "categorical"


# --------------------------------------------------------------------------- numeric, ignored


def test_numeric_bounds_rounded_outward_beyond_extremes():
    p = _role([0.5, 123456.789, 42.0] * (N // 3), "amount")
    assert p.bounds == (0.0, 200000.0)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 120, (0.0, 200.0)),  # 0 is kept for non-negative data
        (3.2, 7.9, (3.0, 8.0)),
        (-5.5, 5.5, (-10.0, 10.0)),  # the step follows the span (11)
        (70, 162, (0.0, 200.0)),
        (100, 300, (0.0, 400.0)),  # a bound never equals an observed non-zero extreme
    ],
)
def test_nice_bounds_table(low, high, expected):
    assert nice_bounds(low, high) == expected


def test_ignored_when_constant_or_empty_then_ignored():
    assert _role(["x"] * N, "constant").role == "ignored"
    assert _role([None] * N, "empty").role == "ignored"


# --------------------------------------------------------------------------- label and task


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no"] * 30, "binary"),  # two strings
        ([0, 1] * 30, "binary"),
        ([0, 1, 2] * 20, "multiclass"),  # whole numbers, few
        (["a", "b", "c", "d"] * 15, "multiclass"),
        (list(np.linspace(0, 1, 60)), "regression"),  # fractions
        (list(range(60)), "regression"),  # many whole numbers
    ],
)
def test_infer_task_table(values, task):
    assert infer_task(_col(values, "y"))[0] == task


def test_infer_task_when_requested_task_does_not_fit_then_error():
    with pytest.raises(DataLoadError, match="--task binary"):
        infer_task(_col([0, 1, 2] * 20, "y"), "binary")
    with pytest.raises(DataLoadError, match="not numeric"):
        infer_task(_col(["a", "b", "c"] * 20, "y"), "regression")


def test_infer_task_when_one_value_then_error():
    with pytest.raises(DataLoadError, match="1 distinct"):
        infer_task(_col([1] * 10, "y"))


def test_find_label_when_named_target_then_found_and_when_absent_then_error_asks_for_label():
    assert find_label(["a", "Target"], None) == "Target"
    with pytest.raises(DataLoadError, match="--label"):
        find_label(["a", "b"], None)
    with pytest.raises(DataLoadError, match="several"):
        find_label(["label", "target"], None)
    with pytest.raises(DataLoadError, match="not a column"):
        find_label(["a"], "b")


# --------------------------------------------------------------------------- whole frame


def _people(n=N):
    return pd.DataFrame(
        {
            "row_id": range(n),
            "customer_id": [i // 2 for i in range(n)],
            "full_name": [f"Person {i}" for i in range(n)],
            "email": [f"p{i}@example.com" for i in range(n)],
            "gender": ["female", "male"] * (n // 2),
            "date_of_birth": [f"19{50 + i % 40}-0{1 + i % 9}-1{i % 9}" for i in range(n)],
            "income": RNG.normal(50_000, 5_000, n),
            "plan": ["a", "b", "c"] * (n // 3),
            "churned": [0, 1] * (n // 2),
        }
    )


def test_profile_frame_when_people_table_then_keys_roles_and_quasi_identifiers():
    p = profile_frame(_people(), label="churned", reference=date(2025, 1, 1))
    assert (p.id_column, p.subject_column, p.task) == ("row_id", "customer_id", "binary")
    roles = {c.name: c.role for c in p.columns}
    assert roles == {
        "row_id": "identifier",
        "customer_id": "subject",
        "full_name": "pii",
        "email": "pii",
        "gender": "sensitive",
        "date_of_birth": "date",
        "income": "numeric",
        "plan": "categorical",
        "churned": "label",
    }
    assert p.column("date_of_birth").output_column == "age_band"
    assert set(p.quasi_identifiers) == {"gender", "age_band"} and p.share_below_k is not None


def test_profile_frame_when_no_id_column_then_error_names_the_fix():
    frame = pd.DataFrame({"x": RNG.normal(size=N), "target": [0, 1] * (N // 2)})
    with pytest.raises(DataLoadError, match="--id"):
        profile_frame(frame)


def test_profile_frame_when_no_people_then_no_subject_column():
    frame = pd.DataFrame({"sample_id": range(N), "x": RNG.normal(size=N), "target": [0, 1] * (N // 2)})
    p = profile_frame(frame)
    assert p.subject_column is None and p.quasi_identifiers == ()


def test_profile_frame_does_not_mutate_input():
    frame = _people()
    before = frame.copy()
    profile_frame(frame, label="churned")
    pd.testing.assert_frame_equal(frame, before)


def test_share_below_k_counts_rows_in_small_classes():
    frame = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 2})
    assert share_below_k(frame, ["g"], 5) == pytest.approx(2 / 7)


# --------------------------------------------------------------------------- reading a sample


def test_read_sample_when_cp1252_then_decoded_and_encoding_reported(tmp_path):
    path = tmp_path / "w.csv"
    path.write_bytes("id,city,target\n1,Z\xfcrich,0\n2,K\xf6ln,1\n".encode("cp1252"))
    frame, encoding = read_sample(path)
    assert encoding == "cp1252" and len(frame) == 2


def test_read_sample_when_duplicate_headers_then_error_names_them(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,score,score\n1,2,3\n", encoding="utf-8")
    with pytest.raises(DataLoadError, match="duplicate column names: score"):
        read_sample(path)


def test_read_sample_when_zip_codes_with_leading_zeros_then_kept_as_text(tmp_path):
    path = tmp_path / "z.csv"
    path.write_text("id,zip\n1,02134\n2,10001\n", encoding="utf-8")
    frame, _ = read_sample(path)
    assert frame["zip"].tolist() == ["02134", "10001"]


def test_read_sample_when_max_rows_then_bounded(tmp_path):
    path = tmp_path / "b.csv"
    pd.DataFrame({"id": range(100), "target": [0, 1] * 50}).to_csv(path, index=False)
    frame, _ = read_sample(path, max_rows=10)
    assert len(frame) == 10
