"""A small HTTP/1.1 load generator: keep-alive connections on asyncio streams.

httpx costs a few hundred microseconds of Python per request, which on a 2-core machine would
put the load generator's ceiling near the servers' own; raw streams cost a few tens. Every
measured server (the bare baseline and ours) is driven by the same code, so the ratios compare
servers, not clients.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Body = Callable[[int, int], tuple[str, Any]]  # (connection, sequence) -> (path, JSON body)


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    answers: list[tuple[float, float, bytes]] = field(default_factory=list)  # sent, done, body
    elapsed_s: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0

    def record(self, sent: float, done: float, status: int, body: bytes, keep: bool) -> None:
        self.latencies_s.append(done - sent)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if keep:
            self.answers.append((sent, done, body))


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host, self._port = host, port
        self._extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def post(self, path: str, body: Any) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{self._extra}\r\n"
        )
        self._writer.write(head.encode() + payload)
        return await self._answer()

    async def _answer(self) -> tuple[int, bytes]:
        assert self._reader is not None
        header = await self._reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


async def _run(
    host: str,
    port: int,
    headers: dict[str, str],
    body: Body,
    connections: int,
    duration_s: float,
    rate: float | None,
    keep_answers: bool,
) -> LoadResult:
    result = LoadResult()
    opened = [Connection(host, port, headers) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in opened))
    started = time.perf_counter()
    deadline = started + duration_s
    ticket = iter(range(10**12))

    async def worker(number: int, connection: Connection) -> None:
        sequence = 0
        while True:
            if rate is not None:  # open loop: request i is due at started + i / rate
                due = started + next(ticket) / rate
                if due >= deadline:
                    return
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent = due  # a late start counts against the server (no coordinated omission)
            else:
                sent = time.perf_counter()
                if sent >= deadline:
                    return
            path, payload = body(number, sequence)
            sequence += 1
            status, answer = await connection.post(path, payload)
            result.record(sent, time.perf_counter(), status, answer, keep_answers)

    await asyncio.gather(*(worker(n, c) for n, c in enumerate(opened)))
    result.elapsed_s = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c in opened))
    return result


def run_load(
    base_url: str,
    body: Body,
    *,
    headers: dict[str, str] | None = None,
    connections: int = 64,
    duration_s: float = 20.0,
    rate: float | None = None,
    keep_answers: bool = False,
) -> LoadResult:
    """POST for ``duration_s`` over ``connections`` keep-alive connections: closed loop (each
    connection sends its next request when the last is answered) or, with ``rate``, open loop
    at that many requests per second."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    return asyncio.run(
        _run(host, int(port), headers or {}, body, connections, duration_s, rate, keep_answers)
    )
