"""Where a webhook may send: http(s) URLs whose every address is public.

Beacon posts to URLs its users give, from inside the deployment's network. A URL that
reaches loopback, private, link-local (the cloud metadata service at 169.254.169.254),
shared, reserved or multicast addresses would let a maintainer probe that network
(server-side request forgery). The check runs at creation and again at each send, after
resolving the name, and the send connects to the very address checked: a name that
resolved to a public address at creation and to 127.0.0.1 later (DNS rebinding) is
refused then. ``WEBHOOK_ALLOW_PRIVATE`` lifts the rule (tests, on-premise receivers).
"""
import ipaddress
import re
import socket
from typing import NamedTuple
from urllib.parse import urlsplit


# An ASCII host name (IDNs in their xn-- form), an IPv4 or an IPv6 literal: anything else
# (spaces, NULs, lone surrogates, percent signs) would reach the resolver or the log as is.
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?|[0-9a-f:.]{2,45}")


class UnsafeUrl(Exception):
    """The URL may not be sent to; the message says why (shown to the webhook's owner)."""


class Target(NamedTuple):
    scheme: str
    host: str
    port: int
    path: str  # with the query
    addresses: list


def parse(url):
    """Split an http(s) URL into scheme, host, port and path, or raise ``UnsafeUrl``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("The URL is not valid.") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("The URL must be http or https.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host.")
    if not _HOST.fullmatch(parts.hostname):
        raise UnsafeUrl("The URL's host is not a valid name or address.")
    if parts.username or parts.password:
        raise UnsafeUrl("The URL may not carry a user name or password.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def refusal(address):
    """Why ``address`` may not be sent to, or None when it is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata)"
    if ip.is_private:
        return "private"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not public"
    return None


def resolve(url, allow_private):
    """The URL's target with the addresses its host resolves to now; ``UnsafeUrl`` when
    it cannot be resolved or any address is not public (unless ``allow_private``)."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl(f"The host {host} does not resolve.") from None
    except OSError:
        raise UnsafeUrl(f"The host {host} could not be resolved now.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise UnsafeUrl(f"The host {host} resolves to {address}, a {reason} address.")
    return Target(scheme, host, port, path, addresses)
