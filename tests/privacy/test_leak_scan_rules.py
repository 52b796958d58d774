"""The leak scan's matching rules: values as values (tokens, numbers, JSON/YAML values, PNG text chunks, pickled
strings, printable runs), "not searchable" values counted, `leak_scan.allow` exceptions, `--explain`; no false alarm
for ordinary-word surnames or small numeric ids, planted leaks caught. Real MLflow (SQLite in tmp) where a run is needed."""

from __future__ import annotations

import io
import json
import pickle
import re
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from veilflow.core.errors import ConfigError, PiiLeakError
from veilflow.tasks.privacy.leak_formats import file_pieces
from veilflow.tasks.privacy.leak_scan import LeakIndex, LeakScanner, leak_value_hash, scan_texts
from veilflow.tasks.privacy.policy import PiiPolicy, load_policy

KEY = b"test-key-0123456789abcdef-not-a-secret"
ORDINARY_SURNAMES = ["True", "Register", "Will", "May", "Long"]
NUMERIC_IDS = ["7", "42", "1234"]
FULL_NAME = "Zebulon Quartermaine"
EMAIL = "zeb.quartermaine77@example.org"
SURNAME = "Quartermaine"  # a distinctive one-word surname: searchable
HEX = re.compile(r"^[0-9a-f]{64}$")


def _index(**settings) -> LeakIndex:
    index = LeakIndex(min_length=settings.pop("min_length", 4), **settings)
    index.add("last_name", ORDINARY_SURNAMES + [SURNAME])
    index.add("customer_id", NUMERIC_IDS)
    index.add("full_name", [FULL_NAME, "Mary True"])
    index.add("email", [EMAIL])
    index.add_secret(KEY)
    return index


def _scan_bytes(index: LeakIndex, name: str, data: bytes) -> list[tuple[str, str, str]]:
    scanner = LeakScanner(index)
    for rule, text in file_pieces(name, data):
        scanner.scan("artifact", f"artifact:{name}", text, rule)
    return [(h.rule, h.source, h.kind) for h in scanner.hit_list()]


def _no_value_in(text: str) -> None:
    low = text.lower()
    for value in [FULL_NAME, EMAIL, SURNAME]:
        assert value.lower() not in low


# --------------------------------------------------------------------------- what is not searchable


def test_index_when_short_common_or_small_number_then_not_searchable_counted_per_column():
    index = _index()
    assert index.not_searchable == {
        "customer_id": {"short": 2, "short_number": 1},  # 7 and 42 under 4 characters; 1234 under 5 digits
        "last_name": {"common_word": 4, "short": 1},  # May has 3 letters: short comes first
    }
    # Searchable: the distinctive surname, both full names (two words, even "Mary True"), the e-mail, key text + hex.
    assert index.values == 6 and index.skipped == 8
    assert "Quartermaine" not in repr(index)


def test_index_when_policy_turns_common_words_off_and_lowers_digits_then_they_are_searched():
    policy = PiiPolicy(dataset="t", min_leak_value_length=1, leak_scan={"common_words": False, "min_number_digits": 1})
    index = _index()
    index.configure(policy)
    assert index.not_searchable == {}
    assert index.find('{"register": true}') == {("last_name", "case_insensitive"): 2}  # the rule the default avoids


# --------------------------------------------------------------------------- no false alarms


def _config_json() -> bytes:
    from veilflow.core.config import load_config
    from veilflow.core.paths import project_root

    config = load_config(project_root() / "deploy/configs/customers.yaml")
    return json.dumps(config.model_dump(mode="json"), indent=2).encode()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("config/pipeline.json", None),  # the real logged config: "register": true, ...
        ("pii/audit.json", json.dumps({"register": True, "may": None, "long": False, "will": "Will", "n": 1234}).encode()),
        ("MLmodel", yaml.safe_dump({"flavors": {"python_function": {"register": True, "loader_module": "x"}}}).encode()),
        ("conda.yaml", b"dependencies:\n  - python=3.12\n  - pip:\n    - mlflow==3.17\nregister: true\nlong: yes\n"),
        ("notes.txt", b"True. The model will register in May after a long run; 7 of 42 candidates, 1234 rows."),
        ("metrics.csv", b"name,value,count\nroc_auc,0.81234,1234\nf1,0.42,7\nTrue,42,1234\n"),
    ],
)
def test_structured_and_text_artifacts_when_ordinary_words_and_small_counts_then_no_false_alarm(name, data):
    assert _scan_bytes(_index(), name, data if data is not None else _config_json()) == []


