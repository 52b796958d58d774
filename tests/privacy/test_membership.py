"""Tests for veilflow.tasks.privacy.membership: pseudonyms that join with the anonymization module, membership indexes, suppression and the forget log."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from veilflow.core.errors import ConfigError, MissingKeyError
from veilflow.tasks.data.io import generate_customers
from veilflow.tasks.privacy.membership import (
    BloomMembership,
    ErasureRecord,
    MembershipIndex,
    SuppressionList,
    append_erasure_record,
    build_membership_index,
    is_pseudonym,
    pseudonymize_subject,
    read_erasure_log,
)
from veilflow.tasks.privacy.policy import ColumnRule, PiiPolicy
from veilflow.tasks.privacy.pseudonyms import pseudonymize_values
from veilflow.tasks.privacy.redaction import anonymize_frame

KEY = b"unit-test-key-0123456789abcdef"
OTHER_KEY = b"another-test-key-fedcba9876543210"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
SENTINEL = "sentinel.subject.7f3a@example.org"  # a raw value that must never reach a file


def _tokens(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [rng.bytes(16).hex() for _ in range(n)]


# --------------------------------------------------------------------------- pseudonymize_subject


def test_pseudonymize_subject_when_value_then_same_token_as_anonymization_hash_operator() -> None:
    policy = PiiPolicy(
        dataset="unit",
        reference_date=date(2025, 1, 1),
        columns={
            "customer_id": ColumnRule(entity="CUSTOMER_ID", operator="hash"),
            "email": ColumnRule(entity="EMAIL_ADDRESS", operator="hash"),
        },
    )
    raw = pd.DataFrame({"customer_id": ["CUST-0001641", "CUST-0000002"], "email": [SENTINEL, "b@example.com"]})
    anon, _ = anonymize_frame(raw, policy, None, KEY)
    assert anon["customer_id"].tolist() == [pseudonymize_subject(v, KEY) for v in raw["customer_id"]]
    assert anon["email"][0] == pseudonymize_subject(SENTINEL, KEY)
    assert pseudonymize_subject(SENTINEL, KEY) == pseudonymize_values([SENTINEL], KEY)[0]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("CUST-0001641", "CUST-0001641", True),  # deterministic
        ("CUST-0001641", "CUST-0001642", False),  # different subjects differ
        ("CUST-0001641", " CUST-0001641", False),  # no strip: the anonymization module hashes cells as they are
        ("a@example.com", "A@example.com", False),  # no case-folding, for the same reason
    ],
)
def test_pseudonymize_subject_when_pairs_then_equal_only_for_identical_text(a, b, same) -> None:
    ta, tb = pseudonymize_subject(a, KEY), pseudonymize_subject(b, KEY)
    assert HEX32.match(ta) and HEX32.match(tb)
    assert (ta == tb) is same


def test_pseudonymize_subject_when_str_or_other_key_then_utf8_key_and_keyed() -> None:
    assert pseudonymize_subject("x", KEY.decode()) == pseudonymize_subject("x", KEY)
    assert pseudonymize_subject("x", OTHER_KEY) != pseudonymize_subject("x", KEY)


@pytest.mark.parametrize(
    ("value", "key", "error"),
    [
        ("x", None, MissingKeyError),  # no key configured
        ("x", b"short", ConfigError),  # weak key, same rule as anonymization
        ("", KEY, ValueError),  # an empty id names nobody
        (1641, KEY, ValueError),  # not a string
    ],
)
def test_pseudonymize_subject_when_bad_input_then_error(value, key, error) -> None:
    with pytest.raises(error):
        pseudonymize_subject(value, key)


# --------------------------------------------------------------------------- exact index


def test_membership_index_when_built_then_contains_members_only_and_deduplicates() -> None:
    members = [pseudonymize_subject(f"CUST-{i:07d}", KEY) for i in range(100)]
    index = build_membership_index(members + members[:10] + [None, float("nan")])
    assert index.size == len(index) == 100
    assert all(index.contains(t) for t in members)
    assert not index.contains(pseudonymize_subject("CUST-9999999", KEY))
    assert pseudonymize_subject("CUST-0000005", KEY) in index
    assert index.tokens() == sorted(members)
    absent = _tokens(50, seed=3)
    assert index.contains_many(members[:5] + absent).tolist() == [True] * 5 + [False] * 50


def test_membership_index_when_round_trip_bytes_and_file_then_identical(tmp_path: Path) -> None:
    index = build_membership_index(_tokens(1000, seed=1))
    again = MembershipIndex.from_bytes(index.to_bytes())
    assert again.tokens() == index.tokens() and again.digest() == index.digest()
    path = index.save(tmp_path / "membership.npy")
    loaded = MembershipIndex.load(path)
    assert loaded.tokens() == index.tokens()
    # a person can read the artifact with numpy alone, no pickle
    assert np.load(path, allow_pickle=False).shape == (1000,)


def test_membership_index_when_empty_then_contains_nothing() -> None:
    index = build_membership_index([])
    assert index.size == 0
    assert not index.contains(_tokens(1, seed=2)[0])
    assert index.contains_many(_tokens(3, seed=2)).tolist() == [False, False, False]
    assert MembershipIndex.from_bytes(index.to_bytes()).size == 0


@pytest.mark.parametrize(
    "bad",
    [
        SENTINEL,  # a raw value passed by mistake
        "ABCDEF0123456789ABCDEF0123456789",  # uppercase hex is not a veilflow pseudonym
        "abc",  # too short
    ],
)
def test_membership_index_when_not_a_pseudonym_then_value_error_without_the_value(bad) -> None:
    index = build_membership_index(_tokens(3, seed=4))
    with pytest.raises(ValueError) as err:
        index.contains(bad)
    assert bad not in str(err.value)
    with pytest.raises(ValueError, match="1 of 2 value"):
        build_membership_index([_tokens(1, seed=5)[0], bad])


def test_membership_index_when_corrupt_or_missing_file_then_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a valid .npy"):
        MembershipIndex.from_bytes(b"not numpy at all")
    bad = tmp_path / "unsorted.npy"
    np.save(bad, np.array([b"\x02" * 16, b"\x01" * 16], dtype="S16"))
    with pytest.raises(ValueError, match="sorted"):
        MembershipIndex.load(bad)
    with pytest.raises(FileNotFoundError):
        MembershipIndex.load(tmp_path / "absent.npy")


# --------------------------------------------------------------------------- bloom filter


def test_bloom_when_10k_tokens_then_no_false_negative_and_fp_within_twice_configured() -> None:
    bloom = BloomMembership(capacity=10_000, fp_rate=0.01)
    members = _tokens(10_000, seed=11)
    bloom.update(members)
    assert all(bloom.contains(t) for t in members)
    strangers = _tokens(10_000, seed=12)
    fp = sum(bloom.contains(t) for t in strangers) / len(strangers)
    assert fp <= 2 * 0.01
    assert bloom.estimated_fp_rate() == pytest.approx(0.01, rel=0.2)
    assert bloom.n_bits / 10_000 == pytest.approx(9.585, rel=0.01)  # -ln(0.01)/ln(2)^2 bits per subject


def test_bloom_when_round_trip_then_same_answers(tmp_path: Path) -> None:
    bloom = BloomMembership(capacity=500, fp_rate=0.05)
    members = _tokens(300, seed=21)
    bloom.update(members)
    loaded = BloomMembership.load(bloom.save(tmp_path / "members.bloom"))
    assert (loaded.count, loaded.n_bits, loaded.n_hashes) == (300, bloom.n_bits, bloom.n_hashes)
    probes = members[:20] + _tokens(200, seed=22)
    assert [loaded.contains(t) for t in probes] == [bloom.contains(t) for t in probes]


@pytest.mark.parametrize(
    ("capacity", "fp_rate"),
    [
        (0, 0.01),  # empty capacity
        (100, 0.0),  # a zero rate needs infinite bits
        (100, 0.9),  # a rate above 0.5 is no filter
    ],
)
def test_bloom_when_bad_parameters_then_value_error(capacity, fp_rate) -> None:
    with pytest.raises(ValueError):
        BloomMembership(capacity, fp_rate)


def test_bloom_when_raw_value_or_bad_bytes_then_value_error() -> None:
    bloom = BloomMembership(100)
    with pytest.raises(ValueError) as err:
        bloom.add(SENTINEL)
    assert SENTINEL not in str(err.value)
    with pytest.raises(ValueError, match="not a veilflow bloom filter"):
        BloomMembership.from_bytes(b"X" * 64)
    with pytest.raises(ValueError, match="do not match"):
        BloomMembership.from_bytes(bloom.to_bytes()[:-1])


# --------------------------------------------------------------------------- suppression list


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_customers(200, seed=5)


def test_suppression_when_subject_listed_then_apply_raw_and_apply_drop_exactly_their_rows(customers, tmp_path) -> None:
    raw = pd.concat([customers, customers.iloc[[7, 7]]], ignore_index=True)  # subject 7 now has three rows
    subject = raw["customer_id"][7]
    listed = SuppressionList.load(tmp_path / "suppression.json")
    assert len(listed) == 0  # no file yet: nobody forgotten
    assert listed.add(pseudonymize_subject(subject, KEY), note="DSR-0042") is True
    listed.save()

    reloaded = SuppressionList.load(tmp_path / "suppression.json")
    kept, dropped = reloaded.apply_raw(raw, "customer_id", KEY)
    assert dropped == 3 and len(kept) == len(raw) - 3
    assert subject not in set(kept["customer_id"])
    assert len(raw) == 202  # input untouched

    # the same subject is found again after anonymization, through the pseudonym column
    anon = raw.assign(customer_id=pseudonymize_values(raw["customer_id"], KEY))
    kept_anon, dropped_anon = reloaded.apply(anon, "customer_id")
    assert dropped_anon == 3
    assert kept_anon.index.equals(kept.index)
    kept_series, dropped_series = reloaded.apply(anon, anon["customer_id"])
    assert dropped_series == 3 and kept_series.index.equals(kept.index)


def test_suppression_when_empty_list_then_nothing_dropped(customers, tmp_path) -> None:
    listed = SuppressionList(tmp_path / "s.json")
    kept, dropped = listed.apply_raw(customers, "customer_id", KEY)
    assert dropped == 0 and len(kept) == len(customers)


def test_suppression_when_saved_then_file_has_pseudonyms_and_times_but_no_raw_value(customers, tmp_path) -> None:
    raw = customers.assign(email=[SENTINEL] + customers["email"].tolist()[1:])
    listed = SuppressionList(tmp_path / "nested" / "suppression.json")
    t0 = datetime(2026, 11, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    token = pseudonymize_subject(SENTINEL, KEY)
    listed.add(token, note="ticket DSR-0042, verified by phone", now=t0)
    assert listed.add(token, note="second request") is False  # first time and note are kept
    path = listed.save()
    text = path.read_text(encoding="utf-8")
    assert SENTINEL not in text and "sentinel" not in text
    entry = json.loads(text)["entries"][0]
    assert entry == {"token": token, "added_at": "2026-11-01T07:30:00Z", "note": "ticket DSR-0042, verified by phone"}
    kept, dropped = SuppressionList.load(path).apply_raw(raw, "email", KEY)
    assert dropped == 1 and SENTINEL not in set(kept["email"])


@pytest.mark.parametrize(
    ("token", "note", "message"),
    [
        (SENTINEL, "", "not a pseudonym"),  # the raw value itself is refused
        (None, "", "not a pseudonym"),  # nothing to suppress
        ("0" * 32, "asked by " + SENTINEL, "e-mail"),  # raw e-mail pasted into the note
        ("0" * 32, "call (415) 555-1234", "phone"),  # phone number in the note
        ("0" * 32, "id CUST-0001641", "phone/ID"),  # raw customer id in the note
        ("0" * 32, "line one\nline two", "one line"),  # notes are single lines
    ],
)
def test_suppression_add_when_raw_value_anywhere_then_value_error_without_it(token, note, message, tmp_path) -> None:
    listed = SuppressionList(tmp_path / "s.json")
    with pytest.raises(ValueError, match=message) as err:
        listed.add(token, note=note)
    assert SENTINEL not in str(err.value) and "555-1234" not in str(err.value)
    assert "\n" not in str(err.value)
    assert len(listed) == 0


def test_suppression_apply_when_misaligned_or_missing_column_then_value_error(customers, tmp_path) -> None:
    listed = SuppressionList(tmp_path / "s.json")
    with pytest.raises(ValueError, match="same length and index"):
        listed.apply(customers, customers["customer_id"].iloc[:10])
    with pytest.raises(ValueError, match="subject column 'subject'"):
        listed.apply(customers, "subject")
    with pytest.raises(ValueError, match="subject column 'subject'"):
        listed.apply_raw(customers, "subject", KEY)
    with pytest.raises(MissingKeyError):
        listed.apply_raw(customers, "customer_id", None)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",  # broken JSON
        '{"version": 2, "entries": []}',  # unknown version
        '{"version": 1, "entries": [{"token": "nope", "added_at": "2026-01-01T00:00:00Z"}]}',  # bad token inside
    ],
)
def test_suppression_load_when_malformed_then_config_error_naming_the_file(content, tmp_path) -> None:
    path = tmp_path / "suppression.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="suppression.json"):
        SuppressionList.load(path)


# --------------------------------------------------------------------------- erasure log


def _record(**kw) -> ErasureRecord:
    base = {
        "pseudonym": pseudonymize_subject(SENTINEL, KEY),
        "affected_runs": ["0a1b2c", "3d4e5f"],
        "model_versions": ["churn/3", "churn/4"],
        "dataset_fingerprints": ["f" * 64],
        "recorded_at": datetime(2026, 11, 2, 12, 0, tzinfo=UTC),
        "note": "DSR-0042",
    }
    return ErasureRecord(**{**base, **kw})


def test_erasure_log_when_appended_twice_then_two_json_lines_read_back_without_raw_value(tmp_path) -> None:
    log = tmp_path / "audit" / "forget.jsonl"
    append_erasure_record(log, _record())
    append_erasure_record(log, _record(note="DSR-0043", affected_runs=[]))
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["recorded_at"] == "2026-11-02T12:00:00Z"
    assert first["model_versions"] == ["churn/3", "churn/4"]
    assert SENTINEL not in log.read_text(encoding="utf-8")
    records = read_erasure_log(log)
    assert [r.note for r in records] == ["DSR-0042", "DSR-0043"]
    assert records[0] == _record()


def test_erasure_log_when_last_line_torn_then_new_record_starts_a_new_line(tmp_path) -> None:
    log = tmp_path / "forget.jsonl"
    log.write_text('{"pseudonym": "trunc', encoding="utf-8")  # a crash mid-write
    append_erasure_record(log, _record())
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["note"] == "DSR-0042"
    with pytest.raises(ConfigError, match="line 1"):
        read_erasure_log(log)


def test_erasure_record_when_default_time_then_utc_now() -> None:
    record = ErasureRecord(pseudonym="0" * 32)
    assert record.recorded_at.tzinfo == UTC
    assert abs(datetime.now(UTC) - record.recorded_at) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"pseudonym": SENTINEL}, "not a pseudonym"),  # raw value instead of the pseudonym
        ({"note": "for " + SENTINEL}, "e-mail"),  # raw value in the note
        ({"recorded_at": datetime(2026, 1, 1)}, "timezone-aware"),  # naive time is ambiguous
        ({"extra_field": 1}, "extra"),  # unknown fields are typos
    ],
)
def test_erasure_record_when_invalid_then_error_without_the_value(overrides, fragment) -> None:
    with pytest.raises(ValueError, match=fragment) as err:
        _record(**overrides)
    assert SENTINEL not in str(err.value)


def test_append_erasure_record_when_not_a_record_then_value_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="ErasureRecord"):
        append_erasure_record(tmp_path / "forget.jsonl", {"pseudonym": "0" * 32})
    assert not (tmp_path / "forget.jsonl").exists()
    assert read_erasure_log(tmp_path / "forget.jsonl") == []


def test_is_pseudonym_when_values_then_only_32_lowercase_hex() -> None:
    assert is_pseudonym(pseudonymize_subject("x", KEY))
    assert not is_pseudonym("X" * 32) and not is_pseudonym(None) and not is_pseudonym("0" * 31)
