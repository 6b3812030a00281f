"""Who may talk to the server: loopback by default, CURVE (zmq.auth) for anything wider.

A model server reachable from the network runs arbitrary-size jobs on someone's GPU; so a
non-loopback bind needs CURVE: the server's secret key file plus a directory of allowed client
public keys (``trackgo-keygen`` makes both). Without them the server refuses to start, unless
``--insecure`` is given explicitly (logged as a warning).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from shared_protocol import is_loopback

log = logging.getLogger("trackgo.server.security")


class SecurityError(Exception):
    """The bind address and key settings do not form a safe, usable configuration."""


@dataclass(frozen=True)
class CurveKeys:
    public: bytes
    secret: bytes
    allowed_clients: Path


def load_curve_keys(server_key: str | os.PathLike, allowed_clients: str | os.PathLike) -> CurveKeys:
    """Read the server's secret key file and check the allowed-clients directory."""
    key_path = Path(server_key)
    if not key_path.is_file():
        raise SecurityError(f"server_key: no such file {str(key_path)!r} (create one with trackgo-keygen)")
    try:
        public, secret = zmq.auth.load_certificate(key_path)
    except Exception as exc:  # zmq raises ValueError / OSError / its own errors on bad files
        raise SecurityError(f"server_key: cannot read a CURVE key from {str(key_path)!r} ({exc})") from exc
    if not secret:
        raise SecurityError(
            f"server_key: {str(key_path)!r} holds only a public key; expected the server's .key_secret file")
    warn_if_readable_by_others(key_path)
    allowed = Path(allowed_clients)
    if not allowed.is_dir():
        raise SecurityError(
            f"allowed_clients: expected a directory of client public keys (*.key), got {str(allowed)!r}")
    if not any(allowed.glob("*.key")):
        log.warning("allowed_clients: %s holds no *.key files: no client will be able to connect", allowed)
    return CurveKeys(public=public, secret=secret, allowed_clients=allowed)


def warn_if_readable_by_others(key_path: Path) -> bool:
    """Log a warning (and return True) when other users may read the secret key file.

    Anyone holding it can impersonate the server; like ssh, say so. (Not fatal: on some shared
    drives permissions cannot be changed.)
    """
    mode = key_path.stat().st_mode
    if mode & 0o077:
        log.warning("server_key: %s can be read by other users (mode %o); anyone who reads it can pose as "
                    "this server. Run: chmod 600 %s", key_path, mode & 0o777, key_path)
        return True
    return False


def check_bind_policy(bind: str, keys: CurveKeys | None, insecure: bool) -> None:
    """Refuse a non-loopback bind without CURVE keys unless ``insecure``."""
    if is_loopback(bind) or keys is not None:
        return
    if not insecure:
        raise SecurityError(
            f"bind: {bind} is reachable from other machines; give --server-key and --allowed-clients "
            "(see docs/server.md, 'Remote GPU'), or --insecure to accept anyone on the network")
    log.warning("bind: %s without CURVE keys (--insecure): anyone who can reach this port can run jobs", bind)


def enable_curve(context: zmq.Context, socket: zmq.Socket, keys: CurveKeys) -> ThreadAuthenticator:
    """Make ``socket`` a CURVE server that accepts only the public keys in the allowed directory.

    Must be called before ``bind``. The returned authenticator must be stopped at shutdown.
    """
    auth = ThreadAuthenticator(context, log=logging.getLogger("trackgo.server.auth"))
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.allowed_clients))
    socket.curve_secretkey = keys.secret
    socket.curve_publickey = keys.public
    socket.curve_server = True
    return auth