def test_number_rule_when_id_inside_float_digit_run_or_hex_then_not_found_as_itself_then_found():
    index = LeakIndex()
    index.add("customer_id", ["123456"])
    for text in ["0.123456", "1234567", "a123456", "123456.5", "0x123456", "1123456", '{"auc": 0.123456}']:
        assert index.find(text) == {}, text
    assert index.find("customer 123456 wrote") == {("customer_id", "exact"): 1}
    assert _scan_bytes(index, "x.json", b'{"id": 123456, "auc": 0.123456}') == [("json-value", "customer_id", "exact")]
    floats = LeakIndex()
    floats.add("score", ["0.123456"])  # a float value is found only as that float
    assert floats.find("0.123456 and 123456") == {("score", "exact"): 1}


def test_json_when_keyed_by_raw_values_then_data_like_keys_are_read_as_values():
    data = json.dumps({EMAIL: 0.3, "7": 1, "register": True, "sig": json.dumps([{"name": FULL_NAME}])}).encode()
    assert _scan_bytes(_index(), "per_subject.json", data) == [
        ("json-value", "email", "exact"),
        ("json-value", "full_name", "exact"),  # JSON inside a JSON string (as MLmodel's signature) is parsed too
    ]


def test_real_png_plot_when_ids_and_zip_codes_indexed_then_no_hit_and_only_text_chunks_read(tmp_path):
    from veilflow.tasks.modeling.plots import plot_evaluation

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    paths = plot_evaluation(y, np.clip(y * 0.6 + rng.random(400) * 0.5, 0, 1), tmp_path)
    index = _index(min_length=1, min_number_digits=1)  # every id searchable: the pixels must still not match
    index.add("zip_code", [f"{z:05d}" for z in range(30000, 31000)])
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG")
        pieces = list(file_pieces(path.name, data))
        assert {rule for rule, _ in pieces} == {"png-text"}
        assert _scan_bytes(index, path.name, data) == [], path.name


def test_png_when_text_chunk_holds_name_then_caught_as_png_text(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "roc.png", metadata={"Author": FULL_NAME, "Description": f"mail {EMAIL}"})
    plt.close(fig)
    hits = _scan_bytes(_index(), "roc.png", (tmp_path / "roc.png").read_bytes())
    assert ("png-text", "full_name", "exact") in hits and ("png-text", "email", "exact") in hits


# --------------------------------------------------------------------------- planted leaks caught


def test_text_artifact_when_full_name_email_and_surname_planted_then_each_caught():
    text = f"ticket from {FULL_NAME.upper()}; reply to {EMAIL}; Mr {SURNAME} called".encode()
    assert _scan_bytes(_index(), "debug/notes.txt", text) == [
        ("token", "email", "exact"),
        ("token", "full_name", "case_insensitive"),
        ("token", "last_name", "exact"),  # the full name counts once (longest match), the bare surname on its own
    ]


def test_unicode_values_when_case_or_normalisation_differs_then_found_at_word_boundaries():
    index = LeakIndex()
    index.add("last_name", ["Müller", "Øyvindsen"])
    assert index.find("Herr MÜLLER und øyvindsen") == {("last_name", "case_insensitive"): 2}
    assert index.find("Herr Mu\u0308ller") == {("last_name", "exact"): 1}  # decomposed ü: NFC first
    assert index.find("Müllerstraße 3, Øyvindsenvei") == {}


def test_pickled_one_hot_encoder_fitted_on_raw_names_then_pickle_strings_caught():
    from sklearn.preprocessing import OneHotEncoder

    names = pd.DataFrame({"name": [FULL_NAME, "Jane True", "Ada Long"]})
    for blob in (pickle.dumps(OneHotEncoder().fit(names)), cloudpickle.dumps(OneHotEncoder().fit(names.to_numpy()))):
        assert ("pickle-string", "full_name", "exact") in _scan_bytes(_index(), "model.pkl", blob)
    # A numpy <U array (one UTF-32 buffer) is split into its items.
    assert _scan_bytes(_index(), "x.pkl", pickle.dumps(np.array([FULL_NAME, "Ada"]))) == [("pickle-string", "full_name", "exact")]


