"""Run the three services as separate uvicorn processes and stop them together.

SIGINT or SIGTERM to the runner is passed on to every service as SIGTERM; uvicorn then finishes
requests in flight, runs each service's shutdown (followers stop, stores close) and exits. If one
service exits on its own, the runner stops the others and exits with a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

from services.claims.settings import ClaimsSettings
from services.ledger.settings import LedgerSettings
from services.metrics.settings import MetricsSettings
from shared.settings import CommonSettings
from shared.sqlviews import create_engine, migrate, store_revision
from shared.storeurls import sqlalchemy_url

STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    factory: str
    host: str
    port: int


def service_specs() -> list[ServiceSpec]:
    claims, ledger, metrics = ClaimsSettings(), LedgerSettings(), MetricsSettings()
    return [
        ServiceSpec("claims", "services.claims.api:create_app", claims.host, claims.port),
        ServiceSpec("ledger", "services.ledger.api:create_app", ledger.host, ledger.port),
        ServiceSpec("metrics", "services.metrics.api:create_app", metrics.host, metrics.port),
    ]


def migrate_stores(names: Sequence[str]) -> list[tuple[str, str | None]]:
    """Migrate each named service's read models to head; (service, revision now) for each."""
    from services.claims.api import MIGRATIONS as CLAIMS
    from services.ledger.api import MIGRATIONS as LEDGER
    from services.metrics.api import MIGRATIONS as METRICS

    common = CommonSettings()
    stores = {
        "claims": (ClaimsSettings().store_url(common), CLAIMS),
        "ledger": (LedgerSettings().store_url(common), LEDGER),
        "metrics": (MetricsSettings().store_url(common), METRICS),
    }
    done = []
    for name in names:
        url, scripts = stores[name]
        engine = create_engine(sqlalchemy_url(url), common.pool())
        try:
            migrate(engine, scripts, f"alembic_version_{name}")
            done.append((name, store_revision(engine, f"alembic_version_{name}")))
        finally:
            engine.dispose()
    return done


def serve_command(spec: ServiceSpec, workers: int = 1) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", spec.factory,
        "--host", spec.host, "--port", str(spec.port),
        "--workers", str(workers), "--timeout-graceful-shutdown", "10",
        "--no-server-header", "--no-access-log",  # each service logs its requests (shared/logs.py)
    ]  # fmt: skip


def run_all() -> int:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    # a person at a terminal reads these logs: the console format unless one is chosen
    environment = {"OUTCOMES_LOG_FORMAT": "console", **os.environ}
    try:
        for spec in service_specs():
            print(f"starting {spec.name} on http://{spec.host}:{spec.port}", flush=True)
            processes[spec.name] = subprocess.Popen(
                serve_command(spec), start_new_session=True, env=environment
            )
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"{name} exited with {process.returncode}; stopping the others", flush=True
                    )
                    exit_code = 1
                    stopping = True
                    break
            time.sleep(0.2)
        _stop(processes)
        return exit_code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for name, process in processes.items():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", flush=True)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print("all services stopped", flush=True)
