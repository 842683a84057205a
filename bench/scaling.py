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
import tempfile

from bench.common import percentile
from bench.observability import p1_round, parsed


def main() -> int:
    args = parsed(__doc__ or "")
    modes = {"two workers": 2, "one worker": 1}
    throughput: dict[str, list[float]] = {label: [] for label in modes}
    p99s: dict[str, list[float]] = {label: [] for label in modes}
    per_request: dict[str, dict[str, list[float]]] = {
        label: {"service": [], "postgres": [], "load": [], "wal_bytes": []} for label in modes
    }
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.rounds):
            order = list(modes) if number % 2 == 0 else list(reversed(modes))
            for label in order:
                cpu: dict[str, float] = {}
                result = p1_round(
                    label.replace(" ", "_"), {}, args.seconds, args.connections, folder,
                    workers=modes[label], cpu=cpu,
                )  # fmt: skip
                requests = len(result.latencies_s)
                p99_ms = percentile(result.latencies_s, 0.99) * 1000
                throughput[label].append(result.throughput)
                p99s[label].append(p99_ms)
                for name in per_request[label]:
                    per_request[label][name].append(cpu[name] * 1000 / requests)
                print(f"round {number + 1}, {label:>11}: {result.throughput:7.1f} req/s, p99 "
                      f"{p99_ms:6.0f} ms; CPU a request: claims "
                      f"{cpu['service'] * 1000 / requests:5.2f} ms, PostgreSQL "
                      f"{cpu['postgres'] * 1000 / requests:5.2f} ms, load generator "
                      f"{cpu['load'] * 1000 / requests:5.2f} ms; WAL "
                      f"{cpu['wal_bytes'] / requests:,.0f} bytes", flush=True)  # fmt: skip
    for label in modes:
        service = statistics.median(per_request[label]["service"])
        postgres = statistics.median(per_request[label]["postgres"])
        load = statistics.median(per_request[label]["load"])
        wal = statistics.median(per_request[label]["wal_bytes"]) / 1000  # bytes: ms-scaled above
        print(f"median, {label}: {statistics.median(throughput[label]):.1f} req/s, p99 "
              f"{statistics.median(p99s[label]):.0f} ms; CPU a request: claims {service:.2f} "
              f"ms ({1000 / service:.0f} req/s a core), PostgreSQL {postgres:.2f} ms "
              f"({1000 / postgres:.0f} req/s a core), load generator {load:.2f} ms; WAL "
              f"{wal:,.0f} bytes a request")  # fmt: skip
    two, one = (statistics.median(throughput[label]) for label in modes)
    rounds = [f"{a / b:.2f}" for a, b in zip(*throughput.values(), strict=True)]
    print(f"two workers / one worker: {two / one:.2f} (rounds: {', '.join(rounds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
