"""A job end to end over a real loopback socket, and the server's basic replies."""
from __future__ import annotations

import cv2
import numpy as np

import shared_protocol as sp
from tests.server.conftest import make_job
from tests.server.fake_backend import frame_colour


def decode_png(data: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_job_end_to_end(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    welcome = client.hello()
    assert welcome.type == "welcome"
    assert welcome.body["heartbeat_interval_s"] == 0.2
    assert welcome.body["default_backend"] == "solid"
    assert welcome.body["backends"] == [{"name": "solid", "ready": True, "default": True,
                                         "description": "test backend: solid-colour frames",
                                         "params": list(sp.DEFAULT_PARAMS)}]   # declares none: all
    assert welcome.body["limits"]["max_queue"] == 32

    stream = client.run_job(make_job(frames=5, width=128, height=64, seed=42))
    types = [m.type for m in stream.messages]
    assert types[0] == "accepted" and types[-1] == "done"
    assert "progress" in types
    assert [m.seq for m in stream.messages] == list(range(len(stream.messages)))
    frames = stream.frames
    assert [f.body["index"] for f in frames] == [0, 1, 2, 3, 4]
    for f in frames:
        rgb = decode_png(f.payloads[0])
        assert rgb.shape == (64, 128, 3)
        assert f.body["width"] == 128 and f.body["height"] == 64 and f.body["total"] == 5
        assert tuple(int(c) for c in rgb[10, 10]) == frame_colour(42, f.body["index"])
    etas = [m.body["eta_s"] for m in stream.messages if m.type == "progress" and m.body["stage"] == "denoising"]
    assert etas[0] is None and all(isinstance(e, float) and e >= 0 for e in etas[1:]) and etas[-1] == 0
    done = stream.final.body
    assert done["frames"] == 5 and done["seed"] == 42 and done["params"]["width"] == 128
    assert done["params"]["backend"] == "solid"    # filled in when the job left it nil (protocol.md)


def test_server_picks_a_seed_when_none_given(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    stream = client.run_job(make_job(frames=2, seed=None))
    seed = stream.final.body["seed"]
    assert isinstance(seed, int)
    rgb = decode_png(stream.frames[1].payloads[0])
    assert tuple(int(c) for c in rgb[0, 0]) == frame_colour(seed, 1)


def test_invalid_job_is_rejected_with_field(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    msg = make_job(frames=1)  # frames must be >= 2
    reply = client.run_job(msg)
    assert reply.rejected is not None
    error = reply.rejected.body["error"]
    assert error["code"] == "invalid_field" and error["field"] == "params.frames"


def test_unknown_backend_is_rejected(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    stream = client.run_job(make_job(backend="trackgo"))
    assert stream.rejected is not None
    assert stream.rejected.body["error"]["field"] == "params.backend"


def test_ping_status_and_unknown_cancel(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    pong = client.request(sp.make_ping(123.5))
    assert pong.type == "pong" and pong.body["t"] == 123.5
    status = client.request(sp.make_status())
    assert status.type == "status_reply" and status.body["jobs"] == [] and status.body["busy"] is False
    reply = client.request(sp.make_cancel("nosuchjob"))
    assert reply.type == "error" and reply.body["code"] == "unknown_job" and reply.job is None


def test_client_may_not_send_server_messages(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    reply = client.request(sp.Message(type="cancelled", body={"frames_sent": 0}, job="j", seq=0))
    assert reply.type == "error" and reply.body["code"] == "bad_message"
    assert client.run_job(make_job(frames=2)).final.type == "done"
