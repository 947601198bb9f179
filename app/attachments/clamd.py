"""A clamd client: a file is streamed to the daemon with ``INSTREAM`` (chunks prefixed by
their length, then a zero length); clamd answers ``stream: OK`` or ``stream: <name> FOUND``.
``CLAMD_ADDRESS`` is ``host:port`` or the path of clamd's Unix socket.
"""
import socket
import struct

CHUNK = 64 * 1024
TIMEOUT_SECONDS = 60


class ScanError(Exception):
    """clamd could not say whether the file is clean (the job fails and is retried by hand)."""


def _connect(address):
    if address.startswith("/"):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(TIMEOUT_SECONDS)
        connection.connect(address)
        return connection
    host, _, port = address.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS)


def scan(address, path):
    """The name of what clamd found in the file at ``path``, or None when it is clean."""
    with _connect(address) as connection, open(path, "rb") as handle:
        connection.sendall(b"zINSTREAM\0")
        while chunk := handle.read(CHUNK):
            connection.sendall(struct.pack("!L", len(chunk)) + chunk)
        connection.sendall(struct.pack("!L", 0))
        answer = b""
        while not answer.endswith(b"\0"):
            part = connection.recv(4096)
            if not part:
                break
            answer += part
    reply = answer.rstrip(b"\0").decode("utf-8", "replace")
    if reply.endswith("OK"):
        return None
    if reply.endswith("FOUND"):
        return reply.removeprefix("stream:").strip().removesuffix("FOUND").strip()
    raise ScanError(f"clamd answered {reply!r}")
