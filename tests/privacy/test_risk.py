"""Tests for veilflow.tasks.privacy.risk: k-anonymity and l-diversity on frames with known classes, generalisation helpers and the risk gate."""

from __future__ import annotations

import functools
import time

import numpy as np
import pandas as pd
import pytest

from veilflow.tasks.privacy.risk import (
    RiskReport,
    age_band,
    coarsen_age_band,
    generalize_until_k,
    group_rare_categories,
    k_anonymity_report,
    risk_gate,
    step_name,
    suppress_below_k,
    truncate_zip,
)

QIS = ["zip3", "age_band"]


def _classes(sizes: list[int], labels: list[list[int]] | None = None) -> pd.DataFrame:
    """One equivalence class per size, with distinct (zip3, age_band) values; labels per class optional."""
    rows = []
    for i, size in enumerate(sizes):
        ys = labels[i] if labels else [j % 2 for j in range(size)]
        assert len(ys) == size
        rows += [{"zip3": f"{100 + i}", "age_band": "40-49", "gender": "F", "churned": y} for y in ys]
    return pd.DataFrame(rows).astype({"zip3": "str", "age_band": "str", "gender": "str"})


# --------------------------------------------------------------------------- k_anonymity_report


def test_k_report_when_classes_of_2_5_7_then_k2_and_share_below_5_is_2_of_14() -> None:
    report = k_anonymity_report(_classes([2, 5, 7]), QIS, k=5)
    assert report.k == 2
    assert report.n_classes == 3
    assert report.rows == 14
    assert report.classes_below_k == 1
    assert report.records_below_k == 2
    assert report.share_below_k == pytest.approx(2 / 14)
    assert report.l_diversity is None and report.share_below_l2 is None


@pytest.mark.parametrize(
    ("sizes", "target", "k", "below"),
    [
        ([5, 5, 5], 5, 5, 0),  # exactly k everywhere: nothing below
        ([1, 9], 2, 1, 1),  # a unique record is k=1
        ([3, 4, 10], 5, 3, 7),  # two small classes count together
        ([4], 1, 4, 0),  # target 1: every record is k-anonymous
    ],
)
def test_k_report_when_known_class_sizes_then_k_and_records_below(sizes, target, k, below) -> None:
    report = k_anonymity_report(_classes(sizes), QIS, k=target)
    assert (report.k, report.records_below_k) == (k, below)
    assert report.share_below_k == pytest.approx(below / sum(sizes))


def test_k_report_when_labels_known_then_l_diversity_and_share_below_l2() -> None:
    # class 0: all churned=0 (l=1, 3 rows disclosed); class 1: two labels; class 2: all 1 (l=1, 2 rows)
    frame = _classes([3, 4, 2], labels=[[0, 0, 0], [0, 1, 1, 0], [1, 1]])
    report = k_anonymity_report(frame, QIS, sensitive="churned", k=2)
    assert report.l_diversity == 1
    assert report.records_below_l2 == 5
    assert report.share_below_l2 == pytest.approx(5 / 9)


def test_k_report_when_every_class_mixed_then_l_is_min_distinct() -> None:
    frame = _classes([3, 3], labels=[[0, 1, 2], [0, 1, 1]])
    report = k_anonymity_report(frame, QIS, sensitive="churned", k=3)
    assert report.l_diversity == 2
    assert report.records_below_l2 == 0
    assert report.share_below_l2 == 0.0


def test_k_report_when_nulls_in_quasi_identifier_then_nulls_form_their_own_class() -> None:
    frame = pd.DataFrame({"zip3": pd.Series(["100", "100", None, None, None, np.nan], dtype="str"), "age_band": ["40-49"] * 6})
    report = k_anonymity_report(frame, QIS, k=3)
    assert report.n_classes == 2
    assert report.k == 2  # the two "100" rows; the four missing zips are one class of 4


def test_k_report_when_random_frame_then_matches_pandas_groupby_reference() -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    frame = pd.DataFrame(
        {
            "a": pd.Series(rng.choice(["x", "y", "z", None], n), dtype="str"),
            "b": rng.integers(0, 30, n),
            "c": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 3, n).astype(float)),
            "y": rng.integers(0, 2, n),
        }
    )
    report = k_anonymity_report(frame, ["a", "b", "c"], sensitive="y", k=10)
    sizes = frame.groupby(["a", "b", "c"], dropna=False).size()
    distinct = frame.groupby(["a", "b", "c"], dropna=False)["y"].nunique()
    assert report.n_classes == len(sizes)
    assert report.k == sizes.min()
    assert report.records_below_k == sizes[sizes < 10].sum()
    assert report.l_diversity == distinct.min()
    assert report.records_below_l2 == sizes[distinct < 2].sum()


