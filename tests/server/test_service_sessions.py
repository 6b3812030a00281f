"""The service's conversation with each client over the socket: the welcome, hello's version checks,
ping/pong, the server's heartbeats, clients that go silent or disconnect (their jobs dropped, the
others' queue positions moved up, and each dropped job's end told if the client comes back), a
too-large header, and what live jobs get when the server stops. Every wait is on a message."""
from __future__ import annotations

import logging
import time

import msgpack
import zmq

import shared_protocol as sp
from tests.server.client import CLIENT_LIMITS
from tests.server.conftest import held, make_job, queued_positions, wait_until
from tests.server.rebind import start_when_free


def raw_hello(protocol, v=(1, 0), id="h1") -> list[bytes]:
    header = {"v": list(v), "type": "hello", "id": id, "body": {"client": "t", "protocol": protocol},
              "npayloads": 0}
    return [msgpack.packb(header, use_bin_type=True)]


def reply_to(client, frames, timeout: float = 10.0) -> sp.Message:
    client.send_raw(frames)
    msg = client.recv(timeout)
    assert msg is not None, "no reply"
    return msg


def raw_next(socket: zmq.Socket, timeout: float = 10.0) -> sp.Message:
    """The next message as it arrives, pings included (TestClient.recv answers and hides them)."""
    assert socket.poll(int(timeout * 1000)), "nothing arrived"
    return sp.decode(socket.recv_multipart(), CLIENT_LIMITS)


def client_with_id(client_factory, endpoint: str, routing_id: bytes):
    """A test client whose DEALER has a fixed routing id: a reconnect is the same client to the server."""
    client = client_factory(endpoint)
    client.socket.close(0)
    client.socket = client.context.socket(zmq.DEALER)
    client.socket.setsockopt(zmq.LINGER, 0)
    client.socket.setsockopt(zmq.SNDTIMEO, 2000)
    client.socket.setsockopt(zmq.ROUTING_ID, routing_id)
    client.socket.connect(endpoint)
    return client


