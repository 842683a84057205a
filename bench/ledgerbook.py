"""Whether booking a claim costs more as a contract's book grows (PostgreSQL, loopback only).

    .venv/bin/python -m bench.ledgerbook [--claims 1000000] [--page 500]

Books N verified claims into one contract through the ledger's claims-feed sink, in pages as
its follower applies them, and times each 10,000. The contract is the IPS example, registered
by a claims application; the verifications are made here (one claim per participant, one of
the contract's outcomes each, spread over its months) so the run measures the ledger alone.
The baseline is the first 10,000 claims, booked into a nearly empty book in the same run;
reported: each tenth's claims a second, the last 10,000's time as a ratio of the first
(target, issue 20 point 1: within 1.2x) and the process's peak RSS (target: 300 MB or less).
Both stores are fresh databases, dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

from bench.common import temporary_database
from bench.whatif import registered_contract
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry

STEP = 10_000
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def verifications(
    contract_id: str, currency: str, outcomes: list[tuple[str, int]], count: int, start: int
) -> Iterator[FeedEntry]:
    """``count`` claim.verified entries, each a new claim of a new participant."""
    for number in range(count):
        outcome_id, amount = outcomes[number % len(outcomes)]
        booking = feed.Booking(
            contract_id=contract_id, provider_id=f"provider-{number % 4}",
            participant_id=f"p_{number:012d}", outcome_id=outcome_id,
            occurred_on=(dt.date(2026, 1, 1) + dt.timedelta(days=number % 300)).isoformat(),
            amount_minor=amount, currency=currency, contract_version=1,
        )  # fmt: skip
        data = feed.ClaimVerified(
            actor="verifier:bench", status="verified", at=NOW.isoformat(), note="",
            booking=booking,
        ).model_dump(mode="json")  # fmt: skip
        yield FeedEntry(
            position=start + number, type=feed.ClaimVerified.TYPE, schema_version=1,
            stream_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-claim-{number}")),
            stream_version=4, recorded_at=NOW, data=data,
        )  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=500)
    args = parser.parse_args()
    with registered_contract("bench_ledgerbook_claims") as (claims, document):
        [registered] = claims.read_feed(0, 10, {feed.ContractRegistered.TYPE})
    terms = feed.ContractRegistered.of(registered).terms()
    outcomes = [
        (outcome["id"], int(Decimal(outcome["price"]) * 100))
        for outcome in document["outcomes"]
        if "price" in outcome
    ] or [("job_start", 150_000)]
    print(f"contract {terms.contract_id}: caps {[c['id'] for c in terms.caps]}, "
          f"outcomes {outcomes}", flush=True)  # fmt: skip
    with temporary_database("bench_ledgerbook") as url:
        ledger = LedgerApplication(url, clock=lambda: NOW)
        sink = ClaimsFeedSink(ledger)
        try:
            sink.apply([registered])
            steps: list[float] = []
            page: list[FeedEntry] = []
            mark = time.monotonic()
            started = mark
            entries = verifications(
                terms.contract_id, terms.currency, outcomes, args.claims, registered.position + 1
            )
            for done, entry in enumerate(entries, start=1):
                page.append(entry)
                if len(page) == args.page or done == args.claims:
                    sink.apply(page)
                    page = []
                if done % STEP == 0:
                    now = time.monotonic()
                    steps.append(now - mark)
                    mark = now
                    if len(steps) % max(1, args.claims // STEP // 10) == 0:
                        print(f"claims {done:>9,}: last {STEP:,} in {steps[-1]:5.2f} s, "
                              f"peak RSS {peak_rss_mb():6.1f} MB", flush=True)  # fmt: skip
            total = time.monotonic() - started
            book = ledger.book(terms.contract_id)
            booked = book.sequence
        finally:
            ledger.close()
    ratio = steps[-1] / steps[0]
    print(f"{booked:,} claims booked in {total:.1f} s ({booked / total:,.0f} claims/s); "
          f"first {STEP:,} {steps[0]:.2f} s, last {STEP:,} {steps[-1]:.2f} s")  # fmt: skip
    print(f"last / first: {ratio:.2f} (target <= 1.2 -> {'met' if ratio <= 1.2 else 'MISSED'})")
    rss = peak_rss_mb()
    print(f"peak RSS {rss:.1f} MB (target <= 300 -> {'met' if rss <= 300 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
