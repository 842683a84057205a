"""What the benchmarks share: a throw-away PostgreSQL database, loopback ports, timing."""

from __future__ import annotations

import os
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("OUTCOMES_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """A fresh database, dropped afterwards; yields its URL."""
    admin = postgres_admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start within {timeout_s}s")


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set size so far (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call, after one warm-up call."""
    call()
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        found.append(time.perf_counter() - started)
    return found


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    return statistics.median(samples) * 1000, percentile(samples, 0.95) * 1000


def _process_cpu_s(stat: str) -> tuple[int, str, float]:
    """(parent pid, command, CPU seconds in user and system mode) from ``/proc/<pid>/stat``."""
    command = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), command, (int(fields[11]) + int(fields[12])) / ticks


def cpu_seconds(service_pid: int) -> dict[str, float]:
    """CPU seconds so far of a service (the process and its children: uvicorn's workers) and of
    every PostgreSQL process on this machine (``service``, ``postgres``), read from ``/proc``."""
    processes: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                processes[int(entry.name)] = _process_cpu_s((entry / "stat").read_text())
            except OSError:  # ended while being read
                continue
    service = {service_pid} | {pid for pid, (parent, _, _) in processes.items()
                               if parent == service_pid}  # fmt: skip
    return {
        "service": sum(processes[pid][2] for pid in service if pid in processes),
        "postgres": sum(cpu for _, command, cpu in processes.values() if command == "postgres"),
    }
