"""Container health check: ``python -m services.healthcheck PORT`` exits 0 when the service on
that port is ready (``/readyz`` answers 200: its database answers, its migrations are at head,
its followers keep up). An orchestrator's liveness probe asks ``/healthz`` instead."""

from __future__ import annotations

import sys

import httpx

TIMEOUT_S = 2.0


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m services.healthcheck PORT", file=sys.stderr)
        return 2
    try:
        response = httpx.get(f"http://127.0.0.1:{argv[0]}/readyz", timeout=TIMEOUT_S)
    except httpx.TransportError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"not ready: {response.text[:500]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