def test_k_report_when_one_million_rows_then_fast_and_input_unchanged() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = pd.DataFrame(
        {
            "zip3": pd.Series(rng.integers(100, 999, n).astype(str), dtype="str"),
            "age_band": pd.Series(rng.choice(["20-29", "30-39", "80+", None], n), dtype="str"),
            "gender": pd.Series(rng.choice(["F", "M"], n), dtype="str"),
            "churned": rng.integers(0, 2, n),
        }
    )
    before = frame.copy()
    start = time.perf_counter()
    report = k_anonymity_report(frame, ["zip3", "age_band", "gender"], sensitive="churned")
    elapsed = time.perf_counter() - start
    assert report.rows == n and report.n_classes == 899 * 4 * 2
    assert elapsed < 5.0  # ~0.3 s measured on the 2-core machine; a groupby-apply would take minutes
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quasi_identifiers": ["zip3", "zip_code"]}, "quasi-identifier column 'zip_code'"),  # missing column named
        ({"quasi_identifiers": []}, "empty"),  # nothing to group on
        ({"quasi_identifiers": "zip3"}, "list"),  # a bare string is not a list of columns
        ({"quasi_identifiers": ["zip3", "zip3"]}, "twice"),  # duplicated column
        ({"quasi_identifiers": QIS, "sensitive": "label"}, "sensitive column 'label'"),  # missing sensitive column
        ({"quasi_identifiers": QIS, "sensitive": "zip3"}, "also a quasi-identifier"),  # l would be trivially 1
        ({"quasi_identifiers": QIS, "k": 0}, "at least 1"),  # k must be positive
    ],
)
def test_k_report_when_bad_arguments_then_value_error(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        k_anonymity_report(_classes([2, 3]), **kwargs)


def test_k_report_when_empty_frame_then_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        k_anonymity_report(_classes([2]).iloc[0:0], QIS)


def test_k_report_when_error_then_message_is_one_line_without_values() -> None:
    frame = _classes([2, 3])
    with pytest.raises(ValueError) as err:
        k_anonymity_report(frame, ["secret-col"])
    assert "\n" not in str(err.value)
    assert "100" not in str(err.value)  # no data value, only the column name


def test_risk_report_summary_when_l_measured_then_one_line_of_numbers() -> None:
    report = k_anonymity_report(_classes([2, 5, 7]), QIS, sensitive="churned", k=5)
    line = report.summary()
    assert "\n" not in line
    assert "k=2" in line and "l=2" in line and "14.29%" in line  # default labels alternate: every class has both


# --------------------------------------------------------------------------- risk_gate


def _report(share: float, l_div: int | None, k: int = 3) -> RiskReport:
    return RiskReport(
        rows=1000,
        quasi_identifiers=QIS,
        sensitive="churned" if l_div is not None else None,
        k_target=5,
        k=k,
        n_classes=50,
        classes_below_k=3,
        records_below_k=int(share * 1000),
        share_below_k=share,
        l_diversity=l_div,
        records_below_l2=0 if l_div is not None else None,
        share_below_l2=0.0 if l_div is not None else None,
    )


@pytest.mark.parametrize(
    ("share", "l_div", "max_share", "min_l", "passed", "fragment"),
    [
        (0.01, 2, 0.05, 2, True, "pass: k=3"),  # both criteria met
        (0.05, 2, 0.05, 2, True, "5.00%"),  # share exactly at the limit passes
        (0.10, 2, 0.05, 2, False, "share below k too high"),  # too many records in small classes
        (0.01, 1, 0.05, 2, False, "l-diversity too low"),  # a class discloses its label
        (0.10, 1, 0.05, 2, False, "share below k too high, l-diversity too low"),  # both named
        (0.01, None, 0.05, None, True, "pass"),  # no l gate without a sensitive column
        (0.0, 1, 0.0, None, True, "pass"),  # strict k with l not gated
    ],
)
def test_risk_gate_when_table_then_pass_or_fail_with_numbers(share, l_div, max_share, min_l, passed, fragment) -> None:
    ok, reason = risk_gate(_report(share, l_div), max_share_below_k=max_share, min_l=min_l)
    assert ok is passed
    assert fragment in reason
    assert "\n" not in reason
    assert reason.startswith("pass" if passed else "fail")


@pytest.mark.parametrize(
    ("l_div", "max_share", "min_l", "message"),
    [
        (2, 1.5, None, "between 0 and 1"),  # share limit is a fraction
        (2, -0.1, None, "between 0 and 1"),  # negative share limit
        (2, 0.05, 0, "at least 1"),  # l of 0 means nothing
        (None, 0.05, 2, "no sensitive column"),  # cannot gate on l that was never measured
    ],
)
def test_risk_gate_when_bad_limits_then_value_error(l_div, max_share, min_l, message) -> None:
    with pytest.raises(ValueError, match=message):
        risk_gate(_report(0.01, l_div), max_share_below_k=max_share, min_l=min_l)


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("values", "digits", "expected"),
    [
        (["27672", "02134", None], 3, ["276", "021", None]),  # leading zero kept, missing stays missing
        (["27672-1234"], 5, ["27672"]),  # ZIP+4 to ZIP
        (["276"], 2, ["27"]),  # an already truncated prefix can be coarsened again
        (["27"], 3, ["27"]),  # shorter than digits: unchanged
    ],
)
def test_truncate_zip_when_values_then_prefix(values, digits, expected) -> None:
    out = truncate_zip(pd.Series(values, name="zip_code", dtype="str"), digits=digits)
    assert [None if pd.isna(v) else v for v in out] == expected
    assert out.name == "zip_code"


