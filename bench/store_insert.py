"""The event store's insert: the library's statement against the one the services use.

    .venv/bin/python -m bench.store_insert [--events 100000] [--batch 1000] [--rounds 3]

PostgreSQL. Inserts stored events shaped like the claims service's (a UUID stream, a topic,
about 400 bytes of JSON state) in batches, through the library's recorder (baseline B: its
``INSERT … SELECT FROM unnest(%s::stored_event[])``, the array sent as text) and through
:class:`shared.pgstore.BoundedProcessRecorder` (P: the same statement with the array sent in
binary), alternating rounds in one run on fresh tables; reports each one's events per second
and P's time as a ratio of B's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder

from bench.common import temporary_database
from shared.pgstore import BoundedProcessRecorder

TOPIC = "services.claims.domain:Participant.EventRecorded"


def events(count: int) -> list[StoredEvent]:
    made = []
    for index in range(count):
        state = {
            "event_id": f"ev-{index}", "type": "job_start", "occurred_on": "2026-03-02",
            "attributes": {"hours_per_week": 24, "employer_sector": "retail"},
            "body_sha256": uuid.uuid4().hex * 2, "actor": "provider:northside-ips",
            "personal_sealed": None, "timestamp": {"_type_": "datetime_iso",
                                                   "_data_": "2026-03-02T10:00:00+00:00"},
        }  # fmt: skip
        made.append(StoredEvent(uuid.uuid4(), 1, TOPIC, json.dumps(state).encode()))
    return made


def timed(recorder: Any, batches: list[list[StoredEvent]]) -> float:
    started = time.perf_counter()
    for batch in batches:
        recorder.insert_events(batch)
    return time.perf_counter() - started


def recorder_on(url: str, kind: Callable[..., Any], table: str) -> Any:
    """A recorder of ``kind`` with its own events table in the database at ``url``."""
    parts = url.split("://", 1)[1]
    user_host, dbname = parts.rsplit("/", 1)
    user, host_port = user_host.split("@")
    host, port = host_port.split(":")
    datastore = PostgresDatastore(dbname, host, port, user, "", pool_size=1)
    recorder = kind(datastore, events_table_name=table, tracking_table_name=f"{table}_tracking")
    recorder.create_table()
    return recorder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with temporary_database("bench_insert") as url:
        timings: dict[str, list[float]] = {"B": [], "P": []}
        for round_number in range(args.rounds):
            for name, kind in (("B", PostgresProcessRecorder), ("P", BoundedProcessRecorder)):
                recorder = recorder_on(url, kind, f"events_{name.lower()}_{round_number}")
                made = events(args.events)
                batches = [made[i : i + args.batch] for i in range(0, len(made), args.batch)]
                timings[name].append(timed(recorder, batches))
                recorder.datastore.close()
    b, p = statistics.median(timings["B"]), statistics.median(timings["P"])
    print(f"{args.events:,} events in batches of {args.batch:,}, median of {args.rounds} rounds")
    print(f"B (library, array as text): {b:6.2f} s  {args.events / b:9,.0f} events/s")
    print(f"P (services, array binary): {p:6.2f} s  {args.events / p:9,.0f} events/s")
    print(f"P / B: {p / b:.2f}x the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