def test_cloudpickled_function_when_closure_holds_email_then_caught_without_unpickling(monkeypatch):
    contact = EMAIL

    def notify(x):
        return f"{x} -> {contact}"

    blob = cloudpickle.dumps(notify)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("the scan must never unpickle"))
    assert _scan_bytes(_index(), "python_model.pkl", blob) == [("pickle-string", "email", "exact")]


def test_unknown_binary_when_name_embedded_then_strings_run_caught_and_noise_is_not():
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, 1_000_000, dtype=np.uint8).tobytes()
    index = _index()
    index.add("zip_code", [f"{z:05d}" for z in range(30000, 30300)])
    assert _scan_bytes(index, "weights.bin", noise) == []
    assert _scan_bytes(index, "weights.bin", noise[:5000] + b"\x00" + FULL_NAME.encode() + b"\x00" + noise[5000:9000]) == [
        ("strings-run", "full_name", "exact")
    ]


def test_zip_archive_when_member_pickle_holds_name_then_caught():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps({"labels": [FULL_NAME]}))
        archive.writestr("model/meta.json", json.dumps({"register": True}))
    assert _scan_bytes(_index(), "model.pt2", buf.getvalue()) == [("pickle-string", "full_name", "exact")]


# --------------------------------------------------------------------------- allow list and policy


def test_allow_entry_when_value_hash_listed_then_hit_counted_as_allowed_not_failed():
    index = _index()
    digest = leak_value_hash(KEY, FULL_NAME)
    index.configure(PiiPolicy(dataset="t", leak_scan={"allow": [digest]}))
    assert index.allowed_values == 1
    scanner = LeakScanner(index)
    scanner.scan("artifact", "artifact:a.txt", f"{FULL_NAME} and {EMAIL}")
    assert [(h.source, h.value_hash) for h in scanner.hit_list()] == [("email", leak_value_hash(KEY, EMAIL))]
    (allowed,) = scanner.allowed_list()
    assert (allowed.hash_prefix, allowed.sources, allowed.count, allowed.places) == (digest[:12], ["full_name"], 1, 1)


def test_allow_entry_when_no_key_then_config_error():
    index = LeakIndex()
    index.add("full_name", [FULL_NAME])
    index.configure(PiiPolicy(dataset="t", leak_scan={"allow": ["a" * 64]}))
    with pytest.raises(ConfigError, match="needs the PII key"):
        index.compile()


@pytest.mark.parametrize("entry", [FULL_NAME, "abc123", "A" * 64, "a" * 32, "g" * 64])
def test_policy_when_allow_entry_not_a_keyed_hash_then_one_line_error_without_the_entry(tmp_path, entry):
    path = tmp_path / "p.pii.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "dataset": "t", "leak_scan": {"allow": ["b" * 64, entry]}}))
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    message = str(err.value)
    assert "\n" not in message and "leak_scan.allow" in message and "64 lowercase hex" in message
    assert entry not in message


def test_policy_when_allow_entries_valid_then_loaded_sorted_and_deduplicated(tmp_path):
    path = tmp_path / "p.pii.yaml"
    a, b = "b" * 64, leak_value_hash(KEY, FULL_NAME)
    path.write_text(yaml.safe_dump({"version": 1, "dataset": "t", "leak_scan": {"allow": [a, b, a]}}))
    assert load_policy(path).leak_scan.allow == sorted({a, b})


# --------------------------------------------------------------------------- real MLflow: tags, params, step, explain


@pytest.fixture
def leaky_run(tracking_uri, tmp_path):
    """A run that logged ordinary-word surnames as config/JSON, a PNG plot, and planted leaks in a tag, a param and a pickle."""
    from sklearn.preprocessing import OneHotEncoder

    client = MlflowClient(tracking_uri)
    run_id = client.create_run(client.create_experiment("leak-rules")).info.run_id
    client.log_param(run_id, "registry.register", "True")
    client.log_param(run_id, "debug.owner", SURNAME)
    client.set_tag(run_id, "debug.contact", EMAIL.upper())
    client.log_dict(run_id, {"register": True, "rows": 1234, "long": None}, "pii/audit.json")
    client.log_text(run_id, f"complaint by {FULL_NAME}", "debug/notes.txt")
    encoder = tmp_path / "encoder.pkl"
    encoder.write_bytes(pickle.dumps(OneHotEncoder().fit([[FULL_NAME]])))
    client.log_artifact(run_id, str(encoder), "model")
    return client, run_id


