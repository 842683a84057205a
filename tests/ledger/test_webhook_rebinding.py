"""A webhook's connection goes only to an address checked as it connects: a name that resolves
to an allowed address for the delivery's check and to a refused one a moment later (DNS
rebinding) is not connected to."""

from __future__ import annotations

import base64
import http.server
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.ledger.webhooks import store, targets
from services.ledger.webhooks.dispatch import Dispatcher
from services.ledger.webhooks.targets import networks
from tests.stores import migrated_engine

DENY = networks(["169.254.0.0/16"])
NAME = "hooks.rebinding.test"


class _Answer204(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer204)
    server.hosts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Resolver:
    """NAME resolves to the next of ``answers`` each time it is asked (to the last one
    after that); every address a socket is opened to is noted in ``connected``."""

    def __init__(self) -> None:
        self.answers = ["127.0.0.1"]
        self.connected: list[str] = []


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    found = Resolver()
    real_resolve, real_connect = socket.getaddrinfo, socket.create_connection

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return real_resolve(host, port, *args, **kwargs)
        address = found.answers.pop(0) if len(found.answers) > 1 else found.answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        found.connected.append(address[0])
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "create_connection", connect)
    return found


@pytest.mark.parametrize("store", ["sqlite"])
def test_a_name_rebound_after_its_check_is_not_connected_to(
    urls: dict[str, str], receiver: Any, resolver: Resolver
) -> None:
    url = f"http://{NAME}:{receiver.server_address[1]}/hooks"
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    delivery = SimpleNamespace(delivery_id="msg_1", body="{}")
    with migrated_engine(urls["ledger"], "ledger") as engine:
        dispatcher = Dispatcher(engine, store.SecretBox(None), DENY)
        try:
            # the same name, resolving to the receiver each time: delivered, by name
            assert dispatcher._check_target(url) is None
            sent = dispatcher._post(url, Webhook(secret), delivery)
            assert (sent.ok, sent.status_code) == (True, 204)
            assert receiver.hosts == [f"{NAME}:{receiver.server_address[1]}"]
            assert resolver.connected == ["127.0.0.1"]
            # allowed for the check, a metadata address when it connects
            resolver.answers = ["127.0.0.1", "169.254.169.254"]
            dispatcher._client.close()  # no kept connection: the next one is opened anew
            dispatcher._client = httpx.Client(
                transport=targets.checked_transport(DENY, httpx.Limits())
            )
            assert dispatcher._check_target(url) is None
            refused = dispatcher._post(url, Webhook(secret), delivery)
            assert not refused.ok
            assert refused.error is not None and "169.254.169.254" in refused.error
            assert resolver.connected == ["127.0.0.1"]
            assert len(receiver.hosts) == 1
        finally:
            dispatcher.stop()
