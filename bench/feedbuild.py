"""What building a feed page costs, from the stored JSON against by way of domain events.

    .venv/bin/python -m bench.feedbuild [--participants 1500] [--rounds 3]

Records N participants' journeys (the IPS example, four events each) into a claims store on a
fresh PostgreSQL database, then reads its whole feed in pages of 1,000 entries, in process,
alternating in each round (each going first in every other round) the way the feed builds
entries (``shared/feed/stored.py``) with the domain path it replaced
(``OutcomesApplication.decoded_feed_entry``). Reported per round: each way's CPU time of this
process an entry (what the change is about; the database's own time is not in it) and wall
time an entry, with the garbage collector paused while each reads; then the median ratio of
each (issue 20, point 4). The database is dropped at
the end.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.common import temporary_database
from shared.eventstore import OutcomesApplication
from tests.claims.helpers import PROVIDER, claims_app, ips_rulebook, story_events


def read_whole_feed(app: OutcomesApplication) -> int:
    after, count = 0, 0
    while True:
        items = app.read_feed(after, 1000)
        if not items:
            return count
        count, after = count + len(items), items[-1].position


def timed(app: OutcomesApplication, build: Callable[..., Any]) -> tuple[float, float]:
    """(CPU, wall) microseconds an entry to read the whole feed building entries this way."""
    original = OutcomesApplication.to_feed_entry
    OutcomesApplication.to_feed_entry = build  # type: ignore[method-assign]
    gc.collect()
    gc.disable()  # a collection lands in one way's reading or the other's: not compared
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        count = read_whole_feed(app)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return cpu / count * 1e6, wall / count * 1e6
    finally:
        gc.enable()
        OutcomesApplication.to_feed_entry = original  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--participants", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stored, decoded = OutcomesApplication.to_feed_entry, OutcomesApplication.decoded_feed_entry
    with temporary_database("bench_feedbuild") as url:
        app = claims_app(url)
        try:
            app.contracts.register(ips_rulebook())
            for n in range(args.participants):
                app.intake.record_events(
                    "ips-employment", PROVIDER, story_events(f"r{n}", f"r{n}"), "provider:x"
                )
            print(f"{read_whole_feed(app):,} entries on the feed")
            cpu_ratios, wall_ratios = [], []
            for round_ in range(1, args.rounds + 1):
                if round_ % 2:  # each way goes first in every other round
                    from_json, by_domain = timed(app, stored), timed(app, decoded)
                else:
                    by_domain, from_json = timed(app, decoded), timed(app, stored)
                cpu_ratios.append(from_json[0] / by_domain[0])
                wall_ratios.append(from_json[1] / by_domain[1])
                print(f"round {round_}: CPU us/entry stored JSON {from_json[0]:5.1f}, domain "
                      f"{by_domain[0]:5.1f} ({cpu_ratios[-1]:.2f}); wall {from_json[1]:5.1f}, "
                      f"{by_domain[1]:5.1f} ({wall_ratios[-1]:.2f})")  # fmt: skip
            print(f"median ratio, stored JSON / domain events: CPU "
                  f"{statistics.median(cpu_ratios):.2f}, wall "
                  f"{statistics.median(wall_ratios):.2f}")  # fmt: skip
        finally:
            app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
