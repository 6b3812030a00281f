"""Service behaviours the earlier tests left open (issue 15's mutation review): a CURVE server
refuses plain clients and a taken port under CURVE is still a clear start-up error; work posted by
the device threads wakes the loop at once (not on the next heartbeat); an error reply for a
malformed message carries a ``limit`` only when it says ``too_large``."""
from __future__ import annotations

import pytest
import zmq

import shared_protocol as sp
from server.cli import StartupError, start
from server.config import ServerConfig
from tests.server.client import TestClient
from tests.server.conftest import FAKE, make_job
from tests.server.test_server_security import curve_for, keys  # noqa: F401  (keys is a fixture)


def test_curve_server_refuses_plain_clients_and_a_taken_port_is_a_startup_error(server_factory, keys):  # noqa: F811
    curve = dict(server_key=str(keys / "server" / "server.key_secret"), allowed_clients=str(keys / "allowed"))
    server = server_factory(**curve)
    alice = TestClient(server.endpoint, curve=curve_for(keys, "alice"))
    plain = TestClient(server.endpoint)
    try:
        assert alice.hello().type == "welcome"
        try:
            plain.send(sp.make_hello("plain"))
        except Exception:
            pass                     # no connection to send on: refused already
        assert plain.recv(1.0) is None
    finally:
        alice.close()
        plain.close()
    server.stop()     # one authenticator per process at a time (its ZAP endpoint is process-wide)
    # a CURVE server on a port that is taken: the failed bind stops its authenticator cleanly
    taken = zmq.Context.instance().socket(zmq.ROUTER)
    try:
        taken.setsockopt(zmq.LINGER, 0)
        taken.bind("tcp://127.0.0.1:*")
        address = taken.getsockopt_string(zmq.LAST_ENDPOINT)
        with pytest.raises(StartupError, match="cannot listen on"):
            start(ServerConfig(backend=FAKE, bind=address, log_level="warning", **curve))
    finally:
        taken.close()


def test_finished_work_reaches_the_client_without_waiting_for_a_heartbeat(server_factory, client_factory):
    # a heartbeat every 60 s: only the wake-up pipe can bring the frames out within the bound
    server = server_factory(heartbeat_interval=60.0)
    client = client_factory(server.endpoint)
    assert client.hello().type == "welcome"
    stream = client.run_job(make_job(frames=3), timeout=20.0)
    assert stream.final is not None and stream.final.type == "done"
    assert len(stream.frames) == 3


def test_a_malformed_message_gets_an_error_without_a_limit(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    client.send_raw([b"not msgpack \xc1"])
    reply = client.recv(5.0)
    assert reply is not None and reply.type == "error"
    assert reply.body["code"] != sp.errors.TOO_LARGE
    assert "limit" not in reply.body, reply.body
