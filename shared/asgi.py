"""A small piece the pure-ASGI middlewares share."""

from __future__ import annotations

from starlette.types import Message, Send


class StatusNoted:
    """A ``send`` that passes every message on and notes the response's status (500 until a
    response starts: what a request that failed before answering counts as)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)
