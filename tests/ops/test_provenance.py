"""Provenance of a run's inputs: a digest of every file read, and whether each is committed as read."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from veilflow.core.provenance import inputs_provenance, run_provenance_tags


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args], cwd=repo, check=True, capture_output=True
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "expectations").mkdir(parents=True)
    (root / "data").mkdir()
    (root / ".gitignore").write_text("data/\n")
    (root / "expectations" / "policy.yaml").write_text("version: 1\n")
    (root / "expectations" / "raw.json").write_text("{}\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "contracts")
    return root


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_provenance_when_inputs_untracked_modified_or_outside_then_counted_dirty(repo: Path, tmp_path: Path) -> None:
    config = repo / "config.yaml"
    config.write_text("dataset: {}\n")  # untracked: what the user had
    (repo / "expectations" / "raw.json").write_text('{"changed": true}\n')  # modified after the commit
    outside = tmp_path / "anonymized.json"
    outside.write_text("{}\n")  # not in the repository at all
    data = repo / "data" / "people.csv"
    data.write_text("id\n1\n")  # ignored: data is kept out of git, which is not dirt

    files = {
        "config": config,
        "pii_policy": repo / "expectations" / "policy.yaml",
        "raw_suite": repo / "expectations" / "raw.json",
        "anonymized_suite": outside,
        "data": data,
    }
    prov = inputs_provenance(files, root=repo)

    git = {role: entry["git"] for role, entry in prov["files"].items()}
    assert git == {
        "config": "untracked",
        "pii_policy": "clean",
        "raw_suite": "modified",
        "anonymized_suite": "outside",
        "data": "ignored",
    }
    assert prov["dirty_inputs"] == 3
    assert prov["files"]["config"]["path"] == "config.yaml"  # relative to the project root
    assert all(prov["files"][role]["sha256"] == _sha(p) for role, p in files.items())
    tags = run_provenance_tags({"commit": "abc", "dirty": "false"}, prov)
    assert tags["veilflow.git_dirty"] == "true" and tags["veilflow.git_dirty_inputs"] == "3"
    assert tags["veilflow.git_dirty_code"] == "false"
    assert tags["veilflow.input_digest.config"] == _sha(config)


def test_provenance_when_every_input_committed_then_clean(repo: Path) -> None:
    files = {"pii_policy": repo / "expectations" / "policy.yaml", "raw_suite": repo / "expectations" / "raw.json", "config": None}
    prov = inputs_provenance(files, root=repo)
    assert prov["dirty_inputs"] == 0 and set(prov["files"]) == {"pii_policy", "raw_suite"}
    assert run_provenance_tags({"commit": "abc", "dirty": "false"}, prov)["veilflow.git_dirty"] == "false"
    assert run_provenance_tags({"commit": "abc", "dirty": "true"}, prov)["veilflow.git_dirty"] == "true"  # the code itself


def test_provenance_when_no_git_repository_then_unknown_not_clean(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n")
    prov = inputs_provenance({"pii_policy": policy}, root=tmp_path)
    assert prov["git"] == "unavailable" and prov["files"]["pii_policy"]["sha256"] == _sha(policy)
    assert run_provenance_tags({"commit": "unknown", "dirty": "unknown"}, prov)["veilflow.git_dirty"] == "unknown"


def test_code_version_when_package_is_not_a_checkout_then_version_and_digest_never_the_project_repo(tmp_path, monkeypatch):
    """An installed veilflow has no commit of its own; a user's project repository must not lend it one."""
    import subprocess

    from veilflow.core import provenance

    package = tmp_path / "site-packages" / "veilflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("# installed\n")
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    monkeypatch.setenv("VEILFLOW_ROOT", str(project))
    monkeypatch.setattr(provenance, "package_dir", lambda: package)

    assert provenance.code_root() is None
    version = provenance.code_version()
    assert version["commit"].startswith("veilflow-") and version["dirty"] == "false"
    assert version["commit"].endswith("+" + provenance.source_digest(package)[:16])
    (package / "__init__.py").write_text("# installed, then edited\n")
    assert provenance.code_version()["commit"] != version["commit"]  # other code, other version


def test_code_version_in_this_checkout_then_its_commit():
    from veilflow.core import provenance

    root = provenance.code_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert len(provenance.code_version()["commit"]) == 40
