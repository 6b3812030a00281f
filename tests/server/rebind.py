"""Start a server on an address another server just released (the service tests' port checks)."""
from __future__ import annotations

from server.cli import StartupError
from tests.server.conftest import wait_until


def start_when_free(server_factory, address: str, timeout: float = 10.0):
    """A server bound to ``address`` as soon as it is free: libzmq closes a socket in its own I/O
    thread, so a released port is free a moment later, not at once. Fails if it never is."""
    started = []

    def start_on_it() -> bool:
        try:
            started.append(server_factory(bind=address))
        except StartupError:
            return False
        return True

    assert wait_until(start_on_it, timeout=timeout, interval=0.05), f"{address} is still held"
    return started[0]
