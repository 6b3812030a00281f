"""The add-on's non-blocking protocol client (``blender_addon.io.client``) without Blender.

The server side is a small in-test ZeroMQ ROUTER speaking ``shared_protocol``, so every message
the client sends is read back and every answer is chosen by the test. Time is a fake clock the
test moves by hand (the client takes ``clock=``): heartbeats, the dead-server rule and the
connect timeout are checked exactly at their boundaries, with no sleeps. Waiting for a message
on a socket is bounded by a generous timeout, never a threshold.
"""
from __future__ import annotations

import os
import re

import pytest
import zmq
import zmq.auth

import shared_protocol as sp
from blender_addon.io import client as io_client
from blender_addon.io.client import Client, CurveKeys, Event, curve_keys, describe_error, normalize_address

WAIT_MS = 10_000   # a message that is coming arrives long before this


class Clock:
    """A monotonic clock that moves only when told (``step``: seconds added on every read)."""

    def __init__(self, t: float = 1000.0, step: float = 0.0):
        self.t, self.step = t, step

    def __call__(self) -> float:
        now = self.t
        self.t += self.step
        return now


class Peer:
    """A ROUTER on a free loopback port standing in for the model server."""

    def __init__(self, ctx: zmq.Context, host: str = "127.0.0.1", curve_secret: bytes | None = None):
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if ":" in host:
            self.sock.setsockopt(zmq.IPV6, 1)
        if curve_secret is not None:
            self.sock.curve_server = True
            self.sock.curve_secretkey = curve_secret
        port = self.sock.bind_to_random_port(f"tcp://{host}" if ":" not in host else f"tcp://[{host}]")
        self.address = f"tcp://{host}:{port}" if ":" not in host else f"tcp://[{host}]:{port}"
        self.identity: bytes | None = None

    def recv(self) -> sp.Message:
        assert self.sock.poll(WAIT_MS), "the client sent nothing"
        frames = self.sock.recv_multipart()
        self.identity = frames[0]
        return sp.decode(frames[1:])

    def nothing_from(self, client) -> bool:
        """True when the client had sent nothing: a marker it sends now is the next to arrive
        (one DEALER's messages arrive in order)."""
        assert client.send(sp.make_status())
        return self.recv().type == sp.messages.STATUS

    def send(self, msg: sp.Message) -> None:
        self.sock.send_multipart([self.identity, *sp.encode(msg)])

    def send_raw(self, frames: list[bytes]) -> None:
        self.sock.send_multipart([self.identity, *frames])

    def close(self):
        self.sock.close(0)


def welcome(re=None, instance="inst-A", heartbeat=1.0, limits=None, protocol=None, server="test-server"):
    msg = sp.make_welcome(re, server, [sp.backend_info("preview", True, default=True)], "preview",
                          limits or sp.Limits(), heartbeat)
    if instance is not None:
        msg.body["instance"] = instance
    if protocol is not None:
        msg.body["protocol"] = protocol
    return msg


def pump(client: Client, until, **poll_args) -> list[Event]:
    """Poll until ``until(events)`` holds; waits on the client's socket between polls (bounded)."""
    events: list[Event] = []
    for _ in range(200):
        events += client.poll(**poll_args)
        if until(events):
            return events
        if client.socket is not None:
            client.socket.poll(50)
    raise AssertionError(f"not reached; events so far: {[(e.kind, e.message) for e in events]}")


def has(kind):
    return lambda events: any(e.kind == kind for e in events)


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


@pytest.fixture
def peer(ctx):
    p = Peer(ctx)
    yield p
    p.close()


def connected(peer, ctx, clock=None, heartbeat=1.0, limits=None, instance="inst-A", timeout_s=10.0):
    """A client that said hello and got its welcome."""
    client = Client(peer.address, timeout_s=timeout_s, context=ctx, clock=clock or Clock())
    client.connect()
    hello = peer.recv()
    peer.send(welcome(hello.id, instance=instance, heartbeat=heartbeat, limits=limits))
    events = pump(client, has("connected"))
    assert [e.kind for e in events] == ["connected"]
    return client


# ---- connecting ------------------------------------------------------------------------------

