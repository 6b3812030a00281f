"""Each client socket's ZeroMQ identity (``blender_addon.io.client``) is its own, even for two
clients of one Blender that connect within one tick of a coarse clock: the server keys sessions
by it, so two clients sharing one would receive each other's replies."""
from __future__ import annotations

import pytest
import zmq

from blender_addon.io import client as io_client
from blender_addon.io.client import Client


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def test_two_clients_in_one_process_and_one_clock_tick_have_distinct_identities(ctx, monkeypatch):
    monkeypatch.setattr(io_client.time, "time_ns", lambda: 0x1234)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    one = Client(f"tcp://127.0.0.1:{port}", context=ctx)
    two = Client(f"tcp://127.0.0.1:{port}", context=ctx)
    try:
        one.connect()
        two.connect()
        ids = [c.socket.getsockopt(zmq.ROUTING_ID) for c in (one, two)]
        assert ids[0] != ids[1]
        assert all(i.startswith(b"trackgo-") and i.endswith(b"-1234") for i in ids)
    finally:
        one.close()
        two.close()
        router.close(0)
