"""Which ZeroMQ endpoints only this machine can reach.

Both sides need the same answer: the server refuses a wider bind without CURVE keys, and the
add-on refuses a remote address while Blender's online access is off.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1, localhost (tcp), and for ipc:// or inproc:// endpoints."""
    scheme, _, rest = address.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    try:
        host = urlsplit("//" + rest).hostname or ""
    except ValueError:  # malformed, e.g. an unclosed "[" : not provably local
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "*", names and interface names are not provably local
        return False