def test_connect_says_hello_and_the_welcome_makes_it_ready(peer, ctx):
    clock = Clock()
    client = Client(peer.address, context=ctx, clock=clock)
    assert client.state == "idle" and not client.ready and client.socket is None
    assert client.welcome == {} and client.heartbeat_s == 1.0 and client.limits == sp.Limits()
    assert client.instance is None and client.open_jobs == set()
    client.connect()
    assert client.state == "connecting" and not client.ready
    hello = peer.recv()
    assert hello.type == sp.messages.HELLO and client._hello_id == hello.id
    assert hello.body == {"client": "trackgo-blender", "protocol": list(sp.PROTOCOL_VERSION)}
    # a stable routing id naming this process: a dropped connection comes back as the same client
    assert re.fullmatch(rf"trackgo-{os.getpid()}-[0-9a-f]+-[0-9a-f]+", peer.identity.decode())
    assert client.poll() == []          # nothing arrived yet: no event, still connecting
    limits = sp.Limits(max_frames=12, max_message_bytes=5 * sp.limits.MIB)
    peer.send(welcome(hello.id, heartbeat=0.25, limits=limits, server="TrackGo test"))
    (ev,) = pump(client, has("connected"))
    assert ev.kind == "connected" and ev.job is None and ev.payload is None
    assert ev.message == f"connected to TrackGo test at {peer.address}"
    assert ev.body["server"] == "TrackGo test"
    assert client.state == "ready" and client.ready and client.reason == ""
    assert client.welcome["server"] == "TrackGo test"
    assert client.limits == limits and client.heartbeat_s == 0.25
    assert client.instance == "inst-A"


