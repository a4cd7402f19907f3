"""A real Airflow API server and scheduler (LocalExecutor) for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow(args: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    """Run an ``airflow`` CLI command; raises with its output when it fails."""
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def server_env(port: int, **extra: str) -> dict:
    """The environment of the servers: this one's, plus a local execution API on ``port``."""
    return {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__API_AUTH__JWT_SECRET": "integration-test-secret",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        **extra,
    }


def wait_for_http(url: str, timeout_s: float = 120) -> None:
    """Wait until ``url`` answers (any HTTP status)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()  # noqa: S310 (local test server)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@contextlib.contextmanager
def running_airflow(log_dir: Path, **extra_env: str) -> Iterator[dict]:
    """Start ``airflow api-server`` and ``airflow scheduler``; yield their environment.

    DAGs are serialized first; each server logs to ``<log_dir>/<name>.log``.
    """
    env = server_env(free_port(), **extra_env)
    airflow(["dags", "reserialize"], env)
    logs = {name: open(log_dir / f"{name}.log", "w") for name in ("api-server", "scheduler")}  # noqa: SIM115 (open while the servers run)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "airflow", name],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its workers and log server stop with it
        )
        for name, log in logs.items()
    ]
    try:
        yield env
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in logs.values():
            log.close()


def api_url(env: dict) -> str:
    return f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
