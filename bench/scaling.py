"""What one more claims-service process gives, and what each request costs the claims processes
and PostgreSQL in CPU: the figures behind docs/scaling.md (issue 20, point 7).

    .venv/bin/python -m bench.scaling [--seconds 15] [--connections 64] [--rounds 4]

P1 of ``bench/intake.py`` (``--connections`` keep-alive connections each POSTing its next
participant event as soon as the last is answered) against ``outcomes serve claims`` with one
uvicorn worker and with two, each round on a fresh PostgreSQL database, alternating which goes
first (``bench/observability.py``'s rounds). Each round also reads, from ``/proc``, the CPU
seconds the claims processes and all PostgreSQL processes spent during the load.

Reported: each mode's median throughput and p99, two workers over one, and per request the
claims processes', PostgreSQL's and the load generator's CPU milliseconds, and the bytes of
write-ahead log PostgreSQL wrote (medians over the rounds). With those, a
core's worth of either carries ``1000 / ms`` requests a second: docs/scaling.md extrapolates
from them. The load generator runs on the same machine and takes CPU of its own.
"""

from __future__ import annotations

import statistics
import sys

from bench.observability import alternate, parsed, ratio


def main() -> int:
    args = parsed(__doc__ or "")
    modes = {"two workers": {"workers": 2}, "one worker": {"workers": 1}}
    figures = alternate(modes, args.seconds, args.connections, args.rounds)
    for label, rounds in figures.items():
        for number, one in enumerate(rounds, 1):
            per = {name: spent * 1000 / one.requests for name, spent in one.cpu.items()}
            print(f"round {number}, {label:>11}: CPU a request: claims {per['service']:5.2f} ms, "
                  f"PostgreSQL {per['postgres']:5.2f} ms, load generator {per['load']:5.2f} ms; "
                  f"WAL {per['wal_bytes'] / 1000:,.0f} bytes")  # fmt: skip
        median = {
            name: statistics.median(one.cpu[name] * 1000 / one.requests for one in rounds)
            for name in ("service", "postgres", "load", "wal_bytes")
        }
        print(f"median, {label}: {statistics.median(r.throughput for r in rounds):.1f} req/s, "
              f"p99 {statistics.median(r.p99_ms for r in rounds):.0f} ms; CPU a request: claims "
              f"{median['service']:.2f} ms ({1000 / median['service']:.0f} req/s a core), "
              f"PostgreSQL {median['postgres']:.2f} ms ({1000 / median['postgres']:.0f} req/s a "
              f"core), load generator {median['load']:.2f} ms; WAL "
              f"{median['wal_bytes'] / 1000:,.0f} bytes a request")  # fmt: skip
    print(f"two workers / one worker: {ratio(figures):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
