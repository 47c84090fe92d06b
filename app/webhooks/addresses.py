"""Where webhooks may go: a URL's target, its host resolved, every address public.

Spellings are never parsed here: the host goes to ``getaddrinfo`` (numeric
first, so ``0177.0.0.1``, ``0x7f.1``, ``127.1`` and ``2130706433`` become the
platform's own reading of them, without DNS), then every address it gives is
checked. The same check runs at registration and before every delivery, and a
delivery connects to the addresses that passed it, so a DNS answer that changes
in between is not followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64 (RFC 6052): the last 32 bits are an IPv4 address the gateway connects to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_ADDRESSES_MAX = 16


class Refused(ValueError):
    """A URL events may not be sent to; the message is shown to its owner."""


class NotPublic(Refused):
    """The host resolves to no address, or to one that is not public."""

    def __init__(self) -> None:
        super().__init__(
            "Must resolve to public addresses only: not loopback, private, link-local, shared or reserved ones."
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # ASCII (IDNA), lower case, without a trailing dot
    port: int
    path: str  # path and query, at least "/"


def target_of(url: str, *, allow_insecure: bool) -> Target:
    """The URL's parts events are sent with; http only when ``allow_insecure``."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise Refused("Must be an absolute http(s) URL.")
    if parts.username is not None or parts.password is not None:
        raise Refused("Must not carry credentials.")
    try:
        port = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise Refused("Has an invalid port.") from None
    if not allow_insecure and parts.scheme != "https":
        raise Refused("Must use https.")
    name = parts.hostname[:-1] if parts.hostname.endswith(".") else parts.hostname
    try:
        host = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused("Has a host name that is not valid (IDNA).") from None
    if not host:
        raise Refused("Must be an absolute http(s) URL.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme], path)


def checked_addresses(target: Target, *, allow_private: bool) -> list[str]:
    """The addresses to connect to for ``target``; raises NotPublic unless every one
    is public (``allow_private``: development and tests, where receivers are on loopback)."""
    if not allow_private and _is_localhost(target.host):
        raise NotPublic()
    try:
        found = resolve(target.host, target.port)
    except (OSError, ValueError):  # no such name, or one the resolver cannot even ask about
        raise NotPublic() from None
    if not found:
        raise NotPublic()
    if not allow_private and not all(is_public(address) for address in found):
        raise NotPublic()
    return found[:_ADDRESSES_MAX]


def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host``: numeric spellings as the platform reads them, names through ``resolve_name``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return resolve_name(host, port)
    return _unique(info[4][0] for info in infos)


def resolve_name(host: str, port: int) -> list[str]:
    """DNS (and the hosts file). Tests replace this function: they have no network beyond loopback."""
    return _unique(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def is_public(text: str) -> bool:
    """An address on the public internet: not loopback, private, link-local, CGNAT,
    multicast, reserved, unspecified, documentation, site- or unique-local, nor an
    IPv6 address that carries a non-public IPv4 one (mapped, compatible, 6to4, Teredo, NAT64)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    # is_global alone lets multicast, IPv6 site-local and 6to4 of private IPv4 through.
    if not address.is_global:
        return False
    if address.is_multicast or address.is_reserved or address.is_link_local or address.is_unspecified:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if address.is_site_local or address in _NAT64_LOCAL:
        return False
    embedded = _embedded_ipv4(address)
    return embedded is None or is_public(str(embedded))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_localhost(host: str) -> bool:
    # RFC 6761: these names are loopback whatever a resolver answers.
    return host == "localhost" or host.endswith(".localhost")


def _unique(addresses) -> list[str]:
    return list(dict.fromkeys(addresses))