def test_truncate_zip_when_numeric_or_zero_digits_then_value_error() -> None:
    with pytest.raises(ValueError, match="column 'zip_code' is numeric"):
        truncate_zip(pd.Series([27672, 2134], name="zip_code"))
    with pytest.raises(ValueError, match="digits"):
        truncate_zip(pd.Series(["27672"]), digits=0)


@pytest.mark.parametrize(
    ("ages", "width", "top", "expected"),
    [
        ([0, 9.9, 10, 49], 10, 80, ["0-9", "0-9", "10-19", "40-49"]),  # decade bands, fractions floor
        ([79, 80, 104], 10, 80, ["70-79", "80+", "80+"]),  # open top band as in the policy
        ([75, 78], 10, 78, ["70-77", "78+"]),  # top inside a band shortens that band
        ([33, 67], 20, None, ["20-39", "60-79"]),  # no open top band
        ([-1, None], 10, 80, [None, None]),  # negative or missing age: missing
    ],
)
def test_age_band_when_numeric_ages_then_labels(ages, width, top, expected) -> None:
    out = age_band(pd.Series(ages, dtype="float64"), width=width, top=top)
    assert [None if pd.isna(v) else v for v in out] == expected


def test_age_band_when_not_numeric_or_bad_width_then_value_error() -> None:
    with pytest.raises(ValueError, match="column 'dob' is not numeric"):
        age_band(pd.Series(["1983-12-19"], name="dob"))
    with pytest.raises(ValueError, match="width"):
        age_band(pd.Series([30]), width=0)


@pytest.mark.parametrize(
    ("bands", "width", "expected"),
    [
        (["40-49", "50-59", "80+"], 20, ["40-59", "40-59", "80+"]),  # decades pair up, top stays
        (["0-9", None], 20, ["0-19", None]),  # missing stays missing
        (["70-79"], 40, ["40-79"]),  # bands end below the top band
    ],
)
def test_coarsen_age_band_when_labels_then_wider_bands(bands, width, expected) -> None:
    out = coarsen_age_band(pd.Series(bands, dtype="str"), width=width)
    assert [None if pd.isna(v) else v for v in out] == expected


def test_coarsen_age_band_when_not_a_label_then_value_error_counts_without_value() -> None:
    with pytest.raises(ValueError, match="1 value") as err:
        coarsen_age_band(pd.Series(["40-49", "1983-12-19"], name="age_band", dtype="str"))
    assert "1983" not in str(err.value)


@pytest.mark.parametrize(
    ("values", "min_count", "expected"),
    [
        (["a", "a", "b", "c", "c"], 2, ["a", "a", "other", "c", "c"]),  # a single b is rare
        (["a", "a", "b", None], 3, ["other", "other", "other", None]),  # everything rare; missing stays missing
        (["a", "b"], 1, ["a", "b"]),  # min_count 1: nothing is rare
    ],
)
def test_group_rare_categories_when_counts_then_rare_become_other(values, min_count, expected) -> None:
    series = pd.Series(values, dtype="str")
    before = series.copy()
    out = group_rare_categories(series, min_count)
    assert [None if pd.isna(v) else v for v in out] == expected
    pd.testing.assert_series_equal(series, before)


