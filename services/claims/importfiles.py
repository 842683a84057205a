"""Import jobs' files: where an uploaded file is kept (SQL tables beside the read models, in
parts), and how a job reads it back: a part at a time, a line at a time, a thousand rows at a
time, with 8-byte digests of event ids to find one repeated anywhere in the file."""

from __future__ import annotations

import hashlib
import io
import itertools
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.claims.imports import BOM, not_utf8
from shared.errors import FieldProblem, InvalidInput

PART_BYTES = 1024 * 1024  # an uploaded file is stored in parts of this size
MAX_LINE_BYTES = 1024 * 1024

metadata = sa.MetaData()

jobs = sa.Table(
    "import_jobs",
    metadata,
    sa.Column("job_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(64), nullable=False),
    sa.Column("provider_id", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("header", sa.Text, nullable=True),  # JSON list, once read
    sa.Column("rows", sa.BigInteger, nullable=True),  # known once checked
    sa.Column("rows_checked", sa.BigInteger, nullable=False),
    sa.Column("rows_recorded", sa.BigInteger, nullable=False),  # rows handled while recording
    sa.Column("recorded_through", sa.BigInteger, nullable=False),  # the last line handled
    sa.Column("recorded", sa.BigInteger, nullable=False),
    sa.Column("already_recorded", sa.BigInteger, nullable=False),
    sa.Column("rejected", sa.BigInteger, nullable=False),
    sa.Column("claims_derived", sa.BigInteger, nullable=False),
    sa.Column("claims_retired", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_owner", sa.String(36), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_import_jobs_status", "status", "created_at"),
    sa.Index("ix_import_jobs_provider", "contract_id", "provider_id", "status"),
)

parts = sa.Table(
    "import_parts",
    metadata,
    sa.Column("job_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

rejects = sa.Table(
    "import_rejects",
    metadata,
    sa.Column("job_id", sa.String(36), primary_key=True),
    sa.Column("line", sa.BigInteger, primary_key=True),
    sa.Column("problems", sa.Text, nullable=False),  # JSON: [{"field", "message"}]
    sa.Column("cells", sa.Text, nullable=False),  # JSON: the row as it came
)


class StoredFile(io.RawIOBase):
    """A job's stored parts read back as one byte stream, a part at a time."""

    def __init__(self, engine: Engine, job_id: str) -> None:
        self._engine, self._job_id = engine, job_id
        self._seq, self._buffer, self._ended = 0, b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._ended:
            with self._engine.connect() as connection:
                data = connection.scalar(
                    sa.select(parts.c.data).where(
                        parts.c.job_id == self._job_id, parts.c.seq == self._seq
                    )
                )
            if data is None:
                self._ended = True
            else:
                self._buffer, self._seq = bytes(data), self._seq + 1
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def digest(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def text_lines(stream: io.BufferedIOBase) -> Iterator[str]:
    """The file's lines decoded one by one, so a byte that is not UTF-8 is named by its line;
    a line over :data:`MAX_LINE_BYTES` (no line break where one should be) is refused."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise InvalidInput(
                "a line is too long",
                [FieldProblem("body", f"over {MAX_LINE_BYTES:,} bytes without a line break",
                              number)],
            )  # fmt: skip
        try:
            yield (raw.removeprefix(BOM) if number == 1 else raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(exc, number) from None


class Digests:
    """8-byte digests of event ids, in 256 buckets by their first byte, so that finding the
    repeated ones sorts a bucket at a time (a 256th of the file) instead of the whole."""

    def __init__(self) -> None:
        self._buckets = [array("Q") for _ in range(256)]

    def add(self, event_id: str) -> None:
        value = digest(event_id)
        self._buckets[value >> 56].append(value)

    def repeated(self) -> set[int]:
        found: set[int] = set()
        for bucket in self._buckets:
            found |= {a for a, b in itertools.pairwise(sorted(bucket)) if a == b}
        return found


def holds(ordered: array[int], value: int) -> bool:
    at = bisect_left(ordered, value)
    return at < len(ordered) and ordered[at] == value
