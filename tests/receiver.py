"""A real HTTP receiver on loopback for webhook tests and benchmarks.

It answers each POST as its ``mode`` says at that moment: ``ok`` (204), ``fail`` (500) or
``hang`` (holds the request until released, so the sender's timeout fires), and keeps what it
was sent: headers, body, and whether the Standard Webhooks signature verified.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float  # time.monotonic() when it arrived
    wall: float  # time.time() when it arrived (to compare with a message's timestamp)

    @property
    def message(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class Receiver:
    secret: str
    url: str = ""
    mode: str = "ok"
    received: list[Received] = field(default_factory=list)
    arrivals: int = 0  # requests that arrived, answered yet or not
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Received]:
        """What it accepted (answered 2xx), in arrival order."""
        with self.lock:
            return [r for r in self.received if r.headers.get("x-answered") == "ok"]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    verifier = Webhook(receiver.secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            mode = receiver.mode
            with receiver.lock:
                receiver.arrivals += 1
            if mode == "hang":
                receiver.release.wait(30)
            headers["x-answered"] = mode
            with receiver.lock:
                receiver.received.append(
                    Received(headers, body, verified, time.monotonic(), time.time())
                )
            status = 204 if mode == "ok" else 500
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up (a timeout) and closed the connection

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(secret: str) -> Iterator[Receiver]:
    receiver = Receiver(secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


async def wait_for_async(condition: Any, what: str, timeout_s: float = 20.0) -> None:
    """Await ``condition()`` (a coroutine function) until true, failing after ``timeout_s``;
    for conditions read through an in-process ASGI client, which needs the loop running."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)


def wait_for(condition: Any, what: str, timeout_s: float = 20.0) -> None:
    """Poll ``condition()`` until true, failing after ``timeout_s`` with ``what``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)
