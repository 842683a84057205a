"""Reading and checking a large rule book: time and memory (in process, nothing written).

    .venv/bin/python -m bench.rulebook [--tables 50] [--types 150] [--repeat 3]

Builds a valid rule book of about 1 MB (multiplier tables of 1,000 keys each, and event types
of described attributes), then measures in the same run:

- baseline: ``json.loads`` of the same bytes, the least any reader must do;
- read: the claims service's reader and validator (:func:`read_rulebook`: libyaml events with
  every limit checked, the document built, the schema and the meaning validated);
- the extra memory the read takes at its peak (``tracemalloc``), against the same for the
  baseline.

Targets (issue 15): under 2 s and under 200 MB of extra memory for 1 MB.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from services.claims.routes.contracts import read_rulebook


def document(tables: int = 50, types: int = 150, keys: int = 1000) -> dict[str, Any]:
    """A valid rule book: ``tables`` multiplier tables of ``keys`` keys (about 16 bytes a key),
    and ``types`` event types of five described attributes (about 1.6 KB a type)."""
    described = {"type": "string", "description": "d" * 300}
    return {
        "contract_id": "bench-contract",
        "name": "Bench",
        "currency": "GBP",
        "effective_from": "2025-01-01",
        "providers": [{"id": "p", "name": "P"}],
        "event_types": {
            f"event_{i}": {"attributes": {f"a{j}": described for j in range(5)}}
            for i in range(types)
        },
        "multiplier_tables": {
            f"t{i}": {"values": {f"k{j}": "1.00" for j in range(keys)}, "default": "1.00"}
            for i in range(tables)
        },
    }


def measured(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best seconds, peak extra MiB) of ``work``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--types", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    body = json.dumps(document(args.tables, args.types)).encode()
    base_s, base_mib = measured(lambda: json.loads(body), args.repeat)
    read_s, read_mib = measured(lambda: read_rulebook(body), args.repeat)
    print(f"rule book: {len(body):,} bytes")
    print(f"B  json.loads (baseline)      {base_s * 1000:8.1f} ms  {base_mib:7.1f} MiB peak")
    print(
        f"R  read and check             {read_s * 1000:8.1f} ms  {read_mib:7.1f} MiB peak  "
        f"{read_s / base_s:6.1f} x baseline"
    )
    met = read_s < 2.0 and read_mib < 200
    print(f"targets (under 2 s and 200 MB): {'met' if met else 'missed'}")


if __name__ == "__main__":
    main()
