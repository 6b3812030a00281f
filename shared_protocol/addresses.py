"""Which ZeroMQ endpoints only this machine can reach.

Both sides need the same answer: the server refuses a wider bind without CURVE keys, and the
add-on refuses a remote address while Blender's online access is off.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

# Interface names ZeroMQ binds to that are the loopback device (Linux; macOS and the BSDs).
LOOPBACK_INTERFACES = frozenset({"lo", "lo0"})


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8 in any spelling the resolver takes (127.1), ::1, ::ffff:127.x.y.z,
    localhost and the loopback interface (tcp), and for ipc:// or inproc:// endpoints."""
    scheme, _, rest = address.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    try:
        host = urlsplit("//" + rest).hostname or ""
    except ValueError:  # malformed, e.g. an unclosed "[" : not provably local
        return False
    if host == "localhost" or host in LOOPBACK_INTERFACES:
        return True
    return _ip_is_loopback(host)


def _ip_is_loopback(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # Short IPv4 forms (127.1) that inet_aton and so ZeroMQ's resolver accept.
        if not host or not all(c in "0123456789." for c in host):
            return False  # "*", names and other interface names are not provably local
        try:
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def is_ipv6(address: str) -> bool:
    """True when a tcp endpoint names an IPv6 host ([::1]); ZeroMQ needs its IPV6 option for those."""
    scheme, _, rest = address.partition("://")
    return scheme == "tcp" and rest.startswith("[")