def test_group_rare_categories_when_min_count_zero_then_value_error() -> None:
    with pytest.raises(ValueError, match="min_count"):
        group_rare_categories(pd.Series(["a"]), 0)


def test_suppress_below_k_when_small_classes_then_dropped_and_counted() -> None:
    frame = _classes([2, 5, 7])
    out, dropped = suppress_below_k(frame, QIS, 5)
    assert dropped == 2 and len(out) == 12
    assert k_anonymity_report(out, QIS, k=5).k == 5
    assert len(frame) == 14


def test_suppress_below_k_when_missing_column_then_value_error() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        suppress_below_k(_classes([2]), ["nope"], 2)


def test_step_name_when_partial_then_keywords_shown() -> None:
    assert step_name(functools.partial(truncate_zip, digits=2)) == "truncate_zip(digits=2)"
    assert step_name(coarsen_age_band) == "coarsen_age_band"


# --------------------------------------------------------------------------- generalize_until_k


def _zip_age_frame() -> pd.DataFrame:
    """12 rows, all unique on (zip_code, age_band); two zip-2 prefixes and two 20-year bands of 6 rows each."""
    zips = ["27601", "27655", "27699", "27701", "27755", "27799"] * 2
    ages = ["40-49", "50-59"] * 3 + ["60-69", "70-79"] * 3
    return pd.DataFrame({"zip_code": zips, "age_band": ages, "churned": [0, 1] * 6}).astype(
        {"zip_code": "str", "age_band": "str"}
    )


ZIP_STEPS = [functools.partial(truncate_zip, digits=3), functools.partial(truncate_zip, digits=2)]


def test_generalize_until_k_when_reachable_then_stops_at_k_and_names_steps() -> None:
    frame = _zip_age_frame()
    before = frame.copy()
    assert k_anonymity_report(frame, ["zip_code", "age_band"]).k == 1
    out, applied = generalize_until_k(frame, ["zip_code", "age_band"], 3, {"zip_code": ZIP_STEPS, "age_band": [coarsen_age_band]})
    # round robin: zip to 3 digits (k=1), then age to 20-year bands (k=3 reached), zip-2 never needed
    assert applied == ["zip_code:truncate_zip(digits=3)", "age_band:coarsen_age_band"]
    assert k_anonymity_report(out, ["zip_code", "age_band"]).k >= 3
    pd.testing.assert_frame_equal(frame, before)  # input never mutated


def test_generalize_until_k_when_by_column_then_first_column_exhausted_first() -> None:
    out, applied = generalize_until_k(
        _zip_age_frame(), ["zip_code", "age_band"], 3, {"zip_code": ZIP_STEPS, "age_band": [coarsen_age_band]}, order="by_column"
    )
    assert applied == ["zip_code:truncate_zip(digits=3)", "zip_code:truncate_zip(digits=2)"]
    assert set(out["zip_code"]) == {"27"}


def test_generalize_until_k_when_already_k_then_no_steps_and_a_copy() -> None:
    frame = _classes([3, 4])
    out, applied = generalize_until_k(frame, QIS, 3, {"zip3": ZIP_STEPS})
    assert applied == []
    pd.testing.assert_frame_equal(out, frame)
    assert out is not frame


def test_generalize_until_k_when_unreachable_then_all_steps_applied_and_k_below_target() -> None:
    out, applied = generalize_until_k(_zip_age_frame(), ["zip_code", "age_band"], 7, {"zip_code": ZIP_STEPS})
    assert applied == ["zip_code:truncate_zip(digits=3)", "zip_code:truncate_zip(digits=2)"]
    assert k_anonymity_report(out, ["zip_code", "age_band"]).k < 7


@pytest.mark.parametrize(
    ("qis", "k", "steps", "message"),
    [
        (["zip_code"], 2, {"age_band": [coarsen_age_band]}, "'age_band' is not one of the quasi-identifiers"),  # typo guard
        (["zip_code", "nope"], 2, {}, "'nope' is not in the frame"),  # missing quasi-identifier
        (["zip_code"], 0, {}, "at least 1"),  # k must be positive
        (["zip_code"], 3, {"zip_code": [lambda s: s.iloc[:3]]}, "same length"),  # a step must keep every row
    ],
)
def test_generalize_until_k_when_bad_arguments_then_value_error(qis, k, steps, message) -> None:
    with pytest.raises(ValueError, match=message):
        generalize_until_k(_zip_age_frame(), qis, k, steps)


def test_generalize_until_k_when_empty_frame_then_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        generalize_until_k(_zip_age_frame().iloc[0:0], ["zip_code"], 2, {"zip_code": ZIP_STEPS})
