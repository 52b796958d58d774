"""Helpers shared by the integration tests: free loopback ports, health polling, background server processes
(each in its own session so teardown stops the whole group) and the base environment for them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from veilflow.core.paths import project_root
from veilflow.core.runtime import _OFFLINE_DEFAULTS

PROJECT_ROOT = project_root()  # the checkout: tests/conftest.py sets VEILFLOW_ROOT


BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # loopback only
        return r.read()


def _wait_http(url: str, deadline_s: float, proc: subprocess.Popen, what: str) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            log = Path(getattr(proc, "log_path", "/nonexistent"))
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
            raise AssertionError(f"{what} exited with {proc.returncode} before it was healthy:\n{tail}")
        try:
            _get(url, timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise AssertionError(f"{what} not healthy within {deadline_s:.0f}s: {url}")


def base_env(tmp_path: Path) -> dict[str, str]:
    """The test process's environment without Prefect/MLflow settings, plus offline defaults and a Prefect home in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "VEILFLOW_ARTIFACT"))}
    env.update(_OFFLINE_DEFAULTS)
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "VEILFLOW_ROOT": str(PROJECT_ROOT),
            "PYTHONUNBUFFERED": "1",
            # `mlflow models serve` execs uvicorn by name: the venv's bin must be on PATH.
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


class Processes:
    """Background processes, each in its own session so teardown can stop the whole group."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.log_dir, self.env, self.procs = log_dir, env, []

    def start(self, name: str, args: list[str], cwd: Path = PROJECT_ROOT, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")
        proc = subprocess.Popen(args, cwd=cwd, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc.log_path = self.log_dir / f"{name}.log"  # type: ignore[attr-defined]
        self.procs.append((name, proc, log))
        return proc

    def run(self, args: list[str], timeout: float = 120) -> str:
        out = subprocess.run(args, cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, f"{' '.join(args[:3])} failed ({out.returncode}): {out.stdout[-2000:]} {out.stderr[-2000:]}"
        return out.stdout + out.stderr

    def tail(self, name: str, n: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""

    def stop_all(self) -> None:
        # SIGINT first (a Prefect worker ignores SIGTERM for a while), then SIGKILL the group.
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 10
        for _name, proc, log in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # also reaps children left in the group (mlflow workers)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
            log.close()


def start_prefect(
    procs: Processes, port: int, env: dict[str, str] | None = None, name: str = "prefect-server"
) -> subprocess.Popen:
    return procs.start(name, [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env)


def start_mlflow(
    procs: Processes, port: int, tmp: Path, extra: list[str] = (), env: dict[str, str] | None = None, name: str = "mlflow-server"
) -> subprocess.Popen:
    return procs.start(
        name,
        [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp / 'mlflow.db'}",
            "--artifacts-destination",
            str(tmp / "mlflow-artifacts"),
            *extra,
        ],
        env=env,
    )
