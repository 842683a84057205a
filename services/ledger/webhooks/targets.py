"""Where a webhook may be sent: http(s) only, never a link-local or cloud metadata address.

Checked when a subscription is made (the URL as written; a literal address or a known metadata
name is refused with a 422), before every delivery (every address the host name resolves to
then, so a name that later points at a refused address is not followed), and when a delivery
connects: the dispatcher's client resolves the name once, refuses it if any address is
refused, and connects to those checked addresses only (:class:`CheckedBackend`). Without that
last step a name answering with a short time-to-live could resolve to a public address for the
check and to a metadata address for the connection (DNS rebinding). Through an HTTP proxy
(``HTTPS_PROXY`` and the like) the proxy resolves names, and it is the proxy's rules that hold.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# refused by default (LEDGER_WEBHOOK_DENY_NETWORKS replaces the list; add loopback and private
# ranges there when receivers are all public)
DEFAULT_DENIED = (
    "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local host on Linux
    "169.254.0.0/16",  # link-local, where AWS, GCP, Azure and OpenStack serve instance metadata
    "100.100.100.200/32",  # Alibaba Cloud's metadata service
    "224.0.0.0/4",  # multicast
    "255.255.255.255/32",
    "::/128",
    "fe80::/10",  # link-local
    "fd00:ec2::254/128",  # AWS metadata over IPv6
    "ff00::/8",  # multicast
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
MAX_URL_LENGTH = 2048


class TargetRefused(ValueError):
    """A URL, or an address it resolves to, that webhooks may not be sent to."""


def networks(texts: Iterable[str]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _denied(address: IpAddress, deny: tuple[IpNetwork, ...]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return any(address in network for network in deny)


def check_url(url: str, deny: tuple[IpNetwork, ...]) -> str:
    """The URL's host if webhooks may be sent to it as written; else :class:`TargetRefused`."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise TargetRefused("contains spaces or control characters")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a bracket left open, a port not a number or out of range
        raise TargetRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("must be an http or https URL")
    if not host:
        raise TargetRefused("names no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not carry credentials; the secret signs each delivery")
    if parts.fragment:
        raise TargetRefused("must not have a fragment")
    if port == 0:
        raise TargetRefused("port 0 is not a port")
    if host.rstrip(".").lower() in METADATA_NAMES:
        raise TargetRefused(f"{host} is a cloud metadata service")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return host
    if _denied(literal, deny):
        raise TargetRefused(f"{literal} is in a refused network (link-local, metadata or the like)")
    return host


def check_resolved(host: str, port: int, deny: tuple[IpNetwork, ...]) -> list[str]:
    """The addresses a host resolves to now, unless any is refused (:class:`TargetRefused`);
    a name that does not resolve raises :class:`OSError` (a failed attempt, retried)."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if _denied(address, deny):
            raise TargetRefused(f"{host} resolves to {address}, in a refused network")
        found.append(str(sockaddr[0]))
    return list(dict.fromkeys(found))


class CheckedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses it has just checked; TLS
    still verifies the certificate against the name (httpcore takes it from the URL)."""

    def __init__(self, deny: tuple[IpNetwork, ...]) -> None:
        super().__init__()
        self._deny = deny

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in check_resolved(host, port, self._deny):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # the next address, as a resolver's client does
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} resolves to no address")


def checked_transport(deny: tuple[IpNetwork, ...], limits: httpx.Limits) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through :class:`CheckedBackend`."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = transport._pool  # httpx gives no other way to choose httpcore's network backend
    if not isinstance(getattr(pool, "_network_backend", None), httpcore.NetworkBackend):
        raise RuntimeError("httpx or httpcore changed: cannot check webhook connections")
    pool._network_backend = CheckedBackend(deny)
    return transport
