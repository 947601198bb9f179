"""One HTTP POST of a delivery: to the address just checked, no redirects, a deadline.

The connection goes to an address ``addresses.resolve`` has just approved, with the URL's
host in ``Host`` (and, for https, in SNI and the certificate check), so the name cannot
resolve elsewhere between the check and the connection. A redirect is an answer like any
other (a 3xx: not a success), never followed: it could point anywhere. At most the first
4 KB of the answer are read and kept.
"""
import time
from typing import NamedTuple

import urllib3
from urllib3.exceptions import HTTPError

from .addresses import UnsafeUrl, resolve

KEEP_BYTES = 4096


class Outcome(NamedTuple):
    status: int | None
    headers: dict | None
    body: str | None
    error: str | None
    duration_ms: int


def post(url, body, headers, *, timeout, allow_private):
    """POST ``body`` (text) to ``url``; never raises for what the network or receiver does."""
    started = time.monotonic()

    def ended(status=None, response_headers=None, text=None, error=None):
        return Outcome(status, response_headers, text, error, int((time.monotonic() - started) * 1000))

    try:
        target = resolve(url, allow_private)
    except UnsafeUrl as refused:
        return ended(error=f"Refused: {refused}")
    address = target.addresses[0]
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    if ":" in target.host:  # an IPv6 literal
        host_header = f"[{target.host}]" if target.port in (80, 443) else f"[{target.host}]:{target.port}"
    pool_options = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, target.port, server_hostname=target.host,
                                           assert_hostname=target.host, **pool_options)
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, **pool_options)
    try:
        response = pool.urlopen("POST", target.path, body=body.encode(), headers={**headers, "Host": host_header},
                                redirect=False, assert_same_host=False, preload_content=False)
        try:
            kept = response.read(KEEP_BYTES)
        finally:
            response.close()
        return ended(response.status, dict(response.headers), kept.decode("utf-8", "replace"))
    except (HTTPError, OSError) as failure:
        return ended(error=_describe(failure, timeout))
    finally:
        pool.close()


def _describe(failure, timeout):
    """A short, safe description of a network failure (no stack, no internals)."""
    text = str(failure)
    if "timed out" in text.lower() or "timeout" in type(failure).__name__.lower():
        return f"Timed out after {timeout:g} s."
    if "refused" in text.lower():
        return "Connection refused."
    return f"{type(failure).__name__}: {text[:300]}"
