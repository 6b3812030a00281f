"""Service behaviours the mutation run of issue 15 found untested, each over the real socket or on
the service object: a frame the PNG encoder cannot encode ends its job with one ``error``; the
server's own limits (not the protocol's defaults) judge jobs and plans; a new stage's first
progress has no ETA; replies held back for a client that stopped reading go out once it reads
again; telling the service that an unknown client went away is a no-op; and posting work never
blocks, however many wake-ups are pending.

No test here sleeps or times anything: each waits on a message or an event within a generous bound.
"""
from __future__ import annotations

import re
import threading

import pytest
import zmq

from server import encoding as frame_encoding
import shared_protocol as sp
from server.cli import start
from server.config import ServerConfig
from tests.server.conftest import FAKE, make_job

# Generous bounds: the machine may be loaded; a passing run never waits this long.
BOUND_S = 30.0


def failing_encode_png(rgb, compression: int = 1) -> bytes:
    raise frame_encoding.FrameFormatError("OpenCV could not encode the frame as PNG")


def test_a_frame_the_encoder_cannot_encode_ends_the_job_with_one_error(server_factory, client_factory,
                                                                       monkeypatch):
    server = server_factory()
    client = client_factory(server.endpoint)
    assert client.hello().type == "welcome"
    monkeypatch.setattr(frame_encoding, "encode_png", failing_encode_png)
    stream = client.run_job(make_job(frames=3), timeout=BOUND_S)
    final = stream.final
    assert final is not None and final.type == "error", [m.type for m in stream.messages]
    assert final.body["code"] == "internal"
    assert re.fullmatch(r"frame [0-2] could not be encoded: OpenCV could not encode the frame as PNG",
                        final.body["message"]), final.body
    assert stream.frames == []
    # exactly one final, the last message of the stream, and the stream's seq has no gap
    assert [m.type for m in stream.messages if m.type in sp.FINAL_TYPES] == ["error"]
    assert stream.messages[-1] is final
    assert [m.seq for m in stream.messages] == list(range(len(stream.messages)))
    # the device is free again and the next job, encoded normally, completes
    monkeypatch.undo()
    after = client.run_job(make_job(frames=2, seed=5), timeout=BOUND_S)
    assert after.final is not None and after.final.type == "done"
    assert len(after.frames) == 2


def test_the_servers_own_limits_judge_jobs_and_plans(server_factory, client_factory):
    server = server_factory(max_frames=8)       # the protocol's default is 64
    client = client_factory(server.endpoint)
    welcome = client.hello()
    assert welcome.body["limits"]["max_frames"] == 8
    accepted = client.run_job(make_job(frames=8), timeout=BOUND_S)
    assert accepted.final is not None and accepted.final.type == "done"
    refused = client.submit(make_job(frames=9))
    client.wait_all([refused], BOUND_S)
    assert refused.rejected is not None, refused.messages
    error = refused.rejected.body["error"]
    assert (error["code"], error["field"]) == ("too_large", "params.frames"), error
    plan = make_job(frames=9)
    reply = client.request(sp.Message(type="plan", body=plan.body, payloads=plan.payloads), BOUND_S)
    assert reply.type == "error"
    assert (reply.body["code"], reply.body["field"]) == ("too_large", "params.frames"), reply.body


def test_the_first_progress_of_a_new_stage_has_no_eta(server_factory, client_factory):
    # lazy loading: the job reports "loading" (step 0) before the backend's "denoising" 1, 2, 3
    server = server_factory(lazy_load=True)
    client = client_factory(server.endpoint)
    assert client.hello().type == "welcome"
    stream = client.run_job(make_job(frames=3), timeout=BOUND_S)
    assert stream.final is not None and stream.final.type == "done"
    progress = [m.body for m in stream.messages if m.type == "progress"]
    loading = [p for p in progress if p["stage"] == "loading"]
    denoising = [p for p in progress if p["stage"] == "denoising"]
    assert loading and all(p["eta_s"] is None for p in loading)
    assert [p["step"] for p in denoising] == [1, 2, 3]
    # its pace is unknown after one step of the stage: no figure carried over from loading
    assert denoising[0]["eta_s"] is None, denoising
    # from the second step on, a figure (seconds, never negative); the last step has none left
    assert all(isinstance(p["eta_s"], float) and p["eta_s"] >= 0 for p in denoising[1:]), denoising
    assert denoising[-1]["eta_s"] == 0.0


