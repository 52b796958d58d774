"""The house rules hold: one import name, engines built only in veilflow.engines, and lint-imports catches a break."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from veilflow.core.paths import project_root

ROOT = project_root()
BIN = Path(sys.executable).parent
# Constructors of the engines: only veilflow/engines may call them (CONTRIBUTING.md, import rule 4).
ENGINE_CONSTRUCTORS = {"AnalyzerEngine", "NlpEngineProvider", "MlflowClient", "gx.get_context", "great_expectations.get_context"}


def _sources() -> list[Path]:
    return [
        p
        for d in ("tasks", "flows", "veilflow")
        for p in (ROOT / d).rglob("*.py")
        if "engines" not in p.parts and not (d == "veilflow" and p.parts[len(ROOT.parts) + 1] in ("tasks", "flows"))
    ]


def test_engines_when_sources_scanned_then_constructed_only_in_engines_package():
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ENGINE_CONSTRUCTORS or name.rpartition(".")[2] in {
                    "AnalyzerEngine",
                    "NlpEngineProvider",
                    "MlflowClient",
                }:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offenders == []


@pytest.mark.parametrize("name", ["tasks", "flows"])
def test_import_when_top_level_names_tried_outside_checkout_then_not_found(name, tmp_path):
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "No module named" in proc.stderr


def test_namespace_when_imported_outside_checkout_then_one_package():
    code = "import veilflow, veilflow.tasks, veilflow.flows, veilflow.engines; print(veilflow.tasks.__name__, veilflow.flows.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["veilflow.tasks", "veilflow.flows"]


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # a domain module importing MLflow breaks the engine seam
        ("tasks/privacy/luhn.py", "import mlflow", "engines-only"),
        # a domain module importing the ops layer breaks the layering
        ("tasks/data/drift.py", "import veilflow.tasks.ops.registry", "layers"),
        # one domain package importing another breaks their independence
        ("tasks/modeling/gates.py", "import veilflow.tasks.privacy.risk", "layers"),
    ],
)
def test_lint_imports_when_rule_broken_on_purpose_then_fails(module, line, contract, tmp_path):
    """A copy of the tree with one forbidden import: lint-imports must fail and name the contract."""
    copy = tmp_path / "tree"
    copy.mkdir()
    for folder in ("veilflow", "tasks", "flows"):
        shutil.copytree(ROOT / folder, copy / folder, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "_data"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    clean = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(copy), "PATH": str(BIN)},
    )
    assert clean.returncode == 0, clean.stdout[-2000:]
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate violation\n")
    broken = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(copy), "PATH": str(BIN)},
    )
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout and module.replace("/", ".").removesuffix(".py") in broken.stdout.replace("veilflow.", "")
