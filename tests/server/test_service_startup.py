"""The service's socket set-up and a failed start: a taken port is a clear error naming the address,
a start that fails after binding releases the port (the next server binds it), and an oversized
message is read up to four times the limit so it gets a ``too_large`` reply instead of vanishing."""
from __future__ import annotations

import pytest

import shared_protocol as sp
from blender_addon.demo import free_address
from server.cli import StartupError, start
from server.config import ServerConfig
from server.service import too_large_ceiling
from tests.server.conftest import FAKE, make_job
from tests.server.rebind import start_when_free


def test_a_taken_port_is_an_error_naming_the_address(server_factory, client_factory):
    first = server_factory()
    with pytest.raises(StartupError) as info:
        start(ServerConfig(backend=FAKE, bind=first.endpoint, log_level="warning"))
    text = str(info.value)
    assert text.startswith(f"bind: cannot listen on {first.endpoint} (")
    assert text.endswith("is another server running there? choose another --bind port")
    # the first server is untouched
    assert client_factory(first.endpoint).run_job(make_job(frames=2)).final.type == "done"


def test_a_start_that_fails_after_binding_releases_the_port(server_factory, client_factory):
    address = free_address()
    with pytest.raises(StartupError, match="weights not found"):
        start(ServerConfig(backend=FAKE, backend_options={"fail_load": "1"}, bind=address, log_level="warning"))
    server = start_when_free(server_factory, address)
    assert server.endpoint == address
    assert client_factory(address).run_job(make_job(frames=2)).final.type == "done"


def test_too_large_messages_are_read_up_to_four_times_the_limit():
    assert too_large_ceiling(sp.Limits(max_message_bytes=300_000)) == 1_200_000


def test_a_message_of_three_times_the_limit_is_answered_too_large(server_factory, client_factory):
    limit = 300_000
    server = server_factory(max_message_bytes=limit)
    client = client_factory(server.endpoint)
    msg = sp.Message(type="status", payloads=[b"\0" * (3 * limit)])
    client.send_raw(sp.encode(msg))
    reply = client.recv(10)
    assert reply is not None and reply.type == "error" and reply.re == msg.id
    assert reply.body["code"] == "too_large" and reply.body["limit"] == limit
    assert client.request(sp.make_status()).type == "status_reply"     # and the server keeps serving