def test_replies_held_back_for_a_client_that_stopped_reading_go_out_when_it_reads(server_factory, monkeypatch):
    # a heartbeat every 60 s: only the loop's own backlog retry can send what was held back
    server = server_factory(heartbeat_interval=60.0)
    sender = server.service.sender
    held_back = threading.Event()
    queue_backlog = sender.queue_backlog

    def noting_queue_backlog(session, frames):
        held_back.set()
        queue_backlog(session, frames)

    monkeypatch.setattr(sender, "queue_backlog", noting_queue_backlog)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 1)           # this client holds one reply, then stops reading
        sock.setsockopt(zmq.RCVBUF, 4096)        # and the kernel little more
        sock.setsockopt(zmq.SNDTIMEO, int(BOUND_S * 1000))
        sock.connect(server.endpoint)
        sent: list[str] = []
        # ask until the server has to hold replies back (its 64-message high-water mark and the
        # TCP buffers are full), then ask once more: that reply waits behind the others
        while not held_back.is_set():
            assert len(sent) < 200_000, "the server never had to hold a reply back"
            for _ in range(200):
                msg = sp.make_hello("not reading")
                sock.send_multipart(sp.encode(msg))
                sent.append(msg.id)
        last = sp.make_hello("reading again")
        sock.send_multipart(sp.encode(last))
        sent.append(last.id)
        answered: list[str] = []
        while len(answered) < len(sent):
            assert sock.poll(int(BOUND_S * 1000)), f"{len(sent) - len(answered)} of {len(sent)} replies never came"
            reply = sp.decode(sock.recv_multipart())
            assert reply.type == "welcome", reply
            answered.append(reply.re)
        assert answered == sent
    finally:
        sock.close(0)


@pytest.fixture
def idle_service():
    """A bound service whose loop is not running: what the test calls runs on the test's thread."""
    service = start(ServerConfig(backend=FAKE, bind="tcp://127.0.0.1:*", log_level="warning"))
    yield service
    service.abort()


def test_a_send_to_a_client_the_service_never_knew_forgets_nobody(idle_service):
    service = idle_service
    known, _ = service.sessions.seen(b"\x00known", 0.0)
    # a reply to a routing id with no connection (a client long gone): the ROUTER reports it
    # unreachable, and the service forgets that client, which it never knew: nothing happens
    service.sender.send(b"\x00never-connected",
                        sp.encode(sp.Message(type="pong", body={"t": 0.0, "instance": service.instance})))
    service._client_gone(b"\x00never-connected", "test")
    assert dict(service.sessions) == {b"\x00known": known}
    assert service.sessions.orphans == {}


def test_posting_never_blocks_however_many_wake_ups_are_pending(idle_service):
    service = idle_service
    # far more one-byte wake-ups than a pipe holds (64 KiB on Linux), with no loop draining them
    posts = 100_000
    done = threading.Event()

    def post_many() -> None:
        for i in range(posts):
            service.post(i)
        done.set()

    poster = threading.Thread(target=post_many, name="test-poster", daemon=True)
    poster.start()
    try:
        assert done.wait(BOUND_S), "post() blocked on a full wake-up pipe"
        assert len(service._outbox) == posts
    finally:
        service._drain_wake_pipe()      # frees a poster that blocked (it has under 64 KiB left), so it ends
        poster.join(BOUND_S)
