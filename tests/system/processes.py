"""Start the services as real processes on free loopback ports, and stop or kill them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """Three services wired together; ``urls`` maps each to its base URL."""

    folder: Path
    store_urls: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)  # uvicorn workers a process; 1 if absent

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in ("claims", "ledger", "metrics")}

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}

    def env(self, port_of: dict[str, int] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CLAIMS_", "LEDGER_", "METRICS_"))
            and k != "OUTCOMES_MIGRATE_ON_START"  # each is started with --migrate, as make run
        }
        env.update(
            OUTCOMES_ENV="test",
            OUTCOMES_DATA_DIR=str(self.folder),
            OUTCOMES_LOG_LEVEL="info",
            LEDGER_CLAIMS_URL=self.urls["claims"],
            METRICS_CLAIMS_URL=self.urls["claims"],
            METRICS_LEDGER_URL=self.urls["ledger"],
        )
        for name, port in (self.ports | (port_of or {})).items():
            prefix = name.upper()
            env[f"{prefix}_PORT"] = str(port)
            env[f"{prefix}_DATABASE_URL"] = self.store_urls[name]
        return env

    def start(self, name: str) -> None:
        self._spawn(name, name, self.ports[name])

    def start_replica(self, name: str) -> str:
        """A second process of a service on the same store; returns its base URL."""
        port = free_port()
        self._spawn(f"{name}-replica", name, port)
        return f"http://127.0.0.1:{port}"

    def _spawn(self, key: str, name: str, port: int, wait: bool = True) -> None:
        with (self.folder / f"{key}.log").open("ab") as log:
            workers = str(self.workers.get(name, 1))
            self.processes[key] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "serve",
                    name,
                    "--migrate",
                    "--workers",
                    workers,
                ],
                env=self.env({name: port}),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self._wait_healthy(key, port)

    def _wait_healthy(self, key: str, port: int) -> None:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(url), f"{key} to start", START_TIMEOUT_S)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``outcomes`` command with this stack's environment."""
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start_all(self) -> None:
        """All three at once (their followers retry until their upstreams answer), then wait
        for each to be healthy: most of a start is importing, which they then share."""
        for name in ("claims", "ledger", "metrics"):
            self._spawn(name, name, self.ports[name], wait=False)
        for name in ("claims", "ledger", "metrics"):
            self._wait_healthy(name, self.ports[name])

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float) -> float:
    """Poll until the condition holds; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@contextmanager
def running_stack(
    folder: Path, store_urls: dict[str, str], workers: dict[str, int] | None = None
) -> Iterator[Stack]:
    """The three services started, and stopped afterwards; their logs are printed on failure."""
    stack = Stack(folder, store_urls, workers=workers or {})
    try:
        stack.start_all()
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop_all()