def wait_for(client, predicate, timeout: float = 30.0) -> None:
    """Receive (answering pings) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the awaited message never came"
        client.recv(0.2)


def one_running_one_queued(server, client, seeds: tuple[int, int]):
    """Two 4-frame jobs of ``client`` on a held backend: the first has sent one frame and holds
    the device, the second waits behind it. Returns their streams (running, queued)."""
    running = client.submit(make_job(frames=4, seed=seeds[0]))
    client.wait_accepted(running)
    held(server).allow(1)
    wait_for(client, lambda: len(running.frames) == 1)
    queued = client.submit(make_job(frames=4, seed=seeds[1]))
    client.wait_accepted(queued)
    return running, queued


def test_welcome_describes_this_server_and_answers_the_hello(server_factory, client_factory):
    server = server_factory(heartbeat_interval=0.25, max_message_bytes=5_000_000)
    client = client_factory(server.endpoint)
    hello = sp.make_hello("trackgo-tests")
    welcome = client.request(hello)
    assert welcome.type == "welcome" and welcome.re == hello.id and welcome.job is None
    body = welcome.body
    assert body["server"] == "trackgo-server 0.1.0"
    assert body["protocol"] == list(sp.PROTOCOL_VERSION)
    assert body["default_backend"] == "solid"
    assert body["heartbeat_interval_s"] == 0.25 and isinstance(body["heartbeat_interval_s"], float)
    assert body["defaults"] == dict(sp.DEFAULT_PARAMS)
    assert body["limits"]["max_message_bytes"] == 5_000_000
    assert body["limits"] == server.service.limits.to_body()
    assert isinstance(body["instance"], str) and body["instance"]
    ping = sp.make_ping(42.25)
    pong = client.request(ping)
    assert pong.type == "pong" and pong.re == ping.id
    assert pong.body == {"t": 42.25, "instance": body["instance"]}


def test_welcome_lists_the_parameters_the_backend_honours(server_factory, client_factory):
    from server.backends.preview import PreviewBackend

    server = server_factory(backend="preview")
    (backend,) = client_factory(server.endpoint).hello().body["backends"]
    assert backend["name"] == "preview" and backend["default"] is True and backend["ready"] is True
    assert backend["params"] == list(PreviewBackend.params) and "steps" not in backend["params"]


def test_hello_with_a_malformed_protocol_names_the_field(server_factory, client_factory):
    client = client_factory(server_factory().endpoint)
    for i, bad in enumerate(([1], [1, 0, 0], [1, -1], [-1, 0], [1, "0"], [1.0, 0], [1, True])):
        reply = reply_to(client, raw_hello(bad, id=f"h{i}"))
        assert reply.type == "error" and reply.re == f"h{i}", (bad, reply.body)
        assert reply.body["code"] == "invalid_field" and reply.body["field"] == "protocol", bad
        assert reply.body["message"].startswith("expected [major, minor] as two non-negative integers")
        assert reply.body["hint"] is None
    # minor 0 and the server's own version are fine
    assert reply_to(client, raw_hello([1, 0], id="ok")).type == "welcome"


def test_hello_of_another_major_or_another_header_version_is_refused_with_a_hint(server_factory, client_factory,
                                                                                  monkeypatch):
    # a later minor of this server: the refusal names major and minor each in its place
    ours = (sp.PROTOCOL_VERSION[0], 4)
    monkeypatch.setattr(sp, "PROTOCOL_VERSION", ours)
    client = client_factory(server_factory().endpoint)
    reply = reply_to(client, raw_hello([ours[0] + 1, 0], id="major"))
    assert reply.re == "major" and reply.body["code"] == "unsupported_version" and reply.body["field"] == "protocol"
    assert reply.body["message"] == (f"hello.protocol says {ours[0] + 1}.0; this server speaks "
                                     f"{ours[0]}.{ours[1]}")
    assert reply.body["hint"] == f"use protocol {ours[0]}.x"
    reply = reply_to(client, raw_hello([1, 3], v=(1, 0), id="mixed"))
    assert reply.re == "mixed" and reply.body["code"] == "invalid_field" and reply.body["field"] == "protocol"
    assert reply.body["message"] == "hello.protocol says 1.3 but the header's v says 1.0"
    assert reply.body["hint"] == "send the same version in both places"


def test_a_header_over_its_limit_is_too_large_with_the_header_limit(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    limits = server.service.limits
    msg = sp.Message(type="status", body={"pad": "x" * (limits.max_header_bytes + 1000)})
    frames = [msgpack.packb({"v": [1, 0], "type": "status", "id": msg.id, "body": msg.body, "npayloads": 0},
                            use_bin_type=True)]
    reply = reply_to(client, frames)
    assert reply.type == "error" and reply.body["code"] == "too_large", reply.body
    assert reply.body["limit"] == limits.max_header_bytes != limits.max_message_bytes


def test_the_server_pings_a_waiting_client_and_keeps_one_that_answers(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, heartbeat_interval=0.05, heartbeat_liveness=40)
    client = client_factory(server.endpoint, answer_pings=False)
    stream = client.submit(make_job(frames=2, seed=3))
    client.wait_accepted(stream)
    pings = 0
    while pings < 45:            # more than a liveness period's worth of pings, each answered
        msg = raw_next(client.socket)
        if msg.type == "ping":
            assert isinstance(msg.body["t"], float) and msg.job is None
            client.send(sp.make_pong(msg))
            pings += 1
    status = client.request(sp.make_status())
    assert [j["state"] for j in status.body["jobs"]] == ["running"]      # still its job
    held(server).open()
    client.answer_pings = True
    client.wait_all([stream], 30)
    assert stream.final.type == "done"


def test_a_silent_client_is_told_how_long_it_was_silent_when_it_returns(server_factory, client_factory, caplog):
    caplog.set_level(logging.INFO, logger="trackgo")
    server = server_factory(backend_options={"hold": "1"}, heartbeat_interval=0.1, heartbeat_liveness=10)
    sleeper = client_factory(server.endpoint, answer_pings=False)
    # Receives (and ignores) pings until its job's first frame, then says nothing more.
    stream, queued = one_running_one_queued(server, sleeper, (13, 14))
    other = client_factory(server.endpoint)
    # the device is freed for another client's job once the sleeper is dropped
    nxt = other.submit(make_job(frames=2, seed=15))
    other.wait_accepted(nxt)
    wait_for(other, lambda: any(m.type == "progress" and m.body["stage"] == "preparing" for m in nxt.messages))
    held(server).open()
    other.wait_all([nxt], 30)
    assert nxt.final.type == "done"
    (gone,) = [m for m in caplog.messages if " gone (silent for " in m]
    silent_s = float(gone.split(" gone (silent for ", 1)[1].split(" s)", 1)[0])
    assert 1.0 <= silent_s < 600 and gone.endswith("; dropping 2 job(s)")
    seen = len(stream.messages)
    sleeper.send(sp.make_ping())
    sleeper.wait_all([stream, queued], 10)
    for s, frames_sent in ((stream, 1), (queued, 0)):
        final = s.final
        assert final.type == "cancelled" and final.job == s.job_id
        assert final.body["reason"] == "client_timed_out" and final.body["frames_sent"] == frames_sent
        assert final.body["message"] == ("this client sent nothing for 1 s or left too many replies unread; "
                                         "the job was cancelled to free the device")
        assert [m.seq for m in s.messages] == list(range(len(s.messages)))
    assert len(stream.messages) == seen + 1
    # told once: speaking again brings nothing more of those jobs
    pong = sleeper.request(sp.make_ping(2.0))
    assert pong.type == "pong" and [m.type for m in stream.messages].count("cancelled") == 1


def test_a_client_that_disconnects_frees_the_device_and_the_queue_moves_up(server_factory, client_factory, caplog):
    caplog.set_level(logging.INFO, logger="trackgo")
    server = server_factory(backend_options={"hold": "1"}, heartbeat_interval=0.05, heartbeat_liveness=1000,
                            queue_length=8)
    leaver = client_with_id(client_factory, server.endpoint, b"leaver")
    stayer = client_factory(server.endpoint)
    running = leaver.submit(make_job(frames=4, seed=1))
    leaver.wait_accepted(running)
    leaver_queued = leaver.submit(make_job(frames=4, seed=2))
    leaver.wait_accepted(leaver_queued)
    mine = [stayer.submit(make_job(frames=2, seed=3 + i)) for i in range(3)]
    for s in mine:
        stayer.wait_accepted(s)
    before = [s.messages[0].body["queue_position"] for s in mine]
    leaver_position = leaver_queued.messages[0].body["queue_position"]
    leaver.close()
    # noticed at the next heartbeat sent to it: its running job is cancelled, its queued one
    # dropped, and every job of the stayer moves up (the first one starts)
    wait_for(stayer, lambda: any(m.type == "progress" and m.body["stage"] == "preparing"
                                 for m in mine[0].messages))
    (preparing,) = [m for m in mine[0].messages if m.type == "progress" and m.body["stage"] == "preparing"]
    assert preparing.body == {"stage": "preparing", "step": 0, "total": 0, "eta_s": None, "queue_position": 0}
    status = stayer.request(sp.make_status()).body
    assert [(j["state"], j["queue_position"]) for j in status["jobs"]] == [("running", 0), ("queued", 1),
                                                                            ("queued", 2)]
    assert status["queue_length"] == 2 and status["busy"] is True
    assert status["cluster"] == {"mode": "local", "replicas": 1, "busy": 1, "devices": ["auto"]}
    assert f"client {b'leaver'.hex()} gone (disconnected); dropping 2 job(s)" in caplog.messages
    # the stayer's first job went ahead of the leaver's waiting one (1, leaver 2, then 3, 4); each
    # move is told: once when the leaver's jobs go, once when the first job starts
    assert before == [1, 3, 4] and leaver_position == 1
    assert [queued_positions(s) for s in mine] == [[], [2, 1], [3, 2]]
    for s in mine[1:]:
        moved = [m for m in s.messages if m.type == "progress"][-1]
        assert moved.body == {"stage": "queued", "step": 0, "total": 0, "eta_s": None,
                              "queue_position": queued_positions(s)[-1]}
    # the same routing id again: told how each of its jobs ended
    back = client_with_id(client_factory, server.endpoint, b"leaver")
    back.send(sp.make_ping(1.0))
    told = [raw_next(back.socket) for _ in range(3)]
    assert [m.type for m in told] == ["cancelled", "cancelled", "pong"]
    assert {m.job for m in told[:2]} == {running.job_id, leaver_queued.job_id}
    for m in told[:2]:
        assert m.body["reason"] == "client_disconnected" and m.body["frames_sent"] == 0
        assert m.body["message"] == ("the connection to this client dropped while the job ran; "
                                     "it was cancelled to free the device")
    held(server).open()
    stayer.wait_all(mine, 30)
    assert [s.final.type for s in mine] == ["done"] * 3


def test_a_client_without_jobs_that_disconnects_is_forgotten_and_logged(server_factory, client_factory, caplog):
    caplog.set_level(logging.INFO, logger="trackgo")
    server = server_factory(heartbeat_interval=0.05, heartbeat_liveness=1000)
    idle = client_with_id(client_factory, server.endpoint, b"idle")
    assert idle.hello().type == "welcome"
    idle.close()
    line = f"client {b'idle'.hex()} gone (disconnected); dropping 0 job(s)"
    assert wait_until(lambda: line in caplog.messages, timeout=30), caplog.messages
    # and it is not remembered as a client with dropped jobs: coming back brings only the pong
    back = client_with_id(client_factory, server.endpoint, b"idle")
    back.send(sp.make_ping(3.0))
    assert raw_next(back.socket).type == "pong"


def test_stopping_the_server_ends_every_live_job_once_and_frees_the_port(server_factory, client_factory, caplog,
                                                                          monkeypatch, capfd):
    import threading

    from blender_addon.demo import free_address

    caplog.set_level(logging.INFO, logger="trackgo")
    crashes = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))
    address = free_address()
    server = server_factory(bind=address, backend_options={"hold": "1"})
    client = client_factory(server.endpoint)
    running, queued = one_running_one_queued(server, client, (1, 2))
    server.stop()
    assert not crashes                                     # the loop's thread ended cleanly
    # a runner or plan thread reporting late, after the wake-up pipe closed, writes nowhere
    capfd.readouterr()
    server.service.request_stop()
    server.service.post(object())
    assert capfd.readouterr() == ("", "")
    assert "shutting down: 2 live job(s)" in caplog.messages
    client.wait_all([running, queued], 10)
    assert running.final.type == "cancelled"
    assert running.final.body == {"frames_sent": 1, "reason": "shutting_down"}
    assert queued.final.type == "error"
    assert queued.final.body == {"code": "shutting_down", "message": "the server is shutting down",
                                 "field": None, "hint": "start it again, then resubmit"}
    for s in (running, queued):
        assert [m.type for m in s.messages].count(s.final.type) == 1
        assert [m.seq for m in s.messages] == list(range(len(s.messages)))
    # the socket was closed: a new server binds the same address
    start_when_free(server_factory, address)
