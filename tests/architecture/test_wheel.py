"""A regular (non-editable) wheel installs outside the checkout and runs `veilflow train` on the demo config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from veilflow.core.paths import project_root

pytestmark = pytest.mark.slow


def test_wheel_when_installed_outside_checkout_then_train_finds_packaged_contracts(tmp_path: Path):
    wheels, target, work = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(project_root())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("veilflow-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    # The wheel's copy comes first on the path (before the editable install's finder); nothing of the checkout
    # is reachable: no VEILFLOW_ROOT, the working directory is an empty folder.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VEILFLOW_ROOT", "MLFLOW_TRACKING_URI", "VEILFLOW_ARTIFACT_ROOT", "PREFECT_HOME")
    }
    env["PYTHONPATH"] = str(target)
    code = (
        "import sys, veilflow; from veilflow.cli import main; "
        "print('VEILFLOW_FILE=' + veilflow.__file__, flush=True); sys.exit(main(sys.argv[1:]))"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "train",
            "--config",
            "deploy/configs/customers.yaml",
            "--set",
            "dataset.n_rows=400",
            "--set",
            "privacy.nlp_model=none",
            "--set",
            "explain.enabled=false",
            "--set",
            'training.candidates=[{"name": "logreg", "kind": "logistic_regression"}]',
            "--set",
            "gates.floors={}",
            "--set",
            "gates.max_fairness_gap=null",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert f"VEILFLOW_FILE={target}" in out
    summary = next((line for line in out.splitlines() if line.startswith("veilflow training:")), "")
    # The flow ran to its end from the wheel: a registered version and a gate decision (400 rows may not pass
    # every gate of the demo config; promotion is not what this test is about).
    assert summary.startswith(("veilflow training: Completed", "veilflow training: Rejected")), out[-3000:]
    assert "decision: promoted" in summary or "decision: rejected" in summary, summary
    # Everything the run made lives under the folder it ran in (its project root), not in the checkout.
    assert (work / "mlruns" / "mlflow.db").is_file()
