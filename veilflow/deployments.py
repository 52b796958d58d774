"""The deployments of deploy/prefect.yaml as Prefect objects: validated parameters, and one process serving them all."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml

from veilflow.core.errors import ConfigError
from veilflow.core.paths import resolve_path

# Relative to the project root; a wheel installed outside a checkout falls back to the copy it ships.
PREFECT_YAML = Path("deploy/prefect.yaml")


def read_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments:` entries of a prefect.yaml.

    Raises:
        ConfigError: the file is missing, not YAML, or declares no deployments.
    """
    path = resolve_path(path)
    if not path.is_file():
        raise ConfigError(f"deployment file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"deployment file is not valid YAML ({type(exc).__name__}): {path}") from None
    entries = data.get("deployments") if isinstance(data, dict) else None
    if not entries:
        raise ConfigError(f"{path} declares no deployments")
    return list(entries)


def load_entrypoint(entrypoint: str) -> Any:
    """The flow object named by an entrypoint such as `flows/training.py:training` (imported as a module)."""
    file, _, name = entrypoint.partition(":")
    # `flows/x.py` in the repository is the installed module `veilflow.flows.x`.
    module = importlib.import_module("veilflow." + file.removesuffix(".py").replace("/", "."))
    flow = getattr(module, name, None)
    if flow is None:
        raise ConfigError(f"entrypoint {entrypoint} names no object '{name}'")
    return flow


def validated_parameters(flow: Any, parameters: dict[str, Any], where: str) -> dict[str, Any]:
    """Check deployment parameters against the flow's pydantic signature; one-line error when they do not fit."""
    try:
        flow.validate_parameters(dict(parameters))
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"parameters of deployment {where} do not fit the flow's signature: {first}") from None
    return dict(parameters)


def full_name(entry: dict[str, Any]) -> str:
    return f"{load_entrypoint(entry['entrypoint']).name}/{entry['name']}"


def build_runner_deployments(path: Path = PREFECT_YAML) -> list[Any]:
    """Runner deployments (for `prefect.serve`) matching every entry of the prefect.yaml: name, schedule, parameters, tags."""
    from prefect.schedules import Cron

    out = []
    for entry in read_deployments(path):
        flow = load_entrypoint(entry["entrypoint"])
        where = f"{flow.name}/{entry['name']}"
        schedules = [Cron(s["cron"], timezone=s.get("timezone", "UTC")) for s in entry.get("schedules") or [] if "cron" in s]
        out.append(
            flow.to_deployment(
                name=entry["name"],
                description=entry.get("description"),
                tags=list(entry.get("tags") or []),
                parameters=validated_parameters(flow, entry.get("parameters") or {}, where),
                schedules=schedules or None,
            )
        )
    return out


def serve_all(path: Path = PREFECT_YAML) -> None:
    """Serve every deployment with its schedule from this one process until interrupted."""
    from prefect import serve

    serve(*build_runner_deployments(path))
