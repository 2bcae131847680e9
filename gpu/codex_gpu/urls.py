"""Where the job's URLs may lead: no server-side request forgery through a presigned URL.

Anyone with a creator account shapes a job, so its URLs are untrusted: a URL (or a redirect) to
127.0.0.1, 169.254.169.254 (cloud metadata) or a private network would make the worker fetch, or PUT to,
what only the worker can reach. So: https only, public addresses only, no redirects; hosts and
networks named in ``CODEX_GPU_URL_ALLOW`` are exempt (the dev store and moto listen on 127.0.0.1, over
http). The address check runs when the connection is made, on the address actually connected to, so a
name that resolves to a public address at the check and a private one at the connection (DNS
rebinding) is still refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UrlRefused(Exception):
    """A job's URL (or where it led) is not one the worker may reach."""


class UrlPolicy:
    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[Network] = []
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower())

    def check_url(self, url: str) -> None:
        """Refuse a URL by its scheme and host before any request is made."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host:
            raise UrlRefused("the URL names no host")
        if parts.scheme == "https":
            pass
        elif parts.scheme == "http":
            if not self.allowed_host(host):
                raise UrlRefused(f"plain http to {host} is not allowed (https only)")
        else:
            raise UrlRefused(f"the URL scheme {parts.scheme!r} is not allowed")
        literal = _ip(host)
        if literal is not None and not self.allowed_address(host, literal):
            raise UrlRefused(f"{host} is a {_kind(literal)} address")

    def allowed_host(self, host: str) -> bool:
        literal = _ip(host)
        return host.lower() in self.hosts or (literal is not None and self._in_networks(literal))

    def allowed_address(self, host: str, address: Address) -> bool:
        return address.is_global or host.lower() in self.hosts or self._in_networks(address)

    def _in_networks(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        refused = [a for a in addresses if not self.policy.allowed_address(host, a)]
        if refused:
            raise UrlRefused(f"{host} resolves to a {_kind(refused[0])} address ({refused[0]})")
        return super().connect_tcp(str(addresses[0]), port, timeout, local_address, socket_options)


def _ip(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _kind(address: Address) -> str:
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return "non-public"
