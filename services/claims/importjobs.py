"""Import jobs: a provider's whole event file, uploaded once and imported by the service.

``POST /v1/contracts/{id}/imports`` streams the file into the claims store in parts of
:data:`PART_BYTES` (never whole in memory) and answers 202 with a ``Location`` to poll. A worker
in every claims process takes waiting jobs one at a time under a lease held on the job's row, so
one replica works a job and another takes it over if that one dies. A job:

1. **checks** every row as the synchronous import does (:class:`~services.claims.imports.CsvRows`
   and :meth:`EventImport.check`, a thousand rows at a time), keeps each bad row with its
   problems, and finds an event id repeated anywhere in the file from an 8-byte digest per row
   (8 MB for a million rows), re-reading the file only when two digests meet;
2. then, unless ``mode`` is ``all`` and some row is bad (the job is then ``refused`` and nothing
   is recorded), **records** the good rows through intake, a thousand to a transaction, saving
   after each how far it got. A job taken over after a crash goes on from there; a row recorded
   just before the crash is answered as recorded before, so each event is recorded once.

The uploaded parts are deleted when the job ends; the job and its rejected rows are kept for
``CLAIMS_IMPORT_KEPT_DAYS`` and then pruned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import threading
import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.claims.contracts import Contracts
from services.claims.importfiles import (
    PART_BYTES,
    Digests,
    StoredFile,
    digest,
    holds,
    jobs,
    parts,
    rejects,
    text_lines,
)
from services.claims.imports import (
    MAX_PROBLEMS,
    CsvRows,
    EventImport,
    ImportCheck,
    Row,
    in_batches,
)
from shared.errors import FieldProblem, InvalidInput, NotFound, OutcomesError, TooMany
from shared.sqlviews import aware
from shared.tally import Tally

log = logging.getLogger(__name__)

WAITING = ("queued", "checking", "recording")  # a worker may take these
ENDED = ("done", "refused", "failed")
MAX_ATTEMPTS = 3  # a job that fails unexpectedly this often is given up


@dataclass(frozen=True)
class JobLimits:
    max_bytes: int
    max_rows: int
    max_pending: int  # unfinished jobs per provider and contract
    lease_s: float
    kept_days: int


class _LeaseLost(Exception):
    """Another worker took the job over (this one was too slow to renew its lease)."""


class _Stopping(Exception):
    """The service is stopping: the job is left for the next worker, where it got to."""


class ImportJobs:
    """Jobs in the claims store: submitting, reading and working them."""

    def __init__(
        self,
        engine: Engine,
        contracts: Contracts,
        imports: EventImport,
        clock: Callable[[], dt.datetime],
        limits: JobLimits,
    ) -> None:
        self._engine = engine
        self._contracts = contracts
        self._imports = imports
        self._clock = clock
        self.limits = limits
        self._owner = str(uuid.uuid4())
        self.stopping = threading.Event()
        self.ended = Tally()  # jobs this replica ended, by how: done, refused, failed
        self.submitted = threading.Event()  # set when a job is queued here, to wake the worker

    # submitting -----------------------------------------------------------------------------

    def open(self, contract_id: str, provider_id: str, actor: str, mode: str) -> str:
        """A new job receiving its file; refused while the provider has too many unfinished.

        The job is inserted, then the provider's unfinished ones counted with it, in one
        transaction: on SQLite the insert holds the write lock until commit, and on PostgreSQL a
        transaction lock on the provider's key serialises the count, so concurrent uploads never
        get past the limit together."""
        job_id = str(uuid.uuid4())
        with self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                name = f"{contract_id}|{provider_id}".encode()
                digest = hashlib.blake2b(name, digest_size=8).digest()
                key = int.from_bytes(digest, "big", signed=True)
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            connection.execute(
                jobs.insert().values(
                    job_id=job_id, contract_id=contract_id, provider_id=provider_id,
                    actor=actor, mode=mode, status="receiving", bytes=0, rows_checked=0,
                    rows_recorded=0, recorded_through=0, recorded=0, already_recorded=0,
                    rejected=0, claims_derived=0, claims_retired=0, attempts=0,
                    created_at=self._clock(),
                )
            )  # fmt: skip
            pending = connection.scalar(
                sa.select(sa.func.count()).where(
                    jobs.c.contract_id == contract_id,
                    jobs.c.provider_id == provider_id,
                    jobs.c.status.in_(("receiving", *WAITING)),
                )
            )
            if (pending or 0) > self.limits.max_pending:  # the new one counted: roll it back
                raise TooMany(
                    f"{(pending or 0) - 1} imports of this provider are not finished; at most "
                    f"{self.limits.max_pending} at once: wait for one to end",
                    retry_after_s=30,
                )
        return job_id

    def add_part(self, job_id: str, seq: int, data: bytes) -> None:
        with self._engine.begin() as connection:
            connection.execute(parts.insert().values(job_id=job_id, seq=seq, data=data))

    def check_header(self, job_id: str, first_part: bytes) -> None:
        """Refuse at once a file whose first line is not this contract's header (when the
        whole first line is in the first part); the rows are checked by the job."""
        first_line, newline, _ = first_part.partition(b"\n")
        if not newline:
            return
        job = self.get(job_id)
        rulebook = self._contracts.latest_rulebook(job["contract_id"])
        CsvRows(text_lines(io.BufferedReader(io.BytesIO(first_line + b"\n"))), rulebook, 0)

    def queue(self, job_id: str, size: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                jobs.update().where(jobs.c.job_id == job_id).values(status="queued", bytes=size)
            )
        self.submitted.set()

    def discard(self, job_id: str) -> None:
        """A file whose upload failed: the job and its parts are forgotten."""
        with self._engine.begin() as connection:
            connection.execute(parts.delete().where(parts.c.job_id == job_id))
            connection.execute(jobs.delete().where(jobs.c.job_id == job_id))

    # reading --------------------------------------------------------------------------------

    def get(self, job_id: str) -> dict[str, Any]:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        if row is None:
            raise NotFound(f"no import {job_id}")
        job = dict(row._mapping)
        for name in ("lease_until", "created_at", "started_at", "finished_at"):
            job[name] = job[name] and aware(job[name])
        return job

    def problems(self, job_id: str, limit: int = MAX_PROBLEMS) -> list[FieldProblem]:
        """The first ``limit`` problems of the job's rejected rows, by line."""
        found: list[FieldProblem] = []
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(rejects.c.line, rejects.c.problems)
                .where(rejects.c.job_id == job_id)
                .order_by(rejects.c.line)
                .limit(limit)
            )
            for line, problems in rows:
                said = json.loads(problems)
                found += [FieldProblem(p["field"], p["message"], line) for p in said]
        return found[:limit]

    def rejected_rows(self, job_id: str, page: int = 1000) -> Iterator[list[Any]]:
        """The rejected rows as they came, with their line and problems first, page by page."""
        after = 0
        while True:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    sa.select(rejects.c.line, rejects.c.problems, rejects.c.cells)
                    .where(rejects.c.job_id == job_id, rejects.c.line > after)
                    .order_by(rejects.c.line)
                    .limit(page)
                ).all()
            for line, problems, cells in rows:
                said = "; ".join(f"{p['field']}: {p['message']}" for p in json.loads(problems))
                yield [line, said, *json.loads(cells)]
            if len(rows) < page:
                return
            after = rows[-1][0]

    # working --------------------------------------------------------------------------------

    def work_one(self) -> bool:
        """Take the oldest waiting job nobody holds and work it; False if there was none."""
        job_id = self._take()
        if job_id is None:
            return False
        try:
            self._work(job_id)
        except (_LeaseLost, _Stopping):
            self._release(job_id)
            return True
        except Exception as exc:  # a job must never stop the worker
            log.exception("import %s failed", job_id)
            self._failed_attempt(job_id, exc)
        status = self.get(job_id)["status"]
        if status in ENDED:
            self.ended.add(status)
        return True

    def prune(self) -> int:
        """Forget jobs that ended more than ``kept_days`` ago, and uploads that never ended."""
        now = self._clock()
        ended_before = now - dt.timedelta(days=self.limits.kept_days)
        stale = now - dt.timedelta(days=1)
        with self._engine.connect() as connection:
            old = connection.scalars(
                sa.select(jobs.c.job_id).where(
                    sa.or_(
                        sa.and_(jobs.c.status.in_(ENDED), jobs.c.finished_at < ended_before),
                        sa.and_(jobs.c.status == "receiving", jobs.c.created_at < stale),
                    )
                )
            ).all()
        if old:  # no write (and so no SQLite write lock) when there is nothing to prune
            with self._engine.begin() as connection:
                for table in (rejects, parts, jobs):
                    connection.execute(table.delete().where(table.c.job_id.in_(old)))
        return len(old)

    def _take(self) -> str | None:
        now = self._clock()
        free = sa.or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now)
        with self._engine.begin() as connection:
            candidates = connection.scalars(
                sa.select(jobs.c.job_id)
                .where(jobs.c.status.in_(WAITING), free)
                .order_by(jobs.c.created_at)
                .limit(5)
            ).all()
            for job_id in candidates:
                taken = connection.execute(
                    jobs.update()
                    .where(jobs.c.job_id == job_id, jobs.c.status.in_(WAITING), free)
                    .values(lease_owner=self._owner, lease_until=self._lease_end())
                )
                if taken.rowcount == 1:
                    return str(job_id)
        return None

    def _lease_end(self) -> dt.datetime:
        return self._clock() + dt.timedelta(seconds=self.limits.lease_s)

    def _save(self, connection: Connection, job_id: str, **values: Any) -> None:
        """Save progress and renew the lease, unless another worker holds it now."""
        saved = connection.execute(
            jobs.update()
            .where(jobs.c.job_id == job_id, jobs.c.lease_owner == self._owner)
            .values(lease_until=self._lease_end(), **values)
        )
        if saved.rowcount != 1:
            raise _LeaseLost(job_id)

    def _progress(self, job_id: str, **values: Any) -> None:
        """Save progress; then, if the service is stopping, leave the job where it got to."""
        with self._engine.begin() as connection:
            self._save(connection, job_id, **values)
        if self.stopping.is_set():
            raise _Stopping(job_id)

    def _release(self, job_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                jobs.update()
                .where(jobs.c.job_id == job_id, jobs.c.lease_owner == self._owner)
                .values(lease_owner=None, lease_until=None)
            )

    def _failed_attempt(self, job_id: str, exc: Exception) -> None:
        job = self.get(job_id)
        attempts = job["attempts"] + 1
        with self._engine.begin() as connection:
            if attempts >= MAX_ATTEMPTS:
                self._end(connection, job_id, "failed",
                          f"stopped after {attempts} attempts; the last: {type(exc).__name__}",
                          attempts=attempts)  # fmt: skip
            else:  # taken again once its lease has run out
                connection.execute(
                    jobs.update().where(jobs.c.job_id == job_id).values(attempts=attempts)
                )

    def _end(
        self, connection: Connection, job_id: str, status: str, detail: str | None, **values: Any
    ) -> None:
        connection.execute(parts.delete().where(parts.c.job_id == job_id))
        connection.execute(
            jobs.update()
            .where(jobs.c.job_id == job_id)
            .values(status=status, detail=detail, finished_at=self._clock(), lease_owner=None,
                    lease_until=None, **values)
        )  # fmt: skip

    def _rows(self, job_id: str, rulebook: Any) -> CsvRows:
        stream = io.BufferedReader(StoredFile(self._engine, job_id), buffer_size=PART_BYTES)
        return CsvRows(text_lines(stream), rulebook, self.limits.max_rows)

    def _work(self, job_id: str) -> None:
        job = self.get(job_id)
        rulebook = self._contracts.latest_rulebook(job["contract_id"])
        if job["status"] == "queued":
            self._progress(job_id, status="checking", started_at=self._clock())
            job["status"] = "checking"
        try:
            if job["status"] == "checking":
                self._check(job, rulebook)
                job = self.get(job_id)
            if job["status"] == "recording":
                self._record(job, rulebook)
        except InvalidInput as refused:  # the file as a whole: not UTF-8, not CSV, too long
            with self._engine.begin() as connection:
                connection.execute(rejects.delete().where(rejects.c.job_id == job_id))
                connection.execute(
                    rejects.insert(),
                    [{"job_id": job_id, "line": p.line or 0, "cells": "[]",
                      "problems": json.dumps([{"field": p.field, "message": p.message}])}
                     for p in refused.problems[:1]],
                )  # fmt: skip
                self._end(connection, job_id, "refused", refused.detail, rejected=0)
        except OutcomesError as refused:  # a row refused while recording (raced by another)
            with self._engine.begin() as connection:
                self._end(connection, job_id, "failed", refused.detail)

    def _check(self, job: dict[str, Any], rulebook: Any) -> None:
        job_id, provider_id = job["job_id"], job["provider_id"]
        with self._engine.begin() as connection:
            connection.execute(rejects.delete().where(rejects.c.job_id == job_id))
        rows = self._rows(job_id, rulebook)
        self._progress(job_id, header=json.dumps(rows.header), rows_checked=0)
        digests, count, bad = Digests(), 0, 0
        for window in in_batches(rows):
            check = ImportCheck(rows.header, window)
            self._imports.check(check, rulebook, provider_id, self._clock().date())
            for row in window:
                if row.event is not None and not row.problems:
                    digests.add(row.event.event_id)
            bad += self._reject(job_id, check.bad)
            count += len(window)
            self._progress(job_id, rows_checked=count)
        repeated = digests.repeated()
        del digests
        if repeated:
            bad += self._reject_repeats(job_id, rulebook, repeated)
        refused = bad > 0 and job["mode"] == "all"
        with self._engine.begin() as connection:
            if refused:
                self._end(connection, job_id, "refused",
                          f"{bad:,} of {count:,} rows are not valid; nothing was recorded",
                          rows=count, rejected=bad)  # fmt: skip
            else:
                self._save(connection, job_id, status="recording", rows=count, rejected=bad)

    def _reject(self, job_id: str, bad: list[Row]) -> int:
        if bad:
            with self._engine.begin() as connection:
                connection.execute(
                    rejects.insert(),
                    [{"job_id": job_id, "line": row.line, "cells": json.dumps(row.cells),
                      "problems": json.dumps([{"field": p.field, "message": p.message}
                                              for p in row.problems])}
                     for row in bad],
                )  # fmt: skip
        return len(bad)

    def _reject_repeats(self, job_id: str, rulebook: Any, repeated: set[int]) -> int:
        """Read the file again for the rows whose digest met another's: the second and later
        rows with the same event id are rejected, naming the first."""
        bad_lines = self._bad_lines(job_id)
        first: dict[str, int] = {}
        again: list[Row] = []
        for row in self._rows(job_id, rulebook):
            if row.event is None or holds(bad_lines, row.line):
                continue
            event_id = row.event.event_id
            if digest(event_id) not in repeated:
                continue
            if event_id in first:
                row.problems.append(
                    FieldProblem("event_id", f"also on line {first[event_id]}", row.line)
                )
                again.append(row)
            else:
                first[event_id] = row.line
        for batch in in_batches(again):
            self._reject(job_id, batch)
        return len(again)

    def _bad_lines(self, job_id: str) -> array[int]:
        with self._engine.connect() as connection:
            lines = connection.scalars(
                sa.select(rejects.c.line).where(rejects.c.job_id == job_id).order_by(rejects.c.line)
            )
            return array("Q", lines)

    def _record(self, job: dict[str, Any], rulebook: Any) -> None:
        job_id, through = job["job_id"], job["recorded_through"]
        bad_lines = self._bad_lines(job_id)
        totals = {name: job[name] for name in
                  ("rows_recorded", "recorded", "already_recorded", "claims_derived",
                   "claims_retired")}  # fmt: skip
        good = (
            row
            for row in self._rows(job_id, rulebook)
            if row.line > through and not holds(bad_lines, row.line)
        )
        for batch in in_batches(good):
            events = [row.event for row in batch if row.event is not None]  # all: no problems
            result = self._imports.record_batch(
                events, job["contract_id"], job["provider_id"], job["actor"]
            )
            totals["rows_recorded"] += len(batch)
            for name in ("recorded", "already_recorded", "claims_derived", "claims_retired"):
                totals[name] += getattr(result, name)
            self._progress(job_id, recorded_through=batch[-1].line, **totals)
        with self._engine.begin() as connection:
            self._end(connection, job_id, "done", None, **totals)


class ImportWorker:
    """Works the store's waiting import jobs, one at a time, in its own thread."""

    def __init__(self, jobs_: ImportJobs, interval_s: float = 1.0) -> None:
        self._jobs = jobs_
        self._interval_s = interval_s
        self._thread: threading.Thread | None = None
        self._last_prune: dt.datetime | None = None

    def start(self) -> None:
        self._jobs.stopping.clear()
        self._thread = threading.Thread(target=self._run, name="claims-imports", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._jobs.stopping.set()
        self._jobs.submitted.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._jobs.stopping.is_set():
            try:
                self._prune_daily()
                worked = self._jobs.work_one()
            except Exception:  # the database may be away: try again later
                log.exception("import worker round failed")
                worked = False
            if not worked:
                self._jobs.submitted.wait(self._interval_s)
                self._jobs.submitted.clear()

    def _prune_daily(self) -> None:
        now = dt.datetime.now(dt.UTC)
        if self._last_prune is None or now - self._last_prune > dt.timedelta(hours=1):
            self._jobs.prune()
            self._last_prune = now
