"""The client's address behind reverse proxies that the settings name as trusted.

A proxy appends the address it received the request from to X-Forwarded-For; whatever a
client put there itself stands further left. So the header is read from the right, one hop
per trusted proxy, and the first address that is no trusted proxy is the client. The header
is not read at all when the request does not come from a trusted proxy: anybody can send it.
(werkzeug's ProxyFix trusts a fixed number of hops from any peer instead.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from forms.settings import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where the address the request really came from is kept once REMOTE_ADDR is the client's.
PEER_ADDRESS = "plansite.peer_address"


def trusted_networks(setting: str) -> tuple[Network, ...]:
    """TRUSTED_PROXIES, addresses or networks separated by commas ("10.0.0.1, 10.1.0.0/16")."""
    networks = []
    for item in setting.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"TRUSTED_PROXIES: not an IP address or network: {item}") from None
    return tuple(networks)


def _is_trusted(address: str, trusted: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The first address from the right that is no trusted proxy, starting with the peer."""
    address = peer
    hops = [hop.strip() for hop in forwarded_for.split(",")] if forwarded_for else []
    while hops and _is_trusted(address, trusted):
        hop = hops.pop()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # A trusted proxy wrote something that is no address: keep the proxy's own
            # rather than let a made-up text name the client.
            break
        address = hop
    return address


class ClientAddressMiddleware:
    """Sets REMOTE_ADDR to the client's address (client_address); the peer's is kept in
    environ["plansite.peer_address"]."""

    def __init__(self, app: WSGIApplication, trusted: tuple[Network, ...]):
        self.app = app
        self.trusted = trusted

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        environ[PEER_ADDRESS] = peer
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR", "")
        environ["REMOTE_ADDR"] = client_address(peer, forwarded_for, self.trusted)
        return self.app(environ, start_response)