def test_scan_run_when_tag_param_and_artifact_planted_then_caught_by_place_rule_column(leaky_run):
    from veilflow.engines.leak_sources import scan_run

    client, run_id = leaky_run
    report = scan_run(client, run_id, _index(), prefect=False)
    places = {(h.where, h.rule, h.source, h.kind) for h in report.hits}
    assert ("tag:debug.contact", "token", "email", "case_insensitive") in places
    assert ("param:debug.owner", "token", "last_name", "exact") in places
    assert ("artifact:debug/notes.txt", "token", "full_name", "exact") in places
    assert ("artifact:model/encoder.pkl", "pickle-string", "full_name", "exact") in places
    assert not any(h.where in {"param:registry.register", "artifact:pii/audit.json"} for h in report.hits)
    assert all(HEX.match(h.value_hash or "") for h in report.hits)
    assert report.not_searchable["last_name"] == {"common_word": 4, "short": 1}
    _no_value_in(report.summary() + json.dumps(report.logged()) + "\n".join(report.explain()))


def test_leak_scan_step_when_leak_then_one_line_error_and_when_allowed_then_passes_and_recorded(leaky_run, monkeypatch):
    from veilflow.tasks.ops import audit

    monkeypatch.setattr(audit, "flush_prefect_logs", lambda: None)
    client, run_id = leaky_run
    with pytest.raises(PiiLeakError) as err:
        audit.leak_scan_step(_index(), client, run_id)
    message = str(err.value)
    assert "\n" not in message and "tag:debug.contact" in message and "--explain" in message
    _no_value_in(message)
    assert client.get_run(run_id).data.tags["veilflow.leak_scan"] == "failed"

    allow = sorted({leak_value_hash(KEY, v) for v in [FULL_NAME, EMAIL, SURNAME]})
    index = _index()
    index.configure(PiiPolicy(dataset="t", leak_scan={"allow": allow}))
    result = audit.leak_scan_step(index, client, run_id)
    assert result["passed"] and result["allow_entries"] == 3
    tags = client.get_run(run_id).data.tags
    assert tags["veilflow.leak_scan"] == "passed"
    recorded = tags["veilflow.leak_scan.allowed"]
    assert recorded.startswith(f"{sum(a['count'] for a in result['allowed'])} hit(s) of 3 allowed value(s): ")
    assert all(h[:12] in recorded for h in allow) and not any(h in recorded for h in allow)  # prefixes only
    assert "last_name: common_word 4, short 1" in tags["veilflow.leak_scan.not_searchable"]
    logged = json.loads(Path(client.download_artifacts(run_id, "pii/leak_scan.json")).read_text())
    assert logged["passed"] and {a["hash_prefix"] for a in logged["allowed"]} == {h[:12] for h in allow}
    _no_value_in(json.dumps(logged) + json.dumps({k: v for k, v in tags.items() if not k.startswith("debug.")}))


def test_explain_when_hits_then_each_line_names_place_rule_column_and_copyable_hash():
    index = _index()
    hits = scan_texts({"tag:x": EMAIL, "param:y": f"{SURNAME} {KEY.decode()}"}, index)
    from veilflow.tasks.privacy.leak_scan import LeakScanReport

    report = LeakScanReport(
        run_id="r1",
        flow_run_id=None,
        prefect_checked=False,
        values_searched=index.values,
        short_values_skipped=index.skipped,
        not_searchable=index.not_searchable,
        items_scanned={"tag": 1, "param": 1},
        bytes_scanned=10,
        hits=hits,
        seconds=0.1,
    )
    lines = report.explain()
    assert lines[0] == report.summary() and "veilflow audit r1 --explain" in lines[0]
    body = "\n".join(lines[1:])
    assert f"tag:x  rule=token match=exact column=email x1  value_hash={leak_value_hash(KEY, EMAIL)}" in body
    assert "column=<pii-key>" in body and "cannot be allowed" in body
    assert "not searchable in last_name: common_word 4, short 1" in body
    _no_value_in(body)
    assert KEY.decode() not in body and KEY.hex() not in body


# --------------------------------------------------------------------------- a real training run