def test_socket_options_limit_what_a_message_may_weigh(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    sock = client.socket
    assert sock.getsockopt(zmq.TYPE) == zmq.DEALER
    assert sock.getsockopt(zmq.LINGER) == 0
    assert sock.getsockopt(zmq.MAXMSGSIZE) == 4 * sp.Limits().max_message_bytes
    assert sock.getsockopt(zmq.RCVHWM) == 10000
    assert sock.getsockopt(zmq.IPV6) == 0
    client.close()


def test_welcome_without_a_usable_heartbeat_falls_back_to_one_second(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    hello = peer.recv()
    msg = welcome(hello.id)
    msg.body["heartbeat_interval_s"] = 0
    peer.send(msg)
    pump(client, has("connected"))
    assert client.heartbeat_s == 1.0
    for value in (-2.0, -1):
        client.heartbeat_s = 7.0
        msg = welcome(None)
        msg.body["heartbeat_interval_s"] = value
        peer.send(msg)
        pump(client, has("connected"))
        assert client.heartbeat_s == 1.0, value
    msg = welcome(None, heartbeat=3)
    msg.body["heartbeat_interval_s"] = 3      # an int is a number of seconds too
    peer.send(msg)
    pump(client, has("connected"))
    assert client.heartbeat_s == 3.0 and isinstance(client.heartbeat_s, float)


@pytest.mark.parametrize("protocol", [[9, 0], [0, 9], [1], [1, 0, 0], []])
def test_a_welcome_in_another_major_version_fails_the_connection(peer, ctx, protocol):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    hello = peer.recv()
    peer.send(welcome(hello.id, protocol=protocol))
    events = pump(client, has("connect_failed"))
    assert [e.kind for e in events] == ["connect_failed"]
    assert events[0].message == (
        f"wrong protocol version: the server at {peer.address} speaks another major version "
        f"(server protocol {protocol}, add-on {list(sp.PROTOCOL_VERSION)}); update the add-on or the server")
    assert client.state == "failed" and client.reason == events[0].message
    assert client.socket is None and client.poll() == []
    with pytest.raises(ConnectionError, match="wrong protocol version"):
        client.submit({}, [])


def test_a_message_in_another_major_version_fails_the_connection_at_once(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    hello = peer.recv()
    frames = sp.encode(welcome(hello.id))
    import msgpack
    header = msgpack.unpackb(frames[0], raw=False)
    header["v"] = [2, 0]
    peer.send_raw([msgpack.packb(header, use_bin_type=True), *frames[1:]])
    peer.send(welcome(hello.id))                # what follows is not read: the poll returns
    events = pump(client, has("connect_failed"))
    assert [e.kind for e in events] == ["connect_failed"]
    with pytest.raises(sp.ProtocolError) as refused:      # what the protocol says about this header
        sp.decode([msgpack.packb(header, use_bin_type=True), *frames[1:]])
    assert events[0].message == (f"wrong protocol version: the server at {peer.address} speaks another major "
                                 f"version ({refused.value.message}); update the add-on or the server")
    assert refused.value.message and "None" not in refused.value.message
    assert client.state == "failed" and client.socket is None


def test_an_error_while_connecting_is_a_refused_connection(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    hello = peer.recv()
    peer.send(sp.make_error(sp.ProtocolError(sp.errors.BAD_MESSAGE, "hello needs a client name", "client",
                                             hint="send one"), re=hello.id))
    peer.send(welcome(hello.id))   # not read: connect_failed ends the poll
    events = client.poll()
    if not events:
        events = pump(client, has("connect_failed"))
    assert [e.kind for e in events] == ["connect_failed"]
    assert events[0].message == ("server refused the connection: client: hello needs a client name — send one")
    assert events[0].body["code"] == sp.errors.BAD_MESSAGE
    assert client.state == "failed" and client.reason == events[0].message and client.socket is None


def test_an_unsupported_version_error_while_connecting_names_the_version(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    hello = peer.recv()
    peer.send(sp.make_error(sp.ProtocolError(sp.errors.UNSUPPORTED_VERSION, "server speaks 2.0"), re=hello.id))
    (ev,) = pump(client, has("connect_failed"))
    assert ev.message == (f"wrong protocol version: the server at {peer.address} speaks another major "
                          "version (server speaks 2.0); update the add-on or the server")
    assert client.state == "failed"


def test_an_error_for_a_job_while_connecting_is_passed_on(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    peer.recv()
    peer.send(sp.make_error(sp.ProtocolError(sp.errors.INTERNAL, "boom"), job="j1", seq=3))
    (ev,) = pump(client, has("error"))
    assert ev.job == "j1" and client.state == "connecting"


def test_an_error_when_ready_is_an_event_not_a_failure(peer, ctx):
    client = connected(peer, ctx)
    peer.send(sp.make_error(sp.ProtocolError(sp.errors.INTERNAL, "boom"), re="r1"))
    (ev,) = pump(client, has("error"))
    assert ev.re == "r1" and ev.body["message"] == "boom" and client.state == "ready"


def test_no_answer_within_the_timeout_fails_the_connection(peer, ctx):
    clock = Clock()
    client = Client(peer.address, timeout_s=4.0, context=ctx, clock=clock)
    client.connect()
    peer.recv()
    clock.t += 4.0                       # exactly the timeout: still waiting
    assert client.poll() == [] and client.state == "connecting"
    clock.t += 0.01
    (ev,) = client.poll()
    assert ev.kind == "connect_failed"
    assert ev.message == (f"server unreachable at {peer.address}: no answer in 4 s "
                          "(is it running? is the address right?)")
    assert client.state == "failed" and client.reason == ev.message and client.socket is None


def test_the_default_timeout_is_ten_seconds(peer, ctx):
    clock = Clock()
    client = Client(peer.address, context=ctx, clock=clock)
    assert client.timeout_s == 10.0
    client.connect()
    clock.t += 10.0
    assert client.poll() == []
    clock.t += 0.01
    assert [e.kind for e in client.poll()] == ["connect_failed"]


def test_a_bad_address_or_timeout_is_refused_by_name(ctx):
    for bad in ("127.0.0.1:5555", "", None):
        with pytest.raises(ValueError, match=r"server address: expected something like tcp://127\.0\.0\.1:5555"):
            Client(bad, context=ctx)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match=f"timeout: expected a positive number of seconds, got {bad}"):
            Client("tcp://127.0.0.1:5555", timeout_s=bad, context=ctx)
    assert Client("tcp://127.0.0.1:5555", timeout_s=0.5, context=ctx).timeout_s == 0.5


def test_an_address_zeromq_cannot_use_fails_without_raising(ctx):
    client = Client("tcp://no port here", context=ctx, clock=Clock())
    client.connect()
    assert client.state == "failed" and client.socket is None
    assert client.reason.startswith("server address 'tcp://no port here': ")
    assert client.poll() == [] and not client.send(sp.make_ping())


def test_the_default_context_is_the_shared_instance(peer):
    client = Client(peer.address)
    assert client.context is zmq.Context.instance()
    assert client.clock is __import__("time").monotonic and client.name == "trackgo-blender"


def test_an_ipv6_loopback_server_is_reached(ctx):
    peer = Peer(ctx, host="::1")
    try:
        client = Client(peer.address, context=ctx, clock=Clock())
        client.connect()
        assert client.socket.getsockopt(zmq.IPV6) == 1
        assert peer.recv().type == sp.messages.HELLO
        client.close()
    finally:
        peer.close()


def test_curve_keys_encrypt_the_connection(ctx, tmp_path):
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    peer = Peer(ctx, curve_secret=server_secret)
    try:
        keys = CurveKeys(server_public.decode(), client_public.decode(), client_secret.decode())
        client = Client(peer.address, context=ctx, clock=Clock(), curve=keys, name="tester")
        client.connect()
        # the handshake succeeds only with the server's key and this client's whole pair
        hello = peer.recv()
        assert hello.body["client"] == "tester"
        peer.send(welcome(hello.id))
        pump(client, has("connected"))
        client.close()
    finally:
        peer.close()


def test_closing_ends_the_connection(peer, ctx):
    client = connected(peer, ctx)
    client.close()
    assert client.state == "closed" and client.socket is None
    assert client.poll() == [] and not client.send(sp.make_ping())
    client.cancel("j1")            # nothing to send it on: quietly nothing
    client.close()
    assert client.state == "closed"
    failed = Client(peer.address, context=ctx, clock=Clock())
    failed._fail("lost", "gone")
    failed.close()
    assert failed.state == "lost"    # a lost or failed connection keeps saying why
    idle = Client(peer.address, context=ctx)
    idle.close()
    assert idle.state == "idle"


def test_closing_while_connecting(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    client.connect()
    client.close()
    assert client.state == "closed" and client.socket is None


def test_send_never_blocks_when_the_server_takes_nothing(ctx):
    with __import__("socket").socket() as probe:     # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    client = Client(address, context=ctx, clock=Clock())
    client.connect()
    sent = 0
    while client.send(sp.make_ping()) and sent < 100_000:   # the queue fills (its high-water mark)
        sent += 1
    assert 0 < sent < 100_000
    client.close()


def test_connecting_again_replaces_the_socket(peer, ctx):
    client = connected(peer, ctx)
    first = client.socket
    client.connect()
    assert first.closed and client.socket is not first and client.state == "connecting"
    assert peer.recv().type == sp.messages.HELLO


# ---- heartbeats and the dead-server rule -------------------------------------------------------

def test_pings_go_out_every_heartbeat_interval(peer, ctx):
    clock = Clock()
    client = connected(peer, ctx, clock=clock, heartbeat=2.0)
    assert client.poll() == [] and peer.nothing_from(client)       # nothing due yet
    clock.t += 1.99
    assert client.poll() == [] and peer.nothing_from(client)
    clock.t += 0.01
    assert client.poll() == []
    ping = peer.recv()
    assert ping.type == sp.messages.PING
    clock.t += 1.0                       # the next ping is due a whole interval after the last
    client.poll()
    assert peer.nothing_from(client)
    peer.send(sp.make_pong(ping))        # heard: the server is alive
    pump(client, lambda ev: client._last_heard == clock.t)
    clock.t += 1.0
    client.poll()
    assert peer.recv().type == sp.messages.PING


def test_a_ping_from_the_server_is_answered_with_its_clock(peer, ctx):
    client = connected(peer, ctx)
    ping = sp.make_ping(12.5)
    peer.send(ping)
    assert pump(client, lambda ev: peer.sock.poll(20)) == []
    pong = peer.recv()
    assert pong.type == sp.messages.PONG and pong.re == ping.id and pong.body["t"] == 12.5


def test_silence_past_the_dead_server_rule_loses_the_server(peer, ctx):
    clock = Clock()
    client = connected(peer, ctx, clock=clock, heartbeat=1.0)
    limit = sp.server_lost_after(1.0)
    peer.send(sp.make_accepted("r1", "job-b", 0))
    peer.send(sp.make_accepted("r2", "job-a", 1))
    pump(client, lambda ev: len(ev) == 2)
    heard = clock.t
    clock.t = heard + limit              # exactly the limit: still alive
    assert [e.kind for e in client.poll()] == [] and client.state == "ready"
    clock.t = heard + limit + 0.5
    (ev,) = client.poll()
    assert ev.kind == "server_lost" and ev.body == {"jobs": ["job-a", "job-b"]}
    assert ev.message == f"server lost: nothing heard from {peer.address} for {limit + 0.5:.0f} s"
    assert client.state == "lost" and client.reason == ev.message and client.socket is None
    assert client.open_jobs == set()
    with pytest.raises(ConnectionError, match="server lost"):
        client.submit({}, [])


def test_the_dead_server_rule_follows_the_announced_heartbeat(peer, ctx):
    clock = Clock()
    client = connected(peer, ctx, clock=clock, heartbeat=4.0)
    start = clock.t
    for _ in range(3):                   # answer the pings? no: stay silent, pings still go out
        clock.t += 4.0
        assert client.poll() == []
        assert peer.recv().type == sp.messages.PING
    assert clock.t - start == sp.server_lost_after(4.0)
    clock.t += 0.01
    assert [e.kind for e in client.poll()] == ["server_lost"]


def test_anything_heard_keeps_the_server_alive(peer, ctx):
    clock = Clock()
    client = connected(peer, ctx, clock=clock, heartbeat=1.0)
    for _ in range(4):
        clock.t += 1.5
        peer.send(sp.make_progress("j", 1, "denoising", 1, 2))
        assert [e.kind for e in pump(client, has("progress"))] == ["progress"]
    assert client.state == "ready"


def test_a_failed_or_closed_client_sends_no_heartbeat(peer, ctx):
    clock = Clock()
    client = connected(peer, ctx, clock=clock)
    client.state = "idle"                # a state the heartbeat leaves alone
    clock.t += 100
    assert client.poll() == [] and client.state == "idle" and peer.nothing_from(client)


# ---- jobs ------------------------------------------------------------------------------------------

def test_submit_before_the_welcome_is_refused(peer, ctx):
    client = Client(peer.address, context=ctx, clock=Clock())
    with pytest.raises(ConnectionError, match=f"^not connected to {peer.address}$"):
        client.submit({"tracks": []}, [])
    with pytest.raises(ConnectionError, match=f"^not connected to {peer.address}$"):
        client.plan({"tracks": []}, [])
    client.connect()
    with pytest.raises(ConnectionError):
        client.submit({}, [])


def test_a_job_streams_accepted_progress_frames_and_done(peer, ctx):
    client = connected(peer, ctx)
    body = {"reference": {"format": "raw"}, "tracks": [], "params": {"frames": 2}}
    rid = client.submit(body, (b"ref", b"mask"))
    sub = peer.recv()
    assert sub.type == sp.messages.SUBMIT and sub.id == rid
    assert sub.body == body and sub.payloads == [b"ref", b"mask"]
    peer.send(sp.make_accepted(rid, "job-1", 2))
    (acc,) = pump(client, has("accepted"))
    assert acc.job == "job-1" and acc.re == rid and acc.body == {"queue_position": 2} and acc.payload is None
    assert client.open_jobs == {"job-1"}
    peer.send(sp.make_progress("job-1", 1, "denoising", 3, 10, eta_s=2.0))
    png = b"\x89PNG fake frame bytes"
    peer.send(sp.make_frame("job-1", 2, 0, 2, png, 4, 2))
    peer.send(sp.make_done("job-1", 3, {"total": 1.0}, 7, {}, 2))
    events = pump(client, has("done"))
    assert [e.kind for e in events] == ["progress", "frame", "done"]
    assert events[0].body["step"] == 3
    assert events[1].payload == png and events[1].body["index"] == 0 and events[1].job == "job-1"
    assert events[2].body["seed"] == 7
    assert client.open_jobs == set()


@pytest.mark.parametrize("final", ["error", "cancelled", "done"])
def test_every_final_message_closes_its_job(peer, ctx, final):
    client = connected(peer, ctx)
    peer.send(sp.make_accepted("r1", "j1", 0))
    peer.send(sp.make_accepted("r2", "j2", 1))
    pump(client, lambda ev: len(ev) == 2)
    assert client.open_jobs == {"j1", "j2"}
    end = {"error": sp.make_error(sp.ProtocolError(sp.errors.INTERNAL, "x"), job="j1", seq=1),
           "cancelled": sp.make_cancelled("j1", 1, 0),
           "done": sp.make_done("j1", 1, {}, 1, {}, 1)}[final]
    peer.send(end)
    pump(client, has(final))
    assert client.open_jobs == {"j2"}
    peer.send(sp.make_progress("j2", 1, "denoising", 1, 2))
    pump(client, has("progress"))
    assert client.open_jobs == {"j2"}


def test_a_rejected_submit_is_an_event(peer, ctx):
    client = connected(peer, ctx)
    rid = client.submit({}, [])
    peer.recv()
    peer.send(sp.make_rejected(rid, sp.ProtocolError(sp.errors.QUEUE_FULL, "queue full")))
    (ev,) = pump(client, has("rejected"))
    assert ev.re == rid and ev.body["error"]["code"] == sp.errors.QUEUE_FULL
    assert client.open_jobs == set()


def test_plan_sends_a_plan_and_its_result_comes_back(peer, ctx):
    client = connected(peer, ctx)
    rid = client.plan({"tracks": [1]}, [b"p"])
    msg = peer.recv()
    assert msg.type == sp.messages.PLAN and msg.id == rid and msg.body == {"tracks": [1]} and msg.payloads == [b"p"]
    peer.send(sp.make_plan_result(rid, [], 8, 64, 32))
    (ev,) = pump(client, has("plan_result"))
    assert ev.re == rid and ev.body["frames"] == 8


def test_cancel_asks_the_server_to_stop_that_job(peer, ctx):
    client = connected(peer, ctx)
    client.cancel("job-9")
    msg = peer.recv()
    assert msg.type == sp.messages.CANCEL and msg.job == "job-9"


def test_a_full_send_queue_is_reported(peer, ctx, monkeypatch):
    client = connected(peer, ctx)

    def full(*a, **k):
        raise zmq.Again()
    monkeypatch.setattr(client.socket, "send_multipart", full)
    assert client.send(sp.make_ping()) is False
    with pytest.raises(ConnectionError, match=r"^the server is not taking messages \(send queue full\)$"):
        client.submit({}, [])
    with pytest.raises(ConnectionError, match=r"^the server is not taking messages \(send queue full\)$"):
        client.plan({}, [])


def test_send_reports_success(peer, ctx):
    client = connected(peer, ctx)
    assert client.send(sp.make_status()) is True
    assert peer.recv().type == sp.messages.STATUS


def test_pongs_and_status_replies_make_no_event(peer, ctx):
    client = connected(peer, ctx)
    peer.send(sp.make_pong(sp.make_ping(1.0)))
    peer.send(sp.make_status_reply(None, [], 0, False))
    peer.send(sp.make_progress("j", 1, "denoising", 1, 2))
    assert [e.kind for e in pump(client, has("progress"))] == ["progress"]


def test_a_malformed_message_is_dropped_and_the_stream_goes_on(ctx):
    client, peer = inproc_client(ctx, Clock())
    try:
        peer.send_raw([b"\x93not msgpack at all"])
        peer.send(sp.make_progress("j", 1, "denoising", 1, 2))
        assert [e.kind for e in client.poll()] == ["progress"]     # in the same poll
        assert client.state == "ready"
    finally:
        peer.close()


# ---- the server restarted ------------------------------------------------------------------------

def test_another_instance_in_a_pong_means_the_server_restarted(peer, ctx):
    clock = Clock()
    client = connected(peer, ctx, clock=clock)
    peer.send(sp.make_accepted("r1", "job-z", 0))
    peer.send(sp.make_accepted("r2", "job-y", 1))
    pump(client, lambda ev: len(ev) == 2)
    same = sp.make_pong(sp.make_ping(1.0))
    same.body["instance"] = "inst-A"
    peer.send(same)
    peer.send(sp.make_progress("job-z", 1, "denoising", 1, 2))
    assert [e.kind for e in pump(client, has("progress"))] == ["progress"]
    clock.t += 0.5
    other = sp.make_pong(sp.make_ping(1.0))
    other.body["instance"] = "inst-B"
    peer.send(other)
    (ev,) = pump(client, has("server_restarted"))
    assert ev.body == {"jobs": ["job-y", "job-z"]}
    assert ev.message == "the server restarted; 2 running job(s) were interrupted"
    assert client.open_jobs == set() and client.state == "connecting" and client.instance == "inst-B"
    hello = peer.recv()
    assert hello.type == sp.messages.HELLO and hello.body["client"] == "trackgo-blender"
    assert client._hello_id == hello.id
    # the connect timeout now counts from the restart
    clock.t += client.timeout_s
    assert client.poll() == [] and client.state == "connecting"
    clock.t += 0.01
    assert [e.kind for e in client.poll()] == ["connect_failed"]


def test_a_welcome_from_another_instance_means_the_server_restarted(peer, ctx):
    client = connected(peer, ctx)
    peer.send(welcome(None, instance="inst-C"))
    (ev,) = pump(client, has("server_restarted"))
    assert ev.body == {"jobs": []} and ev.message == "the server restarted; 0 running job(s) were interrupted"
    hello = peer.recv()
    peer.send(welcome(hello.id, instance="inst-C"))
    assert [e.kind for e in pump(client, has("connected"))] == ["connected"]
    assert client.ready and client.instance == "inst-C"


def test_messages_without_an_instance_change_nothing(peer, ctx):
    client = connected(peer, ctx)
    for body_instance in (None, 42):
        pong = sp.make_pong(sp.make_ping(1.0))
        if body_instance is not None:
            pong.body["instance"] = body_instance
        peer.send(pong)
    other = sp.make_progress("j", 1, "denoising", 1, 2)
    other.body["instance"] = "inst-Q"        # only welcome and pong carry the instance
    peer.send(other)
    assert [e.kind for e in pump(client, has("progress"))] == ["progress"]
    assert client.instance == "inst-A" and client.state == "ready"


def test_a_server_without_instance_ids_is_never_taken_for_restarted(peer, ctx):
    client = connected(peer, ctx, instance=None)
    assert client.instance is None
    pong = sp.make_pong(sp.make_ping(1.0))
    pong.body["instance"] = "first"
    peer.send(pong)
    peer.send(sp.make_progress("j", 1, "denoising", 1, 2))
    assert [e.kind for e in pump(client, has("progress"))] == ["progress"]
    assert client.instance == "first"


# ---- one poll's work ------------------------------------------------------------------------------

def inproc_client(ctx, clock):
    """A client and peer over inproc://, where a sent message is in the receiver's queue at once
    (so one poll sees everything sent before it)."""
    peer = Peer.__new__(Peer)
    peer.sock = ctx.socket(zmq.ROUTER)
    peer.address = f"inproc://peer-{id(peer):x}"
    peer.sock.bind(peer.address)
    peer.identity = None
    client = connected(peer, ctx, clock=clock)
    return client, peer


def test_curve_with_a_wrong_server_key_never_connects(ctx):
    _, server_secret = zmq.curve_keypair()
    other_public, _ = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    peer = Peer(ctx, curve_secret=server_secret)
    try:
        keys = CurveKeys(other_public.decode(), client_public.decode(), client_secret.decode())
        client = Client(peer.address, context=ctx, clock=Clock(), curve=keys)
        client.connect()
        from zmq.utils.monitor import recv_monitor_message
        monitor = client.socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        assert monitor.poll(WAIT_MS), "no failed handshake seen"   # it retries, so one is seen
        assert recv_monitor_message(monitor)["event"] == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
        assert peer.sock.poll(0) == 0
        client.socket.disable_monitor()
        monitor.close(0)
        client.close()
    finally:
        peer.close()


def test_one_poll_handles_at_most_max_messages(ctx):
    client, peer = inproc_client(ctx, Clock())
    try:
        for i in range(70):
            peer.send(sp.make_progress("j", i + 1, "denoising", i, 70))
        assert len(client.poll()) == 64
        assert len(client.poll()) == 6
        for i in range(5):
            peer.send(sp.make_progress("j", i + 1, "denoising", i, 5))
        assert len(client.poll(max_messages=2)) == 2
        assert len(client.poll(max_messages=2)) == 2
        assert len(client.poll(max_messages=2)) == 1
    finally:
        peer.close()


def test_a_poll_stops_after_its_time_budget(ctx):
    clock = Clock()
    client, peer = inproc_client(ctx, clock)
    try:
        for i in range(3):
            peer.send(sp.make_progress("j", i + 1, "denoising", i, 3))
        assert len(client.poll(budget_s=0.0)) == 3     # a still clock: never over budget
        clock.step = 0.002                             # each read of the clock: 2 ms later
        for i in range(3):
            peer.send(sp.make_progress("j", i + 1, "denoising", i, 3))
        assert len(client.poll()) == 1                 # the default 3 ms budget: over after one
        assert len(client.poll(budget_s=1.0)) == 2
    finally:
        peer.close()


# ---- helpers -----------------------------------------------------------------------------------------

def test_normalize_address_adds_the_scheme_and_refuses_the_unclear():
    assert normalize_address("127.0.0.1:5555") == "tcp://127.0.0.1:5555"
    assert normalize_address("  localhost:7 ") == "tcp://localhost:7"
    assert normalize_address("tcp://[::1]:5555") == "tcp://[::1]:5555"
    assert normalize_address("[::1]:5555") == "tcp://[::1]:5555"      # the port is after the last colon
    assert normalize_address("ipc:///tmp/x") == "ipc:///tmp/x"
    for empty in ("", "   ", None):
        with pytest.raises(ValueError, match="^server address: expected something like tcp://127.0.0.1:5555, got nothing$"):
            normalize_address(empty)
    for bad in ("localhost", ":5555", "host:", "host:port"):
        with pytest.raises(ValueError, match=r"^server address: expected host:port or tcp://host:port "
                                             r"\(like tcp://127\.0\.0\.1:5555\), got " + repr(bad) + "$"):
            normalize_address(bad)


def test_describe_error_names_the_track_and_adds_the_hint():
    assert describe_error({"code": "bad", "message": "too big", "field": "tracks[1].mask", "hint": "crop it"},
                          ["Ball", "Cup"]) == "track 'Cup' (tracks[1].mask): too big — crop it"
    assert describe_error({"message": "m", "field": "tracks[5].mask"}, ["Ball"]) == "tracks[5].mask: m"
    assert describe_error({"message": "m", "field": "tracks[1].points[3]"}, ["Ball", "Cup"]) == \
        "track 'Cup' (tracks[1].points[3]): m"
    assert describe_error({"message": "m", "field": "tracks[x].mask"}, ["Ball"]) == "tracks[x].mask: m"
    assert describe_error({"message": "m", "field": "tracks[0].mask"}) == "tracks[0].mask: m"
    assert describe_error({"message": "m", "field": "params.frames"}, ["Ball"]) == "params.frames: m"
    assert describe_error({"code": "queue_full"}) == "queue_full"
    assert describe_error({}) == "unknown error"
    assert describe_error({"message": "m", "hint": ""}) == "m"


def test_curve_keys_from_z85_values_and_key_files(tmp_path, monkeypatch):
    assert curve_keys("") is None
    with pytest.raises(ValueError, match=r"^client secret key: expected a Z85 key or the client's \.key_secret file"):
        curve_keys(zmq.curve_keypair()[0].decode())          # a server key alone is not enough
    spub, _ = zmq.curve_keypair()
    cpub, csec = zmq.curve_keypair()
    keys = curve_keys(spub.decode(), cpub.decode(), csec.decode())
    assert keys == CurveKeys(spub.decode(), cpub.decode(), csec.decode())
    assert curve_keys(spub.decode(), client_secret=csec.decode()) == CurveKeys(spub.decode(), csec.decode(),
                                                                              csec.decode())
    # only the secret: the public half is taken from the same value
    assert curve_keys(spub.decode(), "", " " + csec.decode() + " ") == CurveKeys(spub.decode(), csec.decode(),
                                                                                 csec.decode())
    server_pub_file, _ = zmq.auth.create_certificates(str(tmp_path), "server")
    client_pub_file, client_secret_file = zmq.auth.create_certificates(str(tmp_path), "client")
    s_pub, _ = zmq.auth.load_certificate(server_pub_file)
    c_pub, c_sec = zmq.auth.load_certificate(client_secret_file)
    keys = curve_keys(server_pub_file, "", client_secret_file)
    assert keys == CurveKeys(s_pub.decode(), c_pub.decode(), c_sec.decode())
    assert curve_keys(server_pub_file, client_pub_file, client_secret_file) == keys
    with pytest.raises(ValueError, match=r"^client secret key: .* holds no secret key \(use the \.key_secret file\)$"):
        curve_keys(server_pub_file, "", client_pub_file)
    with pytest.raises(ValueError, match=r"^client secret key: expected a Z85 key or the client's \.key_secret file "
                                         r"\(make one with trackgo-keygen\)$"):
        curve_keys(spub.decode(), cpub.decode(), "")
    with pytest.raises(ValueError, match=r"^server public key: expected a 40-character Z85 key or a key file, "
                                         r"got 'short'…$"):
        curve_keys("short", "", csec.decode())
    with pytest.raises(ValueError, match=r"^client public key: expected a 40-character Z85 key or a key file, "
                                         r"got 'xxxxxxxxxxxx'…$"):
        curve_keys(spub.decode(), "x" * 39, csec.decode())
    with pytest.raises(ValueError, match=r"^client secret key: expected a 40-character Z85 key"):
        curve_keys(spub.decode(), "", csec.decode() + "x")
    # a key file given from the home folder (~)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert curve_keys("~/server.key", "", "~/client.key_secret") == keys
    broken = tmp_path / "broken.key"
    broken.write_text("this is not a certificate")
    with pytest.raises(ValueError, match=r"^server public key: cannot read key file .*broken\.key"):
        curve_keys(str(broken), "", csec.decode())


def test_is_loopback_is_the_protocols():
    assert io_client.is_loopback is sp.is_loopback
