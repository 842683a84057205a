"""Whether recording an event costs more as the store grows (PostgreSQL, loopback only).

    .venv/bin/python -m bench.growth [--participants 100000]

Loads the IPS example contract and N participants' journeys through intake in batches of
1,000 events, as ``bench/whatif.py`` does, and times each tenth of them. The baseline is the
first tenth, recorded into a nearly empty store in the same run; reported: each tenth's events
a second, and the last tenth's time as a ratio of the first. Target (issue 20: the cost of one
must not depend on how many came before): the last tenth within 1.2x the first. The store is a
fresh database (autovacuum, if the server runs it, may not have analysed it yet: as after a
bulk load), dropped at the end.
"""

from __future__ import annotations

import sys
import time

from bench.whatif import load, participants_wanted, registered_contract


def main() -> int:
    participants = participants_wanted(__doc__ or "")
    with registered_contract("bench_growth") as (app, _):
        tenths: list[float] = []
        mark = [time.monotonic(), 0]

        def tenth_done(done: int) -> None:
            now = time.monotonic()
            tenths.append(now - mark[0])
            print(f"participants {mark[1] + 1:>8,}-{done:<8,} {tenths[-1]:6.1f} s", flush=True)
            mark[:] = [now, done]

        started = time.monotonic()
        events = load(app, participants, tenth_done)
        total = time.monotonic() - started
    ratio = tenths[-1] / tenths[0]
    print(f"{participants:,} participants, {events:,} events in {total:.1f} s "
          f"({events / total:,.0f} events/s)")  # fmt: skip
    print(f"last tenth / first tenth: {ratio:.2f} (target <= 1.2 -> "
          f"{'met' if ratio <= 1.2 else 'MISSED'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