@pytest.mark.slow
def test_training_flow_when_subjects_have_ordinary_word_surnames_and_small_numeric_ids_then_scan_clean(
    prefect_harness, tracking_uri, tmp_path, capsys
):
    from veilflow.cli.main import main
    from veilflow.core.config import load_config
    from veilflow.core.paths import project_root
    from veilflow.flows.training import training
    from veilflow.tasks.data.io import generate_customers

    root = project_root()
    rng = np.random.default_rng(5)
    frame = generate_customers(600, seed=5)
    last = rng.choice(ORDINARY_SURNAMES, size=len(frame))
    frame["full_name"] = frame["full_name"].str.split(" ").str[0] + " " + last
    frame.insert(2, "last_name", last)
    frame["customer_id"] = rng.permutation([*range(1, 600), 1234])  # numeric ids 1..599 and 1234: counts look alike
    frame.to_csv(tmp_path / "people.csv", index=False)
    policy = yaml.safe_load((root / "expectations/policies/customers.pii.yaml").read_text())
    policy["columns"]["last_name"] = {"entity": "PERSON", "operator": "drop"}
    (tmp_path / "people.pii.yaml").write_text(yaml.safe_dump(policy))
    suite = json.loads((root / "expectations/customers.raw.json").read_text())
    for expectation in suite["expectations"]:
        if expectation["type"] == "expect_table_columns_to_match_set":
            expectation["kwargs"]["column_set"].append("last_name")
    (tmp_path / "people.raw.json").write_text(json.dumps(suite))
    config = load_config(
        root / "deploy/configs/customers.yaml",
        {
            "dataset.source": "file",
            "dataset.path": str(tmp_path / "people.csv"),
            "dataset.raw_suite": str(tmp_path / "people.raw.json"),
            "dataset.pii_policy": str(tmp_path / "people.pii.yaml"),
            "explain.sample_rows": 60,
            "training.candidates": [{"name": "logreg", "kind": "logistic_regression", "params": {"C": 1.0}}],
            "gates.floors": {"roc_auc": 0.55},
            "registry.model_name": "leak-ordinary",
            "registry.experiment": "leak-ordinary",
        },
    )
    state = training(config, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["veilflow.leak_scan"] == "passed"
    assert run.data.metrics["leak_scan.hits"] == 0
    not_searchable = run.data.tags["veilflow.leak_scan.not_searchable"]
    assert "last_name: common_word 4, short 1" in not_searchable  # True Register Will Long; May is short
    assert "customer_id: short 599, short_number 1" in not_searchable
    logged = json.loads(Path(client.download_artifacts(result.run_id, "pii/leak_scan.json")).read_text())
    # What used to give false alarms was read, under its rule: the config JSON, the PNG plots, the pickled model.
    assert {"json-value", "yaml-value", "png-text", "pickle-string", "token"} <= set(logged["rules_read"])
    assert logged["hits"] == [] and logged["values_searched"] > 600  # full names, e-mails, phones, ... are searched

    capsys.readouterr()
    assert main(["audit", result.run_id, "--explain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("leak scan clean") and "not searchable in last_name: common_word 4, short 1" in out


def test_leak_scan_step_when_index_built_without_policy_then_policy_of_logged_config_applies(leaky_run, tmp_path, monkeypatch):
    """The partitioned path builds its index from the policy's length only: the step takes `leak_scan` from the run."""
    from veilflow.core.config import load_config
    from veilflow.core.paths import project_root
    from veilflow.tasks.ops import audit

    monkeypatch.setattr(audit, "flush_prefect_logs", lambda: None)
    client, run_id = leaky_run
    policy = yaml.safe_load((project_root() / "expectations/policies/customers.pii.yaml").read_text())
    policy["leak_scan"] = {"allow": sorted(leak_value_hash(KEY, v) for v in [FULL_NAME, EMAIL, SURNAME])}
    (tmp_path / "p.pii.yaml").write_text(yaml.safe_dump(policy))
    config = load_config(project_root() / "deploy/configs/customers.yaml", {"dataset.pii_policy": str(tmp_path / "p.pii.yaml")})
    client.log_dict(run_id, config.model_dump(mode="json"), "config/pipeline.json")
    index = LeakIndex()
    for column, values in [("last_name", [SURNAME]), ("full_name", [FULL_NAME]), ("email", [EMAIL])]:
        index.add(column, values)
    index.add_secret(KEY)
    result = audit.leak_scan_step(index, client, run_id)
    assert index.configured and result["passed"] and len(result["allowed"]) == 3
