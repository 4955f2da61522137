"""Where rest-hook notifications may go: exact origins, public addresses, no redirects.

An endpoint is allowed only when its origin (scheme, host and port, RFC 6454) is one of
the configured origins, written exactly. At delivery the host is resolved once and every
address must be public (not loopback, private, link-local, unique-local, multicast,
reserved or unspecified) unless private addresses are allowed by configuration; the
request then goes to that very address (the name is kept for ``Host`` and TLS SNI), so a
DNS answer that changes between the check and the connection cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

Resolver = Callable[[str, int], list[str]]


class EndpointRefused(ValueError):
    """The endpoint may not receive notifications; the message says why (no secrets)."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str  # the endpoint as configured
    scheme: str
    host: str  # lower-case name or address literal (IPv6 without brackets)
    port: int
    path: str  # path and query

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS[self.scheme]
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    def at(self, address: str) -> str:
        """The URL aimed at one resolved address."""
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        return self.origin.split("://", 1)[1]


def parse_endpoint(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EndpointRefused("the endpoint is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise EndpointRefused("the endpoint must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("the endpoint may not carry credentials")
    if parts.fragment:
        raise EndpointRefused("the endpoint may not carry a fragment")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise EndpointRefused("the endpoint has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, scheme, host, port or DEFAULT_PORTS[scheme], path)


def normalise_origin(origin: str) -> str:
    """``HTTPS://Example.org:443`` → ``https://example.org``; EndpointRefused if not an origin."""
    target = parse_endpoint(origin)
    if target.path not in ("/", ""):
        raise EndpointRefused(f"'{origin}' is not an origin (it has a path)")
    return target.origin


def check_origin(url: str, allowed: Iterable[str]) -> Target:
    """The parsed endpoint, if its origin is allowed."""
    target = parse_endpoint(url)
    origins = set()
    for origin in allowed:
        try:
            origins.add(normalise_origin(origin))
        except EndpointRefused:
            continue  # a malformed allowlist entry allows nothing
    if target.origin not in origins:
        raise EndpointRefused(f"the origin {target.origin} is not in the allowed origins")
    return target


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def resolve(target: Target, *, allow_private: bool, resolver: Resolver = system_resolver) -> str:
    """One address to connect to; EndpointRefused when any address is not allowed."""
    try:
        addresses = resolver(target.host, target.port)
    except OSError:
        raise EndpointRefused(f"the host {target.host} does not resolve") from None
    if not addresses:
        raise EndpointRefused(f"the host {target.host} does not resolve")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.is_unspecified or ip.is_multicast:
            raise EndpointRefused(f"the host {target.host} resolves to an unusable address")
        if not allow_private and not is_public(address):
            raise EndpointRefused(
                f"the host {target.host} resolves to a private, loopback or link-local address"
            )
    return addresses[0]
